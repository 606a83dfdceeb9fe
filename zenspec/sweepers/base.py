"""What zenspec's two optimising sweepers share: launching trials in batches and judging them.

A trial's job runs through the configured launcher (basic, joblib, submitit...);
its result becomes a number through ``metric`` (a key of a returned mapping, or
the value itself), or the trial *fails* with a one-line reason. A failed trial
never stops the study unless more than ``max_failures`` trials have failed.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from zenspec._compatibility import job_outcome
from zenspec.accelerate import yaml_text
from zenspec.adaptive.pruning import metric_value
from zenspec.adaptive.report import PrunedTrial
from zenspec.errors import (
    JobFailedError,
    LaunchError,
    MetricError,
    describe_error,
    did_you_mean,
)
from zenspec.records.jobs import RecordingTask, extract_metric
from zenspec.sweepers.results import PRUNED, StudyResult, TrialResult
from zenspec.sweepers.schedule import Asked, StudyFeed

__all__ = ["StudySweeper", "check_metric", "judge"]

Metric = Union[str, Sequence[str], None]
_DIRECTIONS = ("minimize", "maximize")


def _one(value: Any, metric: Optional[str]) -> Tuple[Optional[float], Optional[str]]:
    got = extract_metric(value, metric)
    if got is not None:
        if math.isnan(got):
            return None, f"the metric {metric or 'value'} is NaN"
        return got, None
    if isinstance(value, Mapping) or hasattr(value, "keys"):
        keys = ", ".join(repr(str(k)) for k in list(value.keys())[:10])
        if metric is None:
            return None, (
                f"the task returned a {type(value).__name__}, not a number; set metric to "
                f"one of its keys ({keys})"
            )
        if metric not in value:
            return None, f"metric '{metric}' is not in the returned mapping (keys: {keys})"
        found = value[metric]
        return None, f"metric '{metric}' is a {type(found).__name__} ({found!r:.40}), not a number"
    what = f"{type(value).__name__} ({value!r:.40})"
    if metric is None:
        return None, f"the task returned a {what}, not a number"
    return None, f"the task returned a {what}, not a mapping with the metric '{metric}'"


def _metric_location(metric: Metric, sweep_dir: Optional[Path]) -> Dict[str, Any]:
    """Where the metric was set: the spec's ``$.experiment.metric`` (file, line), if it was."""
    from zenspec.records.store import manifest_path, read_json

    spec: Mapping[str, Any] = {}
    if sweep_dir is not None:
        try:
            spec = read_json(manifest_path(sweep_dir)).get("spec") or {}
        except Exception:  # no manifest (records=False): no file to name
            spec = {}
    if not spec.get("path") or spec.get("metric") != metric:
        return {"path": "hydra.sweeper.metric" if spec.get("path") else None}
    where: Dict[str, Any] = {"file": str(spec["path"]), "path": "$.experiment.metric"}
    try:  # the line too, from the spec as it is on disk
        from zenspec.spec.api import load_spec

        problem = load_spec(spec.get("abspath") or spec["path"], imports=False).problem(
            ("experiment", "metric"), ""
        )
        where.update(line=problem.line, column=problem.column)
    except Exception:
        pass
    return where


def check_metric(
    value: Any, metric: Metric, sweep_dir: Optional[Path] = None, finished: int = 1
) -> Optional[MetricError]:
    """The spec error a completed job's *value* shows, if *metric* cannot be read from it.

    A mapping without the metric's key, or with a non-number there, means the
    metric is misspelt or wrong for this task: every other job would be the same.
    (A number, or a NaN, is left to :func:`judge`: a trial can fail on its own.)
    Returns the error to raise once the current batch is recorded, or None.
    """
    if not (isinstance(value, Mapping) or hasattr(value, "keys")):
        return None
    try:
        keys = list(map(str, value.keys()))
    except Exception:
        return None
    names = [metric] if metric is None or isinstance(metric, str) else list(metric)
    shown = ", ".join(repr(k) for k in keys[:10]) + (", ..." if len(keys) > 10 else "")
    for name in names:
        if name is None:
            message = (
                f"the task returned a {type(value).__name__} (keys: {shown}), not a number, "
                "and no metric says which key to optimise."
            )
            fix = "Fix: set metric to one of those keys"
        elif name not in value:
            message = (
                f"metric '{name}' is not in what the task returned (keys: {shown})."
                + did_you_mean(name, keys)
            )
            fix = "Fix: set metric to one of the keys the task returns"
        else:
            found = value[name]
            if extract_metric({name: found}, name) is not None:
                continue
            message = (
                f"metric '{name}' is a {type(found).__name__} ({found!r:.40}) in what the task "
                f"returned, not a number (keys: {shown})."
            )
            fix = "Fix: name a key whose value is a number"
        where = _metric_location(metric, sweep_dir)
        if where.get("path") is None:
            where.pop("path")
        recorded = ""
        if sweep_dir is not None:
            recorded = (
                f" The {finished} job(s) that finished are recorded in {sweep_dir}"
                f" (zenspec results {sweep_dir} --metric KEY reads them)."
            )
        return MetricError(
            message,
            returned_keys=keys,
            hint=f"{fix}; no further job was launched.{recorded}",
            **where,
        )
    return None


def judge(ret: JobReturn, metric: Metric) -> Tuple[Optional[List[float]], Optional[str]]:
    """The metric value(s) of a finished job, or ``(None, why it has none)``.

    ``ret.return_value`` would re-raise a failed job's error; ``status`` is read instead.
    """
    if ret.status is not JobStatus.COMPLETED:
        return None, describe_error(job_outcome(ret))
    value = job_outcome(ret)
    names = [metric] if metric is None or isinstance(metric, str) else list(metric)
    out: List[float] = []
    for name in names:
        got, why = _one(value, name)
        if got is None:
            return None, why
        out.append(got)
    return out, None


class StudySweeper(Sweeper):
    """Base of the random-search and Optuna sweepers (not a sweeper by itself)."""

    kind = "study"
    seed: Optional[int]  # each subclass sets it: the study's recorded seed

    def __init__(
        self,
        *,
        metric: Metric = None,
        directions: Sequence[str] = ("minimize",),
        batch_size: Optional[int] = None,
        max_failures: Optional[int] = None,
        params: Optional[Mapping[str, Any]] = None,
        schedule: str = "batch",
        pruner: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__()
        from zenspec.sweepers.schedule import SCHEDULES

        if schedule not in SCHEDULES:
            raise LaunchError(
                f"schedule must be 'batch' or 'async', got {schedule!r}."
                + did_you_mean(str(schedule), SCHEDULES),
                path="hydra.sweeper.schedule",
            )
        self.schedule = schedule
        self.pruner = dict(pruner) if pruner else None
        if self.pruner is not None and not (metric is None or isinstance(metric, str)):
            raise LaunchError(
                "a pruner needs a single metric; this study optimises several "
                f"({', '.join(map(str, metric))}), which Optuna's pruners do not support.",
                path="hydra.sweeper.pruner",
                hint="Fix: remove the pruner, or optimise one metric.",
            )
        self.metric: Union[str, List[str], None] = (
            metric if metric is None or isinstance(metric, str) else list(metric)
        )
        self.directions = [str(d) for d in directions]
        for d in self.directions:
            if d not in _DIRECTIONS:
                raise LaunchError(
                    f"direction must be 'minimize' or 'maximize', got {d!r}.",
                    path="hydra.sweeper.direction",
                )
        if batch_size is not None and batch_size < 1:
            raise LaunchError(f"batch_size must be at least 1, got {batch_size}.")
        if max_failures is not None and max_failures < 0:
            raise LaunchError(f"max_failures must be 0 or more, got {max_failures}.")
        self.batch_size = batch_size
        self.max_failures = max_failures
        self.params = dict(params or {})
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None
        self.hydra_context: Optional[HydraContext] = None
        self.job_idx = 0
        self.failures = 0
        self.validated = False
        self.ran = 0  # jobs launched by this process
        self.metric_checked = False

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Instantiate the launcher; record the study's metric in each job's record too."""
        if isinstance(task_function, RecordingTask):
            if self.metric is None and task_function.metric is not None:
                self.metric = task_function.metric  # hydra_multirun(metric=...) / the spec's
            elif isinstance(self.metric, str) and task_function.metric is None:
                task_function = RecordingTask(task_function.task, self.metric, task_function.seed)
        self.hydra_context = hydra_context
        self.config = config
        # any Launcher subclass, also outside hydra_plugins, as for the grid
        from zenspec._compatibility import FAST_RUN_JOB
        from zenspec.launch.grid import _is_fast
        from zenspec.launch.plugins import instantiate_launcher

        # fast=True: FastLauncher where BasicLauncher is named, as the grid does
        # (stock run_job per trial cost ~4x a grid job: two masked copies of the
        # hydra node, a deepcopy of the config, three OmegaConf.to_yaml)
        if FAST_RUN_JOB and _is_fast(hydra_context):
            from zenspec.accelerate.job_runner import instantiate_launcher

        self.launcher = instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # -- shared steps ------------------------------------------------------------------
    @property
    def metric_name(self) -> Optional[str]:
        """The one metric a pruner reads (None: the single value a task reports)."""
        return self.metric if isinstance(self.metric, str) else None

    @property
    def sweep_dir(self) -> Path:
        assert self.config is not None
        return Path(str(self.config.hydra.sweep.dir))

    def effective_batch_size(self) -> int:
        """``batch_size``, else the launcher's parallelism, else 1.

        The parallelism is joblib's ``n_jobs``, or a SLURM array's
        ``array_parallelism`` (each batch one array: one ``sbatch``, not one per trial).
        """
        if self.batch_size:
            return int(self.batch_size)
        assert self.config is not None
        n_jobs = OmegaConf.select(self.config, "hydra.launcher.n_jobs", default=None)
        if n_jobs is None:
            n_jobs = OmegaConf.select(self.config, "hydra.launcher.array_parallelism", default=None)
        from zenspec.launchers.forking import effective_workers  # joblib's -1: every CPU

        return effective_workers(n_jobs) or 1

    def start(self, sweep_dir: Path) -> None:
        """Save ``multirun.yaml`` as Hydra's sweepers do."""
        assert self.config is not None
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from zenspec.launch.job_dirs import unplant_links

        unplant_links(sweep_dir, self.config.hydra.output_subdir)
        yaml_text.save(self.config, sweep_dir / "multirun.yaml")  # OmegaConf.save's text

    def next_job_number(self, wanted: Optional[int] = None) -> int:
        """The job number of the next trial started: *wanted*, else the one after the last."""
        num = self.job_idx if wanted is None else wanted
        self.job_idx = max(self.job_idx, num + 1)
        self.ran += 1
        return num

    def check_jobs(self, jobs: Sequence[Tuple[int, List[str]]]) -> None:
        """Hydra's check of the first trial's overrides; each job's dir inside the sweep's."""
        from zenspec.launch.job_dirs import check_job_dirs

        if not self.validated:  # later trials differ only in the sampled values
            self.validate_batch_is_legal([o for _, o in jobs])
            self.validated = True
        assert self.hydra_context is not None and self.config is not None
        check_job_dirs(self.config, self.hydra_context.config_loader, list(jobs))

    def run_trials(
        self,
        space: Any,
        study: StudyResult,
        ask: Callable[[], Optional[Asked]],
        tell: Callable[[Asked, JobReturn], TrialResult],
        monitor: Optional[Any] = None,
    ) -> StudyFeed:
        """Ask, run and tell trials until *ask* has no more, as ``schedule`` says.

        Returns the feed (its study written); raises why the study stopped early.
        """
        from zenspec.launch.streaming import run_batches, run_feed

        feed = StudyFeed(self, space, study, ask, tell, monitor)
        size = self.effective_batch_size()
        try:
            with monitor if monitor is not None else contextlib.nullcontext():
                if self.schedule == "async":
                    run_feed(self.launcher, feed, size)
                else:
                    run_batches(self.launcher, feed, size)
        except BaseException:  # Ctrl-C, an error: the trials that ended are written
            feed.flush()
            raise
        feed.finish()
        return feed

    def pruning_trials(self) -> Optional[Any]:
        """For a sweeper without a study of its own: an in-memory Optuna study with the pruner."""
        if self.pruner is None:
            return None
        from zenspec.adaptive.pruning import make_pruner
        from zenspec.sweepers.optuna import _import_optuna

        optuna = _import_optuna(why="a pruner")
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            # named: Hyperband puts a trial in a bracket by a hash of the study's name and
            # the trial's number, and an unnamed study gets a random name every run
            assert self.config is not None
            return optuna.create_study(
                study_name=str(self.config.hydra.job.name),
                direction=self.directions[0],
                pruner=make_pruner(optuna, self.pruner),
            )
        finally:
            optuna.logging.set_verbosity(verbosity)

    def metric_error(self, returns: Sequence[JobReturn]) -> Optional[MetricError]:
        """The spec error of the first completed job's result lacking the metric, if any.

        Only the first completed job of the study is checked; the study raises the
        error once its running trials have ended (:class:`~zenspec.sweepers.schedule.StudyFeed`).
        """
        if self.metric_checked:
            return None
        for ret in returns:
            if ret.status is JobStatus.COMPLETED:
                if isinstance(job_outcome(ret), PrunedTrial):  # stopped early: no result to read
                    continue
                self.metric_checked = True
                where = self.sweep_dir.resolve()
                return check_metric(job_outcome(ret), self.metric, where, finished=self.ran)
        return None

    def trial(self, number: int, params: Mapping[str, Any], ret: JobReturn) -> TrialResult:
        """The :class:`TrialResult` of a finished job (failures counted)."""
        from zenspec.launch.job_return import hydra_value

        job = dir_ = None
        num = hydra_value(ret, "job", "num")  # never unpickles the job's snapshot
        if num is not None:
            job = int(num)
            dir_ = str(hydra_value(ret, "runtime", "output_dir"))
        outcome = job_outcome(ret) if ret.status is JobStatus.COMPLETED else None
        if isinstance(outcome, PrunedTrial):
            result = TrialResult(number, dict(params), PRUNED, job=job, job_dir=dir_)
            result.step = outcome.step
            name = self.metric if isinstance(self.metric, str) else None
            result.value = metric_value(outcome.metrics, name)
            return result
        values, why = judge(ret, self.metric)
        result = TrialResult(number, dict(params), "completed" if values else "failed")
        result.job, result.job_dir, result.error = job, dir_, why
        if values is not None:
            if len(values) == 1 and not isinstance(self.metric, list):
                result.value = values[0]
            else:
                result.values = values
        else:
            self.failures += 1
        return result

    def new_study(self, sweep_dir: Path, space: Any, **settings: Any) -> StudyResult:
        """The (empty) result of this study: who, what it optimises, its settings."""
        return StudyResult(
            sweeper=self.kind,
            directions=self.directions,
            metric=self.metric,
            seed=self.seed,
            sweep_dir=str(sweep_dir),
            settings={
                **settings,
                "batch_size": self.effective_batch_size(),
                "schedule": self.schedule,
                "pruner": self.pruner,
                "space": [a.key for a in space.axes],
                "constants": space.constants,
            },
        )

    def failures_error(self, study: StudyResult) -> Optional[JobFailedError]:
        """The error that stops the study once more than ``max_failures`` trials failed."""
        if self.max_failures is None or self.failures <= self.max_failures:
            return None
        last = study.failed[-1]
        return JobFailedError(
            f"the study stopped: {self.failures} trial(s) failed, more than max_failures="
            f"{self.max_failures} (last: trial #{last.number}, {last.error}).",
            results=study,
            hint=f"Fix: see the failed jobs' logs under {self.sweep_dir}; the trials so far "
            f"are in {self.sweep_dir / '.zenspec' / 'study.json'}.",
        )
