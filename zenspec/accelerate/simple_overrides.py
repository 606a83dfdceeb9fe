"""Hydra override lines of the common simple forms, parsed without ANTLR.

Hydra parses each override line with its ANTLR grammar: ~0.4 ms a line, and
several ms for each of a process's first lines while the lexer builds its
DFA (~15 ms before the first job of a fresh process). A sweep's parent parses
every job's lines. :func:`parse_line` parses the forms below itself, into the
:class:`Override` Hydra's parser returns for them, and returns None for any
other line (Hydra's parser then decides: its result or its error).
``tests/test_simple_overrides.py`` holds the two parsers equal on generated lines.
Off (``ZENSPEC_FAST_OFF=overrides``), every line goes to Hydra's parser; an
unexpected error here switches the piece off for the process, and that line
is parsed by Hydra (:mod:`zenspec.accelerate.switches`).

* ``key=value``, ``+key=value``, ``++key=value``; the key a dot path
  (``a.b.c``, ``a.0``) or a group path (``hydra/launcher``), no ``@package``;
* the value: empty; or one *primitive* of unquoted characters (letters,
  digits and ``_-/.+:%*@?|``: no whitespace, quote, escape, bracket, comma,
  ``$`` or ``=``); or a simple choice sweep ``a,b,c`` of primitives; or
  ``range(...)`` of one to three integers; or safe characters with
  ``${now:FORMAT}`` interpolations in them (``multirun/x/${now:%Y-%m-%d}``: the
  output dirs of a spec), which Hydra keeps as the string (OmegaConf resolves it).

A primitive is one token of Hydra's lexer or several. The lexer takes the
longest match, earlier rules winning ties (FLOAT, INT, BOOL, NULL,
UNQUOTED_CHAR, ID): one token that spans the text is converted by its type
(``int``, ``float``, ``bool``, ``None``, ``str``); several are joined, which
gives back the text, a ``str``.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Sequence, Tuple

from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser, create_functions
from hydra.core.override_parser.types import (
    ChoiceSweep,
    Override,
    OverrideType,
    ValueType,
)

from zenspec._compatibility import validate_override
from zenspec.accelerate.switches import enabled, shortcut
from zenspec.spec.override_text import (
    LINE,
    SAFE,
    UINT,
    primitive,
)

__all__ = ["parse_line", "parse_lines"]

_RANGE = re.compile(rf"range\(([+-]?{UINT}(?:,[+-]?{UINT}){{0,2}})\)\Z")
_NOW = re.compile(r"(?:[A-Za-z0-9_\-/.+:%*@?|]|\$\{now:[A-Za-z0-9_%\-]*\})+\Z")
_TYPES = {None: OverrideType.CHANGE, "+": OverrideType.ADD, "++": OverrideType.FORCE_ADD}
_functions: List[Any] = []  # Hydra's grammar functions, made at the first range(...)


def _value(text: str) -> Optional[Tuple[Any, ValueType]]:
    """(value, value type) of the text after ``=``; None if not one of the simple forms."""
    if text == "":
        return "", ValueType.ELEMENT
    if SAFE.match(text):
        return primitive(text), ValueType.ELEMENT
    if "${now:" in text and _NOW.match(text):
        return text, ValueType.ELEMENT  # Hydra's text, interpolations and all
    if "," in text and "(" not in text:
        items = text.split(",")
        if all(SAFE.match(item) for item in items):
            return ChoiceSweep(simple_form=True, list=[primitive(i) for i in items]), (
                ValueType.SIMPLE_CHOICE_SWEEP
            )
        return None
    match = _RANGE.match(text)
    if match is None:
        return None
    from zenspec._compatibility import FunctionCall

    args = [int(a) for a in match.group(1).split(",")]
    if not _functions:
        _functions.append(create_functions())
    try:
        return _functions[0].eval(FunctionCall(name="range", args=args, kwargs={})), (
            ValueType.RANGE_SWEEP
        )
    except Exception:  # Hydra's parser words the error
        return None


def parse_line(line: str, config_loader: Optional[ConfigLoader] = None) -> Optional[Override]:
    """*line* as ``OverridesParser.create(config_loader).parse_overrides([line])[0]``, or None."""
    if not enabled("overrides"):
        return None
    return shortcut(
        "overrides",
        lambda: _parse_line(line, config_loader),
        lambda: OverridesParser.create(config_loader=config_loader).parse_overrides([line])[0],
    )


def _parse_line(line: str, config_loader: Optional[ConfigLoader]) -> Optional[Override]:
    match = LINE.match(line)
    if match is None:
        return None
    prefix, key, rest = match.groups()
    got = _value(rest)
    if got is None:
        return None
    value, value_type = got
    override = Override(
        type=_TYPES[prefix],
        key_or_group=key,
        _value=value,
        value_type=value_type,
        package=None,
    )
    override.input_line = line
    validate_override(override)  # Hydra 1.3's check (gone in 1.4)
    override.config_loader = config_loader
    return override


def parse_lines(
    lines: Sequence[str], config_loader: Optional[ConfigLoader] = None
) -> List[Override]:
    """``OverridesParser.create(config_loader).parse_overrides(lines)``, simple lines parsed here."""
    parser: Optional[OverridesParser] = None
    parsed: List[Override] = []
    for line in lines:
        got = parse_line(line, config_loader)
        if got is None:
            if parser is None:
                parser = OverridesParser.create(config_loader=config_loader)
            got = parser.parse_overrides([line])[0]
        parsed.append(got)
    return parsed
