"""Hydra's joblib launcher with less serial work per job: same jobs, same outputs.

Stock ``hydra_joblib_launcher`` sends every job the sweep's config, config
loader, task function and Hydra's global state, and each job composes its
config in the worker with a fresh (unpickled, cache-less) config loader, then
runs Hydra's ``run_job``. On a small machine that overhead is CPU the jobs do
not get. :class:`FastJoblibLauncher` (what zenspec instantiates where the
config names Hydra's ``JoblibLauncher``; ``hydra.launcher`` is unchanged):

* composes each job's config in the parent, with zenspec's caching loader
  (already warm: the sweep's primary config was just composed), as joblib
  asks for the next job, so composition overlaps the running jobs (a bad
  override has failed the batch before anything runs: the sweeper's
  ``validate_batch_is_legal``);
* pickles the shared part (task function, hydra context) once per batch; each
  worker unpickles it once and reuses it for its jobs. Hydra's global state is
  also pickled once, and unpickled afresh for every job, as stock; but the
  workers scan Hydra's plugins once, not for every job (``_set_singletons``);
* runs each job with zenspec's cheaper ``run_job``
  (:mod:`zenspec.accelerate.job_runner`), which ``tests/differential`` holds
  to stock's outputs.

The workers are joblib's (loky, reused across batches and sweeps), with the
user's ``n_jobs``/``timeout``/... settings, as stock.
"""

from __future__ import annotations

import copy
import logging
import os
import pickle
import uuid
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.plugins import Plugins
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides, setup_globals
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from omegaconf import DictConfig

from zenspec._compatibility import (
    job_outcome,
    set_omegaconf_resolvers,
    set_singleton_instances,
    singleton_instances,
)
from zenspec.accelerate.hydra_yaml import RenderHint

__all__ = ["FastJoblibLauncher"]

# the stock launcher's logger: the same log lines, under the same name
log = logging.getLogger("hydra_plugins.hydra_joblib_launcher._core")

JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"

# in a worker: the shared payload of the current batch, unpickled once
_shared: Dict[str, Tuple[Any, ...]] = {}


def _load_shared(key: str, blob: bytes) -> Tuple[Any, ...]:
    got = _shared.get(key)
    if got is None:
        _shared.clear()  # one batch at a time per worker: drop the previous one
        got = _shared[key] = pickle.loads(blob)
    return got


def _set_singletons(state: Any) -> None:
    """``Singleton.set_state(state)``, scanning Hydra's plugins once per worker, not per job.

    Stock ``set_state`` drops the Plugins singleton and rescans every plugin
    module, re-executing each (~12 ms a job, and every rescan makes new
    plugin config classes, so a config composed before it no longer pickles
    by reference). The plugins found are the same each time; each job still
    gets its own fresh copy of every other singleton (the ConfigStore among
    them) and of OmegaConf's resolvers, as stock.
    """
    plugins = singleton_instances().get(Plugins)
    if plugins is None:
        Singleton.set_state(state)
        return
    set_singleton_instances(state["instances"])
    singleton_instances()[Plugins] = plugins
    set_omegaconf_resolvers(copy.deepcopy(state["omegaconf_resolvers"]))


def execute_job(
    key: str,
    blob: bytes,
    state: bytes,
    parent: int,
    sweep_config: DictConfig,
    hint: Optional[RenderHint] = None,
    gpus: Optional[Tuple[str, List[str]]] = None,
) -> JobReturn:
    """In a worker: the batch's shared state, then ``run_job`` on the composed config.

    *gpus*: (records dir, each worker slot's ``CUDA_VISIBLE_DEVICES``) with ``gpus_per_job``.
    """
    from zenspec.accelerate.job_runner import run_job
    from zenspec.launch.job_return import carry_cause

    if gpus is not None:
        from pathlib import Path

        from zenspec.launchers.gpus import claim_gpu_slot

        claim_gpu_slot(Path(gpus[0]), gpus[1])

    hydra_context, task_function = _load_shared(key, blob)
    setup_globals()
    if os.getpid() != parent:  # n_jobs=1 runs here, in the parent: its singletons are live
        _set_singletons(pickle.loads(state))
        _bind_to(parent)
    # Stock sets HydraConfig here too, a masked deep copy that run_job replaces
    # for the job and puts back after it: nothing reads it, so it is not made.
    _in_job[0] = True
    try:
        ret = run_job(
            hydra_context=hydra_context,
            task_function=task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
            render_hint=hint,
        )
    finally:
        _in_job[0] = False
    if os.getpid() != parent:
        _check_sendable(ret)
        carry_cause(ret)  # the task's own error, under Hydra's wrapper, survives the trip
    return ret


_bound: Dict[int, int] = {}  # in a worker: {its pid: the zenspec process it works for}
_in_job: List[bool] = [False]  # in a worker: whether a job runs now


def _bind_to(parent: int) -> None:
    """In a loky worker: die with the zenspec process, as forked workers do.

    Loky's workers are the zenspec process's children but outlive it: killed
    with ``kill -9``, it would leave them running the jobs queued to them
    beside a ``zenspec resume``. Here the kernel sends SIGTERM when the parent
    dies (``PR_SET_PDEATHSIG``): a running job gets ``Terminated`` (it records
    itself interrupted; ``resume`` runs it again) and the worker exits right
    after; an idle worker exits at once. A job is never started for a dead parent.
    """
    if os.getppid() != parent:  # the zenspec process that queued this job is gone
        os._exit(128 + 15)
    if _bound.get(os.getpid()) == parent:
        return
    import signal
    import threading

    from zenspec.errors import Terminated
    from zenspec.launchers.forking import _die_with_parent

    def terminated(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not _in_job[0]:
            os._exit(128 + signum)
        # the job records itself interrupted, then the worker goes: nothing to return to
        threading.Timer(2.0, os._exit, (128 + signum,)).start()
        raise Terminated(signum)

    _die_with_parent(parent)
    signal.signal(signal.SIGTERM, terminated)
    _bound[os.getpid()] = parent


def _check_sendable(ret: JobReturn) -> None:
    """A return value that cannot be pickled back fails its job, not the whole sweep.

    Pickled as the pool will pickle it (cloudpickle); on failure the job is
    FAILED with the reason, and its record (written ``completed`` by the job)
    says so too.
    """
    from hydra.core.utils import JobStatus

    if ret.status is not JobStatus.COMPLETED:
        return
    import cloudpickle

    try:
        cloudpickle.dumps(job_outcome(ret), protocol=5)
    except Exception as e:
        from zenspec.records.lost import fail_record

        error = TypeError(
            f"the job's return value ({type(job_outcome(ret)).__name__}) cannot be sent "
            f"back to the zenspec process: {type(e).__name__}: {e}. Fix: return plain data "
            "(numbers, strings, lists, dicts), or save the object in the job's directory."
        )
        ret.status = JobStatus.FAILED
        ret.return_value = error
        hc = ret.hydra_cfg.hydra if ret.hydra_cfg is not None else None
        if hc is not None:
            root = os.path.join(hc.runtime.cwd, hc.sweep.dir)
            fail_record(root, int(hc.job.num), error)


def _forked_workers(joblib_cfg: Dict[str, Any]) -> Tuple[Optional[int], str]:
    """(workers, why not fork them: "" when they can be) for the user's joblib settings."""
    from zenspec.launchers.forking import effective_workers, fork_blocker

    workers = effective_workers(joblib_cfg.get("n_jobs"))
    if workers is None or workers <= 1:
        return workers, "the launch is sequential (n_jobs=1)"
    if joblib_cfg.get("timeout") is not None or joblib_cfg.get("require") is not None:
        return workers, "joblib's timeout or require is set (loky honours them)"
    return workers, fork_blocker() or ""


# in the parent, inherited by forked workers: (primary config, the singletons
# the loader's caches were made against) per launch
_composing: Dict[str, Tuple[DictConfig, Dict[Any, Any]]] = {}


def compose_and_execute(
    key: str,
    state: bytes,
    parent: int,
    idx: int,
    overrides: List[str],
    gpus: Optional[Tuple[str, List[str]]] = None,
) -> JobReturn:
    """In a forked worker: compose job *idx* as the parent would, then run it.

    The loader and Hydra's singletons are the parent's as of the fork; the
    singletons a job runs with are fresh ones (``execute_job``), so each
    composition first puts the fork-time ones back: the ConfigStore the
    loader's cached bases were composed from, unchanged by earlier jobs.
    """
    hydra_context, _ = _shared[key]
    primary, instances = _composing[key]
    set_singleton_instances(instances)
    sweep_config, hint = compose_job(hydra_context.config_loader, primary, idx, overrides)
    return execute_job(key, b"", state, parent, sweep_config, hint, gpus)


def compose_job(
    loader: Any, primary: DictConfig, num: int, overrides: Sequence[str]
) -> Tuple[DictConfig, Optional[RenderHint]]:
    """Job *num*'s config, numbered, and the hint that lets its worker reuse hydra.yaml blocks."""
    from zenspec.accelerate.job_runner import number_job

    sweep_config = loader.load_sweep_config(primary, list(overrides))
    hint = getattr(loader, "render_hint", lambda cfg: None)(sweep_config)
    number_job(sweep_config, f"{sweep_config.hydra.job.name}_{num}", num)
    return sweep_config, hint


class FastJoblibLauncher(JoblibLauncher):
    """``JoblibLauncher`` that composes in the parent and ships shared state once."""

    # Forked workers get the task, the loader and the rest by inheritance: the
    # payload is checked for pickling (and modules registered to be pickled by
    # value) only where it is pickled, the loky path.
    checks_payload_itself = True

    def __init__(self, gpus_per_job: Optional[int] = None, **kwargs: Any) -> None:
        # zenspec's own key: each worker its slice of the machine's GPUs (launchers.gpus)
        super().__init__(**kwargs)
        self.gpus_per_job = gpus_per_job

    def check_payload(self) -> None:
        """Set by zenspec's ``instantiate_launcher``; nothing to check when built directly."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        import cloudpickle

        from zenspec.launchers import begin_launch, lost_job_return, singleton_state
        from zenspec.launchers.fork_pool import run_forked
        from zenspec.launchers.loky import run_loky

        sweep_dir = begin_launch(self)
        assert self.config is not None and self.hydra_context is not None

        joblib_cfg = dict(self.joblib)
        joblib_cfg["backend"] = "loky"  # as stock: threads are incompatible with Hydra
        workers, why_not = _forked_workers(joblib_cfg)
        fork = workers is not None and not why_not
        if fork:
            assert workers is not None
            workers = min(workers, len(job_overrides))
            log.info(
                f"Forking {workers} workers from this process to launch {len(job_overrides)} "
                "jobs (joblib settings: "
                + ", ".join(f"{k}={v}" for k, v in joblib_cfg.items() if k != "backend")
                + ")"
            )
        else:
            # only here: importing joblib imports numpy, whose BLAS pool is a thread
            from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

            process_joblib_cfg(joblib_cfg)
            log.info(
                "Joblib.Parallel({}) is launching {} jobs".format(
                    ",".join(f"{k}={v}" for k, v in joblib_cfg.items()), len(job_overrides)
                )
            )
            if workers is not None and workers > 1:
                log.debug(f"Workers are fresh loky interpreters: {why_not}")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        gpus = None
        if self.gpus_per_job is not None:
            from zenspec.launchers.gpus import gpu_slices
            from zenspec.records.store import records_dir

            slices = gpu_slices(self.gpus_per_job, min(workers or 1, len(job_overrides)))
            gpus = (str(records_dir(sweep_dir.resolve())), slices)
            log.info(f"GPUs per worker (CUDA_VISIBLE_DEVICES): {' | '.join(slices)}")

        def configs(only: Sequence[int]) -> Iterator[Tuple[DictConfig, Optional[RenderHint]]]:
            # Composed as the pool asks for the next job (joblib keeps 2 * n_jobs
            # in flight), so the first jobs start at once instead of after every
            # job's composition; the sweeper validated the batch beforehand.
            for n in only:
                yield self._compose(initial_job_idx + n, job_overrides[n])

        key = uuid.uuid4().hex
        if not fork:
            self.check_payload()
        try:
            state = cloudpickle.dumps(singleton_state(), protocol=5)  # unpickled per job
        except Exception:
            self.check_payload()  # names what cannot be pickled
            raise
        parent = os.getpid()
        if fork:
            assert workers is not None
            # Forked workers inherit the shared part (nothing to pickle) and the
            # loader with its caches: each composes its own jobs' configs, so the
            # parent only hands out override lines instead of composing every
            # job and pickling ~300 nodes, CPU the workers' jobs would not get.
            _shared.clear()
            _shared[key] = (self.hydra_context, self.task_function)
            _composing[key] = (self.config, dict(singleton_instances()))

            def calls() -> Iterator[Tuple[Any, ...]]:
                for n, overrides in enumerate(job_overrides):
                    idx = initial_job_idx + n
                    log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
                    yield (key, state, parent, idx, list(overrides), gpus)

            def lost(i: int, cause: str, status: str) -> JobReturn:
                # a worker died under job i (or was stopped by an interrupt)
                log.error(f"\t#{initial_job_idx + i} {status}: {cause}")
                return lost_job_return(
                    sweep_dir,
                    initial_job_idx + i,
                    job_overrides[i],
                    cause,
                    status=status,
                    task_name=str(self.config.hydra.job.name),
                )

            try:
                return run_forked(
                    compose_and_execute,
                    calls(),
                    workers,
                    pre_dispatch=joblib_cfg.get("pre_dispatch", "2*n_jobs"),
                    describe=lambda i: (
                        f"job #{initial_job_idx + i} "
                        f"({' '.join(filter_overrides(job_overrides[i]))})"
                    ),
                    on_lost=lost,
                )
            finally:
                _shared.pop(key, None)
                _composing.pop(key, None)

        blob = cloudpickle.dumps((self.hydra_context, self.task_function), protocol=5)
        return run_loky(
            joblib_cfg,
            job_overrides,
            initial_job_idx,
            configs,
            lambda cfg, hint: (key, blob, state, parent, cfg, hint, gpus),
            sweep_dir,
            str(self.config.hydra.job.name),
        )

    def _compose(
        self, num: int, overrides: Sequence[str]
    ) -> Tuple[DictConfig, Optional[RenderHint]]:
        """Job *num*'s config, composed here for a loky worker, and its hydra.yaml hint."""
        assert self.config is not None and self.hydra_context is not None
        log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
        return compose_job(self.hydra_context.config_loader, self.config, num, overrides)

    def launch_feed(self, feed: Any, capacity: int) -> Optional[str]:
        """Run *feed*'s jobs on forked workers, one asked each time a worker frees.

        Returns None when done; else why workers cannot be forked here (the
        caller then runs the feed in batches through :meth:`launch`).
        """
        import cloudpickle

        from zenspec.launchers import begin_launch, lost_job_return, singleton_state
        from zenspec.launchers.fork_pool import run_forked

        joblib_cfg = dict(self.joblib)
        workers, why_not = _forked_workers(joblib_cfg)
        if workers is None or workers <= 1:
            return "one job at a time (n_jobs=1)"
        if why_not and (joblib_cfg.get("timeout") or joblib_cfg.get("require")):
            return why_not  # only joblib.Parallel honours them: batches
        sweep_dir = begin_launch(self)
        assert self.config is not None and self.hydra_context is not None
        task_name = str(self.config.hydra.job.name)
        if why_not:
            self._loky_feed(feed, workers, why_not, sweep_dir, task_name)
            return None
        log.info(f"Forking {workers} workers from this process; each takes a new job as it frees")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        gpus = None
        if self.gpus_per_job is not None:
            from zenspec.launchers.gpus import gpu_slices
            from zenspec.records.store import records_dir

            gpus = (str(records_dir(sweep_dir.resolve())), gpu_slices(self.gpus_per_job, workers))
        key = uuid.uuid4().hex
        state = cloudpickle.dumps(singleton_state(), protocol=5)
        parent = os.getpid()
        taken: List[Tuple[int, List[str]]] = []  # by the pool's call index

        def calls() -> Iterator[Tuple[Any, ...]]:
            while True:
                jobs = feed.take(1)
                if not jobs:
                    return
                num, overrides = jobs[0]
                taken.append((num, list(overrides)))
                log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
                yield (key, state, parent, num, list(overrides), gpus)

        def lost(i: int, cause: str, status: str) -> JobReturn:
            num, overrides = taken[i]
            log.error(f"\t#{num} {status}: {cause}")
            return lost_job_return(
                sweep_dir, num, overrides, cause, status=status, task_name=task_name
            )

        _shared.clear()
        _shared[key] = (self.hydra_context, self.task_function)
        _composing[key] = (self.config, dict(singleton_instances()))
        try:
            run_forked(
                compose_and_execute,
                calls(),
                workers,
                describe=lambda i: f"job #{taken[i][0]} ({' '.join(taken[i][1])})",
                on_lost=lost,
                on_result=lambda i, ret: feed.done(taken[i][0], ret),
            )
        finally:
            _shared.pop(key, None)
            _composing.pop(key, None)
        return None

    def _loky_feed(
        self, feed: Any, workers: int, why_not: str, sweep_dir: Any, task_name: str
    ) -> None:
        """The feed on loky's fresh interpreters: each job composed here as it is taken."""
        import cloudpickle

        from zenspec.launchers import singleton_state
        from zenspec.launchers.loky_feed import run_loky_feed

        assert self.config is not None and self.hydra_context is not None
        log.info(f"{workers} loky workers ({why_not}); each takes a new job as it frees")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        self.check_payload()
        key = uuid.uuid4().hex
        blob = cloudpickle.dumps((self.hydra_context, self.task_function), protocol=5)
        state = cloudpickle.dumps(singleton_state(), protocol=5)
        parent = os.getpid()
        gpus = None
        if self.gpus_per_job is not None:
            from zenspec.launchers.gpus import gpu_slices
            from zenspec.records.store import records_dir

            gpus = (str(records_dir(sweep_dir.resolve())), gpu_slices(self.gpus_per_job, workers))

        def submit_args(num: int, overrides: List[str]) -> Tuple[Any, ...]:
            sweep_config, hint = self._compose(num, overrides)
            return (key, blob, state, parent, sweep_config, hint, gpus)

        run_loky_feed(feed, workers, submit_args, sweep_dir, task_name)
