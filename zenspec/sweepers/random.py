"""Seeded random search: ``[sweeper] kind = "random"`` / ``hydra/sweeper=zenspec_random``.

The trials are drawn up front, in a fixed order, from ``random.Random(seed)``:
the sequence is a pure function of the seed and the search space (axes visited
in sorted key order), whatever the batch size or launcher. The same spec thus
runs the same trials, to the last digit, in-process or under joblib.
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional

from zenspec.sweepers.base import Metric, StudySweeper
from zenspec.sweepers.confs import RandomSearchSweeperConf
from zenspec.sweepers.results import StudyResult
from zenspec.sweepers.space import SearchSpace

__all__ = ["RandomSearchSweeper", "RandomSearchSweeperConf", "draw_trials"]


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
    ) -> None:
        super().__init__(
            metric=metric,
            directions=[direction],
            batch_size=batch_size,
            max_failures=max_failures,
            params=params,
        )
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
        size = self.effective_batch_size()
        for start in range(0, len(trials), size):
            chunk = trials[start : start + size]
            returns = self.launch([space.overrides(p) for p in chunk])
            for i, (params, ret) in enumerate(zip(chunk, returns)):
                study.trials.append(self.trial(start + i, params, ret))
            study.update_best()
            study.write()
            self.stop_for_metric(self.metric_error(returns), study)
            self.check_failures(study)
        return study
