"""A sweep's results as text: an aligned table, csv, json or markdown (``zenspec results``).

One row per job, every column of :meth:`SweepResults.columns` by default (the job,
its params, status, metric, last reported step, every other scalar it returned,
its duration), or the ones ``--columns`` names, in that order.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any, Dict, Optional, Sequence

from zenspec.records.columns import choose
from zenspec.records.table import JobRow, SweepResults
from zenspec.text_table import markdown_table, render_table

__all__ = ["FORMATS", "render"]

FORMATS = ("table", "csv", "json", "markdown")


def _reported_text(reported: Optional[Dict[str, Any]]) -> str:
    """``step 6: val_loss=0.867``."""
    if not reported:
        return ""
    values = " ".join(f"{k}={_cell(v)}" for k, v in (reported.get("metrics") or {}).items())
    return f"step {reported.get('step')}: {values}".strip()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _param_cell(value: Any, exact: bool) -> str:
    # a sampled float's 17 digits are in the records (and csv/json); a table needs 6
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()  # as it was written in the override
    if isinstance(value, float) and not exact:
        return f"{value:.6g}"
    return str(value)


def _value_cell(value: Any, exact: bool) -> str:
    if isinstance(value, float) and exact:
        return repr(value)
    return _cell(value)


def _outcome(row: JobRow, width: int = 60) -> str:
    if row.cause:
        text = row.cause
    elif row.status == "failed" and row.error:
        kind = str(row.error.get("type", "")).rsplit(".", 1)[-1]
        text = " ".join(f"{kind}: {row.error.get('message', '')}".split())
    elif row.status == "completed":
        text = repr(row.return_value).replace("\n", " ")
    elif row.reported:  # pruned at, or (running) last reported
        text = _reported_text(row.reported)
    else:
        return ""
    return text if len(text) <= width else text[: width - 3] + "..."


def _live(row: JobRow) -> str:
    """A running job's metric column: its last reported value of the sweep's metric, marked."""
    values = (row.reported or {}).get("metrics") or {}
    return f"({_cell(next(iter(values.values())))})" if len(values) == 1 else ""


def render(
    results: SweepResults,
    fmt: str = "table",
    sort: Optional[str] = None,
    maximize: bool = False,
    outcome: bool = False,
    columns: Optional[Sequence[str]] = None,
) -> str:
    """Render *results* as ``table`` (aligned text), ``csv``, ``json`` or ``markdown``.

    Every column by default: the job, its params, status, metric, the last step it
    reported, every other scalar it returned, its duration; *columns* picks and
    orders them (``result`` too). With *outcome*, the text formats get a last column
    with each job's return value (as recorded, in short) or its error. An unknown
    column in *sort* or *columns* is refused (:class:`~zenspec.errors.ZenspecError`).
    """
    rows = results.sorted_rows(sort, maximize)
    available = results.columns()
    header = choose([*available, "result"], columns, "--columns") if columns else available
    if columns is None and outcome:
        header = [*header, "result"]
    if fmt == "json":
        best = results.best(maximize)
        return json.dumps(
            {
                "dir": str(results.root),
                "description": results.description,
                "status": results.status,
                "counts": results.counts,
                "best": None if best is None else best.num,
                "columns": header,
                "jobs": [asdict(r) for r in rows],
                "damaged": [{"file": name, "reason": why} for name, why in results.damaged],
            },
            indent=2,
            default=str,
        )
    best = results.best(maximize)
    exact = fmt == "csv"
    returned = results.value_names()  # once: it reads every row

    def cell(r: JobRow, column: str) -> str:
        if column == "job":
            return f"{r.num}" + ("*" if best is not None and r.num == best.num else "")
        if column == "status":
            return r.status if exact else r.status_text
        if column == "metric":
            if r.status == "running" and r.metric is None:
                return _live(r)
            return _value_cell(r.metric, exact)
        if column == "duration_s":
            return _value_cell(r.duration_s, exact)
        if column == "result":
            return _outcome(r)
        value = results.value(r, column, returned)
        if column in r.params:
            return _param_cell(value, exact)
        return _value_cell(value, exact)

    body = [[cell(r, c) for c in header] for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[c.rstrip("*") if i == 0 else c for i, c in enumerate(b)] for b in body])
        return buf.getvalue()
    if fmt == "markdown":
        text = markdown_table(header, body)
    elif fmt == "table":
        text = render_table(header, body, rule=True)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(results.counts.items()))
    footer = f"\n{len(rows)} jobs: {counts}" + (f"; best: job {best.num} (*)" if best else "")
    if results.damaged:
        footer += "\n" + results.damaged_text()
    return text + footer + "\n"
