"""Read a sweep's records back as one row per job, and render them.

Works on any sweep zenspec recorded: any sweeper or launcher, complete, partly
failed or interrupted (planned jobs with no result show as ``missing``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from zenspec.records.engine import live_states as engine_live_states
from zenspec.records.jobs import read_job_records
from zenspec.records.manifest import read_manifest
from zenspec.text_table import render_table

__all__ = ["JobRow", "SweepResults", "load_results", "render"]

FORMATS = ("table", "csv", "json", "markdown")


def _params(overrides: Sequence[str]) -> Dict[str, str]:
    out = {}
    for o in overrides:
        key, sep, value = o.partition("=")
        if sep and not key.startswith("hydra"):
            out[key.lstrip("+~")] = value
    return out


@dataclass
class JobRow:
    num: int
    status: str
    params: Dict[str, str]
    metric: Optional[float] = None
    duration_s: Optional[float] = None
    job_dir: Optional[str] = None
    return_value: Any = None
    error: Optional[Dict[str, Any]] = None
    #: why a job that died without a Python exception ended (``killed by SIGSEGV``...)
    cause: Optional[str] = None
    #: the engine's id of the job (``{"kind": "slurm", "job_id": "123_4"}``)
    engine: Optional[Dict[str, Any]] = None
    #: what it last ``zenspec.report``-ed: ``{"reports": n, "step": s, "metrics": {...}}``
    #: (of a running job: read from its metric stream)
    reported: Optional[Dict[str, Any]] = None
    seed: Optional[int] = None

    @property
    def status_text(self) -> str:
        """``failed (killed by SIGSEGV)``: the status, with the cause where there is one."""
        return f"{self.status} ({self.cause})" if self.cause else self.status


@dataclass
class SweepResults:
    """All jobs of one run/sweep, plus its manifest."""

    root: Path
    manifest: Dict[str, Any]
    rows: List[JobRow] = field(default_factory=list)
    #: ``(file, why)`` of each record that could not be used (``jobs/3.json``,
    #: ``status is 5, expected a string``): skipped, its job counted as missing
    damaged: List[Tuple[str, str]] = field(default_factory=list)

    def damaged_text(self, limit: int = 5) -> str:
        """``2 damaged record(s) skipped: jobs/3.json (why), ...``; "" if none."""
        if not self.damaged:
            return ""
        shown = "; ".join(f"{name} ({why})" for name, why in self.damaged[:limit])
        more = f"; and {len(self.damaged) - limit} more" if len(self.damaged) > limit else ""
        return f"{len(self.damaged)} damaged record(s) skipped: {shown}{more}"

    @property
    def description(self) -> Optional[str]:
        """The spec's ``experiment.description``, when the sweep was run from a spec."""
        spec = self.manifest.get("spec")
        data = spec.get("data") if isinstance(spec, dict) else None
        exp = data.get("experiment") if isinstance(data, dict) else None
        text = exp.get("description") if isinstance(exp, dict) else None
        return text if isinstance(text, str) and text.strip() else None

    @property
    def status(self) -> str:
        """The sweep's status; ``running`` only while its writer is alive.

        A sweep whose process was killed (SIGKILL, a crash, a lost node) never
        got to write its end: its manifest still says ``running``, but nobody
        holds its lock.
        """
        status = str(self.manifest.get("status"))
        if status == "running":
            from zenspec.records.lock import holder

            if holder(self.root) is None:
                return "interrupted (its zenspec process is gone)"
        return status

    @property
    def counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for r in self.rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    def best(self, maximize: bool = False) -> Optional[JobRow]:
        """The completed job with the best metric (None if no job has one)."""
        scored = [
            r
            for r in self.rows
            if r.status == "completed" and r.metric is not None and not math.isnan(r.metric)
        ]
        if not scored:
            return None

        def metric(r: JobRow) -> float:
            assert r.metric is not None  # scored rows only
            return r.metric

        return (max if maximize else min)(scored, key=metric)

    def sorted_rows(self, by: Optional[str] = None, maximize: bool = False) -> List[JobRow]:
        if by is None:
            return list(self.rows)

        def key(r: JobRow) -> Any:
            value = r.metric if by == "metric" else r.params.get(by)
            if value is None and by not in ("metric",) and isinstance(r.return_value, dict):
                value = r.return_value.get(by)
            missing = value is None
            if isinstance(value, (int, float)):
                value = -value if maximize else value
            return (missing, value if not missing else 0)

        return sorted(self.rows, key=key)


def load_results(root: Path) -> SweepResults:
    """The results of the run/sweep in *root* (its ``.zenspec`` records)."""
    root = Path(root)
    manifest = read_manifest(root)
    damaged: List[Tuple[str, str]] = []
    records = {r["num"]: r for r in read_job_records(root, damaged)}
    damaged.sort(key=lambda d: _natural(d[0]))
    planned = manifest.get("planned_jobs")
    nums = sorted(set(records) | {j["num"] for j in planned or []})
    plan_by_num = {j["num"]: j["overrides"] for j in planned or []}
    # jobs without a record that an engine (SLURM) still has are not missing
    live = engine_live_states(root, [n for n in nums if n not in records])
    rows = []
    for num in nums:
        rec = records.get(num)
        overrides = plan_by_num.get(num) or (rec or {}).get("overrides", [])
        if rec is None:
            row = JobRow(num=num, status=live.get(num, "missing"), params=_params(overrides))
            row.reported = _last_reported(root, num)
            rows.append(row)
            continue
        rows.append(
            JobRow(
                num=num,
                status=rec.get("status", "unknown"),
                params=_params(overrides),
                metric=rec.get("metric"),
                duration_s=rec.get("duration_s"),
                job_dir=rec.get("job_dir"),
                return_value=rec.get("return_value"),
                error=rec.get("error"),
                cause=rec.get("cause"),
                engine=rec.get("engine"),
                reported=rec.get("pruned") or rec.get("reports"),
                seed=rec.get("seed"),
            )
        )
    return SweepResults(root=root, manifest=manifest, rows=rows, damaged=damaged)


def _last_reported(root: Path, num: int) -> Optional[Dict[str, Any]]:
    """The last line a job without a record (running, or died) reported, if any."""
    from zenspec.adaptive.report import job_metrics

    lines = job_metrics(root, num)
    if not lines:
        return None
    return {"reports": len(lines), "step": lines[-1].get("step"), **lines[-1]}


def _reported_text(reported: Optional[Dict[str, Any]]) -> str:
    """``step 6: val_loss=0.867``."""
    if not reported:
        return ""
    values = " ".join(f"{k}={_cell(v)}" for k, v in (reported.get("metrics") or {}).items())
    return f"step {reported.get('step')}: {values}".strip()


def _natural(name: str) -> Tuple[int, str]:
    """``jobs/3.json`` before ``jobs/10.json``."""
    stem = name.rsplit("/", 1)[-1].split(".", 1)[0]
    return (int(stem) if stem.isdigit() else -1, name)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _param_cell(text: str, fmt: str) -> str:
    # a sampled float's 17 digits are in the records (and csv/json); a table needs 6
    if fmt in ("csv", "json") or "." not in text:
        return text
    try:
        return f"{float(text):.6g}"
    except ValueError:
        return text


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
) -> str:
    """Render *results* as ``table`` (aligned text), ``csv``, ``json`` or ``markdown``.

    With *outcome*, the text formats get a last column with each job's return
    value (as recorded, in short) or its error.
    """
    rows = results.sorted_rows(sort, maximize)
    if fmt == "json":
        best = results.best(maximize)
        return json.dumps(
            {
                "dir": str(results.root),
                "description": results.description,
                "status": results.status,
                "counts": results.counts,
                "best": None if best is None else best.num,
                "jobs": [asdict(r) for r in rows],
                "damaged": [{"file": name, "reason": why} for name, why in results.damaged],
            },
            indent=2,
            default=str,
        )
    keys: List[str] = []
    for r in rows:
        keys.extend(k for k in r.params if k not in keys)
    # the last step each job reported (zenspec.report), when any did: live curves' ends
    steps = any(r.reported for r in rows)
    header = ["job", *keys, "status", "metric", *(["step"] if steps else []), "duration_s"]
    header += ["result"] if outcome else []
    best = results.best(maximize)
    body = [
        [
            f"{r.num}" + ("*" if best is not None and r.num == best.num else ""),
            *(_param_cell(r.params.get(k, ""), fmt) for k in keys),
            r.status_text if fmt != "csv" else r.status,
            _cell(r.metric) if r.status != "running" or r.metric is not None else _live(r),
            *([_cell((r.reported or {}).get("step"))] if steps else []),
            _cell(r.duration_s),
            *([_outcome(r)] if outcome else []),
        ]
        for r in rows
    ]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[c.rstrip("*") if i == 0 else c for i, c in enumerate(b)] for b in body])
        return buf.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        text = "\n".join(lines)
    elif fmt == "table":
        text = render_table(header, body, rule=True)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(results.counts.items()))
    footer = f"\n{len(rows)} jobs: {counts}" + (f"; best: job {best.num} (*)" if best else "")
    if results.damaged:
        footer += "\n" + results.damaged_text()
    return text + footer + "\n"
