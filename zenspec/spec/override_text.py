"""Overrides as text: Hydra's override grammar written from Python values, without Hydra.

What the spec layer needs to turn a spec into override lines (``validate``,
``plan --no-imports``, ``schema`` and shell completion import no Hydra):
rendering a value (:func:`value_to_override`), a line's key
(:func:`override_key`), and the list/mapping forms of overrides
(:func:`to_override_list`, :class:`multirun`, :class:`hydra_list`).
:mod:`zenspec.launch.overrides` re-exports them next to the parsing, which
uses Hydra's own parser.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Union

from zenspec.errors import OverrideError

__all__ = [
    "BOOL",
    "FLOAT",
    "ID",
    "INT",
    "LINE",
    "NULL",
    "POINT",
    "SAFE",
    "UINT",
    "OverridesLike",
    "hydra_list",
    "multirun",
    "override_key",
    "primitive",
    "to_override_list",
    "value_to_override",
]


def override_key(line: str) -> str:
    """The key an override line sets, from its text: ``+db@pkg=x`` -> ``db``.

    No parsing: for naming the line behind an error, where the line may not parse.
    """
    return line.lstrip("+~").partition("=")[0].split("@", 1)[0]


class multirun(list):
    """Mark a value of an override mapping as a sweep.

    ``{"a": multirun([1, 2])}`` becomes ``a=1,2``; ``{"x": multirun("range(0, 5)")}``
    passes a sweep expression through verbatim.
    """

    def __init__(self, values: Union[Iterable[Any], str]) -> None:
        if isinstance(values, str):
            self.expression: Optional[str] = values
            super().__init__()
        else:
            self.expression = None
            super().__init__(values)


class hydra_list(list):
    """A list value (``a=[1,2]``) in an override mapping; a plain list means the same."""


OverridesLike = Union[Sequence[str], Mapping[str, Any], None]

# Unquoted strings Hydra reads back as the same string: identifiers, paths, dotted words.
_SAFE_UNQUOTED = re.compile(r"^[A-Za-z_/\-\.][A-Za-z0-9_/\-\.@:+]*$")
_KEYWORDS = {"null", "true", "false", "nan", "inf", "-inf", "+inf"}
_FUNCTIONS = ("range", "choice", "interval", "glob", "sort", "shuffle", "tag", "int", "float")


def _quote(text: str) -> str:
    # Hydra's quoted values take backslash escapes only before quotes and at the end.
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    trailing = len(escaped) - len(escaped.rstrip("\\"))
    if trailing:
        escaped += "\\" * trailing
    return f"'{escaped}'"


def value_to_override(value: Any) -> str:
    """Render one Python value in Hydra's override grammar.

    Examples
    --------
    >>> value_to_override("a,b")
    "'a,b'"
    >>> value_to_override([1, None, True])
    '[1,null,true]'
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        if (
            _SAFE_UNQUOTED.match(value)
            and value.lower() not in _KEYWORDS
            and not value.startswith(_FUNCTIONS)
            and not re.match(r"^[-+.]?\d", value)
        ):
            return value
        return _quote(value)
    if isinstance(value, Mapping):
        items = ",".join(f"{_dict_key(k)}:{value_to_override(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(value_to_override(v) for v in value) + "]"
    raise OverrideError(
        f"override value {value!r} of type {type(value).__name__} cannot be expressed in "
        "Hydra's override grammar; use a str, int, float, bool, None, list or dict."
    )


#: characters a dict key may hold as they are, and those it holds escaped (``\(``)
_DICT_KEY_CHARS = re.compile(r"[A-Za-z0-9_/\-\\+.$%*@?|]")
_DICT_KEY_ESCAPED = frozenset("()[]{}:=, ")


def _dict_key(key: Any) -> str:
    """*key* as a dict key of Hydra's grammar, special characters escaped with a
    backslash (``"()"``, a logging config's factory key, is written ``\\(\\)``)."""
    text = str(key)
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif _DICT_KEY_CHARS.fullmatch(ch):
            out.append(ch)
        elif ch in _DICT_KEY_ESCAPED:
            out.append("\\" + ch)
        else:
            out = []
            break
    # numbers, bools and null would be read back as such, not as the string key
    if not out or re.match(r"^[-+]?[\d.]", text) or text.lower() in _KEYWORDS:
        raise OverrideError(
            f"dict key {key!r} cannot be written in an override; use letters, digits and "
            "_-/+.$%*@?|()[]{}:=, in keys."
        )
    return "".join(out)


def to_override_list(overrides: OverridesLike) -> List[str]:
    """A fresh list of override strings (the caller's object is never mutated).

    Parameters
    ----------
    overrides : list of str, mapping or None
        Hydra CLI-style strings, or ``{key: value}`` where key may carry a
        ``+``/``++``/``~`` prefix and a :class:`multirun` value marks a sweep.
    """
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise OverrideError(
            f"overrides must be a list of strings or a mapping, got the string {overrides!r}; "
            f"wrap it in a list: [{overrides!r}]."
        )
    if isinstance(overrides, Mapping):
        out = []
        for key, value in overrides.items():
            if not isinstance(key, str) or not key:
                raise OverrideError(f"override key {key!r} must be a non-empty string.")
            if key.startswith("~") and value is None:
                out.append(key)
            elif isinstance(value, multirun):
                if value.expression is not None:
                    out.append(f"{key}={value.expression}")
                elif not value:
                    raise OverrideError(f"override {key!r}: multirun([]) sweeps over nothing.")
                else:
                    out.append(f"{key}=" + ",".join(value_to_override(v) for v in value))
            else:
                out.append(f"{key}={value_to_override(value)}")
        return out
    out = []
    for item in overrides:
        if not isinstance(item, str):
            raise OverrideError(
                f"override {item!r} is a {type(item).__name__}; list overrides must be "
                "strings such as 'a=1' (use a mapping to pass Python values)."
            )
        out.append(item)
    return out


# --- reading: the shapes of the simple override lines (Hydra's OverrideLexer.g4) ---------
# Shared by the spec layer's reader (zenspec.spec.sweep_text) and the fast parser of the
# launch (zenspec.accelerate.simple_overrides), so the two never disagree on a line.
ID = r"[A-Za-z_][A-Za-z0-9_-]*"
UINT = r"(?:0|[1-9](?:_?[0-9])*)"
POINT = rf"(?:{UINT}\.|(?:{UINT})?\.[0-9](?:_?[0-9])*)"
LINE = re.compile(
    rf"(\+\+|\+)?((?:{ID}|{UINT})(?:\.(?:{ID}|{UINT}))+|{ID}(?:/{ID})*)=(.*)\Z", re.DOTALL
)
SAFE = re.compile(r"[A-Za-z0-9_\-/.+:%*@?|]+\Z")
FLOAT = re.compile(
    rf"[+-]?(?:(?:{UINT}|{POINT})[eE][+-]?[0-9](?:_?[0-9])*|{POINT}|[Ii][Nn][Ff]|[Nn][Aa][Nn])\Z"
)
INT = re.compile(rf"[+-]?{UINT}\Z")
BOOL = re.compile(r"(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\Z")
NULL = re.compile(r"[Nn][Uu][Ll][Ll]\Z")


def primitive(text: str) -> Any:
    """The value of *text* (characters of :data:`SAFE`) as Hydra's ``primitive`` rule."""
    if FLOAT.match(text):
        return float(text)
    if INT.match(text):
        return int(text)
    if BOOL.match(text):
        return text.lower() == "true"
    if NULL.match(text):
        return None
    return text  # an ID, an UNQUOTED_CHAR or COLON alone, or several tokens joined
