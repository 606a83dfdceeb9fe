"""``hydra_run`` and ``hydra_multirun``: Hydra jobs launched purely from Python."""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple, Union

from hydra.core.utils import JobReturn, JobStatus, run_job
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from typing_extensions import Literal

from zenspec._compatibility import (
    BASIC_LAUNCHER,
    BASIC_SWEEPER,
    Callbacks,
    execution_whitelist_scope,
    hydra_context,
    job_outcome,
)
from zenspec.accelerate.job_runner import run_job as fast_run_job
from zenspec.accelerate.switches import stock_only
from zenspec.cli.progress import Progress
from zenspec.errors import LaunchError
from zenspec.launch.context import (
    Groups,
    LaunchSession,
    TaskFunction,
    explain_composition_error,
    explain_setup_error,
    launch_session,
    storage_errors,
)
from zenspec.launch.grid import GridSweeper, count_grid, plan_grid
from zenspec.launch.job_dirs import check_job_dirs
from zenspec.launch.jobs_owed import jobs_to_resume
from zenspec.launch.overrides import OverridesLike, value_to_override
from zenspec.launch.plugins import JobResult, instantiate_sweeper, wrap_job_returns
from zenspec.records.jobs import RecordingTask
from zenspec.records.session import RecordSession

__all__ = ["hydra_multirun", "hydra_run"]


def hydra_run(
    config: Any,
    task_function: TaskFunction,
    overrides: OverridesLike = None,
    *,
    config_name: str = "zenspec_config",
    job_name: Optional[str] = None,
    version_base: Optional[str] = "1.3",
    with_log_configuration: bool = True,
    groups: Groups = None,
    fast: bool = True,
    records: bool = True,
    metric: Optional[str] = None,
    provenance: Optional[Mapping[str, Any]] = None,
    execution_whitelist: Any = None,
    seed: Optional[int] = None,
) -> JobResult:
    """Run one Hydra job of *task_function* on *config*, from Python.

    Parameters
    ----------
    config : dataclass type or instance, DictConfig or Mapping
        The primary config; mapping values may be ``builds(...)`` configs.
        It is copied, never modified.
    task_function : Callable[[DictConfig], Any]
        Called with the composed config (``instantiate`` is a common choice).
    overrides : list of str or Mapping, optional
        Hydra CLI overrides (``["bar=mom"]``) or a ``{key: value}`` mapping
        whose values are escaped exactly. The caller's object is not modified.
    config_name : str, default "zenspec_config"
        Name the config is stored under in Hydra's ConfigStore for the call.
    job_name : str, optional
        ``hydra.job.name`` (log file name); defaults to the task's ``__name__``.
    version_base : str or None, default "1.3"
        Hydra's version base; "1.3" means jobs do not ``chdir``.
    with_log_configuration : bool, default True
        Configure Hydra's logging (console + the job's log file) for the job.
    groups : Mapping[str, Mapping[str, Any]], optional
        ``{group: {option: config}}`` registered in the ConfigStore only for
        this call (``{"optim": {"sgd": SGDConf}}``).
    fast : bool, default True
        Use zenspec's speed pieces: its caching config loader, ``run_job`` and
        the rest (same config, same files as stock); False runs stock Hydra's
        code path throughout the call. The loader outlives the call: calling ``hydra_run``
        again with an equal config composes it from the cache (a change to the
        config, a group, a config file or the version base is always seen).
        A speed piece that fails switches itself off for the process (one
        warning on the ``zenspec.fast`` logger) and the call gets stock's path:
        it never fails the call. ``ZENSPEC_FAST=0`` in the environment is
        ``fast=False`` for every call; ``ZENSPEC_FAST_OFF=piece,...`` switches
        off single pieces (names in :data:`zenspec.accelerate.switches.PIECES`).
    records : bool, default True
        Write the manifest and the job's result under ``<run dir>/.zenspec/``.
    metric : str, optional
        Key of a returned mapping to record as the job's metric.
    provenance : Mapping, optional
        Extra facts for the manifest (the spec layer passes the spec here).
    execution_whitelist : str or sequence of str, optional
        hydra-core 1.4's execution whitelist, as ``@hydra.main(execution_whitelist=...)``
        takes it: the callables config may name as ``_target_`` (``"pkg.mod.fn"``,
        or ``"pkg.*"`` for a package), added to any ``hydra.utils.execution_whitelist``
        context active around the call, for the whole launch (callbacks, logging, the
        job's ``instantiate`` calls). ``hydra.utils.UNSAFE_DISABLE_EXECUTION_CHECKS``
        opts out. None: 1.4's legacy blacklist (Hydra warns per target). On
        hydra-core 1.3, which has no whitelist, its form is checked and it has no
        effect (1.3's target blocklist applies).
    seed : int, optional
        Per-job seeds: the job gets a seed derived from this one and its overrides
        (:func:`zenspec.derive_seed`), recorded as ``seed`` in its record;
        ``random``, numpy and torch (when installed) are seeded with it before the
        task runs and :func:`zenspec.job_seed` returns it. None (default): off.

    Returns
    -------
    JobResult
        Hydra's ``JobReturn`` (``return_value``, ``cfg``, ``hydra_cfg``,
        ``overrides``, ``working_dir``, ``task_name``) plus ``output_dir``.

    Raises
    ------
    OverrideError
        A malformed override, a sweep (use :func:`hydra_multirun`) or an
        override that does not apply to the config.
    Exception
        Whatever the task raised (Hydra's contract for a single run).

    Examples
    --------
    >>> from zenspec import builds, instantiate, hydra_run
    >>> job = hydra_run(builds(dict, a=1, b=1), instantiate, with_log_configuration=False)
    >>> job.return_value
    {'a': 1, 'b': 1}
    """
    task = RecordingTask(task_function, metric, seed) if records else task_function
    # the whole launch: under the caller's whitelist, and stock's code path if not fast
    with (
        execution_whitelist_scope(_whitelist(execution_whitelist)),
        stock_only(not fast),
        launch_session(
            config=config,
            task_function=task_function,
            overrides=overrides,
            groups=groups,
            config_name=config_name,
            job_name=job_name,
            version_base=version_base,
            with_log_configuration=with_log_configuration,
            fast=fast,
            mode=RunMode.RUN,
        ) as session,
    ):
        cfg = session.compose()
        hint_for = getattr(session.hydra.config_loader, "render_hint", None)
        hint = hint_for(cfg) if hint_for is not None else None
        claimed = len(session.overrides)
        session.claim_output_dir(lock=records)
        if len(session.overrides) != claimed:  # hydra.run.dir was moved: render it all
            hint = None
        with storage_errors("writing the run's records"):
            record = _start_records(session, records, task_function, None, provenance, metric)
        callbacks = Callbacks(cfg)
        callbacks.on_run_start(config=cfg, config_name=config_name)
        context = hydra_context(session.hydra.config_loader, callbacks)
        # zenspec's run_job (tests/differential holds it to stock's), or stock's
        run = functools.partial(fast_run_job, render_hint=hint) if fast else run_job
        try:
            # run_job keeps the task's errors: an OSError out of it is a write of its own
            with storage_errors("setting up the job"), _crash_log(session, records):
                ret = run(
                    hydra_context=context,
                    task_function=task,
                    config=cfg,
                    job_dir_key="hydra.run.dir",
                    job_subdir_key=None,
                    configure_logging=with_log_configuration,
                )
        except BaseException as e:  # bad setup (no job ran), Ctrl-C or worse
            _finish(record, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed")
            explained = explain_setup_error(e)
            if explained is not None:
                raise explained from e
            raise
        callbacks.on_run_end(config=cfg, config_name=config_name, job_return=ret)
        _finish(record, "completed")
    result = JobResult.from_job_return(ret)
    if ret.status is JobStatus.FAILED:
        _ = result.return_value  # Hydra's contract: a failed single run raises its error
    return result


def hydra_multirun(
    config: Any,
    task_function: TaskFunction,
    overrides: OverridesLike = None,
    *,
    config_name: str = "zenspec_config",
    job_name: Optional[str] = None,
    version_base: Optional[str] = "1.3",
    with_log_configuration: bool = True,
    groups: Groups = None,
    fast: bool = True,
    records: bool = True,
    metric: Optional[str] = None,
    provenance: Optional[Mapping[str, Any]] = None,
    on_error: Literal["raise", "continue"] = "raise",
    fail_fast: bool = False,
    resume: Union[str, Path, None] = None,
    retry_failed: bool = False,
    force: bool = False,
    progress: Optional[Progress] = None,
    max_jobs: Optional[int] = 100_000,
    execution_whitelist: Any = None,
    seed: Optional[int] = None,
) -> Any:
    """Run a Hydra multirun (a sweep) of *task_function* on *config*, from Python.

    Parameters are those of :func:`hydra_run`, plus the ones below. Sweep
    overrides use Hydra's grammar (``"a=1,2"``, ``"x=range(-2,3)"``,
    ``"optim=sgd,adam"``) or :func:`~zenspec.multirun` values in a mapping. The
    sweeper is Hydra's basic one unless ``hydra/sweeper=...`` selects another:
    any ``hydra.plugins.sweeper.Sweeper`` subclass works, including your own
    class in your own module (stock Hydra only accepts ``hydra_plugins``).

    Parameters
    ----------
    on_error : {"raise", "continue"}, default "raise"
        Every job of a grid sweep runs either way. "raise" then re-raises the
        first failed job's exception, as Hydra does, with all the results
        attached as ``exc.zenspec_results``; "continue" returns them, failed
        jobs included (their ``status`` is FAILED).
    fail_fast : bool, default False
        Stop launching new jobs after the first failure.
    resume : path, optional
        The sweep directory of an earlier run of the same sweep: run only its
        jobs that have no result (and failed ones with ``retry_failed``), with
        their original numbers and directories.
    retry_failed : bool, default False
        With ``resume``, also re-run jobs recorded as failed.
    force : bool, default False
        With ``resume``, accept a config that differs from the recorded one.
    progress : zenspec.cli.progress.Progress, optional
        Report progress (read from the job records) while the sweep runs.
    max_jobs : int or None, default 100_000
        Refuse, before anything runs, a grid with more jobs than this.
    execution_whitelist : str or sequence of str, optional
        As for :func:`hydra_run`: every job, the sweeper's and the callbacks'
        ``instantiate`` calls run under it (hydra-core 1.4; no effect on 1.3).
    seed : int, optional
        As for :func:`hydra_run`: each job its own seed, derived from this one and
        its overrides (the same overrides, the same seed, also on a resume).

    Returns
    -------
    Any
        What the sweeper's ``sweep()`` returns. For the grid (basic) sweeper,
        a list of batches of :class:`JobResult` (``jobs[0]`` is the first batch).

    Examples
    --------
    >>> from zenspec import builds, instantiate, hydra_multirun
    >>> jobs = hydra_multirun(builds(dict, a=1, b=1), instantiate, ["a=1,2"])
    [...][HYDRA] Launching 2 jobs locally
    [...] #0 : a=1
    [...] #1 : a=2
    >>> [j.return_value for j in jobs[0]]
    [{'a': 1, 'b': 1}, {'a': 2, 'b': 1}]
    """
    if on_error not in ("raise", "continue"):
        raise LaunchError(f"on_error must be 'raise' or 'continue', got {on_error!r}.")
    extra: Tuple[str, ...] = ()
    if resume is not None:
        extra = (f"hydra.sweep.dir={value_to_override(str(Path(resume).resolve()))}",)
    task = RecordingTask(task_function, metric, seed) if records or resume else task_function
    with (
        execution_whitelist_scope(_whitelist(execution_whitelist)),
        stock_only(not fast),
        launch_session(
            config=config,
            task_function=task_function,
            overrides=overrides,
            groups=groups,
            config_name=config_name,
            job_name=job_name,
            version_base=version_base,
            with_log_configuration=with_log_configuration,
            fast=fast,
            mode=RunMode.MULTIRUN,
            extra_overrides=extra,
        ) as session,
    ):
        cfg = session.compose()
        _check_sweeper_supports(cfg, session.parsed)
        sweeper_target = OmegaConf.select(cfg, "hydra.sweeper._target_")
        grid = sweeper_target == BASIC_SWEEPER
        arguments = OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False)
        assert isinstance(arguments, list)
        planned = _plan_grid(session, arguments, max_jobs) if grid else None
        random_search = sweeper_target == RANDOM_SWEEPER
        if random_search:  # its trials are a pure function of the seed: planned like a grid
            from zenspec.sweepers.random import plan_trials

            planned = plan_trials(cfg, arguments, resume)
        if resume is None and sweeper_target == OPTUNA_SWEEPER:
            from zenspec.sweepers.optuna import finished_study

            finished = finished_study(cfg, arguments)
            if finished is not None:  # its storage holds every trial: no sweep dir made
                return finished
        if planned is not None:  # each job's directory inside the sweep's, before any exists
            check_job_dirs(cfg, session.hydra.config_loader, enumerate(planned))
        # only now, with the inputs known to be good, is a directory claimed
        session.claim_output_dir(resume=resume is not None, lock=records or resume is not None)
        assert session.cfg is not None  # composed above
        cfg = session.cfg

        only_jobs = None
        record = None
        if resume is not None:
            if not grid and not random_search:
                raise LaunchError(
                    "resume re-runs the missing jobs of a grid or random-search sweep; "
                    "this sweep uses "
                    f"{sweeper_target}.",
                    hint="Fix: resume an optimising sweeper through its own storage "
                    "(e.g. Optuna's storage + study_name).",
                )
            record, only_jobs = jobs_to_resume(session, cfg, planned, retry_failed, force)
        else:
            with storage_errors("writing the sweep's records"):
                record = _start_records(
                    session, records, task_function, planned, provenance, metric
                )

        callbacks = Callbacks(cfg)
        callbacks.on_multirun_start(config=cfg, config_name=config_name)
        context = hydra_context(session.hydra.config_loader, callbacks)
        if grid:
            sweeper: Any = GridSweeper(
                max_batch_size=cfg.hydra.sweeper.get("max_batch_size"),
                params=cfg.hydra.sweeper.get("params"),
                fail_fast=fail_fast,
                only_jobs=only_jobs,
            )
            sweeper.setup(hydra_context=context, task_function=task, config=cfg)
        else:  # any Sweeper subclass, also outside hydra_plugins
            sweeper = instantiate_sweeper(config=cfg, hydra_context=context, task_function=task)
            if random_search and only_jobs is not None:
                sweeper.only_jobs = only_jobs  # a resume: the trials without a result
        if progress is not None and session.output_dir is not None:
            total = len(only_jobs) if only_jobs is not None else (planned and len(planned))
            done_before = None if only_jobs is None else set(range(len(planned or []))) - only_jobs
            progress.started_sweep(Path(session.output_dir), total or None, skip=done_before)
        try:
            with _crash_log(session, records or resume is not None):
                ret = sweeper.sweep(arguments=arguments)
        except ConfigCompositionException as e:
            _finish(record, "failed")
            raise explain_composition_error(e, session.overrides) from e
        except BaseException as e:
            _finish(record, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed")
            # jobs keep their tasks' errors: what escapes is the launch's own (a job's
            # setup, a write the machine refused), not a failed job
            explained = explain_setup_error(e, ran=_any_job_ran(sweeper, session))
            if explained is not None:
                explained.zenspec_sweep_dir = session.output_dir  # type: ignore[attr-defined]
                raise explained from e
            with contextlib.suppress(AttributeError):  # so the CLI can say how to resume
                e.zenspec_sweep_dir = session.output_dir  # type: ignore[attr-defined]
            raise
        finally:
            if progress is not None:
                progress.finished_sweep()
        callbacks.on_multirun_end(config=cfg, config_name=config_name)
        _finish(record, "completed")
    results = wrap_job_returns(ret)
    if grid and on_error == "raise" and sweeper.failures:
        _raise_first_failure(sweeper.failures, results, session.output_dir)
    return results


def _whitelist(value: Any) -> Any:
    """*value*, normalized; a malformed whitelist is an input error (exit 2)."""
    from zenspec.instantiate import normalize_execution_whitelist

    try:
        return normalize_execution_whitelist(value)
    except ValueError as e:
        raise LaunchError(
            str(e), hint="Fix: e.g. execution_whitelist=['mypkg.models.*', 'builtins.dict']."
        ) from None


def _any_job_ran(sweeper: Any, session: LaunchSession) -> bool:
    """Whether a job of this sweep ran (returned, or wrote its record) before it stopped."""
    if getattr(sweeper, "launched", 0):
        return True
    if session.output_dir is None:
        return True  # cannot tell: say the finished ones are kept
    from zenspec.records.store import jobs_dir

    with contextlib.suppress(OSError):
        return any(p.suffix == ".json" for p in jobs_dir(Path(session.output_dir)).iterdir())
    return False


def _crash_log(session: LaunchSession, records: bool) -> Any:
    """faulthandler's traceback on disk if a job crashes this process (in-process jobs only)."""
    if session.cfg is None:
        return contextlib.nullcontext()
    launcher = OmegaConf.select(session.cfg, "hydra.launcher._target_", default=None)
    if not records or session.output_dir is None or launcher != BASIC_LAUNCHER:
        return contextlib.nullcontext()
    from zenspec.records.crashlog import crash_log

    return crash_log(Path(session.output_dir))


RANDOM_SWEEPER = "zenspec.sweepers.random.RandomSearchSweeper"
OPTUNA_SWEEPER = "zenspec.sweepers.optuna.OptunaSweeper"


def _plan_grid(
    session: LaunchSession, arguments: List[str], max_jobs: Optional[int]
) -> List[List[str]]:
    """The grid's jobs, after refusing one larger than *max_jobs* without expanding it."""
    assert session.cfg is not None
    params = session.cfg.hydra.sweeper.get("params")
    if max_jobs is not None:
        count = count_grid(arguments, params, session.hydra.config_loader)
        if count > max_jobs:
            raise LaunchError(
                f"the sweep {arguments} expands to {count:,} jobs, more than "
                f"max_jobs={max_jobs:,}.",
                hint="Fix: narrow the sweep, or raise max_jobs (CLI: --max-jobs) if you mean it.",
            )
    return plan_grid(arguments, params, session.hydra.config_loader)


def _start_records(
    session: LaunchSession,
    enabled: bool,
    task_function: TaskFunction,
    planned: Optional[List[List[str]]],
    provenance: Optional[Mapping[str, Any]],
    metric: Optional[str] = None,
) -> Optional[RecordSession]:
    if not enabled:
        return None
    assert session.cfg is not None and session.output_dir is not None
    record = RecordSession(Path(session.output_dir))
    record.start(
        cfg=session.cfg,
        mode=session.mode.name,
        task=task_function,
        job_name=session.job_name,
        config_name=session.config_name,
        overrides=[o for o in session.overrides if not o.startswith("hydra.mode=")],
        planned=planned,
        extra={**(provenance or {}), "metric": metric},
    )
    return record


def _finish(record: Optional[RecordSession], status: str) -> None:
    if record is not None:
        record.finish(status)


def _raise_first_failure(failures: List[JobReturn], results: Any, where: Optional[str]) -> None:
    error = job_outcome(failures[0])
    assert isinstance(error, BaseException)
    with contextlib.suppress(AttributeError):  # exceptions with __slots__
        error.zenspec_results = results  # type: ignore[attr-defined]
    if hasattr(error, "add_note"):
        error.add_note(
            f"zenspec: {len(failures)} job(s) failed; every job ran and all results are in "
            f"exc.zenspec_results and recorded under {os.path.abspath(where or '.')}/.zenspec/ "
            "(pass on_error='continue' to get them returned instead)."
        )
    raise error


def _check_sweeper_supports(cfg: DictConfig, parsed: list) -> None:
    target = OmegaConf.select(cfg, "hydra.sweeper._target_")
    if target != BASIC_SWEEPER:
        return
    for o in parsed:
        if o.is_interval_sweep():
            raise LaunchError(
                f"override {o.input_line!r} is an interval sweep: a continuous range that the "
                "basic (grid) sweeper cannot enumerate.",
                hint="Fix: select a sampling sweeper, e.g. hydra/sweeper=<your Sweeper> or "
                "zenspec's random/Optuna sweepers, or give a grid: range(...) or a,b,c.",
            )
