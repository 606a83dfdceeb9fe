"""``zenspec export SWEEP_DIR... --mlflow URI``: log recorded sweeps to an MLflow tracking store.

Each sweep becomes one parent run, each job with a record one child run under it
(params, final metrics, the reported step metrics, status, start and end, tags,
the job's ``.hydra/`` files and log as artifacts); :mod:`zenspec.export.plan` decides
what, from the records alone. Runs are found again by tags (``zenspec.run_id``, and
``zenspec.job`` / ``zenspec.job_id`` for a job), so exporting a sweep again only
creates the runs of jobs that were not there, updates those whose record changed
(a job failed, then completed by ``zenspec resume``) in place, and leaves the rest.

Only :class:`mlflow.tracking.MlflowClient` is used, never MLflow's fluent API: that
sets process globals (the active run, the tracking URI), and an export leaves the
process as it found it. MLflow is imported (by :mod:`zenspec.export.connect`) only
when an export starts.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

from zenspec.export.connect import (
    checked_uri,
    client_class,
    find_experiment,
    mlflow_errors,
    quiet,
    restore_environ,
)
from zenspec.export.plan import MetricPoint, RunPlan, SweepPlan, plan_sweep

if TYPE_CHECKING:
    from mlflow.entities import Metric, Param, Run, RunTag
    from mlflow.tracking import MlflowClient

__all__ = ["ExportSummary", "SweepExport", "export_mlflow"]

# MLflow's limits on one log_batch request (mlflow.utils.validation)
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTITIES = 1000, 100, 100, 1000
# a REST request is refused past 1 MB: keep each batch well under it
MAX_BATCH_BYTES = 800_000
#: zenspec's bookkeeping tags on every run it logs
FINGERPRINT, REPORTS = "zenspec.fingerprint", "zenspec.reports"
PARENT = "mlflow.parentRunId"
#: the text artifacts zenspec wrote (error.txt), so that a later export can take them back
TEXTS = "zenspec.texts"


@dataclass
class SweepExport:
    """What happened to one sweep: its parent run, and its jobs' runs by what was done."""

    root: Path
    experiment: str
    experiment_id: str
    parent_run_id: str
    parent: str  # "new", "updated" or "unchanged"
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: numbers of the jobs without a record (missing, or still running): not exported
    unrecorded: List[int] = field(default_factory=list)


@dataclass
class ExportSummary:
    """What :func:`export_mlflow` did, sweep by sweep; :meth:`format` is the CLI's text."""

    tracking_uri: str
    sweeps: List[SweepExport] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(s.new for s in self.sweeps)

    @property
    def updated(self) -> int:
        return sum(s.updated for s in self.sweeps)

    @property
    def unchanged(self) -> int:
        return sum(s.unchanged for s in self.sweeps)

    def format(self) -> str:
        """``exported 2 sweep(s) to URI, experiment 'x' (id 1): ...`` and how to open it."""
        experiments: Dict[Tuple[str, str], None] = {}
        for s in self.sweeps:
            experiments[(s.experiment, s.experiment_id)] = None
        named = ", ".join(f"'{name}' (id {eid})" for name, eid in experiments)
        word = "experiment" if len(experiments) == 1 else "experiments"
        lines = [
            f"exported {len(self.sweeps)} sweep(s) to {self.tracking_uri}, {word} {named}: "
            f"{self.new} run(s) new, {self.updated} updated, {self.unchanged} already there"
        ]
        for s in self.sweeps:
            if s.unrecorded:
                shown = ", ".join(str(n) for n in s.unrecorded[:10])
                more = ", ..." if len(s.unrecorded) > 10 else ""
                lines.append(
                    f"  {s.root}: {len(s.unrecorded)} job(s) without a record (missing, or "
                    f"still running: {shown}{more}) not exported; export again once they ran"
                )
        if "://" in self.tracking_uri and not self.tracking_uri.startswith("http"):
            lines.append(f"  open it: mlflow ui --backend-store-uri {self.tracking_uri}")
        elif self.tracking_uri.startswith("http"):
            lines.append(f"  open it: {self.tracking_uri}")
        return "\n".join(lines) + "\n"


def export_mlflow(
    sweep_dirs: Sequence[Union[str, os.PathLike[str]]],
    tracking_uri: str,
    *,
    experiment: Optional[str] = None,
) -> ExportSummary:
    """Log the sweeps in *sweep_dirs* to the MLflow tracking store at *tracking_uri*.

    Parameters
    ----------
    sweep_dirs : sequence of str or path
        Sweep directories (``hydra.sweep.dir``, holding ``.zenspec/manifest.json``), or
        directories holding sweeps (``multirun/``), searched a few levels down.
    tracking_uri : str
        ``sqlite:///mlflow.db`` (a local file, made if absent), ``http(s)://host:port``
        of a tracking server, or any other URI MLflow knows.
    experiment : str, optional
        The MLflow experiment, made if absent; by default each sweep's own name (the
        spec's ``experiment.name``, else Hydra's job name).

    Returns
    -------
    ExportSummary
        The runs made, updated and left as they were, sweep by sweep.

    Raises
    ------
    ZenspecError
        A directory with no sweep, MLflow not installed, a URI MLflow cannot use, or a
        tracking server that cannot be reached.

    Examples
    --------
    >>> summary = export_mlflow(["multirun/"], "sqlite:///mlflow.db")  # doctest: +SKIP
    >>> print(summary.format())  # doctest: +SKIP
    """
    from zenspec.records.table import load_results

    roots = _sweep_roots(sweep_dirs)
    # every sweep is read before anything is written: a damaged one stops the export
    plans = [plan_sweep(load_results(root), experiment) for root in roots]
    environ = dict(os.environ)
    # MLflow prints two "View run ... at: URL" lines per run it ends on a server: hushed
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        make_client = client_class()
        uri = checked_uri(tracking_uri)
        with quiet(), mlflow_errors(uri):
            client = make_client(tracking_uri=uri)
            client.search_experiments(max_results=1)  # a store that cannot be used says so
            summary = ExportSummary(tracking_uri=tracking_uri)
            experiments: Dict[str, str] = {}
            for plan in plans:
                if plan.experiment not in experiments:
                    experiments[plan.experiment] = find_experiment(client, plan, uri)
                summary.sweeps.append(_export_sweep(client, experiments[plan.experiment], plan))
        return summary
    finally:
        # that variable, and the one importing MLflow sets for its subprocesses
        restore_environ(environ)


def _sweep_roots(sweep_dirs: Sequence[Union[str, os.PathLike[str]]]) -> List[Path]:
    """Each directory's sweep, or the sweeps under it; each sweep once, in the order given."""
    from zenspec.records.listing import sweeps_named

    return [root.resolve() for root in sweeps_named(sweep_dirs)]


def _existing(client: MlflowClient, experiment_id: str, run_id: str) -> List[Run]:
    """The sweep's runs already in the experiment (parent and jobs), oldest first."""
    runs: List[Run] = []
    token: Optional[str] = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`zenspec.run_id` = '{run_id}'",
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _export_sweep(client: MlflowClient, experiment_id: str, plan: SweepPlan) -> SweepExport:
    parents: List[Run] = []
    jobs: Dict[Tuple[str, str], Run] = {}
    for run in _existing(client, experiment_id, plan.run_id):
        tags = run.data.tags
        if tags.get("zenspec.kind") == "sweep":
            parents.append(run)
        elif tags.get("zenspec.kind") == "job":  # the first found is kept: oldest
            jobs.setdefault((tags.get("zenspec.job", ""), tags.get("zenspec.job_id", "")), run)
    parent_id, parent_did = _log_run(client, experiment_id, plan.parent, parents[:1], None)
    result = SweepExport(
        root=plan.root,
        experiment=plan.experiment,
        experiment_id=experiment_id,
        parent_run_id=parent_id,
        parent=parent_did,
        unrecorded=list(plan.unrecorded),
    )
    for job in plan.jobs:
        key = (job.identity["zenspec.job"], job.identity["zenspec.job_id"])
        found = [jobs[key]] if key in jobs else []
        _, did = _log_run(client, experiment_id, job, found, parent_id)
        setattr(result, did, getattr(result, did) + 1)
    return result


def _log_run(
    client: MlflowClient,
    experiment_id: str,
    plan: RunPlan,
    found: List[Run],
    parent_id: Optional[str],
) -> Tuple[str, str]:
    """Create *plan*'s run, or bring the one *found* up to date: ``(run id, what was done)``."""
    parent = {} if parent_id is None else {PARENT: parent_id}
    if not found:
        run = client.create_run(
            experiment_id,
            start_time=plan.start_ms,
            tags={**plan.identity, **parent},
            run_name=plan.name,
        )
        _write(client, run.info.run_id, plan, plan.params, plan.steps, parent)
        return run.info.run_id, "new"
    run = found[0]
    rid, tags = run.info.run_id, run.data.tags
    if (
        tags.get(FINGERPRINT) == plan.fingerprint
        and run.info.status == plan.status
        # a parent run deleted (and made again): its jobs' runs move under the new one
        and tags.get(PARENT) == parent.get(PARENT)
    ):
        return rid, "unchanged"
    # MLflow params cannot change: a job's are its overrides, which a resume keeps
    params = {k: v for k, v in plan.params.items() if k not in run.data.params}
    # the stream only grows (a rerun appends to it): what was logged before is there
    done = _int(tags.get(REPORTS))
    steps = [p for p in plan.steps if p.line >= done] if done <= plan.reports else plan.steps
    # what the job said before and no longer does (an error that a rerun fixed) goes
    keep = set(plan.tags) | set(plan.identity) | {FINGERPRINT, REPORTS}
    for key in tags:
        if key.startswith("zenspec.") and key not in keep:
            client.delete_tag(rid, key)
    stale = {name for name in _texts(tags) if name not in {n for _, n in plan.texts}}
    if stale:  # error.txt of a job that has completed since: not its error any more
        _drop_artifacts(client, run, stale)
    _write(client, rid, plan, params, steps, parent)
    return rid, "updated"


def _texts(tags: Dict[str, str]) -> List[str]:
    return [n for n in tags.get(TEXTS, "").split(",") if n]


def _drop_artifacts(client: MlflowClient, run: Run, names: Set[str]) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    # not every artifact store deletes (a proxying server may refuse): then it stays
    with contextlib.suppress(Exception):
        repository = get_artifact_repository(run.info.artifact_uri, client.tracking_uri)
        for name in sorted(names):
            repository.delete_artifacts(name)


def _int(text: Optional[str]) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _write(
    client: MlflowClient,
    run_id: str,
    plan: RunPlan,
    params: Dict[str, str],
    steps: List[MetricPoint],
    parent: Dict[str, str],
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    for path, where in plan.artifacts:
        if path.is_dir():
            client.log_artifacts(run_id, str(path), where)
        elif path.is_file():
            client.log_artifact(run_id, str(path), where)
    for text, name in plan.texts:
        client.log_text(run_id, text, name)
    tags = {**plan.tags, **parent, REPORTS: str(plan.reports)}
    if plan.texts:
        tags[TEXTS] = ",".join(name for _, name in plan.texts)
    metrics = [Metric(p.key, p.value, p.timestamp_ms, p.step) for p in [*steps, *plan.metrics]]
    batches = list(
        _batches(
            metrics,
            [Param(k, v) for k, v in params.items()],
            [RunTag(k, v) for k, v in tags.items()],
        )
    )
    # the fingerprint goes with the last batch: a run that an interrupted export left
    # half written has none (or an old one), and the next export writes it again
    if not batches or len(batches[-1][2]) >= MAX_TAGS or _count(batches[-1]) >= MAX_ENTITIES:
        batches.append(([], [], []))
    batches[-1][2].append(RunTag(FINGERPRINT, plan.fingerprint))
    for batch in batches:
        client.log_batch(run_id, metrics=batch[0], params=batch[1], tags=batch[2])
    if plan.status != "RUNNING":
        client.set_terminated(run_id, plan.status, end_time=plan.end_ms)


def _count(batch: Tuple[List[Metric], List[Param], List[RunTag]]) -> int:
    return len(batch[0]) + len(batch[1]) + len(batch[2])


def _batches(
    metrics: List[Metric], params: List[Param], tags: List[RunTag]
) -> Iterator[Tuple[List[Metric], List[Param], List[RunTag]]]:
    """*metrics*, *params* and *tags* in as few requests as MLflow's limits allow."""
    queues: Tuple[List[Any], List[Any], List[Any]] = (list(params), list(tags), list(metrics))
    limits = (MAX_PARAMS, MAX_TAGS, MAX_METRICS)
    at = [0, 0, 0]
    while any(at[i] < len(queues[i]) for i in range(3)):
        batch: Tuple[List[Any], List[Any], List[Any]] = ([], [], [])
        size = count = 0
        for i in range(3):
            queue = queues[i]
            while at[i] < len(queue) and len(batch[i]) < limits[i] and count < MAX_ENTITIES:
                item = queue[at[i]]
                cost = len(item.key) + len(str(item.value)) + 64
                if count and size + cost > MAX_BATCH_BYTES:
                    break
                batch[i].append(item)
                at[i] += 1
                size += cost
                count += 1
        yield batch[2], batch[0], batch[1]
