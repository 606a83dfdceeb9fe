"""Read a sweep's records back as one row per job, and render them.

Works on any sweep zenspec recorded: any sweeper or launcher, complete, partly
failed or interrupted (planned jobs with no result show as ``missing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from zenspec.errors import ZenspecError
from zenspec.records.columns import (
    choose,
    flatten_scalars,
    sort_value,
    typed_param,
    value_columns,
)
from zenspec.records.engine import live_states as engine_live_states
from zenspec.records.jobs import read_job_records
from zenspec.records.manifest import read_manifest

__all__ = ["JobRow", "SweepResults", "load_results"]


def _params(overrides: Sequence[str], choices: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The swept params of a job, typed (a config group's choice stays its option's name)."""
    out = {}
    for o in overrides:
        key, sep, value = o.partition("=")
        if sep and not key.startswith("hydra"):
            name = key.lstrip("+~")
            out[name] = typed_param(value, choice=name in (choices or {}))
    return out


@dataclass
class JobRow:
    """One job: its params (typed), status, metric, and every scalar it returned."""

    num: int
    status: str
    params: Dict[str, Any]
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
    #: every scalar of ``return_value`` by dotted name (``{"value": x}`` for a scalar)
    values: Dict[str, Any] = field(default_factory=dict)

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

    def _experiment(self, key: str) -> Optional[str]:
        """The spec's ``experiment.<key>`` if a non-blank string (a spec run), else None."""
        spec = self.manifest.get("spec")
        data = spec.get("data") if isinstance(spec, dict) else None
        exp = data.get("experiment") if isinstance(data, dict) else None
        text = exp.get(key) if isinstance(exp, dict) else None
        return text if isinstance(text, str) and text.strip() else None

    @property
    def description(self) -> Optional[str]:
        """The spec's ``experiment.description``, when the sweep was run from a spec."""
        return self._experiment("description")

    @property
    def name(self) -> Optional[str]:
        """The spec's ``experiment.name``, else Hydra's job name (a sweep run from Python)."""
        name = self._experiment("name") or self.manifest.get("job_name")
        return str(name).strip() if name else None

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

    @property
    def metric_name(self) -> Optional[str]:
        """The returned key the sweep's ``metric`` column holds, if it was named."""
        name = self.manifest.get("metric") or (self.manifest.get("spec") or {}).get("metric")
        return name if isinstance(name, str) else None

    def judged_by(self, metric: Optional[str]) -> SweepResults:
        """Judge the jobs by *metric*, a (dotted) key of their return values, from now on.

        Changes these results in place (their records are not touched) and returns them.
        None leaves the recorded metric.
        """
        if metric is None:
            return self
        from zenspec.records.jobs import extract_metric

        self.manifest = {**self.manifest, "metric": metric}
        for row in self.rows:
            if row.status == "completed":
                try:
                    row.metric = extract_metric(row.return_value, metric)
                except Exception:  # this job did not return it: no metric, as for a failure
                    row.metric = None
        return self

    @property
    def maximize(self) -> bool:
        """Whether the spec said ``direction = "maximize"``."""
        spec = self.manifest.get("spec")
        return isinstance(spec, dict) and spec.get("direction") == "maximize"

    def param_names(self) -> List[str]:
        names: List[str] = []
        for r in self.rows:
            names.extend(k for k in r.params if k not in names)
        return names

    def value_names(self) -> Dict[str, str]:
        """``{column: returned key}`` of every scalar the jobs returned (but the metric)."""
        return value_columns(self.rows, self.param_names(), self.metric_name)

    def columns(self) -> List[str]:
        """Every column a table of these results can show, in the default order."""
        steps = ["step"] if any(r.reported for r in self.rows) else []
        return [
            "job",
            *self.param_names(),
            "status",
            "metric",
            *steps,
            *self.value_names(),
            "duration_s",
        ]

    def value(self, row: JobRow, column: str, returned: Optional[Mapping[str, str]] = None) -> Any:
        """*row*'s cell in *column*, as a value (not text).

        *returned* is :meth:`value_names`, which reads every row: a caller that asks
        for many cells passes it, computed once.
        """
        if column == "job":
            return row.num
        if column in ("status", "metric", "duration_s"):
            return getattr(row, column)
        if column == "step":
            return (row.reported or {}).get("step")
        if column in row.params:
            return row.params[column]
        key = (self.value_names() if returned is None else returned).get(column, column)
        return row.values.get(key)

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame``, one column per table column, typed (pandas needed).

        Examples
        --------
        >>> df = load_results("multirun/2026-11-29/10-00-00").to_pandas()  # doctest: +SKIP
        >>> df.sort_values("metric").head()  # doctest: +SKIP
        """
        try:
            import pandas
        except ImportError as e:
            raise ZenspecError(
                "to_pandas() needs pandas, which is not installed.", hint="Fix: pip install pandas"
            ) from e
        names, returned = self.columns(), self.value_names()
        data = [{c: self.value(r, c, returned) for c in names} for r in self.rows]
        return pandas.DataFrame(data, columns=names)

    def sorted_rows(self, by: Optional[str] = None, maximize: bool = False) -> List[JobRow]:
        """The rows sorted by column *by* (missing values last); an unknown column is refused."""
        if by is None:
            return list(self.rows)
        if by == self.metric_name:  # the returned metric is the metric column
            by = "metric"
        (by,) = choose(self.columns(), [by], "--sort")
        returned = self.value_names()
        return sorted(self.rows, key=lambda r: sort_value(self.value(r, by, returned), maximize))


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
        choices = rec.get("choices") if isinstance(rec.get("choices"), dict) else None
        rows.append(
            JobRow(
                num=num,
                status=rec.get("status", "unknown"),
                params=_params(overrides, choices),
                metric=rec.get("metric"),
                duration_s=rec.get("duration_s"),
                job_dir=rec.get("job_dir"),
                return_value=rec.get("return_value"),
                error=rec.get("error"),
                cause=rec.get("cause"),
                engine=rec.get("engine"),
                reported=rec.get("pruned") or rec.get("reports"),
                seed=rec.get("seed"),
                values=(
                    flatten_scalars(rec.get("return_value"))
                    if rec.get("status") == "completed" and "return_value" in rec
                    else {}
                ),
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


def _natural(name: str) -> Tuple[int, str]:
    """``jobs/3.json`` before ``jobs/10.json``."""
    stem = name.rsplit("/", 1)[-1].split(".", 1)[0]
    return (int(stem) if stem.isdigit() else -1, name)
