"""``zenspec results DIR --job N``: everything about one job, without opening its files.

Its overrides and group choices, status and duration, the composed config it ran
with (``<job dir>/.hydra/config.yaml``), its return value or its error with the
traceback, where its log is (and whether anything was written to it), its seed,
and what it reported with ``zenspec.report`` (its curve in short).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from zenspec.errors import ZenspecError
from zenspec.records.table import JobRow, SweepResults

__all__ = ["describe_job", "job_details"]


def _row(results: SweepResults, num: int) -> JobRow:
    for row in results.rows:
        if row.num == num:
            return row
    nums = [r.num for r in results.rows]
    shown = f"{nums[0]}..{nums[-1]}" if nums else "none"
    raise ZenspecError(
        f"{results.root}: there is no job {num} in this sweep (jobs: {shown}).",
        hint="Fix: pick a job number from `zenspec results DIR`.",
    )


def _log_path(row: JobRow) -> Optional[Path]:
    if not row.job_dir:
        return None
    logs = sorted(Path(row.job_dir).glob("*.log"))
    return logs[0] if logs else None


def job_details(results: SweepResults, num: int) -> Dict[str, Any]:
    """What ``--job N`` shows, as data (``--format json``)."""
    from zenspec.adaptive.report import job_metrics
    from zenspec.records.curves import curve_summary
    from zenspec.records.store import jobs_dir, read_json

    row = _row(results, num)
    try:  # the one record (load_results checked it); a job without one has none
        record = read_json(jobs_dir(results.root) / f"{num}.json")
    except (OSError, ValueError):
        record = {}
    config_text = None
    if row.job_dir:
        path = Path(row.job_dir) / ".hydra" / "config.yaml"
        if path.is_file():
            config_text = path.read_text()
    log = _log_path(row)
    stream = job_metrics(results.root, num)
    metric = results.metric_name
    return {
        "num": num,
        "status": row.status,
        "cause": row.cause,
        "overrides": record.get("overrides") or [f"{k}={v}" for k, v in row.params.items()],
        "params": row.params,
        "choices": record.get("choices") or {},
        "duration_s": row.duration_s,
        "metric": row.metric,
        "return_value": row.return_value,
        "error": row.error,
        "seed": row.seed,
        "pruned": record.get("pruned"),
        "job_dir": row.job_dir,
        "config": config_text,
        "log": str(log) if log else None,
        "log_bytes": log.stat().st_size if log else None,
        "reported": curve_summary(stream, metric) if stream else None,
        "last_report": stream[-1] if stream else None,
        "engine": row.engine,
    }


def describe_job(results: SweepResults, num: int, fmt: str = "table") -> str:
    """``--job N`` as text (or JSON with ``fmt="json"``)."""
    d = job_details(results, num)
    if fmt == "json":
        return json.dumps(d, indent=2, default=str) + "\n"
    lines: List[str] = [f"job {num}: {d['status']}" + (f" ({d['cause']})" if d["cause"] else "")]
    lines.append(f"  overrides: {' '.join(d['overrides']) or '(none)'}")
    if d["choices"]:
        lines.append("  choices:   " + " ".join(f"{k}={v}" for k, v in d["choices"].items()))
    if d["duration_s"] is not None:
        lines.append(f"  duration:  {d['duration_s']:.3f} s")
    if d["seed"] is not None:
        lines.append(f"  seed:      {d['seed']}")
    if d["metric"] is not None:
        lines.append(f"  metric:    {d['metric']!r}")
    if d["pruned"]:
        values = " ".join(f"{k}={v}" for k, v in (d["pruned"].get("metrics") or {}).items())
        lines.append(f"  pruned:    at step {d['pruned'].get('step')} ({values})")
    if d["return_value"] is not None:
        lines.append(f"  returned:  {d['return_value']!r}")
    if d["reported"]:
        r = d["reported"]
        lines.append(
            f"  reported:  {r['steps']} step(s) of {results.metric_name or 'its value'}: "
            f"first {r['first']:.6g}, last {r['last']:.6g}, best {r['best']:.6g} at step "
            f"{r['best_step']}"
        )
    if d["job_dir"]:
        lines.append(f"  job dir:   {d['job_dir']}")
    if d["log"]:
        empty = " (empty: the job logged nothing)" if not d["log_bytes"] else ""
        lines.append(f"  log:       {d['log']}{empty}")
    if d["error"]:
        error = d["error"]
        lines.append(f"  error:     {error.get('type', '')}: {error.get('message', '')}")
        traceback = str(error.get("traceback") or "").rstrip()
        if traceback:
            lines += ["", *("  " + t for t in traceback.splitlines())]
    if d["config"]:
        lines += [
            "",
            "  config (.hydra/config.yaml):",
            *("    " + c for c in d["config"].splitlines()),
        ]
    return "\n".join(lines) + "\n"
