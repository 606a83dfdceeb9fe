"""Optuna, through its ask-and-tell API: ``[sweeper] kind = "optuna"`` / ``hydra/sweeper=zenspec_optuna``.

The search space is the random sweeper's (:mod:`zenspec.sweepers.space`):
``interval`` -> ``suggest_float`` (``log`` tag -> ``log=True``), ``int(interval)``
-> ``suggest_int``, choices, ranges and config groups -> ``suggest_categorical``.
Trials are asked a batch at a time, launched together, then told in trial order,
so with a seeded sampler the study is a pure function of (seed, space, batch size).

With ``storage`` (a SQLite file) and ``study_name`` an interrupted study
resumes: finished trials (COMPLETE, FAIL) count toward ``n_trials``; a trial a
killed process left RUNNING is marked FAIL (``zenspec_interrupted``), not
counted, and its parameters are asked again first. Optuna is imported only here,
only when a study starts.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from zenspec.adaptive.pruning import make_pruner
from zenspec.errors import LaunchError
from zenspec.sweepers.base import Metric, StudySweeper
from zenspec.sweepers.confs import OptunaSweeperConf
from zenspec.sweepers.results import ASKED_AGAIN, PRUNED, StudyResult, TrialResult
from zenspec.sweepers.schedule import Asked
from zenspec.sweepers.space import Axis, SearchSpace

__all__ = ["SAMPLERS", "OptunaSweeper", "OptunaSweeperConf", "storage_url"]

#: ``sampler`` name -> Optuna sampler class name.
SAMPLERS = {
    "tpe": "TPESampler",
    "random": "RandomSampler",
    "cmaes": "CmaEsSampler",
    "grid": "GridSampler",
    "nsgaii": "NSGAIISampler",
}
_INTERRUPTED = "zenspec_interrupted"
log = logging.getLogger(__name__)
_PRIMITIVE = (type(None), bool, int, float, str)


def _import_optuna(why: str = "the optuna sweeper") -> Any:
    from zenspec.launchers.forking import no_blas_pool

    try:
        with no_blas_pool():  # workers can still be forked from this process
            import optuna
    except ImportError as e:
        raise LaunchError(
            f"{why} needs Optuna, which is not installed.",
            path="hydra.sweeper",
            hint="Fix: pip install zenspec[optuna]",
        ) from e
    return optuna


def storage_url(storage: Optional[str], base: Optional[Path] = None) -> Optional[str]:
    """A storage URL: a database URL as is; a file path -> ``sqlite:///<absolute path>``.

    A relative path is relative to *base* (the spec's directory) or the cwd.
    """
    if storage is None or "://" in storage:
        return storage
    path = Path(os.path.expanduser(storage))
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return f"sqlite:///{path.resolve()}"


def _distribution(optuna: Any, axis: Axis) -> Any:
    d = optuna.distributions
    if axis.kind == "float":
        return d.FloatDistribution(float(axis.low), float(axis.high), log=axis.log)  # type: ignore[arg-type]
    if axis.kind == "int":
        return d.IntDistribution(int(axis.low), int(axis.high), log=axis.log)  # type: ignore[arg-type]
    return d.CategoricalDistribution(list(_optuna_choices(axis)))


def _optuna_choices(axis: Axis) -> Sequence[Any]:
    """Optuna's categoricals hold None/bool/int/float/str: others go as override text."""
    if all(isinstance(c, _PRIMITIVE) for c in axis.choices):
        return axis.choices
    return axis.texts


def _to_space_value(axis: Axis, value: Any) -> Any:
    if axis.kind == "categorical" and _optuna_choices(axis) is axis.texts:
        return axis.choices[axis.texts.index(value)]
    return value


class OptunaSweeper(StudySweeper):
    """Optimise with an Optuna sampler; Optuna >= 4, ask-and-tell.

    Parameters
    ----------
    sampler : {"tpe", "random", "cmaes", "grid", "nsgaii"}, default "tpe"
    seed : int or None, default 0
        The sampler's seed.
    n_trials : int, default 20
        The study's total, counting finished trials already in ``storage``.
    metric : str or list of str, optional
        Key(s) of a returned mapping; a list makes the study multi-objective.
        None: the return value itself.
    direction : {"minimize", "maximize"}, default "minimize"
    directions : list of str, optional
        One per metric (multi-objective); default: ``direction`` for each.
    batch_size : int, optional
        Trials asked, launched and told together; default the launcher's
        ``n_jobs``, else 1. It changes which trials are asked: set it explicitly
        to get identical studies under different launchers.
    max_failures : int, optional
        Stop (``JobFailedError``) once more trials than this failed in this run.
    storage : str, optional
        A SQLite file (relative to the spec's directory or the cwd) or a
        database URL; with ``study_name`` the study resumes where it stopped.
    study_name : str, optional
        Default: the job name.
    sampler_kwargs : dict, optional
        More keyword arguments of the sampler (``n_startup_trials``...).
    params : dict, optional
        More axes, ``{key: sweep string}``.
    schedule : {"batch", "async"}, default "batch"
        ``async``: a trial is asked and started as soon as a worker frees and told
        as soon as it ends; which trials are asked then depends on timing.
    pruner : dict, optional
        ``{kind: "median" | "percentile" | "successive_halving" | "hyperband" |
        "threshold" | "none", ...its arguments}``: stops trials whose values
        reported with ``zenspec.report`` fall behind (Optuna's pruners).
    """

    kind = "optuna"

    def __init__(
        self,
        sampler: str = "tpe",
        seed: Optional[int] = 0,
        n_trials: int = 20,
        metric: Metric = None,
        direction: str = "minimize",
        directions: Optional[Sequence[str]] = None,
        batch_size: Optional[int] = None,
        max_failures: Optional[int] = None,
        storage: Optional[str] = None,
        study_name: Optional[str] = None,
        sampler_kwargs: Optional[Mapping[str, Any]] = None,
        params: Optional[Dict[str, str]] = None,
        schedule: str = "batch",
        pruner: Optional[Mapping[str, Any]] = None,
    ) -> None:
        n_obj = 1 if metric is None or isinstance(metric, str) else len(list(metric))
        dirs = list(directions) if directions else [direction] * n_obj
        if len(dirs) != n_obj:
            raise LaunchError(
                f"{len(dirs)} direction(s) for {n_obj} metric(s) {metric!r}: give one each.",
                path="hydra.sweeper.directions",
            )
        super().__init__(
            metric=metric,
            directions=dirs,
            batch_size=batch_size,
            max_failures=max_failures,
            params=params,
            schedule=schedule,
            pruner=pruner,
        )
        if sampler not in SAMPLERS:
            from zenspec.errors import did_you_mean

            raise LaunchError(
                f"unknown Optuna sampler {sampler!r}; the samplers are "
                f"{', '.join(SAMPLERS)}." + did_you_mean(sampler, SAMPLERS),
                path="hydra.sweeper.sampler",
            )
        if n_trials < 1:
            raise LaunchError(f"n_trials must be at least 1, got {n_trials}.")
        self.sampler_name = sampler
        self.seed = seed
        self.n_trials = int(n_trials)
        self.storage = storage_url(storage)
        self.study_name = study_name
        self.sampler_kwargs = dict(sampler_kwargs or {})
        self.stored_trials = 0

    def _sampler(self, optuna: Any, space: SearchSpace, seed: Optional[int]) -> Any:
        cls = getattr(optuna.samplers, SAMPLERS[self.sampler_name])
        kwargs: Dict[str, Any] = {"seed": seed, **self.sampler_kwargs}
        if self.sampler_name == "grid":
            bad = [a.key for a in space.axes if a.kind != "categorical"]
            if bad:
                raise LaunchError(
                    f"the grid sampler needs discrete axes (choices, ranges, lists); "
                    f"{', '.join(bad)} {'is an interval' if len(bad) == 1 else 'are intervals'}.",
                    hint="Fix: give those axes as range(...)/choice(...), or use another sampler.",
                )
            kwargs["search_space"] = {a.name: list(_optuna_choices(a)) for a in space.axes}
        try:
            return cls(**kwargs)
        except ImportError as e:
            raise LaunchError(
                f"the Optuna sampler '{self.sampler_name}' needs a package that is missing: {e}",
                hint="Fix: pip install cmaes" if self.sampler_name == "cmaes" else None,
            ) from e
        except TypeError as e:
            raise LaunchError(
                f"sampler_kwargs do not fit {cls.__name__}: {e}",
                path="hydra.sweeper.sampler_kwargs",
            ) from e

    def _resume(self, optuna: Any, study: Any) -> int:
        """Mark trials a killed run left RUNNING as failed and re-ask them; count done ones."""
        state = optuna.trial.TrialState
        for t in study.get_trials(deepcopy=False):
            if t.state == state.RUNNING:
                study._storage.set_trial_user_attr(t._trial_id, _INTERRUPTED, True)
                study.tell(t.number, state=state.FAIL)
                study.enqueue_trial(t.params, skip_if_exists=False)
        return _finished(optuna, study.get_trials(deepcopy=False))

    def _budget(self, space: SearchSpace) -> int:
        """How many finished trials the study runs to: ``n_trials``, or a smaller grid."""
        if self.sampler_name == "grid":
            return min(self.n_trials, _grid_size(space))
        return self.n_trials

    def sweep(self, arguments: List[str]) -> StudyResult:
        """Run (or resume) the study; see the class docstring."""
        optuna = _import_optuna()
        space = SearchSpace.from_overrides(arguments, self.params)
        sweep_dir = self.sweep_dir
        self.start(sweep_dir)
        assert self.config is not None
        name = self.study_name or str(self.config.hydra.job.name)
        # Optuna announces every new study at INFO on stderr; zenspec reports the
        # study itself, so that line is hushed here (and the level put back)
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(
                storage=self.storage,
                sampler=self._sampler(optuna, space, self.seed),
                # named in memory too: Hyperband's brackets hash the study's name
                study_name=name,
                directions=self.directions,
                load_if_exists=True,
                pruner=make_pruner(optuna, self.pruner),
            )
        finally:
            optuna.logging.set_verbosity(verbosity)
        found = [d.name.lower() for d in study.directions]
        if found != self.directions:
            raise LaunchError(
                f"the stored study '{name}' optimises {found}, not {self.directions}.",
                hint="Fix: use another study_name, or the study's own direction(s).",
            )
        self.job_idx = len(study.trials)  # job numbers follow trial numbers
        done = self._resume(optuna, study)
        if study.get_trials(deepcopy=False) and self.seed is not None:
            # a fresh sampler with the first run's seed would replay its first draws
            reseed = (int(self.seed) * 1_000_003 + len(study.trials)) % 2**32
            study.sampler = self._sampler(optuna, space, reseed)
        total = self._budget(space)
        dists = {a.name: _distribution(optuna, a) for a in space.axes}
        result = self._result(optuna, study, space, sweep_dir, {})
        if done >= total:  # nothing left to run: say so, change nothing
            result.write()
            log.info(
                f"the study '{name}' in {self.storage} already has {done} finished trial(s) "
                f"of n_trials={self.n_trials}: nothing to run."
            )
            return result
        if done:
            log.warning(
                f"the study '{name}' in {self.storage} has {done} finished trial(s): "
                f"{total - done} more to reach n_trials={self.n_trials}"
            )
        self.stored_trials = done
        monitor = None
        if self.pruner is not None:
            from zenspec.adaptive.pruning import PruneMonitor

            monitor = PruneMonitor(sweep_dir, study, self.metric_name)
        ran: Dict[int, TrialResult] = {}
        asked_count = 0

        def ask() -> Optional[Asked]:
            nonlocal asked_count
            if done + asked_count >= total:
                return None
            asked_count += 1
            trial = study.ask(dists)
            params = {a.name: _to_space_value(a, trial.params[a.name]) for a in space.axes}
            return Asked(trial.number, params, trial)

        def tell(asked: Asked, ret: Any) -> TrialResult:
            trial = asked.handle
            tr = self.trial(trial.number, asked.params, ret)
            ran[trial.number] = tr
            if tr.job_dir:
                trial.set_user_attr("zenspec_job_dir", tr.job_dir)
            if tr.error:
                trial.set_user_attr("zenspec_error", tr.error)
            _tell(optuna, study, trial, tr)
            return tr

        try:
            self.run_trials(space, result, ask, tell, monitor)
        except Exception as e:
            final = self._result(optuna, study, space, sweep_dir, ran)
            final.write()
            if hasattr(e, "results"):
                e.results = final
            raise
        result = self._result(optuna, study, space, sweep_dir, ran)
        result.write()
        return result

    def _result(
        self,
        optuna: Any,
        study: Any,
        space: SearchSpace,
        sweep_dir: Path,
        ran: Mapping[int, TrialResult],
    ) -> StudyResult:
        state = optuna.trial.TrialState
        result = self.new_study(
            sweep_dir,
            space,
            sampler=self.sampler_name,
            n_trials=self.n_trials,
            storage=self.storage,
            study_name=study.study_name,
            stored_trials=self.stored_trials,  # finished in storage before this run
        )
        axes = {a.name: a for a in space.axes}
        ended = (state.COMPLETE, state.FAIL, state.PRUNED)
        for t in study.get_trials(deepcopy=False, states=ended):
            if t.number in ran:
                result.trials.append(ran[t.number])
                continue
            params = {
                k: _to_space_value(axes[k], v) if k in axes else v for k, v in t.params.items()
            }
            error = t.user_attrs.get("zenspec_error")
            if t.user_attrs.get(_INTERRUPTED):
                error = ASKED_AGAIN
            status = {state.COMPLETE: "completed", state.PRUNED: PRUNED}.get(t.state, "failed")
            tr = TrialResult(t.number, params, status)
            tr.job_dir, tr.error = t.user_attrs.get("zenspec_job_dir"), error
            if t.state == state.COMPLETE:
                tr.value, tr.values = (t.value, None) if len(t.values) == 1 else (None, t.values)
            elif t.state == state.PRUNED and t.intermediate_values:
                tr.step = max(t.intermediate_values)
                tr.value = t.intermediate_values[tr.step]
            result.trials.append(tr)
        if len(self.directions) > 1:
            result.pareto_front = sorted(t.number for t in study.best_trials)
        else:
            result.update_best()
        return result


def finished_study(cfg: Any, arguments: List[str]) -> Optional[StudyResult]:
    """The stored study of *cfg*'s Optuna sweeper if it already has its ``n_trials``, else None.

    Checked before a sweep directory is made: re-running a complete study says so
    and runs nothing (a study a killed run left with RUNNING trials is not complete).
    """
    conf = cfg.hydra.sweeper
    if not conf.get("storage"):
        return None
    optuna = _import_optuna()
    name = conf.get("study_name") or str(cfg.hydra.job.name)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=name, storage=storage_url(str(conf.storage)))
    except KeyError:  # no such study yet
        return None
    finally:
        optuna.logging.set_verbosity(verbosity)
    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    if any(t.state in (state.RUNNING, state.WAITING) for t in trials):
        return None  # the sweeper resumes it
    done = _finished(optuna, trials)
    from hydra.utils import instantiate

    sweeper = instantiate(conf)
    sweeper.config = cfg
    space = SearchSpace.from_overrides(arguments, sweeper.params)
    if done < sweeper._budget(space):
        return None
    sweeper.stored_trials = done
    result = sweeper._result(optuna, study, space, Path("."), {})
    result.sweep_dir = None
    log.warning(
        f"the Optuna study '{name}' in {sweeper.storage} already has {done} finished "
        f"trial(s) of n_trials={sweeper.n_trials}: nothing to run (raise n_trials to run more)."
    )
    return result


def _finished(optuna: Any, trials: Any) -> int:
    """The trials that count toward ``n_trials``: ended, but not one a killed run left."""
    state = optuna.trial.TrialState
    ended = (state.COMPLETE, state.FAIL, state.PRUNED)
    return sum(1 for t in trials if t.state in ended and not t.user_attrs.get(_INTERRUPTED))


def _tell(optuna: Any, study: Any, trial: Any, result: TrialResult) -> None:
    """Tell a trial's outcome; a grid sampler's "grid exhausted" ``study.stop()`` is moot here."""
    try:
        if result.pruned:  # Optuna takes its last intermediate value
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif result.ok:
            study.tell(trial, result.values if result.values is not None else result.value)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    except RuntimeError as e:  # raised after the trial was stored; the budget is capped anyway
        if "Study.stop" not in str(e):
            raise


def _grid_size(space: SearchSpace) -> int:
    n = 1
    for a in space.axes:
        n *= len(a.choices)
    return n
