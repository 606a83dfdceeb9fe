"""The grid sweeper: Hydra's BasicSweeper, minus the part that loses work.

Stock ``BasicSweeper.sweep`` re-raises the first failed job's exception after
its batch, so later batches never run and the returned results of every other
job are dropped. :class:`GridSweeper` enumerates and launches exactly the same
jobs (same order, numbering, directories and ``multirun.yaml``), but runs them
all, unless ``fail_fast`` asks to stop launching after a failure; what to do
with failures is decided once the sweep is over (``on_error``). It can also
run a subset of the grid, by job number, which is what ``resume`` needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from zenspec._compatibility import FAST_RUN_JOB, job_outcome, override_value
from zenspec.accelerate import yaml_text
from zenspec.accelerate.simple_overrides import parse_lines
from zenspec.launch.job_dirs import unplant_links
from zenspec.launch.job_return import restore_cause

__all__ = ["GridSweeper", "plan_grid"]


def _split_arguments(parsed: List[Any]) -> List[List[str]]:
    # BasicSweeper's, looked up at call time (see split_arguments)
    from zenspec._compatibility import split_arguments

    return split_arguments(parsed, None)[0]


def count_grid(
    arguments: Sequence[str], params: Optional[Dict[str, str]] = None, config_loader: Any = None
) -> int:
    """How many jobs the grid has, without enumerating it (range(0, 10**9) is O(1))."""
    from hydra.core.override_parser.types import RangeSweep

    conf = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
    total = 1
    per_key: Dict[str, int] = {}
    for o in parse_lines(conf, config_loader):
        n = 1
        if o.is_discrete_sweep():
            value = override_value(o)
            if isinstance(value, RangeSweep):
                r = value.range()
                n = len(r) if isinstance(r, range) else max(0, _float_range_len(value))
            elif isinstance(value, list):
                n = len(value)
            elif value is not None and hasattr(value, "list"):
                n = len(value.list)
            else:  # glob: ask the loader
                n = len(list(o.sweep_iterator()))
        per_key[o.get_key_element()] = n  # a later override of the same key replaces
    for n in per_key.values():
        total *= n
    return total


def _float_range_len(sweep: Any) -> int:
    import math

    start, stop, step = float(sweep.start), float(sweep.stop), float(sweep.step or 1)
    return max(0, math.ceil((stop - start) / step))


def plan_grid(
    arguments: Sequence[str], params: Optional[Dict[str, str]] = None, config_loader: Any = None
) -> List[List[str]]:
    """Every job's override list, in the order the basic sweeper launches them.

    *config_loader*: the session's, which ``glob(...)`` on a config group needs
    to list the group's options (as BasicSweeper parses with its loader).
    """
    conf = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
    return _split_arguments(parse_lines(conf, config_loader))


def _is_fast(hydra_context: HydraContext) -> bool:
    """Whether the session runs zenspec's fast path (``fast=True``: the fast loader)."""
    try:
        from zenspec.accelerate.composition_cache import FastConfigLoader
    except ImportError:
        return False
    return isinstance(hydra_context.config_loader, FastConfigLoader)


def _runs(nums: Iterable[int]) -> List[List[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 1, 2], [5, 6]]: launchers number jobs contiguously."""
    out: List[List[int]] = []
    for n in sorted(nums):
        if out and out[-1][-1] == n - 1:
            out[-1].append(n)
        else:
            out.append([n])
    return out


class GridSweeper(Sweeper):
    """Hydra's BasicSweeper grid, run to the end, failures reported after.

    Parameters
    ----------
    max_batch_size : int, optional
        As for Hydra's BasicSweeper (jobs launched together).
    params : dict, optional
        As for Hydra's BasicSweeper (sweep axes from the config).
    fail_fast : bool, default False
        Stop launching new batches after the first failed job. Batches are
        then at most the launcher's parallelism (``n_jobs``), or 1.
    only_jobs : iterable of int, optional
        Launch only these job numbers (resume), keeping their numbers and dirs.

    With a metric (the task is a ``RecordingTask`` with one), the first job that
    completes must return it: in-process, the jobs are launched one at a time until
    one completes (then the rest together, returned as one batch as without this
    check); if its mapping lacks the metric (or holds no number there), a
    :class:`~zenspec.errors.MetricError` stops the sweep after that batch, the
    finished jobs recorded. Parallel launchers get their batches as without a metric.
    """

    def __init__(
        self,
        max_batch_size: Optional[int] = None,
        params: Optional[Dict[str, str]] = None,
        fail_fast: bool = False,
        only_jobs: Optional[Iterable[int]] = None,
    ) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None
        self.fail_fast = fail_fast
        self.only_jobs = None if only_jobs is None else set(only_jobs)
        self.failures: List[JobReturn] = []
        self.metric: Optional[str] = None
        self.metric_checked = False
        self.launched = 0  # jobs launched so far (their results returned)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        metric = getattr(task_function, "metric", None)  # a RecordingTask's (the spec's)
        self.metric = metric if isinstance(metric, str) else None
        # any Launcher subclass, also outside hydra_plugins (zenspec's Ray launcher)
        from zenspec.launch.plugins import instantiate_launcher

        # fast=True: FastLauncher where BasicLauncher is named, where its run_job is proven
        if FAST_RUN_JOB and _is_fast(hydra_context):
            from zenspec.accelerate.job_runner import instantiate_launcher

        self.launcher = instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Hydra's check (every job composes), without composing each job in full.

        The fast loader proves it (:meth:`FastConfigLoader.validate_batch`);
        any other loader composes every job, as stock Hydra does.
        """
        assert self.hydra_context is not None and self.config is not None
        validate = getattr(self.hydra_context.config_loader, "validate_batch", None)
        if validate is None:
            super().validate_batch_is_legal(batch)
        else:
            validate(self.config, batch)

    def _batch_size(self) -> Optional[int]:
        if self.max_batch_size or not self.fail_fast:
            return self.max_batch_size
        return self._parallelism()

    def _parallelism(self) -> int:
        assert self.config is not None
        n_jobs = OmegaConf.select(self.config, "hydra.launcher.n_jobs", default=None)
        if n_jobs is None:  # a SLURM array: its parallelism, one sbatch per batch
            n_jobs = OmegaConf.select(self.config, "hydra.launcher.array_parallelism", default=None)
        return n_jobs if isinstance(n_jobs, int) and n_jobs > 0 else 1

    def _check_metric(
        self, results: Sequence[JobReturn], sweep_dir: Path, launched: int, returns: Any
    ) -> None:
        """Raise a :class:`~zenspec.errors.MetricError` if the first completed job lacks the metric."""
        if self.metric is None or self.metric_checked:
            return
        first = next((r for r in results if r.status == JobStatus.COMPLETED), None)
        if first is None:
            return
        self.metric_checked = True
        from zenspec.sweepers.base import check_metric

        error = check_metric(job_outcome(first), self.metric, sweep_dir.resolve(), launched)
        if error is not None:
            error.results = returns
            raise error

    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        params_conf = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        jobs = _split_arguments(parse_lines(params_conf, self.hydra_context.config_loader))

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        unplant_links(sweep_dir, self.config.hydra.output_subdir)  # a resume: jobs write again
        yaml_text.save(self.config, sweep_dir / "multirun.yaml")  # OmegaConf.save's text

        wanted = range(len(jobs)) if self.only_jobs is None else sorted(self.only_jobs)
        size = self._batch_size()
        returns: List[Sequence[JobReturn]] = []
        # a launcher that numbers jobs freely (SLURM arrays) gets every wanted job
        # in one batch, however scattered; others get contiguous runs of numbers
        numbered = getattr(self.launcher, "launches_any_numbers", False)
        valid = [n for n in wanted if 0 <= n < len(jobs)]
        # with a metric, in-process jobs run one first: it shows whether the metric is
        # in what the task returns before the rest run. Parallel and cluster launchers
        # get the whole grid at once (a first round would hold every worker, or a SLURM
        # array, until it ended); the metric is then checked when their batch returns.
        in_process = any(c.__name__ == "BasicLauncher" for c in type(self.launcher).__mro__)
        probe = 1 if self.metric and not size and in_process else 0
        launched = 0
        for run in [valid] if numbered and valid else _runs(valid):
            i, join = 0, False
            while i < len(run):
                probing = not size and bool(probe) and not self.metric_checked
                step = size or (probe if probing else len(run) - i)
                nums = run[i : i + step]
                i += len(nums)
                batch = [jobs[n] for n in nums]
                if not getattr(self.launcher, "validates_batch", False):
                    # (a launcher that composes every job before dispatching any checks
                    # the same thing; composing twice is serial time the workers wait on)
                    self.validate_batch_is_legal(batch)
                if numbered:
                    results = self.launcher.launch_numbered(batch, nums)  # type: ignore[attr-defined]
                else:
                    results = self.launcher.launch(batch, initial_job_idx=nums[0])
                if join:  # returned as one batch, as without the probe
                    returns[-1] = [*returns[-1], *results]
                else:
                    returns.append(results)
                join = probing
                launched += len(results)
                self.launched = launched
                failed = [r for r in results if r.status == JobStatus.FAILED]
                for r in failed:  # a worker's job: its error's cause, sent along, back in place
                    restore_cause(r)
                self.failures.extend(failed)
                self._check_metric(results, sweep_dir, launched, returns)
                if self.fail_fast and self.failures:
                    return returns
        return returns
