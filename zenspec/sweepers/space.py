"""The search space of zenspec's sampling sweepers, read with Hydra's own override parser.

One axis per swept key, from the sweep's overrides (``sweep(arguments)``) and
the sweeper's ``params``:

====================================  =================================
override                              axis
====================================  =================================
``x=interval(-12, 12)``               float, uniform in [-12, 12]
``lr=tag(log, interval(1e-4, 1))``    float, log-uniform
``n=int(interval(1, 10))``            int in [1, 10] (both included)
``opt=choice(sgd, adam)``/``a,b``     categorical (a config group too)
``n=range(1, 10, 2)``                 categorical of the range's values
``seed=3``                            a constant, passed to every trial
====================================  =================================

The spec's structured form (``x = { low = -12, high = 12, log = true }``) is
compiled to these same strings (:func:`structured_to_sweep`), so one parser
reads both. Nothing here draws random numbers by itself: :meth:`Axis.sample`
takes the generator, and :meth:`SearchSpace.sample` visits axes in sorted key
order, so a trial sequence is a pure function of the seed and the space.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from zenspec._compatibility import override_element_text, override_value
from zenspec.errors import LaunchError
from zenspec.spec.override_text import value_to_override

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override

# Hydra is imported where an override is parsed, not here: the spec layer
# (``zenspec validate``) imports is_structured_sweep/structured_to_sweep only

__all__ = [
    "STRUCTURED_KEYS",
    "Axis",
    "SearchSpace",
    "is_structured_sweep",
    "structured_to_sweep",
]

#: The keys of the spec's structured sweep value (``{ low, high, log, int }`` or ``{ choices }``).
STRUCTURED_KEYS = ("low", "high", "log", "int", "choices")
_MARKERS = ("low", "high", "choices")


def is_structured_sweep(value: Any) -> bool:
    """True for a spec's structured sweep value: a table with ``low``, ``high`` or ``choices``.

    Any other table in ``[sweep]`` is a dotted key (``optim = { lr = [...] }``).
    """
    return isinstance(value, Mapping) and any(k in value for k in _MARKERS)


def structured_to_sweep(value: Mapping[str, Any]) -> str:
    """The Hydra sweep string of a structured value (checked by the schema and semantic checks).

    Examples
    --------
    >>> structured_to_sweep({"low": -12, "high": 12})
    'interval(-12, 12)'
    >>> structured_to_sweep({"low": 1e-4, "high": 1, "log": True})
    'tag(log, interval(0.0001, 1))'
    >>> structured_to_sweep({"low": 1, "high": 10, "int": True})
    'int(interval(1, 10))'
    >>> structured_to_sweep({"choices": ["sgd", "adam", 0.5]})
    'choice(sgd, adam, 0.5)'
    """
    if "choices" in value:
        return "choice(" + ", ".join(value_to_override(v) for v in value["choices"]) + ")"
    text = f"interval({value_to_override(value['low'])}, {value_to_override(value['high'])})"
    if value.get("int"):
        text = f"int({text})"
    if value.get("log"):
        text = f"tag(log, {text})"
    return text


def _plain(value: Any) -> Any:
    """A parsed override element as a plain Python value (quoted strings unwrapped)."""
    from hydra.core.override_parser.types import QuotedString

    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Axis:
    """One dimension of the search space.

    Attributes
    ----------
    key : str
        The override key, with any ``+``/``++`` prefix (``"+x"``, ``"optim"``).
    kind : {"float", "int", "categorical"}
        How values are drawn.
    low, high : float or int, optional
        Bounds of a float/int axis (both included for ``int``).
    log : bool
        Draw uniformly in log space.
    choices : tuple
        Values of a categorical axis, as plain Python values.
    texts : tuple of str
        The same values as override text, exactly as Hydra will parse them.
    """

    key: str
    kind: str
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    choices: Tuple[Any, ...] = ()
    texts: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The key without its ``+``/``++``/``~`` prefix: how the parameter is reported."""
        return self.key.lstrip("+~")

    def sample(self, rng: random.Random) -> Any:
        """One value, drawn with exactly one call on *rng* (so axes never shift each other)."""
        if self.kind == "categorical":
            return self.choices[int(rng.random() * len(self.choices))]
        assert self.low is not None and self.high is not None
        u = rng.random()
        if self.kind == "int":
            lo, hi = int(self.low), int(self.high)
            if self.log:  # log-uniform over [lo, hi + 1), floored: every integer reachable
                x = math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))
                return min(hi, max(lo, math.floor(x)))
            return min(hi, lo + int(u * (hi - lo + 1)))
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def to_text(self, value: Any) -> str:
        """*value* as override text, exact to the last digit (``repr`` of floats)."""
        if self.kind == "categorical":
            for choice, text in zip(self.choices, self.texts):
                if type(choice) is type(value) and choice == value:
                    return text
        if self.kind == "int":
            return str(int(value))
        return value_to_override(value)


@dataclass
class SearchSpace:
    """The axes to search, and the constant overrides every trial gets.

    Build it with :meth:`from_overrides`; axes are kept sorted by key.
    """

    axes: List[Axis] = field(default_factory=list)
    constants: List[str] = field(default_factory=list)

    @classmethod
    def from_overrides(
        cls, arguments: Sequence[str], params: Optional[Mapping[str, Any]] = None
    ) -> SearchSpace:
        """Parse ``params`` (``{key: sweep string}``) then *arguments*; a later key wins."""
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.errors import OverrideParseException

        lines = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
        try:
            parsed = OverridesParser.create().parse_overrides(lines)
        except OverrideParseException as e:
            raise LaunchError(f"the search space does not parse: {e}") from e
        by_key: Dict[str, Override] = {}
        for o in parsed:
            by_key.pop(o.get_key_element(), None)  # the later one wins, in its position
            by_key[o.get_key_element()] = o
        space = cls()
        for key, o in by_key.items():
            if o.is_sweep_override() and not o.is_hydra_override():
                space.axes.append(_axis(key, o))
            else:
                assert o.input_line is not None  # parse_overrides sets it on every override
                space.constants.append(o.input_line)
        space.axes.sort(key=lambda a: a.key)
        return space

    @property
    def names(self) -> List[str]:
        """The parameters' names, in sampling order."""
        return [a.name for a in self.axes]

    def sample(self, rng: random.Random) -> Dict[str, Any]:
        """One trial's parameters ``{name: value}``, axes visited in sorted key order."""
        return {a.name: a.sample(rng) for a in self.axes}

    def overrides(self, params: Mapping[str, Any]) -> List[str]:
        """A trial's override list: the constants, then ``key=value`` per axis."""
        return self.constants + [f"{a.key}={a.to_text(params[a.name])}" for a in self.axes]


def _axis(key: str, o: Override) -> Axis:
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    value = override_value(o)
    if isinstance(value, IntervalSweep):
        start, end = value.start, value.end
        assert start is not None and end is not None
        is_int = isinstance(start, int) and isinstance(end, int)
        log = "log" in value.tags
        if not start < end:
            raise LaunchError(
                f"'{o.input_line}': the interval is empty; its lower bound must be below its "
                f"upper bound.",
                hint=f"Fix: interval({min(start, end)}, {max(start, end)}).",
            )
        if log and start <= 0:
            raise LaunchError(
                f"'{o.input_line}': a log-scaled interval needs a lower bound above 0, "
                f"got {start}.",
                hint="Fix: raise the lower bound (e.g. 1e-6), or drop the log tag.",
            )
        return Axis(key, "int" if is_int else "float", start, end, log)
    if isinstance(value, RangeSweep):
        elements = list(value.range())
    elif isinstance(value, ChoiceSweep):
        elements = list(value.list)
    else:  # glob(...): its options come from a config loader the space does not have
        raise LaunchError(
            f"'{o.input_line}' cannot be sampled by zenspec's random/Optuna sweepers.",
            hint="Fix: list the options: choice(a, b) or a,b.",
        )
    if not elements:
        raise LaunchError(f"'{o.input_line}' has no values to choose from.")
    texts = tuple(override_element_text(e) for e in elements)
    return Axis(key, "categorical", choices=tuple(_plain(e) for e in elements), texts=texts)
