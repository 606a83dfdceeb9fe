"""``zenspec results``, ``compare``, ``report`` and ``export``: looking at recorded sweeps."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import IO, Any, Optional

from zenspec.errors import EXIT_JOB_FAILED, EXIT_OK

__all__ = ["execute"]


def _maximize(args: argparse.Namespace) -> Optional[bool]:
    """True/False when the command line says; None: each sweep's own direction."""
    if args.maximize:
        return True
    if args.minimize:
        return False
    return None


def execute(args: argparse.Namespace, out: IO[str]) -> int:
    if args.command == "results":
        return _results(args, out)
    if args.command == "compare":
        from zenspec.records.compare import compare_sweeps

        comparison = compare_sweeps(args.sweep_dirs, metric=args.metric, maximize=_maximize(args))
        out.write(comparison.render(args.format))
        return EXIT_OK
    if args.command == "report":
        from zenspec.visual import write_report

        path = write_report(
            args.sweep_dirs,
            args.output,
            metric=args.metric,
            maximize=_maximize(args),
            title=args.title,
        )
        size = path.stat().st_size / 1e6
        out.write(f"wrote {path} ({size:.1f} MB, works offline); open it in a browser\n")
        return EXIT_OK
    from zenspec.export.mlflow import export_mlflow

    summary = export_mlflow(args.sweep_dirs, args.mlflow, experiment=args.experiment)
    out.write(summary.format())
    return EXIT_OK


def _results(args: argparse.Namespace, out: IO[str]) -> int:
    from zenspec.records.listing import find_runs, list_runs
    from zenspec.records.render import render
    from zenspec.records.store import manifest_path
    from zenspec.records.table import load_results

    where = Path(args.sweep_dir)
    if not manifest_path(where).is_file():
        if where.is_dir() and manifest_path(where.parent).is_file() and args.job is None:
            # a job's own dir (SWEEP/3): that job of its sweep
            with contextlib.suppress(ValueError):
                args.job = int(where.name)
                where = where.parent
        elif where.is_dir():
            found = find_runs(where)
            if found:  # a directory of runs: list them
                out.write(list_runs(where, "json" if args.format == "json" else "table", found))
                return EXIT_OK
    results = load_results(where)
    spec = results.manifest.get("spec") or {}
    metric = args.metric
    results.judged_by(metric)  # another key of their return value, if given
    maximize = args.maximize or (not args.minimize and results.maximize)
    sort = args.sort
    if args.format == "table":
        out.write(_labels(results))
    if args.job is not None:
        from zenspec.records.one_job import describe_job

        out.write(describe_job(results, args.job, "json" if args.format == "json" else "table"))
        return EXIT_OK
    if args.curves:
        from zenspec.records.curves import render_curves

        out.write(render_curves(results, metric or spec.get("metric"), maximize, args.format))
        return EXIT_OK
    columns = [c for c in args.columns.split(",") if c.strip()] if args.columns else None
    out.write(render(results, args.format, sort=sort, maximize=maximize, columns=columns))
    counts = results.counts
    root = results.root.resolve()
    status = results.status
    if args.format == "table" and (counts.get("queued") or counts.get("running")):
        live = counts.get("queued", 0) + counts.get("running", 0)
        out.write(
            f"{live} job(s) are still queued/running under their engine; results fill in as "
            f"they end (to run what is missing after them: zenspec resume {root} --wait)\n"
        )
    elif args.format == "table" and counts.get("missing"):
        if status == "running":
            out.write(f"the sweep is running; its missing jobs are still to come ({root})\n")
        else:
            out.write(f"the sweep is {status}; to run what is missing: zenspec resume {root}\n")
    elif args.format == "table" and counts.get("failed"):
        out.write(f"to re-run the failed jobs: zenspec resume {root} --retry-failed\n")
    if results.damaged and args.format == "csv":  # table/markdown: in render's footer
        sys.stderr.write(results.damaged_text() + "\n")
    ended = ("completed", "pruned")  # a pruned trial ended as the study meant it to
    unfinished = sum(n for s, n in counts.items() if s not in ended) + len(results.damaged)
    if args.check and not unfinished:  # a sweep stopped early, or a study's failed trials
        from zenspec.sweepers.results import failed_trials

        unfinished = int(status != "completed") + failed_trials(results.root)
    return EXIT_JOB_FAILED if unfinished and args.check else EXIT_OK


def _labels(results: Any) -> str:
    """The description, tags and note of a sweep, above its table ("" when it has none)."""
    from zenspec.records.listing import tags_text

    lines = [results.description.strip()] if results.description else []
    tags = tags_text(results.manifest.get("tags"))
    if tags:
        lines.append(f"tags: {tags}")
    note = results.manifest.get("note")
    if isinstance(note, str) and note.strip():
        lines.append(f"note: {note.strip()}")
    return "\n".join(lines) + "\n\n" if lines else ""
