"""Read sweeps' records into the plain data a report shows.

Each sweep becomes a :class:`Sweep` (its :class:`~zenspec.records.table.SweepResults`,
the direction and metric it is judged by, its sweeper's kind, every job's reported
curve), and from it come JSON-ready dicts: the summary, the table's rows, the
failures grouped by error type. Non-finite floats never reach JSON (which has no
NaN): plots get ``null``, table cells the text ``nan``/``inf``/``-inf``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from zenspec.records.table import JobRow, SweepResults

__all__ = [
    "Sweep",
    "failures",
    "find_sweeps",
    "load_sweep",
    "plot_number",
    "summary",
    "table",
]

PathLike = Union[str, "os.PathLike[str]"]

#: sweepers whose job order is a trial order worth a best-so-far history
OPTIMISING = ("random", "optuna")


@dataclass
class Sweep:
    """One sweep as a report reads it.

    Attributes
    ----------
    results : SweepResults
        Its rows and manifest (rows re-judged by ``metric`` when one was asked for).
    maximize : bool
        The direction its best job is chosen by.
    metric : str or None
        The returned key its ``metric`` column holds, when named.
    kind : str
        ``grid``, ``random``, ``optuna``, ``run`` (a single run) or a sweeper's class name.
    label : str
        Its name in the report (the experiment's name, made unique among the report's sweeps).
    curves : dict
        ``{job num: [{"step", "time", "metrics"}]}`` of the jobs that reported metrics.
    """

    results: SweepResults
    maximize: bool
    metric: Optional[str]
    kind: str
    label: str
    curves: Dict[int, List[Dict[str, Any]]] = field(default_factory=dict)
    #: ``{param: log-scaled?}`` for the axes the spec or an override declared as ranges
    log_axes: Dict[str, bool] = field(default_factory=dict)

    @property
    def optimising(self) -> bool:
        """Whether job numbers are a search's trial order (random search, Optuna)."""
        return self.kind in OPTIMISING

    @property
    def best(self) -> Optional[JobRow]:
        return self.results.best(self.maximize)


def find_sweeps(paths: Sequence[PathLike]) -> List[Path]:
    """Every sweep directory *paths* name: a sweep itself, or the sweeps under a directory."""
    from zenspec.records.listing import sweeps_named

    return sweeps_named(paths)


def _kind(manifest: Dict[str, Any]) -> str:
    spec = manifest.get("spec")
    data = spec.get("data") if isinstance(spec, dict) else None
    table = data.get("sweeper") if isinstance(data, dict) else None
    kind = table.get("kind") if isinstance(table, dict) else None
    if isinstance(kind, str):
        return "grid" if kind == "basic" else kind
    name = str(manifest.get("sweeper") or "")
    # from Python (hydra_multirun) there is no spec: the sweeper's class tells
    for known in OPTIMISING:
        if known in name.lower():
            return known
    if str(manifest.get("mode", "")).upper() == "RUN":
        return "run"
    if not name or name.endswith("BasicSweeper"):
        return "grid"
    return name.rsplit(".", 1)[-1]


def _log_axes(manifest: Dict[str, Any]) -> Dict[str, bool]:
    """Which swept ranges were declared log-uniform: the spec's ``{low, high, log}``
    tables, then the ``interval`` overrides (``lr=tag(log, interval(...))``), which win."""
    out: Dict[str, bool] = {}
    spec = manifest.get("spec")
    data = spec.get("data") if isinstance(spec, dict) else None
    axes = data.get("sweep") if isinstance(data, dict) else None
    for name, value in (axes or {}).items() if isinstance(axes, dict) else ():
        if isinstance(value, dict) and "low" in value:
            out[str(name)] = bool(value.get("log"))
    for override in manifest.get("overrides") or []:
        key, _, value = str(override).partition("=")
        if "interval(" in value:
            out[key.lstrip("+~")] = "log" in value.split("interval(", 1)[0]
    return out


def load_sweep(root: Path, metric: Optional[str] = None, maximize: Optional[bool] = None) -> Sweep:
    """The sweep in *root*, its jobs judged by *metric* (a returned key) when given.

    *maximize* None: the sweep's own direction (its spec's ``direction``).
    """
    from zenspec.adaptive.report import job_metrics, metrics_dir
    from zenspec.records.table import load_results

    results = load_results(root).judged_by(metric)  # as `zenspec results --metric` does
    curves = {}
    try:  # one listing, not an open per job: most sweeps report nothing
        streams = {n[:-6] for n in os.listdir(metrics_dir(root)) if n.endswith(".jsonl")}
    except OSError:
        streams = set()
    for row in results.rows:
        if str(row.num) in streams:
            lines = job_metrics(root, row.num)
            if lines:
                curves[row.num] = lines
    return Sweep(
        results=results,
        maximize=results.maximize if maximize is None else bool(maximize),
        metric=results.metric_name,
        kind=_kind(results.manifest),
        label=results.name or results.root.name,
        curves=curves,
        log_axes=_log_axes(results.manifest),
    )


def plot_number(value: Any) -> Optional[float]:
    """*value* as a plottable number: None for non-numbers, bools, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def cell(value: Any) -> Any:
    """A table cell JSON can carry: non-finite floats as text, containers as their text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def error_text(row: JobRow) -> Optional[str]:
    """``ValueError: message`` of a failed job, or why it died (``killed by SIGSEGV``)."""
    if row.error:
        kind = str(row.error.get("type") or "error").rsplit(".", 1)[-1]
        message = " ".join(str(row.error.get("message") or "").split())
        return f"{kind}: {message}" if message else kind
    return row.cause


def table(sweep: Sweep) -> Dict[str, Any]:
    """``{"columns", "rows", "best"}``: every column of the results table, one row per job.

    An ``error`` column is added when a job has one (the text table shows it only
    with ``--outcome``; here it is what the filter box finds failures by).
    """
    results = sweep.results
    columns = results.columns()
    errors = [error_text(r) for r in results.rows]
    if any(errors):
        columns.append("error")
    returned = results.value_names()  # once: it reads every row
    rows = []
    for row, error in zip(results.rows, errors):
        cells = [cell(results.value(row, c, returned)) for c in columns if c != "error"]
        if "error" in columns:
            cells.append(error)
        rows.append(cells)
    best = sweep.best
    return {"columns": columns, "rows": rows, "best": None if best is None else best.num}


def _when(text: Any) -> Optional[_dt.datetime]:
    try:
        return _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None


def summary(sweep: Sweep) -> Dict[str, Any]:
    """What the report's summary card of *sweep* shows, as data."""
    results = sweep.results
    manifest = results.manifest
    best = sweep.best
    tags = manifest.get("tags")
    note = manifest.get("note")
    started, ended = manifest.get("started_at"), manifest.get("ended_at")
    start, end = _when(started), _when(ended)
    return {
        "name": sweep.label,
        "dir": str(results.root.resolve()),
        "description": results.description,
        "tags": {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        "note": note.strip() if isinstance(note, str) and note.strip() else None,
        "status": results.status,
        "mode": manifest.get("mode"),
        "sweeper": sweep.kind,
        "metric": sweep.metric,
        "direction": "maximize" if sweep.maximize else "minimize",
        "jobs": len(results.rows),
        "counts": dict(sorted(results.counts.items())),
        "best": None
        if best is None
        else {
            "job": best.num,
            "metric": cell(best.metric),
            "params": {k: cell(v) for k, v in best.params.items()},
        },
        "started_at": started,
        "ended_at": ended,
        "elapsed_s": (end - start).total_seconds() if start and end else None,
        "damaged": [f"{name} ({why})" for name, why in results.damaged],
    }


def failures(sweep: Sweep) -> List[Dict[str, Any]]:
    """The failed jobs grouped by error type, most frequent first.

    Each group: ``type`` (or how the job died), the first job's ``message``, how many
    distinct messages the group holds, ``count``, the job numbers, one ``traceback``.
    """
    groups: Dict[str, Dict[str, Any]] = {}
    for row in sweep.results.rows:
        if row.status != "failed" and not row.error:
            continue
        error = row.error or {}
        kind = str(error.get("type") or row.cause or "failed without an error record")
        group = groups.setdefault(
            kind,
            {
                "type": kind,
                "message": str(error.get("message") or ""),
                "messages": set(),
                "count": 0,
                "jobs": [],
                "traceback": str(error.get("traceback") or "") or None,
            },
        )
        group["messages"].add(str(error.get("message") or ""))
        group["count"] += 1
        group["jobs"].append(row.num)
        if group["traceback"] is None and error.get("traceback"):
            group["traceback"] = str(error["traceback"])
    out = sorted(groups.values(), key=lambda g: (-g["count"], g["jobs"][0]))
    for group in out:
        group["messages"] = len(group["messages"])
    return out
