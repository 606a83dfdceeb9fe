"""The options of the commands that look at recorded sweeps: results, compare, report, export."""

from __future__ import annotations

import argparse
from typing import Any, List, Tuple

__all__ = ["add_view_commands"]


def add_view_commands(sub: Any) -> Tuple[List[argparse.Action], argparse.Action]:
    """Add the commands to *sub*; return their sweep-dir arguments and report's ``-o``."""
    res = sub.add_parser(
        "results",
        help="one row per job of a recorded run or sweep",
        description="Read a run's or sweep's records (any sweeper, any launcher, also "
        "partly failed or interrupted sweeps) and print one row per job: its swept "
        "params, status, metric and duration; the best job is marked with *.",
    )
    res_dir = res.add_argument(
        "sweep_dir", metavar="SWEEP_DIR", help="the sweep's output directory"
    )
    res.add_argument(
        "--sort", metavar="KEY", help="sort by 'metric', a swept param or a returned key"
    )
    _judging(res, "judge jobs by this key of their return value")
    res.add_argument("--format", choices=("table", "csv", "json", "markdown"), default="table")
    res.add_argument(
        "--columns",
        metavar="A,B,...",
        help="the columns to show, in this order: job, a swept param, status, metric, step, "
        "a returned key (nested: dotted), duration_s, result (default: all but result)",
    )
    res.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless every job completed or was pruned (failed, interrupted or "
        "missing jobs)",
    )
    res.add_argument(
        "--job",
        type=int,
        metavar="N",
        help="everything about job N: overrides, choices, status, duration, its composed "
        "config, return value or error with traceback, log path, seed, what it reported",
    )
    res.add_argument(
        "--curves",
        action="store_true",
        help="one row per job's reported metric (zenspec.report): steps, first, last and "
        "best value and the step of the best; running jobs too",
    )

    compare = sub.add_parser(
        "compare",
        help="put sweeps side by side",
        description="Compare two or more recorded sweeps: for jobs with the same params in "
        "every sweep, the metric of each and the difference to the first; and the best job "
        "of each sweep.",
    )
    compare_dirs = compare.add_argument(
        "sweep_dirs", metavar="SWEEP_DIR", nargs="+", help="two or more sweep directories"
    )
    _judging(compare, "compare this key of the return values")
    compare.add_argument("--format", choices=("table", "json", "markdown"), default="table")

    report = sub.add_parser(
        "report",
        help="write a self-contained HTML report of sweeps (needs zenspec[report])",
        description="Write one HTML file that works offline (no CDN): a summary, a sortable "
        "and filterable table of the jobs, the metric against each swept parameter, "
        "parallel coordinates, optimisation history, learning curves of reported metrics "
        "and the failures grouped by error. Each SWEEP_DIR is a sweep, or a directory of "
        "them (every sweep under it is included).",
    )
    report_dirs = report.add_argument(
        "sweep_dirs", metavar="SWEEP_DIR", nargs="+", help="sweep directories"
    )
    report_output = report.add_argument(
        "-o", "--output", metavar="FILE", default="report.html", help="default: report.html"
    )
    _judging(report, "plot this key of the return values")
    report.add_argument("--title", metavar="TEXT", help="the report's title")

    export = sub.add_parser(
        "export",
        help="log sweeps to an MLflow tracking store (needs zenspec[mlflow])",
        description="Log each job of each sweep as an MLflow run (params, final metrics, "
        "reported step metrics, status, tags, the job's .hydra/ files as artifacts) under "
        "one parent run per sweep. Exporting a sweep again adds only what is new: runs are "
        "matched by sweep and job id, never duplicated.",
    )
    export_dirs = export.add_argument(
        "sweep_dirs", metavar="SWEEP_DIR", nargs="+", help="sweep directories"
    )
    export.add_argument(
        "--mlflow",
        metavar="URI",
        required=True,
        help="the tracking URI, e.g. sqlite:///mlflow.db or http://host:5000",
    )
    export.add_argument(
        "--experiment", metavar="NAME", help="the MLflow experiment (default: the spec's name)"
    )

    return [res_dir, compare_dirs, report_dirs, export_dirs], report_output


def _judging(parser: argparse.ArgumentParser, metric_help: str) -> None:
    """``--metric KEY`` and ``--maximize | --minimize``: how a command judges the jobs."""
    parser.add_argument("--metric", metavar="KEY", help=metric_help)
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument("--maximize", action="store_true", help="higher metric is better")
    direction.add_argument("--minimize", action="store_true", help="lower metric is better")
