"""``zenspec compare A B [C...]``: recorded sweeps side by side.

Jobs are matched by their swept params (typed, so ``lr=0.1`` and ``lr=1e-1``
are one job): for each param set every sweep ran, the metric of each sweep and
its difference to the first sweep's. Then the best job of each sweep, which
compares sweeps that share no param set at all (two random searches, two
optimisers).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from zenspec.errors import ZenspecError
from zenspec.records.listing import tags_text
from zenspec.records.table import JobRow, SweepResults, load_results
from zenspec.text_table import markdown_table, render_table

__all__ = ["Comparison", "compare_sweeps"]

#: a param a sweep does not set (it kept the config's value) in a matched key
_ABSENT = "<not swept>"


def _key(row: JobRow, names: Sequence[str]) -> str:
    """The param set of *row* as one comparable text (typed values: 0.1 == 1e-1)."""
    values = [row.params.get(n, _ABSENT) for n in names]
    return json.dumps(values, default=str)


def _number(value: Optional[float]) -> Optional[float]:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass
class Comparison:
    """Sweeps side by side: :func:`compare_sweeps` builds it, :meth:`render` prints it."""

    sweeps: List[SweepResults]
    labels: List[str]
    maximize: bool
    #: the params jobs are matched on (:func:`_match_names`)
    params: List[str]
    #: per sweep, the params it set to one value for all its jobs, matched on by no one
    settings: List[Dict[str, Any]]
    #: ``(params, [metric of each sweep])`` for the param sets every sweep ran
    matched: List[Tuple[Dict[str, Any], List[Optional[float]]]] = field(default_factory=list)

    def best(self) -> List[Optional[JobRow]]:
        return [s.best(self.maximize) for s in self.sweeps]

    def as_dict(self) -> Dict[str, Any]:
        """The machine form (``--format json``)."""
        return {
            "maximize": self.maximize,
            "sweeps": [
                {
                    "label": label,
                    "dir": str(s.root),
                    "name": (s.name or ""),
                    "status": s.status,
                    "counts": s.counts,
                    "metric": s.metric_name,
                    "tags": s.manifest.get("tags") or {},
                    "note": s.manifest.get("note"),
                    "settings": settings,
                    "best": None
                    if b is None
                    else {"job": b.num, "metric": b.metric, "params": b.params},
                }
                for label, s, b, settings in zip(
                    self.labels, self.sweeps, self.best(), self.settings
                )
            ],
            "params": self.params,
            "matched": [
                {
                    "params": params,
                    "metrics": dict(zip(self.labels, metrics)),
                    "differences": dict(zip(self.labels[1:], _differences(metrics))),
                }
                for params, metrics in self.matched
            ],
        }

    def render(self, fmt: str = "table") -> str:
        """``table`` (aligned text), ``markdown`` or ``json``."""
        if fmt == "json":
            return json.dumps(self.as_dict(), indent=2, default=str) + "\n"
        table = markdown_table if fmt == "markdown" else _plain
        out = []
        for label, s, fixed in zip(self.labels, self.sweeps, self.settings):
            tags = tags_text(s.manifest.get("tags"))
            own = " ".join(f"{k}={_text(v)}" for k, v in fixed.items())
            said = " ".join(
                x
                for x in ((s.name or ""), f"[{tags}]" if tags else "", f"with {own}" if own else "")
                if x
            )
            out.append(f"{label}: {s.root}" + (f"  {said}" if said else ""))
        out.append("")
        first = self.labels[0]
        if self.matched:
            head = [
                *self.params,
                *(f"metric {x}" for x in self.labels),
                *(f"{x}-{first}" for x in self.labels[1:]),
            ]
            body = [
                [
                    *(_text(params.get(n)) for n in self.params),
                    *(_text(m) for m in metrics),
                    *(_signed(d) for d in _differences(metrics)),
                ]
                for params, metrics in self.matched
            ]
            out.append(
                f"{len(self.matched)} param set(s) in every sweep, metric of each "
                f"({'higher' if self.maximize else 'lower'} is better):"
            )
            out.append(table(head, body))
            out.append("")
        else:
            out.append("no param set was run by every sweep; the best job of each:")
        head = ["sweep", "status", "jobs", "best job", "metric", "params"]
        body = []
        for label, s, b in zip(self.labels, self.sweeps, self.best()):
            jobs = ", ".join(f"{n} {k}" for k, n in sorted(s.counts.items()))
            params = " ".join(f"{k}={_text(v)}" for k, v in (b.params if b else {}).items())
            body.append(
                [
                    label,
                    s.status,
                    jobs,
                    "" if b is None else str(b.num),
                    _text(b and b.metric),
                    params,
                ]
            )
        out.append(table(head, body))
        return "\n".join(out) + "\n"


def _differences(metrics: Sequence[Optional[float]]) -> List[Optional[float]]:
    """Each later sweep's metric minus the first's (None where either is missing)."""
    first = _number(metrics[0])
    return [
        None if first is None or _number(m) is None else float(m) - first  # type: ignore[arg-type]
        for m in metrics[1:]
    ]


def _signed(value: Optional[float]) -> str:
    return "" if value is None else f"{value:+.6g}"


def _plain(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    return render_table(head, body, rule=True)


def _labels(dirs: Sequence[Path]) -> List[str]:
    """A, B, C... (AA, AB... past Z): short column names; the legend names the dirs."""
    letters = [chr(ord("A") + i) for i in range(26)]
    return [
        letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(len(dirs))
    ]


def compare_sweeps(
    sweep_dirs: Sequence[str | os.PathLike[str]],
    *,
    metric: Optional[str] = None,
    maximize: Optional[bool] = None,
) -> Comparison:
    """Put the sweeps in *sweep_dirs* side by side.

    Parameters
    ----------
    sweep_dirs : sequence of paths
        Two or more recorded runs/sweeps (directories with ``.zenspec/``).
    metric : str, optional
        Judge jobs by this (dotted) key of their return values instead of the
        recorded metric.
    maximize : bool, optional
        Higher is better; None: the first sweep's spec ``direction``.

    Examples
    --------
    >>> print(compare_sweeps(["multirun/a", "multirun/b"]).render())  # doctest: +SKIP
    """
    from zenspec.records.store import manifest_path

    dirs = [Path(d) for d in sweep_dirs]
    if len(dirs) < 2:
        raise ZenspecError(
            "compare needs two or more sweep directories.",
            hint="Fix: zenspec compare SWEEP_A SWEEP_B (zenspec results multirun/ lists them).",
        )
    for d in dirs:
        if not manifest_path(d).is_file():
            raise ZenspecError(
                f"{d}: not a recorded run or sweep (no .zenspec/manifest.json).",
                hint="Fix: name a sweep's output directory; zenspec results "
                f"{d if d.is_dir() else d.parent} lists the runs under a directory.",
            )
    sweeps = [load_results(d).judged_by(metric) for d in dirs]
    if maximize is None:
        maximize = sweeps[0].maximize
    names, settings = _match_names(sweeps)
    comparison = Comparison(sweeps, _labels(dirs), maximize, names, settings)
    # per sweep, the param set's completed job (the best if a param set ran twice)
    per_sweep: List[Dict[str, JobRow]] = []
    for s in sweeps:
        found: Dict[str, JobRow] = {}
        for row in s.rows:
            if row.status != "completed" or not row.params:
                continue
            key = _key(row, names)
            held = found.get(key)
            if held is None or _better(row.metric, held.metric, maximize):
                found[key] = row
        per_sweep.append(found)
    for key, row in per_sweep[0].items():
        if all(key in other for other in per_sweep[1:]):
            comparison.matched.append((row.params, [p[key].metric for p in per_sweep]))
    return comparison


def _match_names(sweeps: Sequence[SweepResults]) -> Tuple[List[str], List[Dict[str, Any]]]:
    """The params jobs are matched on, and each sweep's own fixed settings.

    A param every sweep sets, or one some sweep varies, tells jobs apart. One that
    only some sweeps set, to one value for all their jobs (``zenspec run spec z=1``),
    is a setting of those sweeps: matching on it would match nothing, so it is
    named in the sweep's legend line instead.
    """
    seen: List[str] = []
    for s in sweeps:
        seen.extend(n for n in s.param_names() if n not in seen)
    present = [set(s.param_names()) for s in sweeps]

    def varies(name: str, s: SweepResults) -> bool:
        values = {json.dumps(r.params.get(name, _ABSENT), default=str) for r in s.rows}
        return len(values) > 1

    names = [n for n in seen if all(n in p for p in present) or any(varies(n, s) for s in sweeps)]
    settings = [
        {n: s.rows[0].params.get(n) for n in s.param_names() if n not in names and s.rows}
        for s in sweeps
    ]
    return names, settings


def _better(a: Optional[float], b: Optional[float], maximize: bool) -> bool:
    if _number(a) is None:
        return False
    if _number(b) is None:
        return True
    return bool(a > b) if maximize else bool(a < b)  # type: ignore[operator]
