"""The common forms of override lines, read without Hydra (for ``validate`` and ``plan --no-imports``).

Hydra's override parser lives behind ``hydra/__init__.py``, which imports most
of Hydra (``hydra._internal`` included, ~150 ms). A spec's overrides are
nearly always of a few simple forms, which :func:`read_line` reads here into
a :class:`TextOverride`; any other line gives None and the caller asks Hydra's
parser (imported then, and only then). The forms:

* ``key=value``, ``+key=value``, ``++key=value``: the key a dot path (``a.b``,
  ``a.0``) or a group path (``hydra/launcher``), no ``@package``;
* the value: empty; one *primitive* of unquoted characters (letters, digits
  and ``_-/.+:%*@?|``); a simple choice ``a,b,c`` of primitives;
  ``choice(a, b)`` of primitives; ``range(...)`` of one to three integers;
  ``interval(a, b)`` of numbers, optionally in ``tag(t, ...)`` or ``int(...)``.

A primitive's type follows Hydra's lexer (float, int, bool, null, else a
string), and the text of each job's value is what Hydra's BasicSweeper
writes (``Override._get_value_element_as_str``): ``tests/test_layers.py``
holds both readers equal on such lines. The rules are the same as
:mod:`zenspec.accelerate.simple_overrides` (the launch layer's ANTLR-free path),
which returns Hydra's own ``Override`` objects and so imports Hydra.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import product
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Tuple

from zenspec.spec.override_text import (
    ID,
    LINE,
    NULL,
    POINT,
    SAFE,
    UINT,
    primitive,
)

__all__ = ["TextOverride", "count_lines", "expand_lines", "read_line", "read_lines"]

_SIGNED = rf"[+-]?{UINT}"
_NUMBER = rf"[+-]?(?:(?:{UINT}|{POINT})(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[Ii][Nn][Ff])"
_RANGE = re.compile(rf"range\(\s*({_SIGNED}(?:\s*,\s*{_SIGNED}){{0,2}})\s*\)\Z")
_CHOICE = re.compile(
    r"choice\(\s*([A-Za-z0-9_\-/.+:%*@?|]+(?:\s*,\s*[A-Za-z0-9_\-/.+:%*@?|]+)*)\s*\)\Z"
)
_INTERVAL = re.compile(rf"interval\(\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)\Z")
_INT_INTERVAL = re.compile(rf"int\(\s*interval\(\s*({_SIGNED})\s*,\s*({_SIGNED})\s*\)\s*\)\Z")
_TAG = re.compile(rf"tag\(\s*((?:{ID}\s*,\s*)+)(.*?)\s*\)\Z", re.DOTALL)


def _as_str(value: Any) -> str:
    """``Override._get_value_element_as_str`` for a primitive: what BasicSweeper writes."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value.replace(":", "\\:")  # the one character of SAFE Hydra escapes
    return str(value)


@dataclass(frozen=True)
class TextOverride:
    """One override line read without Hydra.

    Attributes
    ----------
    prefix : {"", "+", "++"}
    key : str
        The key or group, without its prefix (Hydra's ``key_or_group``).
    kind : {"value", "choice", "range", "interval"}
    values : tuple
        The value (``value``) or the choices (``choice``), as Hydra types them.
    start, stop, step : numbers
        A range's arguments (``range``); an interval's bounds (``start``/``stop``).
    tags : frozenset of str
        An interval's tags (``log``).
    line : str
        The line as given.
    """

    prefix: str
    key: str
    kind: str
    line: str
    values: Tuple[Any, ...] = ()
    start: Any = None
    stop: Any = None
    step: Any = None
    tags: FrozenSet[str] = frozenset()

    @property
    def key_element(self) -> str:
        """The key with its prefix (Hydra's ``get_key_element``)."""
        return self.prefix + self.key

    @property
    def is_sweep(self) -> bool:
        return self.kind != "value"

    @property
    def is_discrete(self) -> bool:
        return self.kind in ("choice", "range")

    def range(self) -> range:
        return range(self.start, self.stop, self.step)  # ValueError for a step of 0

    def count(self) -> int:
        """How many values a grid takes from this line (1 for a plain value, and for an
        interval, which a grid refuses: as ``launch.grid.count_grid`` counts)."""
        if self.kind == "choice":
            return len(self.values)
        if self.kind == "range":
            return len(self.range())
        return 1

    def strings(self) -> List[str]:
        """Each value as BasicSweeper writes it after ``key=``."""
        if self.kind == "range":
            return [str(i) for i in self.range()]
        if self.kind in ("choice", "value"):
            return [_as_str(v) for v in self.values]
        raise ValueError(f"'{self.line}' is an interval, which a grid cannot enumerate")


def _value(text: str) -> Optional[Dict[str, Any]]:
    if text == "":
        return {"kind": "value", "values": ("",)}
    if SAFE.match(text):
        return {"kind": "value", "values": (primitive(text),)}
    if "," in text and "(" not in text:
        items = text.split(",")
        if all(SAFE.match(item) for item in items):
            return {"kind": "choice", "values": tuple(primitive(i) for i in items)}
        return None
    match = _RANGE.match(text)
    if match is not None:
        args = [int(a) for a in match.group(1).split(",")]
        if len(args) == 1:
            args = [0, *args]
        start, stop, step = (*args, 1) if len(args) == 2 else args
        return {"kind": "range", "start": start, "stop": stop, "step": step}
    match = _CHOICE.match(text)
    if match is not None:
        items = [item.strip() for item in match.group(1).split(",")]
        if any(NULL.match(item) for item in items):
            return None  # Hydra's grammar refuses null inside choice(...): its parser says so
        return {"kind": "choice", "values": tuple(primitive(i) for i in items)}
    return _interval(text)


def _interval(text: str) -> Optional[Dict[str, Any]]:
    match = _INTERVAL.match(text)
    if match is not None:  # Hydra's interval() makes both bounds floats
        return {"kind": "interval", "start": float(match[1]), "stop": float(match[2])}
    match = _INT_INTERVAL.match(text)
    if match is not None:
        return {"kind": "interval", "start": int(match[1]), "stop": int(match[2])}
    match = _TAG.match(text)
    if match is not None:
        inner = _interval(match[2])
        if inner is not None:
            tags = frozenset(t.strip() for t in match[1].split(",") if t.strip())
            return {**inner, "tags": tags}
    return None


def read_line(line: str) -> Optional[TextOverride]:
    r"""*line* read without Hydra, or None when it is not one of the simple forms.

    Examples
    --------
    >>> read_line("x=range(0, 6, 2)").strings()
    ['0', '2', '4']
    >>> read_line("lr=1e-3,0.1,a:b").strings()   # as BasicSweeper writes them
    ['0.001', '0.1', 'a\\:b']
    >>> read_line("x='quoted'") is None           # left to Hydra's parser
    True
    """
    match = LINE.match(line)
    if match is None:
        return None
    prefix, key, rest = match.groups()
    got = _value(rest)
    if got is None:
        return None
    if got["kind"] == "range" and got["step"] == 0:
        return None  # Hydra's parser accepts it; its range() says why it is no range
    if got["kind"] == "interval" and not all(
        math.isfinite(float(got[b])) for b in ("start", "stop")
    ):
        return None
    return TextOverride(prefix=prefix or "", key=key, line=line, **got)


def read_lines(lines: Sequence[str]) -> Optional[List[TextOverride]]:
    """Every line read without Hydra, or None if any is not of the simple forms."""
    out = []
    for line in lines:
        got = read_line(line)
        if got is None:
            return None
        out.append(got)
    return out


def _per_key(lines: Sequence[TextOverride]) -> Dict[str, TextOverride]:
    # as BasicSweeper: one entry per key element, the later line replacing the earlier
    # in the earlier one's position
    by_key: Dict[str, TextOverride] = {}
    for o in lines:
        by_key[o.key_element] = o
    return by_key


def count_lines(lines: Sequence[TextOverride]) -> int:
    """The number of jobs the grid of *lines* has (``launch.grid.count_grid``)."""
    total = 1
    for o in _per_key(lines).values():
        total *= o.count()
    return total


def expand_lines(lines: Sequence[TextOverride]) -> List[List[str]]:
    """Every job's overrides, in BasicSweeper's order (``launch.grid.plan_grid``)."""
    axes = [[f"{k}={s}" for s in o.strings()] for k, o in _per_key(lines).items()]
    return [list(job) for job in product(*axes)]
