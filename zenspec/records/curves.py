"""``zenspec results DIR --curves``: what each job's metric stream (``zenspec.report``) shows.

One row per job that reported: how many steps, the metric's first, last and best
value and the step of the best, so learning curves can be compared without
plotting them. Running jobs are read from their streams as they are now.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Tuple

from zenspec.adaptive.report import job_metrics
from zenspec.records.render import _cell, _param_cell
from zenspec.records.table import SweepResults
from zenspec.text_table import render_table

__all__ = ["curve_summary", "render_curves"]


def _pick(metrics: Dict[str, Any], metric: Optional[str]) -> Optional[float]:
    if metric is None:
        values = [v for v in metrics.values() if isinstance(v, (int, float))]
        value = values[0] if len(values) == 1 else None
    else:
        value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def curve_summary(
    lines: List[Dict[str, Any]], metric: Optional[str], maximize: bool = False
) -> Optional[Dict[str, Any]]:
    """``{steps, first, last, best, best_step, last_step}`` of one stream; None if empty."""
    points: List[Tuple[Any, float]] = []
    for line in lines:
        value = _pick(line["metrics"], metric)
        if value is not None:
            points.append((line["step"], value))
    if not points:
        return None
    best = (max if maximize else min)(points, key=lambda p: p[1])
    return {
        "steps": len(points),
        "first": points[0][1],
        "last": points[-1][1],
        "best": best[1],
        "best_step": best[0],
        "last_step": points[-1][0],
    }


def render_curves(
    results: SweepResults, metric: Optional[str], maximize: bool = False, fmt: str = "table"
) -> str:
    """Every job's curve summary as a table (or json); jobs that reported nothing are left out."""
    rows = []
    for row in results.rows:
        summary = curve_summary(job_metrics(results.root, row.num), metric, maximize)
        if summary is not None:
            rows.append((row, summary))
    name = metric or "value"
    if fmt == "json":
        return json.dumps(
            {
                "metric": metric,
                "jobs": [
                    {"num": r.num, "status": r.status, "params": r.params, **summary}
                    for r, summary in rows
                ],
            },
            indent=2,
        )
    if not rows:
        return f"no job of {results.root} reported a metric (zenspec.report).\n"
    keys: List[str] = []
    for r, _ in rows:
        keys.extend(k for k in r.params if k not in keys)
    head = ["job", *keys, "status", "steps", f"first {name}", "last", "best", "best at step"]
    body = [
        [
            str(r.num),
            *(_param_cell(r.params.get(k), False) for k in keys),
            r.status,
            str(summary["steps"]),
            _cell(summary["first"]),
            _cell(summary["last"]),
            _cell(summary["best"]),
            str(summary["best_step"]),
        ]
        for r, summary in rows
    ]
    return render_table(head, body, rule=True) + f"\n{len(rows)} job(s) reported {name}\n"
