"""Hydra's submitit launchers (SLURM and local) that never lose a sweep.

zenspec instantiates these where the config names
``hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher`` or
``LocalLauncher`` (``hydra.launcher`` is unchanged: same config node, same
``sbatch`` job array, same pickles, same outputs). What differs from stock,
which collects with ``[j.results()[0] for j in jobs]``:

* every job of the array is waited for; one that ended without a result (a
  crash, ``os._exit``, ``scancel``, a time limit, the OOM killer, a node
  failure, preemption) becomes a FAILED ``JobReturn`` whose value is a
  :class:`zenspec.errors.JobDiedError` with the cause SLURM reports
  (``SLURM: TIMEOUT``, ``SLURM: CANCELLED``, ``exit code 3``,
  ``killed by SIGSEGV``...), and a failed record on disk; the other jobs'
  results are returned and the sweep goes on;
* the engine's id of each job (``<array id>_<task>``, or the local pid) is
  written right after submission (:mod:`zenspec.records.engine`), so
  ``zenspec results``/``resume`` know what SLURM still runs;
* Ctrl-C (or SIGTERM) while waiting cancels the jobs of the sweep still
  queued or running, records them ``interrupted`` (``resume`` runs them
  again), and re-raises;
* an ``sbatch`` refusal (an unknown partition or account...) is a
  :class:`zenspec.errors.LaunchError` (exit 2) naming the spec key;
* :meth:`launch_numbered` submits jobs with any numbers as ONE array
  (``resume`` of scattered missing jobs).

With ``max_num_timeout = 0`` (the default: no requeue), the time-limit
signal submitit asks for (``--signal=USR2@<signal_delay_s>``) is logged and
otherwise left alone in the job, so SLURM ends the job at its limit and the
job is recorded ``SLURM: TIMEOUT`` (stock submitit raises an
``UncompletedJobError`` in the task instead). With ``max_num_timeout > 0``,
submitit's checkpoint-and-requeue handler is kept as it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    BaseSubmititLauncher,
    LocalLauncher,
    SlurmLauncher,
)
from omegaconf import OmegaConf, open_dict

from zenspec._compatibility import local_job_process
from zenspec.errors import JobDiedError
from zenspec.launchers.slurm_state import (
    ENDED_STATES,
    RESULT_GRACE_S,
    ignore_time_signal,
    job_python,
    local_crash,
    sacct,
    sbatch_refusal,
    slurm_cause,
    squeue,
)

__all__ = ["SUBMITIT_LAUNCHERS", "LosslessLocalLauncher", "LosslessSlurmLauncher"]

# the stock launcher's logger: the same log lines, under the same name
log = logging.getLogger("hydra_plugins.hydra_submitit_launcher.submitit_launcher")

_STOCK = "hydra_plugins.hydra_submitit_launcher.submitit_launcher."


class _Lossless(BaseSubmititLauncher):
    """What both executors share (the stock launcher's own code where outputs depend on it)."""

    #: GridSweeper may hand this launcher jobs with any numbers at once (resume)
    launches_any_numbers = True
    #: seconds between two looks at the engine while jobs run (the first minute: 1)
    poll_interval_s = 5.0

    # -- in the job ------------------------------------------------------------------------

    def __call__(
        self,
        sweep_overrides: List[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: Dict[type, Singleton],
    ) -> JobReturn:
        if self._EXECUTOR == "slurm" and not self.params.get("max_num_timeout"):
            import submitit

            # (not in the main thread, or an unknown signal: submitit's handler stays)
            with contextlib.suppress(ValueError, RuntimeError):
                signal.signal(submitit.JobEnvironment._usr_sig(), ignore_time_signal)
        return super().__call__(sweep_overrides, job_dir_key, job_num, job_id, singleton_state)

    # -- in the launching process ----------------------------------------------------------

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        nums = [initial_job_idx + i for i in range(len(job_overrides))]
        return self.launch_numbered(job_overrides, nums)

    def _executor(self) -> Any:
        """The stock launcher's executor, with the stock launcher's parameters."""
        import submitit

        params = self.params
        init_params = {"folder": self.params["submitit_folder"]}
        specific_init_keys = {"max_num_timeout"}
        init_params.update(
            **{f"{self._EXECUTOR}_{x}": y for x, y in params.items() if x in specific_init_keys}
        )
        init_keys = specific_init_keys | {"submitit_folder"}
        if self._EXECUTOR == "slurm":
            init_params["slurm_python"] = job_python(submitit.JobEnvironment.USR_SIG)
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        baseparams = set(OmegaConf.structured(BaseQueueConf).keys())
        params = {
            x if x in baseparams else f"{self._EXECUTOR}_{x}": y
            for x, y in params.items()
            if x not in init_keys
        }
        executor.update_parameters(**params)
        return executor

    def launch_numbered(
        self, job_overrides: Sequence[Sequence[str]], nums: Sequence[int]
    ) -> Sequence[JobReturn]:
        """Launch ``job_overrides[i]`` as job number ``nums[i]`` (dir ``<sweep dir>/<num>``), one array."""
        from submitit.core.utils import FailedJobError

        assert self.config is not None
        assert len(job_overrides) == len(nums) > 0
        executor = self._executor()
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {self.config.hydra.sweep.dir}")
        sweep_dir = self._sweep_dir()
        job_params = [self._job_args(num, overrides) for num, overrides in zip(nums, job_overrides)]
        self._submitted_at = time.time() - 300  # sacct's -S: a margin for clock skew
        try:
            jobs = executor.map_array(self, *zip(*job_params))
        except (subprocess.CalledProcessError, FailedJobError) as e:
            raise sbatch_refusal(e, sweep_dir, len(job_params)) from e
        engine = [self._engine_info(j) for j in jobs]
        self._record_engine_ids(sweep_dir, dict(zip(nums, engine)))
        try:
            return self._collect(jobs, list(nums), job_overrides, sweep_dir, engine)
        except KeyboardInterrupt as e:
            self._cancel(jobs, list(nums), job_overrides, sweep_dir, engine, e)
            raise

    def _sweep_dir(self) -> Path:
        """``hydra.sweep.dir``, made (with ``hydra.sweep.mode``) before any job is submitted."""
        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        return sweep_dir

    @staticmethod
    def _job_args(num: int, overrides: Sequence[str]) -> Tuple[Any, ...]:
        """What a submitted job calls this launcher with (logged as Hydra's launchers do)."""
        log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
        return (list(overrides), "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state())

    def _engine_info(self, job: Any) -> Dict[str, Any]:
        if self._EXECUTOR == "slurm":
            return {"kind": "slurm", "job_id": str(job.job_id)}
        return {"kind": "local", "job_id": str(job.job_id), "host": socket.gethostname()}

    @staticmethod
    def _record_engine_ids(sweep_dir: Path, ids: Dict[int, Dict[str, Any]]) -> None:
        from zenspec.records.engine import record_engine_ids

        try:
            record_engine_ids(sweep_dir, ids)
        except OSError as e:  # the jobs run all the same
            log.warning(f"could not record the engine's job ids under {sweep_dir}: {e}")

    # -- waiting -----------------------------------------------------------------------------

    def _collect(
        self,
        jobs: List[Any],
        nums: List[int],
        job_overrides: Sequence[Sequence[str]],
        sweep_dir: Path,
        engine: List[Dict[str, Any]],
        on_done: Optional[Callable[[int, JobReturn], None]] = None,
    ) -> List[JobReturn]:
        """Each job's JobReturn as it ends (results, or the engine's word on a lost job).

        With *on_done*, each is handed to ``on_done(i, ret)`` the moment it is known;
        jobs it appends to *jobs* (and *nums*, *job_overrides*, *engine*) are waited for too.
        """
        from zenspec.launch import ticks

        results: List[Optional[JobReturn]] = [None] * len(jobs)
        pending = set(range(len(jobs)))
        ended_at: Dict[int, float] = {}  # when the engine first said job i ended
        causes: Dict[int, str] = {}
        start = time.monotonic()
        next_look = start + 1.0
        folder = None
        while pending:
            if folder is None and jobs:
                folder = jobs[0].paths.folder
            _refresh(jobs, pending)
            ended: List[int] = []
            for i in sorted(pending):
                if jobs[i].paths.result_pickle.exists():
                    results[i] = self._from_pickle(
                        jobs[i], nums[i], job_overrides[i], sweep_dir, engine[i]
                    )
                    pending.discard(i)
                    ended.append(i)
            self._hand_over(ended, results, pending, jobs, on_done)
            if not pending:
                break
            now = time.monotonic()
            if now >= next_look:
                for i, cause in self._ended(jobs, sorted(pending)).items():
                    ended_at.setdefault(i, now)
                    causes[i] = cause
                elapsed = now - start
                next_look = now + (1.0 if elapsed < 60 else self.poll_interval_s)
            lost: List[int] = []
            for i in sorted(pending):
                if i in ended_at and now - ended_at[i] >= RESULT_GRACE_S:
                    results[i] = self._lost(
                        nums[i], job_overrides[i], sweep_dir, causes[i], engine[i]
                    )
                    pending.discard(i)
                    lost.append(i)
            self._hand_over(lost, results, pending, jobs, on_done)
            if pending:
                ticks.tick()  # the sweep's work while its jobs run (pruning)
                time.sleep(0.1 if ticks.active() else 0.25)
        return [r for r in results if r is not None]

    @staticmethod
    def _hand_over(
        ended: List[int],
        results: List[Optional[JobReturn]],
        pending: set,
        jobs: List[Any],
        on_done: Optional[Callable[[int, JobReturn], None]],
    ) -> None:
        """Give *ended* jobs' results to *on_done*; wait for the jobs it submitted in turn."""
        if on_done is None:
            return
        for i in ended:
            ret = results[i]
            assert ret is not None
            on_done(i, ret)
        for j in range(len(results), len(jobs)):
            results.append(None)
            pending.add(j)

    def launch_feed(self, feed: Any, capacity: int) -> Optional[str]:
        """Submit *feed*'s jobs one by one, *capacity* queued or running, a new one as each ends.

        Each trial is its own job (not an array), submitted the moment a slot
        frees; a job the engine lost, a Ctrl-C or SIGTERM are handled as for
        :meth:`launch_numbered`.
        """
        from submitit.core.utils import FailedJobError

        assert self.config is not None
        executor = self._executor()
        sweep_dir = self._sweep_dir()
        log.info(
            f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir} "
            f"({capacity} job(s) at a time, a new one as each ends)"
        )
        jobs: List[Any] = []
        nums: List[int] = []
        overrides_of: List[List[str]] = []
        engine: List[Dict[str, Any]] = []
        self._submitted_at = time.time() - 300  # sacct's -S: a margin for clock skew

        def submit(n: int) -> None:
            for num, overrides in feed.take(n):
                try:
                    job = executor.submit(self, *self._job_args(num, overrides))
                except (subprocess.CalledProcessError, FailedJobError) as e:
                    raise sbatch_refusal(e, sweep_dir, 1) from e
                info = self._engine_info(job)
                self._record_engine_ids(sweep_dir, {num: info})
                jobs.append(job)
                nums.append(num)
                overrides_of.append(list(overrides))
                engine.append(info)

        def done(i: int, ret: JobReturn) -> None:
            feed.done(nums[i], ret)
            submit(1)

        try:
            submit(capacity)
            self._collect(jobs, nums, overrides_of, sweep_dir, engine, on_done=done)
        except KeyboardInterrupt as e:
            self._cancel(jobs, nums, overrides_of, sweep_dir, engine, e)
            raise
        return None

    def _ended(self, jobs: List[Any], indices: List[int]) -> Dict[int, str]:
        """``{i: cause}`` for the jobs the engine says ended (their results may still come)."""
        raise NotImplementedError

    def _from_pickle(
        self,
        job: Any,
        num: int,
        overrides: Sequence[str],
        sweep_dir: Path,
        engine: Dict[str, Any],
    ) -> JobReturn:
        try:
            outcome, value = job._get_outcome_and_result()
        except Exception as e:  # a torn or unreadable result file
            return self._lost(num, overrides, sweep_dir, f"unreadable result ({e})", engine)
        if outcome == "success" and isinstance(value, JobReturn):
            return value
        # submitit's own failure around the task (unpickling, a timeout it handled...)
        text = str(value).strip().splitlines()
        cause = f"submitit: {text[-1] if text else 'the job failed outside the task'}"
        return self._lost(num, overrides, sweep_dir, cause, engine, detail=str(value))

    def _lost(
        self,
        num: int,
        overrides: Sequence[str],
        sweep_dir: Path,
        cause: str,
        engine: Dict[str, Any],
        *,
        status: str = "failed",
        detail: str = "",
    ) -> JobReturn:
        """Record job *num* as lost (unless it wrote its own record); its FAILED JobReturn."""
        from zenspec.records.lost import record_lost_job

        ret = self._failed_return(num, overrides, sweep_dir, cause, detail)
        job_dir = None
        if ret.hydra_cfg is not None:
            job_dir = str(ret.hydra_cfg.hydra.runtime.output_dir)
        try:
            recorded = record_lost_job(
                sweep_dir,
                num,
                list(overrides),
                cause,
                status=status,
                engine=engine,
                job_dir=job_dir,
                detail=detail,
            )
        except OSError as e:
            log.warning(f"could not record job #{num} ({cause}): {e}")
            recorded = False
        if status == "failed":
            where = f"{engine.get('kind')} job {engine.get('job_id')}"
            log.error(
                f"#{num} ({where}) ended without a result: {cause}"
                + ("" if recorded else " (it recorded itself)")
            )
        return ret

    def _failed_return(
        self, num: int, overrides: Sequence[str], sweep_dir: Path, cause: str, detail: str
    ) -> JobReturn:
        ret = JobReturn()
        ret.overrides = list(overrides)
        ret.status = JobStatus.FAILED
        ret.return_value = JobDiedError(cause)
        ret.working_dir = os.getcwd()
        try:  # the job's config as it would have been (the table and the sweepers read it)
            assert self.config is not None and self.hydra_context is not None
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):
                cfg.hydra.sweep.dir = str(sweep_dir)
                cfg.hydra.job.num = num
                cfg.hydra.job.id = f"lost_{num}"
                subdir = str(OmegaConf.select(cfg, "hydra.sweep.subdir"))
                cfg.hydra.runtime.output_dir = os.path.abspath(sweep_dir / subdir)
            ret.task_name = str(cfg.hydra.job.name)
            ret.hydra_cfg = cfg
            task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
            ret.cfg = task_cfg
        except Exception as e:  # never lose the failure over its decoration
            log.debug(f"could not compose the config of lost job #{num}: {e}")
            ret.hydra_cfg = None
        return ret

    # -- Ctrl-C --------------------------------------------------------------------------------

    def _cancel(
        self,
        jobs: List[Any],
        nums: List[int],
        job_overrides: Sequence[Sequence[str]],
        sweep_dir: Path,
        engine: List[Dict[str, Any]],
        why: BaseException,
    ) -> None:
        from zenspec.records.lost import record_lost_job

        # a second Ctrl-C while cancelling must not leave jobs running: finish first
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            live = [i for i in range(len(jobs)) if not jobs[i].paths.result_pickle.exists()]
            n = self._cancel_engine(jobs, live)
            name = "SLURM" if self._EXECUTOR == "slurm" else "local submitit"
            log.warning(f"cancelled {n} queued/running {name} job(s) of this sweep")
            signum = getattr(why, "signum", None)
            what = f"signal {signal.Signals(signum).name}" if signum else "Ctrl-C"
            cause = f"cancelled: the sweep was interrupted ({what})"
            for i in live:
                try:
                    record_lost_job(
                        sweep_dir,
                        nums[i],
                        list(job_overrides[i]),
                        cause,
                        status="interrupted",
                        engine=engine[i],
                    )
                except OSError as e:
                    log.warning(f"could not record job #{nums[i]} as interrupted: {e}")
        finally:
            signal.signal(signal.SIGINT, old)

    def _cancel_engine(self, jobs: List[Any], live: List[int]) -> int:
        raise NotImplementedError


def _refresh(jobs: List[Any], pending: set) -> None:
    """Make a shared filesystem show new result files (submitit's trick: chmod the folder)."""
    seen = set()
    for i in pending:
        folder = jobs[i].paths.folder
        if folder in seen:
            continue
        seen.add(folder)
        with contextlib.suppress(OSError):
            folder.chmod(folder.stat().st_mode)


class LosslessSlurmLauncher(_Lossless, SlurmLauncher):
    """``SlurmLauncher`` that waits on every task of the array and loses none."""

    _EXECUTOR = "slurm"

    def _ended(self, jobs: List[Any], indices: List[int]) -> Dict[int, str]:
        ids = {str(jobs[i].job_id): i for i in indices}
        arrays = sorted({jid.split("_")[0] for jid in ids})
        info = sacct(arrays, getattr(self, "_submitted_at", None))
        out: Dict[int, str] = {}
        if info is None:  # no accounting: a job SLURM no longer has has ended
            queued = squeue(arrays)
            if queued is None:
                return out
            for jid, i in ids.items():
                if jid not in queued:
                    out[i] = "SLURM: ended without a result (its state is unknown: sacct failed)"
            return out
        for jid, i in ids.items():
            got = info.get(jid)
            if got is None:
                continue  # not in the accounting yet
            state, code, step = got
            if state in ENDED_STATES:
                out[i] = slurm_cause(state, code, step)
        return out

    def _cancel_engine(self, jobs: List[Any], live: List[int]) -> int:
        if not live:
            return 0
        ids = [str(jobs[i].job_id) for i in live]
        queued = squeue(sorted({jid.split("_")[0] for jid in ids}))
        targets = ids if queued is None else [jid for jid in ids if jid in queued]
        # one scancel for the lot (task ids of one array, or whole jobs)
        if targets:
            try:
                subprocess.run(["scancel", *targets], capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError) as e:
                log.warning(f"scancel failed: {e}; cancel by hand: scancel {' '.join(targets)}")
        return len(targets)


class LosslessLocalLauncher(_Lossless, LocalLauncher):
    """``LocalLauncher`` (submitit's local processes) that waits on every job and loses none."""

    _EXECUTOR = "local"

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        import faulthandler
        import sys

        # a native crash leaves its signal in the job's log, where _ended reads it
        if not faulthandler.is_enabled():
            faulthandler.enable(file=sys.stderr)
        return super().__call__(*args, **kwargs)

    def _collect(self, jobs: List[Any], *args: Any, **kwargs: Any) -> List[JobReturn]:
        results = super()._collect(jobs, *args, **kwargs)
        # A job writes its result just before its process exits: wait for the exits (and
        # reap them), so that none of the sweep's processes runs once it returned (a
        # `resume` right after would see a job "still running" and refuse).
        deadline = time.monotonic() + RESULT_GRACE_S
        for job in jobs:
            process = local_job_process(job)
            if process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
        return results

    def _ended(self, jobs: List[Any], indices: List[int]) -> Dict[int, str]:
        from zenspec.records.lost import describe_exit

        out: Dict[int, str] = {}
        for i in indices:
            process = local_job_process(jobs[i])
            if process is None:
                continue
            code = process.poll()
            if code is None:
                continue
            if code < 0:  # the controller itself was killed
                out[i] = describe_exit(code)
                continue
            out[i] = local_crash(jobs[i]) or (
                "ended without a result (submitit local reports no exit status)"
            )
        return out

    def _cancel_engine(self, jobs: List[Any], live: List[int]) -> int:
        n = 0
        for i in live:
            process = local_job_process(jobs[i])
            if process is not None and process.poll() is None:
                jobs[i].cancel(check=False)
                n += 1
        return n


#: the stock class named by ``hydra.launcher._target_`` -> the class zenspec uses
SUBMITIT_LAUNCHERS = {
    _STOCK + "SlurmLauncher": LosslessSlurmLauncher,
    _STOCK + "LocalLauncher": LosslessLocalLauncher,
}
