"""The ``zenspec`` command line: subcommands, options and their help.

Only argparse here; :mod:`zenspec.cli` does the work.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, Sequence

from zenspec.cli.parser_views import add_view_commands

__all__ = ["CFG_CHOICES", "INFO_CHOICES", "build_parser", "parse_args"]

#: ``--info`` values, as Hydra's ``--info`` takes them.
INFO_CHOICES = ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath")
#: ``--cfg`` values, as Hydra's ``--cfg`` takes them.
CFG_CHOICES = ("job", "hydra", "all")

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
    run_spec = run.add_argument("spec", metavar="SPEC", help="the spec file (.toml, .yaml, .yml)")
    run_overrides = run.add_argument(
        "overrides", metavar="OVERRIDES", nargs="*", help=_OVERRIDES_HELP
    )
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
    run.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="label the run (repeatable); kept in its records, shown by results and report",
    )
    run.add_argument("--note", metavar="TEXT", help="a free-text note kept with the run")
    habits = run.add_argument_group(
        "Hydra's show-and-exit options (print, run nothing, exit 0)",
        "As with an @hydra.main app. For a sweep, --cfg shows job #0 (a grid) or the config "
        "before the sweeper sets its values (random, optuna), and says which in a first "
        "'#' line; `zenspec plan SPEC --job N` shows any job of a grid. Hydra flags zenspec "
        "has no use for (--config-name/-cn, --config-path/-cp, --config-dir/-cd, "
        "--hydra-help, --shell-completion/-sc, --run/-r) are refused with what to do instead.",
    )
    cfg = habits.add_argument(
        "-c",
        "--cfg",
        metavar="{job,hydra,all}",
        help="print the composed config instead of running: job (without the hydra node), "
        "hydra (only the hydra node) or all",
    )
    habits.add_argument(
        "--resolve",
        action="store_true",
        help="with --cfg: resolve interpolations before printing, as Hydra does",
    )
    habits.add_argument(
        "-p",
        "--package",
        metavar="KEY",
        help="with --cfg: print only this node of the config (e.g. optim, hydra.launcher)",
    )
    info = habits.add_argument(
        "-i",
        "--info",
        nargs="?",
        const="all",
        metavar="WHAT",
        help="print what Hydra's --info WHAT prints, in zenspec's terms (WHAT: "
        + ", ".join(INFO_CHOICES)
        + "; default all): all/config (the plan "
        "and job #0's config: `zenspec plan SPEC --job 0`), defaults/defaults-tree (the "
        "option chosen for each config group), plugins (Hydra's installed plugins), "
        "searchpath (where the spec's Python imports come from; configs come from the "
        "spec, not from config directories)",
    )

    sweep_dir_args, report_output = add_view_commands(sub)

    resume = sub.add_parser(
        "resume",
        help="run the jobs a sweep still owes",
        description="Re-run only the jobs of a spec sweep that have no result (and, with "
        "--retry-failed, the failed ones), with their original numbers and directories. "
        "Refuses if the spec changed since the sweep started, unless --force.",
    )
    resume_dir = resume.add_argument(
        "sweep_dir", metavar="SWEEP_DIR", help="the sweep's output directory"
    )
    resume.add_argument(
        "--retry-failed", action="store_true", help="also re-run jobs recorded as failed"
    )
    resume.add_argument("--force", action="store_true", help="resume even if the spec changed")
    resume.add_argument(
        "--wait",
        action="store_true",
        help="first wait for jobs of the sweep still queued/running under SLURM",
    )
    resume_spec = resume.add_argument(
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
    val_paths = val.add_argument(
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
        help="list the jobs a spec would launch, running none (imports its targets)",
        description="The dry run: each job's overrides and output directory, and the composed "
        "config of one job (--job N). No job runs and nothing is written, but by default the "
        "spec's target, task, config_class and sweeper are imported to compose the configs, "
        "so their modules' top-level code runs. --no-imports imports nothing: it lists the "
        "jobs' overrides from the spec's text alone.",
    )
    plan_spec = plan.add_argument("spec", metavar="SPEC", help="the spec file")
    plan_overrides = plan.add_argument(
        "overrides", metavar="OVERRIDES", nargs="*", help=_OVERRIDES_HELP
    )
    plan.add_argument("-m", "--multirun", action="store_true", help="plan a sweep")
    plan.add_argument("--job", type=int, default=None, metavar="N", help="show job N's config")
    plan.add_argument(
        "--no-imports",
        dest="imports",
        action="store_false",
        help="import nothing, so no user code runs: list the jobs' overrides from the "
        "spec's text alone (no output dirs, no configs)",
    )
    plan.add_argument("--format", choices=("text", "json"), default="text", help="output format")

    init = sub.add_parser(
        "init",
        help="write a starter spec for a callable",
        description="Write a starter spec for TARGET (pkg.mod:fn or a class): its parameters "
        "become [config] entries, with their defaults, and '???' (required) where there is "
        "none; init then names the values to fill in before the spec runs. A Hydra-style "
        "task(cfg) function (one parameter named cfg/config/conf, unannotated or a "
        "DictConfig; an @hydra.main function too) gets task = instead of target =, with the "
        "keys its source reads (a dataclass annotation becomes config_class). When TARGET's "
        "package is not installed (it imports from the current directory), the spec gets "
        "search_path naming that directory relative to the spec file, so it runs from any "
        "directory. Imports TARGET.",
    )
    init.add_argument("target", metavar="TARGET", help="the callable, pkg.mod:attr")
    init_output = init.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write here, a .toml, .yaml or .yml file (default: print the spec)",
    )
    init.add_argument(
        "--format", choices=("toml", "yaml"), default=None, help="default: from PATH, or toml"
    )
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")

    comp = sub.add_parser(
        "completion",
        help='print shell completion (eval "$(zenspec completion bash)", or zsh)',
        description='Print the completion script of a shell: eval "$(zenspec completion '
        'bash)" in ~/.bashrc; in zsh, eval "$(zenspec completion zsh)" in ~/.zshrc after '
        "compinit, or save the script as _zenspec in a directory of $fpath. `keys SPEC` "
        "lists SPEC's config keys, for the scripts.",
    )
    comp.add_argument("shell", choices=("bash", "zsh", "keys"), help="the shell")
    comp.add_argument("spec", nargs="?", metavar="SPEC", help=argparse.SUPPRESS)

    schema = sub.add_parser("schema", help="print the spec JSON Schema")
    schema.add_argument(
        "--markdown", action="store_true", help="print the key reference (docs/spec-reference.md)"
    )
    # what the shells complete where argparse cannot tell: `zenspec completion bash|zsh`
    from zenspec.cli.completion import ANY_FILE, CONFIG_KEYS, SPEC_FILE, SWEEP_DIR, values

    _complete_with(SPEC_FILE, run_spec, plan_spec, val_paths, resume_spec)
    _complete_with(CONFIG_KEYS, run_overrides, plan_overrides)
    _complete_with(SWEEP_DIR, resume_dir, *sweep_dir_args)
    _complete_with(ANY_FILE, init_output, report_output)
    _complete_with(values("cfg", CFG_CHOICES), cfg)
    _complete_with(values("info", INFO_CHOICES), info)
    return parser


def _complete_with(hook: Dict[str, Any], *actions: argparse.Action) -> None:
    """Complete *actions* in the shells with *hook*: shtab's ``action.complete``."""
    for action in actions:
        action.complete = hook  # type: ignore[attr-defined]  # shtab's hook, not argparse's


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


# Hydra command-line flags zenspec has no use for, and what to do instead.
_HYDRA_FLAGS = {
    ("--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd"): (
        "zenspec takes the config from the spec file, not from a config directory.",
        "Fix: name another spec (zenspec run other.toml), or put the configs in the spec's "
        "[config] and [groups] tables.",
    ),
    ("--hydra-help",): (
        "zenspec has no --hydra-help.",
        "Fix: zenspec run --help; --cfg hydra prints the hydra node of the config.",
    ),
    ("--shell-completion", "-sc"): (
        "zenspec has its own shell completion.",
        'Fix: eval "$(zenspec completion bash)" in bash, eval "$(zenspec completion zsh)" in zsh.',
    ),
    ("--run", "-r"): (
        "zenspec run runs one job unless the spec sweeps or -m is given; it has no --run flag.",
        "Fix: drop it.",
    ),
    ("--experimental-rerun",): (
        "zenspec has no --experimental-rerun.",
        "Fix: zenspec run SPEC again with the job's overrides (zenspec plan SPEC lists them), "
        "or zenspec resume SWEEP_DIR.",
    ),
}


def _hydra_flag_error(tokens: Sequence[str]) -> Optional[str]:
    """zenspec's one-paragraph error for the first Hydra-only flag in *tokens*, if any."""
    for token in tokens:
        flag = token.split("=", 1)[0]
        for flags, (message, hint) in _HYDRA_FLAGS.items():
            if flag in flags:
                return f"{flag}: {message}\n{hint}"
    return None


def _info_values(argv: List[str]) -> List[str]:
    """``--info`` takes an optional value, as Hydra's does: never an override or the spec.

    A word after it is its value (checked later, with did-you-mean); an override
    (``key=value``, ``~key``, ``+key=...``), an option or a spec file is not.
    """
    out: List[str] = []
    for i, arg in enumerate(argv):
        if arg in ("--info", "-i"):
            nxt = argv[i + 1] if i + 1 < len(argv) else ""
            if (
                not nxt
                or "=" in nxt
                or nxt.startswith(("-", "~", "+"))
                or nxt.endswith((".toml", ".yaml", ".yml"))
            ):
                arg = "--info=all"
        out.append(arg)
    return out


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse *argv*; overrides may come before or after options (``run s.toml -m a=1,2``)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # --traceback is a global option, but every hint puts it after the subcommand
    if "--traceback" in argv:
        argv = ["--traceback", *(a for a in argv if a != "--traceback")]
    # before argparse, which would read -cn as -c n
    hydra_flag = _hydra_flag_error([a for a in argv if a.startswith("-")])
    if hydra_flag:
        sys.stderr.write(f"error: {hydra_flag}\n")
        raise SystemExit(2)
    argv = _info_values(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        unknown = [e for e in extra if e.startswith("-") and "=" not in e]
        if unknown or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
        args.overrides = [*args.overrides, *extra]
    return args
