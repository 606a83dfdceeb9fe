"""Seeded random search: ``[sweeper] kind = "random"`` / ``hydra/sweeper=zenspec_random``.

The trials are drawn up front, in a fixed order, from ``random.Random(seed)``:
the sequence is a pure function of the seed and the search space (axes visited
in sorted key order), whatever the batch size or launcher. The same spec thus
runs the same trials, to the last digit, in-process or under joblib.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

from hydra.core.utils import JobReturn

from zenspec.adaptive.pruning import metric_value
from zenspec.sweepers.base import Metric, StudySweeper
from zenspec.sweepers.confs import RandomSearchSweeperConf
from zenspec.sweepers.results import StudyResult, TrialResult
from zenspec.sweepers.schedule import Asked
from zenspec.sweepers.space import SearchSpace

__all__ = ["RandomSearchSweeper", "RandomSearchSweeperConf", "draw_trials"]


def plan_trials(cfg: Any, arguments: List[str], resume: Any = None) -> List[List[str]]:
    """Every trial's overrides, drawn before the study starts (what records and resume use).

    A ``seed`` of None is drawn here and written into *cfg*, so the sweeper
    draws the same trials; a resume takes the seed its study recorded.
    """
    from omegaconf import open_dict, read_write

    sweeper = cfg.hydra.sweeper
    seed = sweeper.get("seed")
    if seed is None and resume is not None:
        from zenspec.sweepers.results import read_study

        try:
            seed = read_study(resume).seed
        except Exception:  # no study.json: nothing ran, a fresh seed is as good
            seed = None
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    with read_write(cfg), open_dict(cfg):
        sweeper.seed = int(seed)
    space = SearchSpace.from_overrides(arguments, dict(sweeper.get("params") or {}))
    return [space.overrides(p) for p in draw_trials(space, int(seed), int(sweeper.max_trials))]


def draw_trials(space: SearchSpace, seed: int, n: int) -> List[Dict[str, Any]]:
    """The first *n* trials' parameters for *seed* (a prefix of any longer draw)."""
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(n)]


class RandomSearchSweeper(StudySweeper):
    """Random search over intervals, choices, ranges and config groups.

    Parameters
    ----------
    max_trials : int, default 10
        How many trials (jobs) to run.
    seed : int or None, default 0
        Seeds the trial sequence. None draws a seed, which is recorded in the
        result so the study can be repeated.
    metric : str, optional
        The key of a returned mapping to optimise; None: the return value itself.
    direction : {"minimize", "maximize"}, default "minimize"
    batch_size : int, optional
        Jobs per launcher call; default: the launcher's ``n_jobs``, else 1.
        It changes when jobs run, never which trials run.
    max_failures : int, optional
        Stop (``JobFailedError``) once more trials than this have failed;
        None: never stop for failures.
    params : dict, optional
        More axes, ``{key: sweep string}``; the sweep's overrides win for a key.
    schedule : {"batch", "async"}, default "batch"
        ``async``: a trial starts as soon as a worker frees (the same trials run).
    pruner : dict, optional
        ``{kind: "median" | "percentile" | "successive_halving" | "hyperband" |
        "threshold" | "none", ...}``: Optuna's pruner of that kind (Optuna needed),
        fed with the values the trials ``zenspec.report``.

    Returns
    -------
    StudyResult
        From :meth:`sweep`, also written to ``<sweep dir>/.zenspec/study.json``.
    """

    kind = "random"

    def __init__(
        self,
        max_trials: int = 10,
        seed: Optional[int] = 0,
        metric: Metric = None,
        direction: str = "minimize",
        batch_size: Optional[int] = None,
        max_failures: Optional[int] = None,
        params: Optional[Dict[str, str]] = None,
        schedule: str = "batch",
        pruner: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(
            metric=metric,
            directions=[direction],
            batch_size=batch_size,
            max_failures=max_failures,
            params=params,
            schedule=schedule,
            pruner=pruner,
        )
        self.only_jobs: Optional[Iterable[int]] = None  # a resume: only these trials run
        if max_trials < 1:
            from zenspec.errors import LaunchError

            raise LaunchError(f"max_trials must be at least 1, got {max_trials}.")
        self.max_trials = int(max_trials)
        self.seed: int = random.SystemRandom().randrange(2**31) if seed is None else int(seed)

    def sweep(self, arguments: List[str]) -> StudyResult:
        """Run the study; see the class docstring."""
        space = SearchSpace.from_overrides(arguments, self.params)
        sweep_dir = self.sweep_dir
        self.start(sweep_dir)
        study = self.new_study(
            sweep_dir, space, max_trials=self.max_trials, max_failures=self.max_failures
        )
        trials = draw_trials(space, self.seed, self.max_trials)
        owed = range(len(trials)) if self.only_jobs is None else sorted(self.only_jobs)
        if self.only_jobs is not None:  # a resume: the trials that ran are in their records
            study.trials.extend(recorded_trials(sweep_dir, trials, set(owed), self.metric))
        pruning = self.pruning_trials()
        monitor = None
        if pruning is not None:
            from zenspec.adaptive.pruning import PruneMonitor

            monitor = PruneMonitor(sweep_dir, pruning, self.metric_name)
        queue = iter(owed)

        def ask() -> Optional[Asked]:
            number = next(queue, None)
            if number is None:
                return None
            handle = pruning.ask() if pruning is not None else None
            return Asked(number, trials[number], handle, num=number)

        def tell(asked: Asked, ret: JobReturn) -> TrialResult:
            result = self.trial(asked.number, asked.params, ret)
            if pruning is not None:
                tell_pruner(pruning, asked.handle, result)
            return result

        return self.run_trials(space, study, ask, tell, monitor).study


def tell_pruner(study: Any, trial: Any, result: TrialResult) -> None:
    """Tell the pruner's in-memory study how a trial ended (what its pruners compare)."""
    import optuna

    state = optuna.trial.TrialState
    if result.ok and result.value is not None:
        study.tell(trial, result.value)
    elif result.pruned:
        study.tell(trial, state=state.PRUNED)
    else:
        study.tell(trial, state=state.FAIL)


def recorded_trials(
    sweep_dir: Path, trials: List[Dict[str, Any]], owed: Set[int], metric: Any
) -> List[TrialResult]:
    """The trials a resumed study already ran, from their job records (job num = trial number)."""
    from zenspec.records.jobs import read_job_records

    out = []
    for record in read_job_records(sweep_dir):
        num = record["num"]
        if num in owed or num >= len(trials):
            continue
        status = record.get("status")
        result = TrialResult(num, dict(trials[num]), "failed", job=num)
        result.job_dir = record.get("job_dir")
        if status == "completed" and record.get("metric") is not None:
            result.status, result.value = "completed", float(record["metric"])
        elif status == "pruned":
            pruned = record.get("pruned") or {}
            result.status, result.step = "pruned", pruned.get("step")
            name = metric if isinstance(metric, str) else None
            result.value = metric_value(pruned.get("metrics") or {}, name)
        else:
            error = record.get("error") or {}
            result.error = error.get("message") or f"recorded {status}"
        out.append(result)
    return out
