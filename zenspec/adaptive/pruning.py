"""Pruning, decided where the study lives: the sweep process reads the running trials'
metric streams and feeds Optuna's pruners; a trial to stop gets a flag file its
``zenspec.report`` finds (:mod:`zenspec.adaptive.report`).

It works across processes and machines through the sweep's record directory
(a shared file system on SLURM) and needs no server. The random sweeper uses the
same pruners, over an in-memory Optuna study that holds only the reported values.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from zenspec.adaptive.report import metrics_dir, serve_decisions
from zenspec.errors import LaunchError, did_you_mean

__all__ = ["PRUNERS", "PruneMonitor", "make_pruner"]

#: ``pruner.kind`` -> Optuna pruner class
PRUNERS = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
    "threshold": "ThresholdPruner",
    "none": "NopPruner",
}

#: how often the sweep reads the running trials' streams, at most (seconds)
READ_EVERY_S = 0.02


def make_pruner(optuna: Any, settings: Optional[Mapping[str, Any]]) -> Any:
    """The Optuna pruner ``{kind: ..., **its arguments}`` asks for; None without one."""
    if not settings:
        return None
    options = dict(settings)
    kind = str(options.pop("kind", "") or "")
    if kind not in PRUNERS:
        raise LaunchError(
            f"unknown pruner kind {kind!r}; the kinds are {', '.join(PRUNERS)}."
            + did_you_mean(kind, PRUNERS),
            path="hydra.sweeper.pruner.kind",
        )
    cls = getattr(optuna.pruners, PRUNERS[kind])
    try:
        return cls(**options)
    except (TypeError, ValueError) as e:
        import inspect

        takes = ", ".join(p for p in inspect.signature(cls).parameters)
        raise LaunchError(
            f"the {kind} pruner does not take these settings: {str(e).rstrip('.')}.",
            path="hydra.sweeper.pruner",
            hint=f"Fix: {cls.__name__} takes {takes or 'no settings'} (see Optuna's docs).",
        ) from e


def metric_value(metrics: Mapping[str, Any], metric: Optional[str]) -> Optional[float]:
    """The number a pruner compares: ``metrics[metric]``, or the only value reported."""
    if metric is None:
        if len(metrics) != 1:
            return None
        (value,) = metrics.values()
    else:
        value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class _Watched:
    __slots__ = ("last_step", "last_value", "offset", "partial", "pruned", "trial")

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.offset = 0
        self.partial = b""
        self.last_step = -1
        self.last_value: Optional[float] = None
        self.pruned = False


class PruneMonitor:
    """Feeds the reported values of running trials to an Optuna study's pruner.

    Parameters
    ----------
    root : path
        The sweep directory (its ``.zenspec/metrics/`` holds the streams and flags).
    study : optuna.Study
        The study whose pruner decides; its trials are the ones :meth:`watch` names.
    metric : str, optional
        The reported key the pruner reads (None: the single value reported).
    """

    def __init__(self, root: Path, study: Any, metric: Optional[str]) -> None:
        self.root = Path(root).resolve()
        self.dir = metrics_dir(self.root)
        self.study = study
        self.metric = metric
        self.watched: Dict[int, _Watched] = {}
        self.next_read = 0.0

    def __enter__(self) -> PruneMonitor:
        serve_decisions(self.root, self.decide)  # jobs run by this process ask directly
        from zenspec.launch import ticks

        ticks.add(self.tick)
        return self

    def __exit__(self, *exc: Any) -> None:
        from zenspec.launch import ticks

        ticks.remove(self.tick)
        serve_decisions(self.root, None)

    def watch(self, num: int, trial: Any) -> None:
        """Job *num* runs Optuna trial *trial*: feed its stream to the pruner from now on."""
        self.watched[num] = _Watched(trial)

    def finish(self, num: int) -> Tuple[Optional[int], Optional[float]]:
        """Job *num* ended: stop watching it; its last step and value seen, read to the end."""
        self._read(num)
        w = self.watched.pop(num, None)
        if w is None:
            return None, None
        return (w.last_step if w.last_step >= 0 else None), w.last_value

    def tick(self) -> None:
        """Read what the running trials reported since the last tick (throttled)."""
        now = time.monotonic()
        if now < self.next_read or not self.watched:
            return
        # each read opens every running trial's stream: on a shared file system, with
        # hundreds of trials, less often (5 ms a trial: 100 trials, twice a second)
        self.next_read = now + max(READ_EVERY_S, 0.005 * len(self.watched))
        for num in list(self.watched):
            self._read(num)

    def decide(self, num: int, step: int, metrics: Dict[str, Any]) -> bool:
        """Job *num* reports *metrics* at *step* (in this process): prune it now?"""
        w = self.watched.get(num)
        if w is None:
            return False
        return self._observe(num, w, step, metrics)

    def _read(self, num: int) -> None:
        import json

        w = self.watched.get(num)
        if w is None or w.pruned:
            return
        try:
            with open(self.dir / f"{num}.jsonl", "rb") as f:
                f.seek(w.offset)
                data = f.read()
        except OSError:
            return
        if not data:
            return
        w.offset += len(data)
        lines = (w.partial + data).split(b"\n")
        w.partial = lines.pop()  # an unterminated line is still being written
        for raw in lines:
            try:
                item = json.loads(raw)
                step, metrics = int(item["step"]), item["metrics"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(metrics, dict) and self._observe(num, w, step, metrics):
                return

    def _observe(self, num: int, w: _Watched, step: int, metrics: Mapping[str, Any]) -> bool:
        if w.pruned:
            return True
        value = metric_value(metrics, self.metric)
        if value is None or step <= w.last_step or step < 0:
            return False  # not the pruner's metric, or a step it has already seen
        w.last_step, w.last_value = step, value
        w.trial.report(value, step)
        if not w.trial.should_prune():
            return False
        w.pruned = True
        self._flag(num)
        return True

    def _flag(self, num: int) -> None:
        from zenspec.records.store import safe_dir

        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            safe_dir(self.dir.parent)
            safe_dir(self.dir)
            os.close(os.open(self.dir / f"{num}.prune", flags, 0o666))
        except OSError:  # the trial then runs to its end: a lost saving, not a lost result
            pass
