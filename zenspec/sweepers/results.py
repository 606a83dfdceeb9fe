"""What an optimising sweep returns and writes: :class:`StudyResult`.

Both zenspec sweepers (random search and Optuna) return one, and write it as
``<hydra.sweep.dir>/.zenspec/study.json`` (``format_version`` 1, written
atomically at most once a second while trials end, and on an error, an interrupt
and at the end; a ``kill -9`` may cost it the last second of trials, which the
per-job records and an Optuna storage still hold).
The per-job records (``.zenspec/jobs/<num>.json``) are written as for any sweep.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from zenspec.records.store import FORMAT_VERSION, atomic_write_json, read_json, records_dir
from zenspec.text_table import render_table

__all__ = ["StudyResult", "TrialResult", "failed_trials", "read_study", "study_path"]

#: Trial statuses: the job ran and gave a usable metric / it raised or gave no usable
#: metric / the sweep's pruner stopped it early (zenspec.report raised zenspec.Pruned).
COMPLETED, FAILED, PRUNED = "completed", "failed", "pruned"
#: The error of an Optuna trial a killed run left running, asked again (not a failure of its own).
ASKED_AGAIN = "interrupted (its process was killed); asked again"


def study_path(sweep_dir: Union[str, Path]) -> Path:
    """``<sweep_dir>/.zenspec/study.json``."""
    return records_dir(sweep_dir) / "study.json"


@dataclass
class TrialResult:
    """One trial: what was tried, what came out.

    Attributes
    ----------
    number : int
        The trial's number in the study (Optuna's ``trial.number``; for random
        search, its position in the seeded sequence).
    params : dict
        ``{name: value}`` of the swept parameters.
    status : {"completed", "failed", "pruned"}
        ``failed``: the task raised, or its result had no usable metric;
        ``pruned``: the sweep's pruner stopped it (not a failure).
    value : float, optional
        The metric (single objective); for a pruned trial, the last value it reported.
    values : list of float, optional
        The metrics (multi-objective).
    job : int, optional
        The Hydra job number in this sweep (``hydra.job.num``); None for trials
        of an earlier run loaded from an Optuna storage.
    job_dir : str, optional
        The job's output directory.
    error : str, optional
        Why the trial failed, one line.
    """

    number: int
    params: Dict[str, Any]
    status: str
    value: Optional[float] = None
    values: Optional[List[float]] = None
    job: Optional[int] = None
    job_dir: Optional[str] = None
    error: Optional[str] = None
    step: Optional[int] = None  # a pruned trial: the step it was stopped at

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    @property
    def pruned(self) -> bool:
        return self.status == PRUNED


@dataclass
class StudyResult:
    """The outcome of an optimising sweep.

    Attributes
    ----------
    sweeper : {"random", "optuna"}
    directions : list of {"minimize", "maximize"}
        One per objective.
    metric : str or list of str, optional
        What was optimised (None: the task's return value itself).
    best_params, best_value, best_number
        The best completed trial (single objective); None if none completed.
    pareto_front : list of int
        Multi-objective: numbers of the Pareto-optimal trials.
    trials : list of TrialResult
        Every trial, in number order.
    seed : int, optional
        The seed the trials were drawn with.
    sweep_dir : str, optional
        Where the jobs' directories and ``.zenspec/`` records are.
    settings : dict
        The sweeper's settings (sampler, budget, storage...).
    """

    sweeper: str
    directions: List[str]
    metric: Union[str, List[str], None]
    trials: List[TrialResult] = field(default_factory=list)
    best_params: Optional[Dict[str, Any]] = None
    best_value: Optional[float] = None
    best_number: Optional[int] = None
    pareto_front: List[int] = field(default_factory=list)
    seed: Optional[int] = None
    sweep_dir: Optional[str] = None
    settings: Dict[str, Any] = field(default_factory=dict)

    # -- derived ---------------------------------------------------------------------
    @property
    def direction(self) -> str:
        """The single objective's direction (the first one for multi-objective)."""
        return self.directions[0]

    @property
    def failed(self) -> List[TrialResult]:
        return [t for t in self.trials if t.status == FAILED]

    @property
    def pruned(self) -> List[TrialResult]:
        """The trials the sweep's pruner stopped early."""
        return [t for t in self.trials if t.status == PRUNED]

    @property
    def failures(self) -> List[TrialResult]:
        """The failed trials, without those a killed run left behind and were asked again."""
        return [t for t in self.trials if t.status == FAILED and t.error != ASKED_AGAIN]

    @property
    def best_trial(self) -> Optional[TrialResult]:
        return next((t for t in self.trials if t.number == self.best_number), None)

    def update_best(self) -> None:
        """Recompute the best trial (ties: the earliest) from the completed trials."""
        done = [t for t in self.trials if t.ok and t.value is not None]
        if len(self.directions) != 1 or not done:
            return
        sign = -1.0 if self.direction == "maximize" else 1.0
        best = min(done, key=lambda t: (sign * float(t.value or 0.0), t.number))
        self.best_number, self.best_value = best.number, best.value
        self.best_params = dict(best.params)

    # -- on disk ---------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        from zenspec.records.store import to_jsonable

        return {"format_version": FORMAT_VERSION, **to_jsonable(asdict(self))}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> StudyResult:
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown study format_version {data.get('format_version')!r}")
        fields = {k: v for k, v in data.items() if k != "format_version"}
        fields["trials"] = [TrialResult(**t) for t in fields.get("trials", [])]
        return cls(**fields)

    def write(self, sweep_dir: Union[str, Path, None] = None) -> Path:
        """Write ``study.json`` atomically under *sweep_dir* (default: :attr:`sweep_dir`)."""
        where = sweep_dir if sweep_dir is not None else self.sweep_dir
        assert where is not None, "no sweep directory to write the study to"
        path = study_path(where)
        atomic_write_json(path, self.to_dict())
        return path

    # -- for people --------------------------------------------------------------------
    def _metric_label(self) -> str:
        if isinstance(self.metric, list):
            return ",".join(self.metric)
        return self.metric or "value"

    def summary(self) -> str:
        """One line: the best trial, or the Pareto front's size, and the trial counts."""
        counts = f"{len(self.trials)} trial(s), {len(self.failed)} failed"
        if self.pruned:
            counts += f", {len(self.pruned)} pruned"
        if len(self.directions) > 1:
            return f"pareto front: {len(self.pareto_front)} trial(s) ({counts})"
        best = self.best_trial
        if best is None:
            return f"best: none, no trial completed ({counts})"
        params = " ".join(f"{k}={_fmt(v)}" for k, v in best.params.items())
        return (
            f"best: trial #{best.number} {self._metric_label()}={_fmt(best.value)} "
            f"({self.direction}) {params} ({counts})"
        )

    def format_table(self, sort: bool = True) -> str:
        """Every trial as a text table; *sort*: best first, failed trials last."""
        rows = list(self.trials)
        if sort:
            sign = -1.0 if self.direction == "maximize" else 1.0

            def key(t: TrialResult) -> tuple:
                v = t.value if t.value is not None else (t.values[0] if t.values else None)
                if not t.ok or v is None:  # missing: last
                    return (True, 0.0, t.number)
                return (False, sign * float(v), t.number)

            rows.sort(key=key)
        names = list(dict.fromkeys(k for t in self.trials for k in t.params))
        head = ["#", "status", self._metric_label(), *names]
        body = []
        for t in rows:
            value = t.value if t.values is None else ",".join(_fmt(v) for v in t.values)
            shown = _fmt(value) if t.ok else "-"
            if t.pruned and t.value is not None:  # its last reported value, not a result
                shown = f"({_fmt(t.value)} @ step {t.step})"
            cells = [str(t.number), t.status, shown]
            cells += [_fmt(t.params.get(n, "")) for n in names]
            if t.error:
                cells.append(t.error)
            body.append(cells)
        return render_table(head, body) + "\n"

    def __repr__(self) -> str:
        best = f"best_value={self.best_value!r}, best_params={self.best_params!r}"
        if len(self.directions) > 1:
            best = f"pareto_front={self.pareto_front!r}"
        return (
            f"StudyResult(sweeper={self.sweeper!r}, trials={len(self.trials)}, "
            f"failed={len(self.failed)}, pruned={len(self.pruned)}, {best})"
        )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if value is None:
        return "-"
    return str(value)


def read_study(sweep_dir: Union[str, Path]) -> StudyResult:
    """The :class:`StudyResult` written under *sweep_dir*."""
    return StudyResult.from_dict(read_json(study_path(sweep_dir)))


def failed_trials(sweep_dir: Union[str, Path]) -> int:
    """How many trials of the study under *sweep_dir* failed; 0 if it is no study.

    A trial fails also when its job completed but gave no usable metric (a NaN),
    which the job records alone do not show.
    """
    if not study_path(sweep_dir).is_file():
        return 0
    try:
        return len(read_study(sweep_dir).failures)
    except Exception:  # a damaged study.json: the job records still speak
        return 0
