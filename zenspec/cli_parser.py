"""The ``zenspec`` command line: subcommands, options and their help.

Only argparse here; :mod:`zenspec.cli` does the work.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

__all__ = ["build_parser", "parse_args"]

_OVERRIDES_HELP = (
    "Hydra overrides on top of the spec (key=value, +key=value, group=option, "
    "key=a,b with -m); an override of a swept key replaces that axis"
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``zenspec`` command."""
    from zenspec import __version__

    parser = argparse.ArgumentParser(
        prog="zenspec",
        description="Run reproducible Hydra experiments from checked-in TOML/YAML spec files.",
        epilog="Exit codes: 0 success, 1 some job failed, 2 bad input (spec, overrides, usage).",
    )
    parser.add_argument("--version", action="version", version=f"zenspec {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run a spec: one job, or a sweep", description="Run a spec.")
    run.add_argument("spec", metavar="SPEC", help="the spec file (.toml, .yaml, .yml)")
    run.add_argument("overrides", metavar="OVERRIDES", nargs="*", help=_OVERRIDES_HELP)
    run.add_argument(
        "-m", "--multirun", action="store_true", help="sweep (implied when the spec has a sweep)"
    )
    run.add_argument(
        "--no-imports",
        dest="imports",
        action="store_false",
        help="skip the import checks of targets and their arguments before launching",
    )
    run.add_argument(
        "--fail-fast", action="store_true", help="stop launching new jobs after a failed one"
    )
    run.add_argument(
        "--launcher",
        metavar="KIND",
        help="run on this launcher instead of the spec's (basic, joblib, submitit_local, "
        "submitit_slurm, ray; the spec's launcher settings are dropped): hydra/launcher=KIND",
    )
    run.add_argument(
        "--max-jobs",
        type=_positive_int,
        default=100_000,
        help="refuse a grid larger than this (100000)",
    )
    run.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, only the summary lines"
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="keep the launchers' per-job log lines (hidden under the live progress line "
        "and with --quiet)",
    )

    res = sub.add_parser(
        "results",
        help="one row per job of a recorded run or sweep",
        description="Read a run's or sweep's records (any sweeper, any launcher, also "
        "partly failed or interrupted sweeps) and print one row per job: its swept "
        "params, status, metric and duration; the best job is marked with *.",
    )
    res.add_argument("sweep_dir", metavar="SWEEP_DIR", help="the sweep's output directory")
    res.add_argument(
        "--sort", metavar="KEY", help="sort by 'metric', a swept param or a returned key"
    )
    res.add_argument("--metric", metavar="KEY", help="judge jobs by this key of their return value")
    direction = res.add_mutually_exclusive_group()
    direction.add_argument("--maximize", action="store_true", help="higher metric is better")
    direction.add_argument("--minimize", action="store_true", help="lower metric is better")
    res.add_argument("--format", choices=("table", "csv", "json", "markdown"), default="table")
    res.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless every job completed (failed, interrupted or missing jobs)",
    )

    resume = sub.add_parser(
        "resume",
        help="run the jobs a sweep still owes",
        description="Re-run only the jobs of a spec sweep that have no result (and, with "
        "--retry-failed, the failed ones), with their original numbers and directories. "
        "Refuses if the spec changed since the sweep started, unless --force.",
    )
    resume.add_argument("sweep_dir", metavar="SWEEP_DIR", help="the sweep's output directory")
    resume.add_argument(
        "--retry-failed", action="store_true", help="also re-run jobs recorded as failed"
    )
    resume.add_argument("--force", action="store_true", help="resume even if the spec changed")
    resume.add_argument(
        "--wait",
        action="store_true",
        help="first wait for jobs of the sweep still queued/running under SLURM",
    )
    resume.add_argument(
        "--spec", metavar="PATH", default=None, help="the spec, if it moved since the sweep"
    )
    resume.add_argument(
        "--fail-fast", action="store_true", help="stop launching new jobs after a failed one"
    )
    resume.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, only the summary lines"
    )

    val = sub.add_parser(
        "validate",
        help="check spec files (for CI and pre-commit)",
        description="Check spec files and directories of them; every problem is reported. "
        "A file named here is always checked. Under a directory, only spec files are: "
        "*.toml/*.yaml/*.yml with a top-level 'experiment' table, or a first-line "
        "'#:schema' / '# yaml-language-server: $schema=' directive naming "
        "zenspec.schema.json. Hidden directories, .venv, node_modules and output trees "
        "(holding .zenspec/, .hydra/ or multirun.yaml) are skipped.",
    )
    val.add_argument(
        "paths",
        metavar="PATH",
        nargs="+",
        help="spec files (always checked) or directories (only the spec files in them)",
    )
    val.add_argument(
        "--imports",
        action="store_true",
        help="also import targets and check their arguments, groups and sweepers (runs user code)",
    )
    val.add_argument("--format", choices=("text", "json"), default="text", help="output format")

    plan = sub.add_parser(
        "plan",
        help="list the jobs a spec would launch, running nothing",
        description="The dry run: each job's overrides and output directory, and the composed "
        "config of one job (--job N). Nothing is run or written.",
    )
    plan.add_argument("spec", metavar="SPEC", help="the spec file")
    plan.add_argument("overrides", metavar="OVERRIDES", nargs="*", help=_OVERRIDES_HELP)
    plan.add_argument("-m", "--multirun", action="store_true", help="plan a sweep")
    plan.add_argument("--job", type=int, default=None, metavar="N", help="show job N's config")
    plan.add_argument(
        "--no-imports",
        dest="imports",
        action="store_false",
        help="run no user code: list the jobs' overrides from the spec's text alone "
        "(no output dirs, no configs)",
    )
    plan.add_argument("--format", choices=("text", "json"), default="text", help="output format")

    init = sub.add_parser(
        "init",
        help="write a starter spec for a callable",
        description="Write a starter spec for TARGET (pkg.mod:fn or a class): its parameters "
        "become [config] entries, with their defaults, and '???' (required) where there is "
        "none. Imports TARGET.",
    )
    init.add_argument("target", metavar="TARGET", help="the callable, pkg.mod:attr")
    init.add_argument("-o", "--output", metavar="PATH", help="write here (default: print the spec)")
    init.add_argument(
        "--format", choices=("toml", "yaml"), default=None, help="default: from PATH, or toml"
    )
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")

    comp = sub.add_parser(
        "completion",
        help='print shell completion (eval "$(zenspec completion bash)")',
        description="Print the bash completion script (zsh: run `autoload -U bashcompinit "
        "&& bashcompinit` first). `keys SPEC` lists SPEC's config keys, for the script.",
    )
    comp.add_argument("shell", choices=("bash", "zsh", "keys"), help="the shell")
    comp.add_argument("spec", nargs="?", metavar="SPEC", help=argparse.SUPPRESS)

    schema = sub.add_parser("schema", help="print the spec JSON Schema")
    schema.add_argument(
        "--markdown", action="store_true", help="print the key reference (docs/spec-reference.md)"
    )
    return parser


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse *argv*; overrides may come before or after options (``run s.toml -m a=1,2``)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # --traceback is a global option, but every hint puts it after the subcommand
    if "--traceback" in argv:
        argv = ["--traceback", *(a for a in argv if a != "--traceback")]
    args, extra = parser.parse_known_args(argv)
    if extra:
        unknown = [e for e in extra if e.startswith("-") and "=" not in e]
        if unknown or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
        args.overrides = [*args.overrides, *extra]
    return args
