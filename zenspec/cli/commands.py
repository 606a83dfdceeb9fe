"""The ``zenspec`` command: ``run``, ``validate``, ``plan``, ``results``, ``resume``, ``schema``.

The parser only fills an :class:`argparse.Namespace`; :func:`execute` does the
work through the same functions the Python API exposes. A
:class:`~zenspec.errors.ZenspecError` is caught once, here, and printed as a
clean message with its exit code (2: bad input, 1: a job failed);
``--traceback`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any, Iterator, Optional, Sequence, Tuple

from zenspec.cli.parser import build_parser, parse_args
from zenspec.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    JobFailedError,
    SpecError,
    Terminated,
    ZenspecError,
    describe_error,
)

__all__ = ["build_parser", "execute", "main", "parse_args"]


def execute(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Do what *args* asks; return the exit code. ZenspecErrors propagate."""
    if args.command == "schema":
        return _schema(args, out)
    if args.command == "validate":
        return _validate(args, out)
    if args.command == "plan":
        return _plan(args, out)
    if args.command == "completion":
        from zenspec.cli.completion import config_keys, script

        if args.shell == "keys":
            keys = config_keys(args.spec) if args.spec else []
            out.write("".join(f"{k}\n" for k in keys))
        else:
            out.write(script(build_parser(), args.shell))
        return EXIT_OK
    if args.command == "init":
        return _init(args, out, err)
    if args.command == "resume":
        return _resume(args, out, err)
    if args.command in ("results", "compare", "report", "export"):
        from zenspec.cli import views

        return views.execute(args, out)
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
        raise SpecError(
            f"no spec files under {' '.join(args.paths)}: a spec has a top-level "
            "'experiment' table or a zenspec schema line."
        )
    return EXIT_BAD_INPUT if total else EXIT_OK


def _plan(args: argparse.Namespace, out: IO[str]) -> int:
    from zenspec.spec.api import load_spec

    if not args.imports:
        from zenspec.spec.plan import plan_without_imports

        if args.job is not None:
            raise SpecError("--job N shows job N's composed config, which needs imports.")
        spec = load_spec(args.spec, imports=False)
        plan = plan_without_imports(spec, args.overrides, multirun=args.multirun)
        out.write(plan.to_json() + "\n" if args.format == "json" else plan.format())
        return EXIT_OK
    spec = load_spec(args.spec, imports=True)
    plan = spec.plan(args.overrides, multirun=args.multirun, job=args.job)
    out.write(plan.to_json() + "\n" if args.format == "json" else plan.format())
    return EXIT_OK


def _progress(args: argparse.Namespace, err: IO[str], maximize: bool = False) -> Any:
    if args.quiet:
        from zenspec.cli.progress import SweepDirOnly

        return SweepDirOnly()  # silent; remembers the sweep dir for the last line
    from zenspec.cli.progress import Progress

    # a terminal gets one live line; a pipe (CI logs) one line per finished job
    return Progress(err, maximize=maximize)


def _run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from zenspec.cli.show import check_show_options, show_cfg, show_info
    from zenspec.spec.api import load_spec

    check_show_options(args)
    showing = args.cfg is not None or args.info is not None
    # what `zenspec plan` checks before composing; a launch checks it as it starts
    spec = load_spec(args.spec, imports=showing and args.imports)
    if args.launcher:
        args.overrides = [f"hydra/launcher={args.launcher}", *args.overrides]
    if args.cfg is not None:
        return show_cfg(args, spec, out, err)
    if args.info is not None:
        return show_info(args, spec, out)
    maximize = spec.experiment.direction == "maximize"
    kwargs: dict = {
        "on_error": "continue",
        "fail_fast": args.fail_fast,
        "max_jobs": args.max_jobs,
        "progress": _progress(args, err, maximize),
    }
    tags = _tags(args.tags)
    if tags or args.note:
        kwargs.update(tags=tags, note=args.note)
    from zenspec.cli.progress import launch_lines_hushed

    progress = kwargs["progress"]
    live = progress is not None and progress.tty
    with launch_lines_hushed((args.quiet or live) and not args.verbose):
        return _launched(
            lambda: spec.run(
                args.overrides, multirun=args.multirun, imports=args.imports, **kwargs
            ),
            out,
            args.quiet,
            maximize,
            progress,
        )


def _tags(given: Sequence[str]) -> dict:
    """``--tag k=v`` (repeatable) as a mapping; a later value of a key wins."""
    tags = {}
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ZenspecError(
                f"--tag {text!r}: a tag is KEY=VALUE.",
                hint="Fix: --tag lr_schedule=cosine (repeat --tag for more).",
            )
        tags[key.strip()] = value
    return tags


def _launched(
    launch: Any, out: IO[str], quiet: bool, maximize: bool = False, progress: Any = None
) -> int:
    from zenspec.cli.output import report_result, report_stopped_study

    try:
        result = launch()
    except JobFailedError as e:  # a study stopped by max_failures: its trials first
        report_stopped_study(e, out, quiet)
        raise
    except (ZenspecError, KeyboardInterrupt):
        raise
    except Exception as e:
        # A single run re-raises its task's error, as Hydra does; bad input was
        # already turned into a ZenspecError by the spec layer and the core.
        log = getattr(e, "zenspec_job_log", None)  # set where the job wrote its traceback
        raise JobFailedError(
            f"the job failed: {describe_error(e)}",
            hint=f"Fix: see the job's log, {log} (it has the traceback)."
            if log
            else "Fix: --traceback shows where.",
        ) from e
    where = getattr(progress, "root", None)  # the sweep's dir, as the launch core told it
    return report_result(result, out, quiet=quiet, maximize=maximize, sweep_dir=where)


def _resume(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from zenspec.records.render import render
    from zenspec.records.table import load_results
    from zenspec.spec.resume import resume_sweep

    kwargs: dict = {"on_error": "continue", "fail_fast": args.fail_fast}
    kwargs["progress"] = _progress(args, err)
    try:
        resume_sweep(
            args.sweep_dir,
            retry_failed=args.retry_failed,
            force=args.force,
            spec_path=args.spec,
            wait=args.wait,
            **kwargs,
        )
    except (ZenspecError, KeyboardInterrupt):
        raise
    except Exception as e:  # the sweeper itself broke; the records say how far it got
        raise JobFailedError(f"the resumed sweep failed: {describe_error(e)}") from e
    # the whole sweep, old results and new: what the user wants to see now
    results = load_results(args.sweep_dir)
    table = render(results, "table")
    out.write(table if not args.quiet else table.rstrip("\n").splitlines()[-1] + "\n")
    # pruned jobs ended as their study meant them to: not owed, not failed
    failed = [r for r in results.rows if r.status not in ("completed", "pruned")]
    out.write(f"outputs: {results.root.resolve()}\n")
    if failed:
        raise JobFailedError(
            f"{len(failed)} of {len(results.rows)} job(s) of the sweep have no successful "
            f"result (first: #{failed[0].num}, {failed[0].status}).",
            hint=f"Fix: see their logs, then: zenspec resume {results.root} --retry-failed.",
        )
    return EXIT_OK


_SPEC_SUFFIXES = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


def _init_destination(args: argparse.Namespace) -> Tuple[Optional[Any], str]:
    """Where ``init`` writes and in which format; refuses what it cannot write."""

    from zenspec.errors import SpecError

    if not args.output:
        return None, args.format or "toml"
    dest = Path(args.output)
    if dest.is_dir():
        raise SpecError(
            f"{dest} is a directory; zenspec init -o takes the spec file to write.",
            hint=f"Fix: zenspec init {args.target} -o {dest / 'experiment.toml'}.",
        )
    suffix = dest.suffix.lower()
    if suffix not in _SPEC_SUFFIXES:
        shown = f"ends in {dest.suffix!r}" if dest.suffix else "has no suffix"
        raise SpecError(
            f"{dest} {shown}; a spec file is .toml, .yaml or .yml (zenspec validate DIR and "
            "editors find specs by it).",
            hint=f"Fix: zenspec init {args.target} -o {dest.with_suffix('.toml')}.",
        )
    fmt = _SPEC_SUFFIXES[suffix]
    if args.format and args.format != fmt:
        raise SpecError(
            f"--format {args.format} does not match {dest}, a {fmt.upper()} file name.",
            hint=f"Fix: drop --format, or write {dest.with_suffix('.' + args.format)}.",
        )
    if dest.exists() and not args.force:
        raise SpecError(
            f"{dest} exists; zenspec init does not overwrite it.",
            hint="Fix: choose another path, or pass --force.",
        )
    return dest, fmt


def _init(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from zenspec.cli.init import starter_spec
    from zenspec.errors import SpecError
    from zenspec.spec.imports import search_path

    dest, fmt = _init_destination(args)
    before = list(sys.path)  # what imports without the current directory
    with search_path(()):  # the current directory, as `zenspec run` searches it
        starter = starter_spec(args.target, fmt, dest, sys_path=before)
    fill = ", ".join(starter.required)
    if dest is None:
        out.write(starter.text)
        if fill:
            err.write(f"fill in the required values ('???') of: {fill}\n")
        return EXIT_OK
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(starter.text, encoding="utf-8")
    except OSError as e:
        raise SpecError(
            f"cannot write {dest}: {e.strerror or e}.",
            hint="Fix: choose a path in a directory you can write to (-o PATH).",
        ) from e
    if fill:
        out.write(
            f"wrote {dest}; fill in the required values ('???') of: {fill} -- in the spec, "
            f"or on the command line -- then run: zenspec run {dest}\n"
        )
    else:
        out.write(f"wrote {dest}; run it with: zenspec run {dest}\n")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``zenspec`` console script; returns the exit code."""
    args = parse_args(argv)
    try:
        with terminate_as_interrupt():
            return execute(args, sys.stdout, sys.stderr)
    except ZenspecError as e:
        if args.traceback:
            traceback.print_exc(file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.write(f"error: {e.format_message()}\n")
        return e.exit_code
    except KeyboardInterrupt as e:  # Ctrl-C; SIGTERM/SIGHUP as Terminated
        from zenspec.cli.output import interrupted_message

        sys.stdout.flush()
        sys.stderr.write(interrupted_message(e))
        return getattr(e, "exit_code", EXIT_INTERRUPTED)
    except Exception as e:
        # not one of zenspec's errors: most likely Hydra refusing an input zenspec
        # does not pre-check; the message is Hydra's, the traceback on request
        if args.traceback:
            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(
            f"error: {type(e).__name__}: {e}\n(run with --traceback for the traceback)\n"
        )
        return EXIT_BAD_INPUT if _is_input_error(e) else EXIT_JOB_FAILED


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the command as Ctrl-C does (as :class:`Terminated`).

    What SLURM preemption, ``scancel``, ``docker stop``, ``timeout`` and a
    closed terminal send: the sweep is recorded interrupted, running jobs are
    stopped and recorded, the resume line printed; the exit code is 128 + the
    signal (143 for SIGTERM). The previous handlers come back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        # once: a second signal must not cut short the recording of the first
        for sig in caught:
            signal.signal(sig, signal.SIG_IGN)
        raise Terminated(signum)

    caught = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, handler) for sig in caught}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _is_input_error(e: BaseException) -> bool:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(e, (HydraException, OmegaConfBaseException))
