"""zenspec's optimising sweepers: seeded random search and Optuna (ask-and-tell).

Select them in a spec (``[sweeper] kind = "random"`` / ``"optuna"``) or from
Python: ``hydra_multirun(..., overrides=["hydra/sweeper=zenspec_random", ...])``
and ``hydra.sweeper.seed=1``... (the ``hydra/sweeper/zenspec_random`` and
``zenspec_optuna`` options exist during zenspec launches only, so nothing is
left in Hydra's ConfigStore). Both return a :class:`StudyResult` and write it to ``<sweep dir>/.zenspec/study.json``.
Optuna is imported only when an Optuna study starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Tuple

if TYPE_CHECKING:
    from zenspec.sweepers.results import StudyResult, TrialResult, read_study

__all__ = ["StudyResult", "TrialResult", "read_study", "store_entries"]


def store_entries() -> List[Tuple[str, str, Any]]:
    """``(group, name, node)`` ConfigStore entries of the built-in sweepers.

    A launch registers them for its own duration only (``hydra/sweeper=zenspec_random``).
    """
    from zenspec.sweepers.confs import OptunaSweeperConf, RandomSearchSweeperConf

    return [
        ("hydra/sweeper", "zenspec_random", RandomSearchSweeperConf),
        ("hydra/sweeper", "zenspec_optuna", OptunaSweeperConf),
    ]


def __getattr__(name: str) -> Any:
    # the results module only when asked for: every launch imports this package
    if name in ("StudyResult", "TrialResult", "read_study"):
        from zenspec.sweepers import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
