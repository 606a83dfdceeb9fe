"""Config values against a target's type annotations, before any job calls it.

Hydra's ``instantiate`` passes config values to the target as they are: a
``"one"`` given for ``epochs: int`` reaches the function as a string, and the
job fails (or worse, runs) much later. :func:`type_problem` says why a value
cannot be of an annotated type, from the annotation ``typing.get_type_hints``
reads off the target itself: int, float, str, bool, None, ``Optional``/
``Union``, ``Literal``, ``Enum`` (a member, or its name as OmegaConf accepts
it), lists/tuples/sequences, dicts/mappings, dataclasses and ``Any``.

It errs on the side of silence: an annotation it does not understand (a
protocol, a callable, a class of the user's, a forward reference that does not
resolve), a value that is itself instantiated (``_target_``), an interpolation
and a missing value are never problems here.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import inspect
import types
import typing
from typing import Any, Dict, List, Mapping, Optional

from zenspec.errors import did_you_mean

__all__ = [
    "hint_text",
    "keyword_names",
    "not_a_parameter",
    "param_hints",
    "takes_any_keyword",
    "type_problem",
]

_SEQUENCES = (list, tuple, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection)
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping)
_UNIONS = (typing.Union, getattr(types, "UnionType", typing.Union))  # int | None: 3.10+


def param_hints(target: Any) -> Dict[str, Any]:
    """``{parameter: annotation}`` of *target* (a function or a class), or ``{}``."""
    func = target.__init__ if inspect.isclass(target) else target
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references, odd callables: check nothing
        return {}
    hints.pop("return", None)
    return hints


def keyword_names(sig: inspect.Signature) -> List[str]:
    """The parameters a call can pass by keyword: what a config's keys may fill."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [n for n, p in sig.parameters.items() if p.kind in kinds]


def takes_any_keyword(sig: inspect.Signature) -> bool:
    """Whether the callable has ``**kwargs``: then no key is unknown to it."""
    return any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def not_a_parameter(key: str, name: str, sig: inspect.Signature) -> str:
    """The message for a key the callable *name* does not take."""
    return f"'{key}' is not a parameter of {name}{sig}." + did_you_mean(key, keyword_names(sig))


def _is_node(value: Any) -> bool:
    """A value Hydra turns into something else before the call (an instantiated node)."""
    return isinstance(value, Mapping) and ("_target_" in value or "_ref_" in value)


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, (list, tuple)):
        return f"a list {list(value)!r}"[:120]
    if isinstance(value, Mapping):
        return "a table"
    if value is None:
        return "null"
    return f"the {type(value).__name__} {value!r}"


def hint_text(hint: Any) -> str:
    """An annotation as people write it: ``int``, ``Optional[int]``, ``Literal['a']``."""
    text = getattr(hint, "__name__", None) if isinstance(hint, type) else None
    return text or str(hint).replace("typing.", "")


def type_problem(value: Any, hint: Any) -> Optional[str]:
    """Why *value* (a plain config value: dicts, lists, scalars) is not a *hint*, or None."""
    if value is None:
        ok = hint is type(None) or _allows_none(hint)
        return None if ok else f"null given where {hint_text(hint)} is expected"
    if _is_node(value) or (isinstance(value, str) and "${" in value) or value == "???":
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or isinstance(hint, typing.TypeVar):
        return None
    if hint is type(None):
        return f"{_describe(value)} is not null"
    if origin in _UNIONS:
        reasons = [type_problem(value, a) for a in args]
        if not all(reasons):
            return None
        real = [r for a, r in zip(args, reasons) if a is not type(None)]
        return real[0] if len(real) == 1 else f"{_describe(value)} fits none of its types"
    if origin is typing.Literal:
        if value in args and all(type(value) is type(a) for a in args if a == value):
            return None
        return f"{_describe(value)} is not one of {', '.join(repr(a) for a in args)}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if isinstance(value, hint) or (isinstance(value, str) and value in hint.__members__):
            return None
        names = ", ".join(hint.__members__)
        return f"{_describe(value)} is not a member of {hint.__name__} ({names})"
    if hint is bool:
        return None if isinstance(value, bool) else f"{_describe(value)} is not a bool"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{_describe(value)} is not an int"
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"{_describe(value)} is not a number"
    if hint is str:
        return None if isinstance(value, str) else f"{_describe(value)} is not a string"
    container = origin or hint
    if container in _SEQUENCES or (isinstance(container, type) and container in (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return f"{_describe(value)} is not a list"
        if container is tuple and args and not (len(args) == 2 and args[1] is ...):
            if len(args) != len(value):
                return f"a list of {len(value)} item(s) is not {len(args)} item(s)"
            pairs = list(zip(value, args))
        else:
            pairs = [(v, args[0]) for v in value] if args else []
        for i, (v, h) in enumerate(pairs):
            why = type_problem(v, h)
            if why:
                return f"item {i}: {why}"
        return None
    if container in _MAPPINGS:
        if not isinstance(value, Mapping):
            return f"{_describe(value)} is not a table"
        if len(args) == 2:
            for k, v in value.items():
                why = type_problem(v, args[1])
                if why:
                    return f"key {k!r}: {why}"
        return None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, hint):
            return None
        if not isinstance(value, Mapping):
            return f"{_describe(value)} is not a {hint.__name__} (a table of its fields)"
        fields = {f.name for f in dataclasses.fields(hint)}
        unknown = [str(k) for k in value if str(k) not in fields]
        if unknown:
            names = ", ".join(f.name for f in dataclasses.fields(hint))
            return f"{unknown[0]!r} is not a field of {hint.__name__} (fields: {names})"
        return None
    return None  # a class of the user's, a protocol, a callable...: not judged here


def _allows_none(hint: Any) -> bool:
    if hint is Any or hint is None or isinstance(hint, typing.TypeVar):
        return True
    if typing.get_origin(hint) in _UNIONS:
        return any(_allows_none(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is typing.Literal:
        return None in typing.get_args(hint)
    return False
