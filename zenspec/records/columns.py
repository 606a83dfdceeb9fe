"""The columns of a results table: typed params, every scalar a job returned, chosen by name.

A job's params are its override values read back as the values they are (numbers,
bools, None, strings; a config group's choice stays its option's name). What a job
returned becomes one column per scalar, nested mappings flattened with dotted names
(``{"val": {"loss": 0.3}}`` -> ``val.loss``); a returned key that is also a param's
name (or one of the table's own columns) is shown as ``return:<key>``. ``--columns``
picks and orders them, ``--sort`` sorts by any; an unknown name is refused with the
names there are.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from zenspec.errors import ZenspecError, did_you_mean

__all__ = ["BUILTIN", "choose", "flatten_scalars", "sort_value", "typed_param", "value_columns"]

#: the table's own columns, in their default order around the params and values
BUILTIN = ("job", "status", "metric", "step", "duration_s", "result")

_SCALARS = (bool, int, float, str, type(None))
_SAFE = re.compile(r"^[\w.+\-:/@%]*$")


def typed_param(text: str, choice: bool = False) -> Any:
    """An override's value text as the value it is; a group's *choice* stays its name."""
    if choice:
        return text
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]  # a quoted string
    if _SAFE.match(text):
        from zenspec.spec.override_text import primitive

        return primitive(text)
    return text  # a list, a dict, an interpolation: its text


def flatten_scalars(value: Any, prefix: str = "") -> Dict[str, Any]:
    """Every scalar in *value* by dotted name; a scalar itself is ``{"value": ...}``."""
    if isinstance(value, _SCALARS):
        return {prefix or "value": value}
    out: Dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(item, _SCALARS):
                out[name] = item
            elif isinstance(item, Mapping):
                out.update(flatten_scalars(item, name))
    return out  # lists (and anything else) stay whole in the JSON form only


def value_columns(
    rows: Iterable[Any], params: Sequence[str], metric: Optional[str]
) -> Dict[str, str]:
    """``{column name: returned key}`` over *rows*, in first-seen order.

    The returned *metric* is the table's ``metric`` column already; a key that is a
    param's name or a built-in column gets ``return:`` in front.
    """
    taken = set(params) | set(BUILTIN)
    out: Dict[str, str] = {}
    for row in rows:
        for key in row.values:
            if key == metric or key in out.values():
                continue
            out[f"return:{key}" if key in taken else key] = key
    return out


def choose(available: Sequence[str], wanted: Optional[Sequence[str]], what: str) -> List[str]:
    """*wanted* (all of *available* when None), each checked: an unknown name is refused."""
    if wanted is None:
        return list(available)
    out = []
    for name in wanted:
        name = name.strip()
        if name not in available:
            raise ZenspecError(
                f"{what} {name!r}: there is no such column; the columns are "
                f"{', '.join(available)}." + did_you_mean(name, available),
                hint="Fix: name one of those columns (a swept param, a returned key, or "
                "job, status, metric, duration_s).",
            )
        if name not in out:
            out.append(name)
    return out


def sort_value(value: Any, maximize: bool) -> tuple:
    """A sort key for a cell: missing last, numbers before text, each in order."""
    if value is None or (isinstance(value, float) and value != value):
        return (2, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, -value if maximize else value, "")
    return (1, 0, str(value))
