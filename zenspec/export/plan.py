"""What a sweep becomes in a tracking store, decided from its records alone.

:func:`plan_sweep` reads a sweep's records and says, for the sweep and for each
job, which run to log: name, status, start and end, params, final and step
metrics, tags, artifacts, and a fingerprint that changes whenever the job's
record or metric stream does. Nothing here imports MLflow: the plan is plain
data, checked before any connection is made, and
:mod:`zenspec.export.mlflow` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from zenspec.export.values import (
    MAX_PARAM_VALUE,
    MAX_RUN_NAME,
    MAX_TAG_VALUE,
    as_number,
    cut,
    experiment_name,
    iso_to_ms,
    safe_key,
    same,
    seconds_ms,
    sweep_id,
)
from zenspec.records.manifest import canonical_hash, job_id
from zenspec.records.table import JobRow, SweepResults

__all__ = ["MetricPoint", "RunPlan", "SweepPlan", "plan_sweep"]

#: bumped when what a job's run holds changes: every run is then updated once
PLAN_VERSION = 1

#: an MLflow run status by zenspec status; a job with no record is not exported
STATUS = {
    "completed": "FINISHED",
    "failed": "FAILED",
    "pruned": "KILLED",
    "interrupted": "KILLED",
}


@dataclass(frozen=True)
class MetricPoint:
    """One metric value at one step; *line* is its report's index in the job's stream."""

    key: str
    value: float
    step: int
    timestamp_ms: int
    line: int = -1


@dataclass
class RunPlan:
    """One run to log: the sweep's parent run, or one job's."""

    name: str
    status: str
    start_ms: Optional[int]
    end_ms: Optional[int]
    #: tags that find the run again (set when it is created, never changed)
    identity: Dict[str, str]
    tags: Dict[str, str] = field(default_factory=dict)
    params: Dict[str, str] = field(default_factory=dict)
    metrics: List[MetricPoint] = field(default_factory=list)
    #: the reported stream, every line's values (``MetricPoint.line`` counts lines)
    steps: List[MetricPoint] = field(default_factory=list)
    #: ``(local file or directory, artifact directory or None)``
    artifacts: List[Tuple[Path, Optional[str]]] = field(default_factory=list)
    #: ``(text, artifact file name)``: written as a file of the run
    texts: List[Tuple[str, str]] = field(default_factory=list)
    fingerprint: str = ""
    reports: int = 0


@dataclass
class SweepPlan:
    """A sweep's parent run, its jobs' runs, and the jobs that have no record to export."""

    root: Path
    run_id: str
    experiment: str
    description: Optional[str]
    parent: RunPlan
    jobs: List[RunPlan]
    unrecorded: List[int]


def _user_tags(manifest: Mapping[str, Any]) -> Dict[str, str]:
    tags = manifest.get("tags")
    if not isinstance(tags, dict):
        return {}
    # zenspec's own tags are set after these: a user tag cannot pose as one
    return {safe_key(k): cut(str(v), MAX_TAG_VALUE) for k, v in tags.items()}


def _common_tags(results: SweepResults) -> Dict[str, str]:
    """Tags on the parent and on every job: the user's, and the commit the sweep ran at."""
    tags = _user_tags(results.manifest)
    provenance = results.manifest.get("provenance")
    git = provenance.get("git") if isinstance(provenance, dict) else None
    if isinstance(git, dict) and isinstance(git.get("commit"), str):
        tags["mlflow.source.git.commit"] = git["commit"]
        tags["zenspec.git_dirty"] = str(bool(git.get("dirty"))).lower()
    return tags


def _job_name(num: int, params: Mapping[str, Any]) -> str:
    def shown(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    text = " ".join(f"{k}={shown(v)}" for k, v in params.items())
    return cut(f"#{num} {text}".strip(), MAX_RUN_NAME)


def _stream(lines: List[Dict[str, Any]], start_ms: int) -> List[MetricPoint]:
    """Every number a job reported, at its step and time (a line without one: the job's start)."""
    points = []
    for i, line in enumerate(lines):
        ms = seconds_ms(line.get("time")) or start_ms
        step = line.get("step")
        step = step if isinstance(step, int) and not isinstance(step, bool) else i
        for key, value in line["metrics"].items():
            number = as_number(value)
            if number is not None:  # a value kept as its repr is not a metric
                points.append(MetricPoint(safe_key(key), number, step, ms, i))
    return points


def _finals(
    row: JobRow, metric: Optional[str], steps: List[MetricPoint], end_ms: int
) -> Tuple[List[MetricPoint], Dict[str, str]]:
    """The returned numbers as metrics; the rest of the returned scalars as tags."""
    last: Dict[str, MetricPoint] = {}
    for p in steps:  # the stream is in order: the last point of each key wins
        last[p.key] = p
    values = dict(row.values)
    if metric and row.metric is not None and as_number(values.get(metric)) is None:
        values[metric] = row.metric  # the metric of a numpy scalar return, say
    metrics: List[MetricPoint] = []
    texts: Dict[str, str] = {}
    for name, value in values.items():
        key = safe_key(name)
        number = as_number(value)
        if number is None:
            texts[safe_key(f"zenspec.return.{name}")] = cut(str(value), MAX_TAG_VALUE)
            continue
        reported = last.get(key)
        if reported is not None and same(reported.value, number):
            continue  # the curve's last point already is the returned value
        # at the curve's last step, so that MLflow's "latest" value is the returned one
        metrics.append(MetricPoint(key, number, reported.step if reported else 0, end_ms))
    return metrics, texts


def _job_plan(
    results: SweepResults,
    row: JobRow,
    record: Mapping[str, Any],
    plan_ids: Mapping[int, str],
    common: Mapping[str, str],
) -> RunPlan:
    from zenspec.adaptive.report import job_metrics

    m = results.manifest
    lines = job_metrics(results.root, row.num)
    overrides = [str(o) for o in record.get("overrides") or []]
    start = seconds_ms(record.get("started_at")) or iso_to_ms(m.get("started_at"))
    duration = row.duration_s if isinstance(row.duration_s, (int, float)) else 0.0
    end = None if start is None else start + int(duration * 1000)
    steps = _stream(lines, start or 0)
    metrics, value_tags = _finals(row, results.metric_name, steps, end or 0)
    jid = plan_ids.get(row.num) or job_id(overrides)
    tags: Dict[str, str] = {**common, **value_tags}
    tags.update(
        {
            "zenspec.status": row.status,
            "zenspec.overrides": cut(" ".join(overrides), MAX_TAG_VALUE),
            "zenspec.job_dir": str(row.job_dir or ""),
        }
    )
    if row.seed is not None:
        tags["zenspec.seed"] = str(row.seed)
    if row.cause:
        tags["zenspec.cause"] = cut(row.cause, MAX_TAG_VALUE)
    texts: List[Tuple[str, str]] = []
    if row.error:
        said = f"{row.error.get('type', '')}: {row.error.get('message', '')}"
        tags["zenspec.error"] = cut(said, 1000)  # the whole traceback is error.txt
        if row.error.get("traceback"):
            texts.append((str(row.error["traceback"]), "error.txt"))
    pruned = record.get("pruned")
    if row.status == "pruned" and isinstance(pruned, dict):
        tags["zenspec.pruned_step"] = str(pruned.get("step"))
    artifacts: List[Tuple[Path, Optional[str]]] = []
    if row.job_dir:
        job_dir = Path(row.job_dir)
        if (job_dir / ".hydra").is_dir():
            artifacts.append((job_dir / ".hydra", "hydra"))
        artifacts.extend((log, None) for log in sorted(job_dir.glob("*.log")) if log.is_file())
    fingerprint = canonical_hash(
        {
            "version": PLAN_VERSION,
            "record": record,
            "reports": len(lines),
            "tags": m.get("tags"),
        }
    )
    return RunPlan(
        name=_job_name(row.num, row.params),
        status=STATUS.get(row.status, "KILLED"),
        start_ms=start,
        end_ms=end,
        identity={
            "zenspec.run_id": sweep_id(m),
            "zenspec.kind": "job",
            "zenspec.job": str(row.num),
            "zenspec.job_id": jid,
        },
        tags=tags,
        params={safe_key(k): cut(str(v), MAX_PARAM_VALUE) for k, v in row.params.items()},
        metrics=metrics,
        steps=steps,
        artifacts=artifacts,
        texts=texts,
        fingerprint=fingerprint,
        reports=len(lines),
    )


def _parent_status(status: str) -> str:
    if status == "running":
        return "RUNNING"
    if status == "completed":
        return "FINISHED"
    if status == "failed":
        return "FAILED"
    return "KILLED"  # interrupted, or interrupted (its zenspec process is gone)


def _parent_plan(results: SweepResults, name: str, common: Mapping[str, str]) -> RunPlan:
    m = results.manifest
    spec = m.get("spec") if isinstance(m.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    maximize = results.maximize
    status = results.status
    counts = ", ".join(f"{n} {k}" for k, n in sorted(results.counts.items()))
    tags: Dict[str, str] = dict(common)
    tags.update(
        {
            "zenspec.status": status,
            "zenspec.dir": str(results.root.resolve()),
            "zenspec.jobs": counts,
            "zenspec.sweeper": str(m.get("sweeper")),
            "zenspec.launcher": str(m.get("launcher")),
            "zenspec.task": str(m.get("task")),
            "zenspec.metric": str(results.metric_name),
            "zenspec.direction": "maximize" if maximize else "minimize",
        }
    )
    if spec.get("path"):
        tags["zenspec.spec"] = str(spec["path"])
    note = m.get("note") if isinstance(m.get("note"), str) else results.description
    if note:
        tags["mlflow.note.content"] = cut(note, MAX_TAG_VALUE)
    metrics = []
    best = results.best(maximize)
    end = iso_to_ms(m.get("ended_at"))
    if best is not None and best.metric is not None:
        key = safe_key(f"best.{results.metric_name or 'metric'}")
        metrics.append(MetricPoint(key, best.metric, 0, end or iso_to_ms(m.get("started_at")) or 0))
        tags["zenspec.best_job"] = str(best.num)
    artifacts: List[Tuple[Path, Optional[str]]] = []
    for path, where in (
        (results.root / ".zenspec" / "manifest.json", "zenspec"),
        (results.root / ".zenspec" / "study.json", "zenspec"),
        (results.root / "multirun.yaml", None),
        (Path(str(spec.get("abspath") or "")), "spec"),
    ):
        if path.name and path.is_file():
            artifacts.append((path, where))
    started = str(m.get("started_at") or "")[:19].replace("T", " ")
    fingerprint = canonical_hash(
        {
            "version": PLAN_VERSION,
            "status": status,
            "ended_at": m.get("ended_at"),
            "summary": m.get("summary"),
            "history": m.get("history"),
            "counts": results.counts,
            "tags": m.get("tags"),
            "note": m.get("note"),
            "best": None if best is None else [best.num, best.metric],
        }
    )
    return RunPlan(
        name=cut(f"{name} {started}".strip(), MAX_RUN_NAME),
        status=_parent_status(status),
        start_ms=iso_to_ms(m.get("started_at")),
        end_ms=end,
        identity={"zenspec.run_id": sweep_id(m), "zenspec.kind": "sweep"},
        tags=tags,
        metrics=metrics,
        artifacts=artifacts,
        fingerprint=fingerprint,
    )


def plan_sweep(results: SweepResults, experiment: Optional[str] = None) -> SweepPlan:
    """The runs to log for the sweep of *results*, into *experiment* (default: its name).

    Parameters
    ----------
    results : SweepResults
        The sweep, as :func:`zenspec.records.table.load_results` read it.
    experiment : str, optional
        The experiment's name; by default the spec's ``experiment.name``, else the
        manifest's ``job_name``.

    Returns
    -------
    SweepPlan
        The parent run, one run per job with a record (in job order), and the
        numbers of the jobs without one (missing, or still running): not exported.
    """
    from zenspec.records.jobs import read_job_records

    name = experiment or experiment_name(results)
    common = _common_tags(results)
    records = {r["num"]: r for r in read_job_records(results.root)}
    planned = results.manifest.get("planned_jobs") or []
    plan_ids = {j["num"]: str(j["id"]) for j in planned if isinstance(j, dict) and "id" in j}
    jobs, unrecorded = [], []
    for row in results.rows:
        record = records.get(row.num)
        if record is None or row.status not in STATUS:
            unrecorded.append(row.num)
            continue
        jobs.append(_job_plan(results, row, record, plan_ids, common))
    return SweepPlan(
        root=results.root,
        run_id=sweep_id(results.manifest),
        experiment=name,
        description=results.description,
        parent=_parent_plan(results, name, common),
        jobs=jobs,
        unrecorded=unrecorded,
    )
