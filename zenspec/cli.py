"""The ``zenspec`` command: ``run``, ``validate``, ``plan`` and ``schema``.

The parser only fills an :class:`argparse.Namespace`; :func:`execute` does the
work through the same functions the Python API exposes. A
:class:`~zenspec.errors.ZenspecError` is caught once, here, and printed as a
clean message with its exit code (2: bad input, 1: a job failed);
``--traceback`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import json
import pprint
import sys
import traceback
from typing import IO, Any, List, Optional, Sequence

from zenspec.errors import EXIT_BAD_INPUT, EXIT_JOB_FAILED, EXIT_OK, JobFailedError, ZenspecError

__all__ = ["build_parser", "execute", "main"]

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
        "--max-jobs", type=int, default=100_000, help="refuse a grid larger than this (100000)"
    )

    val = sub.add_parser(
        "validate",
        help="check spec files (for CI and pre-commit)",
        description="Check spec files and directories of them; every problem is reported.",
    )
    val.add_argument("paths", metavar="PATH", nargs="+", help="spec files or directories")
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
    plan.add_argument("--format", choices=("text", "json"), default="text", help="output format")

    schema = sub.add_parser("schema", help="print the spec JSON Schema")
    schema.add_argument(
        "--markdown", action="store_true", help="print the key reference (docs/spec-reference.md)"
    )
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse *argv*; overrides may come before or after options (``run s.toml -m a=1,2``)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        unknown = [e for e in extra if e.startswith("-") and "=" not in e]
        if unknown or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
        args.overrides = [*args.overrides, *extra]
    return args


def execute(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Do what *args* asks; return the exit code. ZenspecErrors propagate."""
    if args.command == "schema":
        return _schema(args, out)
    if args.command == "validate":
        return _validate(args, out)
    if args.command == "plan":
        return _plan(args, out)
    return _run(args, out, err)


def _schema(args: argparse.Namespace, out: IO[str]) -> int:
    if args.markdown:
        from zenspec.spec.reference import render_markdown

        out.write(render_markdown())
    else:
        from zenspec.spec.schema import schema_text

        out.write(schema_text())
    return EXIT_OK


def _validate(args: argparse.Namespace, out: IO[str]) -> int:
    from zenspec.spec.api import validate_paths

    reports = validate_paths(args.paths, imports=args.imports)
    total = sum(len(r.problems) for r in reports)
    if args.format == "json":
        doc = {"ok": total == 0, "imports": args.imports, "files": [r.as_dict() for r in reports]}
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        for r in reports:
            if r.ok:
                size = "" if r.grid_size is None else f" ({r.grid_size} job(s))"
                out.write(f"{r.file}: ok{size}\n")
            else:
                out.write(f"{r.file}: {len(r.problems)} problem(s)\n")
                for p in r.problems:
                    out.write(f"  {p.format()}\n")
        bad = sum(1 for r in reports if not r.ok)
        checks = "schema and imports" if args.imports else "schema (add --imports to check targets)"
        out.write(
            f"{len(reports)} file(s) checked ({checks}): "
            + (f"{bad} with {total} problem(s).\n" if total else "all valid.\n")
        )
    if not reports:
        raise _usage(f"no spec files (*.toml, *.yaml, *.yml) under {' '.join(args.paths)}.")
    return EXIT_BAD_INPUT if total else EXIT_OK


def _usage(message: str) -> ZenspecError:
    from zenspec.errors import SpecError

    return SpecError(message)


def _plan(args: argparse.Namespace, out: IO[str]) -> int:
    from zenspec.spec.api import load_spec

    spec = load_spec(args.spec, imports=True)
    plan = spec.plan(args.overrides, multirun=args.multirun, job=args.job)
    out.write(plan.to_json() + "\n" if args.format == "json" else plan.format())
    return EXIT_OK


def _describe_error(e: BaseException) -> str:
    """``Type: message`` of a job's error, looking through Hydra's instantiation wrapper."""
    from hydra.errors import InstantiationException

    if isinstance(e, InstantiationException) and e.__cause__ is not None:
        e = e.__cause__
    return " ".join(f"{type(e).__name__}: {e}".split())


def _short(value: Any, width: int = 70) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def _run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from hydra.core.utils import JobReturn, JobStatus

    from zenspec.spec.api import load_spec

    spec = load_spec(args.spec, imports=False)
    kwargs: dict = {"on_error": "continue", "fail_fast": args.fail_fast, "max_jobs": args.max_jobs}
    if err.isatty():
        from zenspec.progress import Progress

        kwargs["progress"] = Progress(err)
    try:
        result = spec.run(args.overrides, multirun=args.multirun, imports=args.imports, **kwargs)
    except ZenspecError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as e:
        # A single run re-raises its task's error, as Hydra does; bad input was
        # already turned into a ZenspecError by the spec layer and the core.
        raise JobFailedError(
            f"the job failed: {_describe_error(e)}",
            hint="Fix: see the job's log in its output directory; --traceback shows where.",
        ) from e

    if isinstance(result, JobReturn):
        out.write(f"return value: {pprint.pformat(result.return_value)}\n")
        out.write(f"output: {result.output_dir}\n")  # type: ignore[attr-defined]
        return EXIT_OK
    jobs: List[JobReturn] = []
    if isinstance(result, list) and all(isinstance(b, (list, tuple)) for b in result):
        jobs = [j for batch in result for j in batch if isinstance(j, JobReturn)]
    if not jobs:  # a sweeper with its own return value
        out.write(f"sweeper returned: {pprint.pformat(result)}\n")
        return EXIT_OK
    failed = [j for j in jobs if j.status is JobStatus.FAILED]
    width = max(len(" ".join(j.overrides or [])) for j in jobs)
    out.write(f"{'#':>3}  {'overrides':<{width}}  result\n")
    for n, j in enumerate(jobs):
        shown = " ".join(j.overrides or [])
        if j.status is JobStatus.FAILED:
            value = f"FAILED {_describe_error(j._return_value)}"
        else:
            value = _short(j.return_value)
        num = getattr(j, "hydra_cfg", None)
        num = num.hydra.job.num if num is not None else n
        out.write(f"{num:>3}  {shown:<{width}}  {value}\n")
    first = getattr(jobs[0], "output_dir", None)
    if first is not None:
        out.write(f"outputs: {first.parent}\n")
    if failed:
        first = failed[0]
        num = first.hydra_cfg.hydra.job.num if first.hydra_cfg is not None else "?"
        raise JobFailedError(
            f"{len(failed)} of {len(jobs)} job(s) failed (first: #{num}, "
            f"{_describe_error(first._return_value)}); every other job ran and its result "
            "is kept.",
            results=result,
            hint="Fix: see the failed jobs' logs; resume with Python's "
            "hydra_multirun(..., resume=<dir>, retry_failed=True).",
        )
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``zenspec`` console script; returns the exit code."""
    args = parse_args(argv)
    try:
        return execute(args, sys.stdout, sys.stderr)
    except ZenspecError as e:
        if args.traceback:
            traceback.print_exc(file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.write(f"error: {e.format_message()}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as e:
        # not one of zenspec's errors: most likely Hydra refusing an input zenspec
        # does not pre-check; the message is Hydra's, the traceback on request
        if args.traceback:
            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(
            f"error: {type(e).__name__}: {e}\n(run with --traceback for the traceback)\n"
        )
        return EXIT_BAD_INPUT if _is_input_error(e) else EXIT_JOB_FAILED


def _is_input_error(e: BaseException) -> bool:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(e, (HydraException, OmegaConfBaseException))
