"""Scenario 4 of the documentation: a user-defined random-search Sweeper.

It lives in the user's own module, not under ``hydra_plugins``: stock Hydra
refuses such a sweeper, zenspec runs it. The code is the documentation's, with
the imports its annotations need (``Launcher``, ``HydraContext``).
"""

import random
from typing import List, Optional

from hydra import TaskFunction
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext
from omegaconf import DictConfig

from zenspec import instantiate


class RandomSearchSweeper(Sweeper):
    def __init__(self, optim: DictConfig):
        self.opt_config = optim
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None
        self.job_idx: Optional[int] = None

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self.job_idx = 0
        self.hydra_context = hydra_context
        self.config = config

        self.launcher = instantiate(config.hydra.launcher)
        self.launcher.setup(
            config=config,
            task_function=task_function,
            hydra_context=hydra_context,
        )

    def sweep(self, arguments: List[str]) -> None:
        parser = OverridesParser.create()
        parsed = parser.parse_overrides(arguments)

        param_bounds = {}
        for override in parsed:
            key = override.get_key_element()
            val = override.value()
            if override.is_interval_sweep():
                param_bounds[key] = [val.start, val.end]

        all_results = []
        best_score = None
        best_solution = None
        iterations = 0
        while iterations < self.opt_config.max_iter:
            new_solution = {k: random.uniform(*v) for k, v in param_bounds.items()}

            overrides = [tuple(f"{k}={float(v)}" for k, v in new_solution.items())]

            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            score = returns[0].return_value

            if best_score is None or score < best_score:
                best_score = score
                best_solution = new_solution

            self.job_idx += len(returns)
            iterations += 1
            all_results.append(new_solution)

        results_to_serialize = {
            "best_evaluated_params": best_solution,
            "best_evaluated_result": best_score,
        }
        return results_to_serialize, all_results


def square(x, y, z=12):
    return (x - 2) ** 2 + (y + 3) ** 2 + abs(z)


def task_function(cfg):
    return square(cfg.x, cfg.y)
