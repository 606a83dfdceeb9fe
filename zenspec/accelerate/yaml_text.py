"""``OmegaConf.to_yaml``'s text for plain config data, without a PyYAML emitter per call.

Every job writes three YAML files (``config.yaml``, ``hydra.yaml``,
``overrides.yaml``); PyYAML's pure-Python emitter costs ~0.3 ms a document
before it writes a line, which made rendering the largest part of a trivial
job. Config data is mostly block mappings and sequences of short scalars, whose
layout is fixed: two spaces per level, sequences not indented under their key
(PyYAML's default), ``{}``/``[]`` when empty. :func:`dump` writes that layout
itself and leaves each *scalar* and each *key* to PyYAML, once per distinct
value (memoised): quoting and escaping are PyYAML's own, with OmegaConf's
string representer. Anything else (a long or multi-line string that could
wrap, a non-string key PyYAML would write differently, a type other than
str/int/float/bool/None) makes the whole document go through ``yaml.dump``
as before. A string value that PyYAML may fold or break over lines (Hydra's
help templates) is laid out by PyYAML too, once per (string, key, indent):
in a mapping reached through mappings only, its text depends on nothing
else (:func:`_folded`). ``tests/test_yaml_text.py`` checks the equality on generated data;
``tests/differential`` on every file of the corpus. Off (``ZENSPEC_FAST_OFF=yaml``),
or after an unexpected error (then off for the process), every document goes
through ``yaml.dump`` (:mod:`zenspec.accelerate.switches`).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any, Dict, List, Optional, Tuple

import yaml
from omegaconf import OmegaConf

from zenspec._compatibility import YAML_BOOL_TYPES, get_omega_conf_dumper
from zenspec.accelerate.switches import shortcut

__all__ = ["MAX_LINE", "dump", "fits", "save", "scalar", "to_yaml"]

# A line this long or shorter is never folded by PyYAML (best_width = 80).
MAX_LINE = 72
_MAX_MEMO = 4096
_lock = threading.Lock()
_values: Dict[Tuple[type, Any], Optional[str]] = {}
_SPACE = re.compile(r"\s")
_BREAK = re.compile("[\n\r\x85\u2028\u2029]")
# Strings PyYAML writes plain (as is) and OmegaConf does not quote: no indicator
# or space anywhere, a first character no YAML number, date or null starts with,
# and not one of the words YAML 1.1 (or OmegaConf) reads as a bool or null, nor
# anything ``float()`` reads (OmegaConf quotes "inf", "nan"...).
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_/.=,+\-]*\Z")
_WORDS = frozenset(YAML_BOOL_TYPES) | {"null", "Null", "NULL"}


def _floatish(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _as_is(text: str) -> bool:
    """Whether PyYAML writes *text* plain, unchanged (as a value or a simple key)."""
    return bool(_PLAIN.match(text)) and text not in _WORDS and not _floatish(text)


_keys: Dict[Tuple[type, Any], Optional[str]] = {}
# (string, key, indent) -> its text after "key: " (lines joined by "\n"), or None
_foldeds: Dict[Tuple[str, str, int], Optional[str]] = {}


def _yaml(data: Any) -> str:
    return yaml.dump(
        data,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
        Dumper=get_omega_conf_dumper(),
    )


def to_yaml(cfg: Any) -> str:
    """``OmegaConf.to_yaml(cfg)`` (unresolved, keys in order).

    OmegaConf 2.4 writes a literal ``\\???`` escaped (``FAST_YAML`` false):
    its own ``to_yaml`` then.
    """
    return shortcut(
        "yaml",
        lambda: _dump(OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)),
        lambda: OmegaConf.to_yaml(cfg),
    )


def save(cfg: Any, path: Any) -> None:
    """``OmegaConf.save(cfg, path)``: the same text, written the same way."""
    from zenspec.records.store import write_in_place_nofollow

    # never written through a link planted at *path* (it is replaced)
    write_in_place_nofollow(os.path.abspath(path), to_yaml(cfg))


def dump(data: Any) -> str:
    """``yaml.dump(data, ...)`` exactly as ``OmegaConf.to_yaml`` calls it."""
    return shortcut("yaml", lambda: _dump(data), lambda: _yaml(data))


def _dump(data: Any) -> str:
    out: List[str] = []
    if isinstance(data, dict) and data:
        done = _mapping(data, 0, out, True)
    elif isinstance(data, list) and data:
        done = _sequence(data, 0, out)
    else:
        done = False
    return "".join(out) if done else _yaml(data)


def _memo(table: Dict[Tuple[type, Any], Optional[str]], value: Any, as_key: bool) -> Optional[str]:
    # floats by repr: 0.0 == -0.0 (and hash alike) but are written differently
    memo_key = (float, repr(value)) if type(value) is float else (type(value), value)
    try:
        return table[memo_key]
    except KeyError:
        pass
    text = _yaml({value: 1} if as_key else {"k": value})
    head, tail = ("", ": 1\n") if as_key else ("k: ", "\n")
    got: Optional[str] = None
    if text.startswith(head) and text.endswith(tail) and text.count("\n") == 1:
        got = text[len(head) : len(text) - len(tail)]
        if as_key and (got.startswith("? ") or not got):
            got = None
    with _lock:
        if len(table) >= _MAX_MEMO:
            table.clear()
        table[memo_key] = got
    return got


def scalar(value: Any) -> Optional[str]:
    """*value* as PyYAML writes it after ``key: `` or ``- ``; None if not a plain one-liner."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is str:
        if _as_is(value):
            return value  # written as is: no PyYAML (a job's paths and overrides are new)
        if _BREAK.search(value):  # a line break to YAML: the text's layout depends on the column
            return None
        # long: only if PyYAML writes it plain (as is) with no space to fold
        # at (a path, a URL): one line at any column
        if len(value) > MAX_LINE and (
            _SPACE.search(value) or _memo(_values, value, as_key=False) != value
        ):
            return None
        return _memo(_values, value, as_key=False)
    if kind is float:
        return _memo(_values, value, as_key=False)
    return None


def fits(text: str, value: Any, column: int) -> bool:
    """Whether *text* (:func:`scalar` of *value*) written from *column* stays one line in PyYAML.

    A scalar that ends by column :data:`MAX_LINE` is never folded (PyYAML's
    width is 80). Past it, only a plain one (written as is) with no space in
    it: PyYAML folds plain scalars at spaces only (quoted ones anywhere).
    """
    return column + len(text) <= MAX_LINE or (text == value and not _SPACE.search(text))


def _key(key: Any) -> Optional[str]:
    if type(key) is not str or len(key) > MAX_LINE or _BREAK.search(key):
        return None
    if _as_is(key):
        return key  # a simple key PyYAML writes as is, by the rule for values
    return _memo(_keys, key, as_key=True)


def _folded(value: str, key: str, indent: int) -> Optional[str]:
    """*value*'s text after ``key: `` at *indent*, as PyYAML lays it out (maybe over lines).

    PyYAML writes a scalar from where it starts (the column after ``key: ``)
    with continuation lines at the mapping's indent + 2, folding at its width:
    the text depends on the string, the key and the indent only. So it is
    PyYAML's own, for *key* at that depth of plain mappings, cut out of the
    document. The key is the whole document's last, so nothing follows.
    """
    memo_key = (value, key, indent)
    if memo_key in _foldeds:
        return _foldeds[memo_key]
    depth, odd = divmod(indent, 2)
    nest: Dict[Any, Any] = {key: value}
    for _ in range(depth):
        nest = {"a": nest}
    text = _yaml(nest)
    head = "".join(f"{' ' * (2 * n)}a:\n" for n in range(depth)) + f"{' ' * indent}{key}: "
    got = text[len(head) : -1] if not odd and text.startswith(head) else None
    inner = " " * (indent + 1)
    if got is not None and not all(
        not line or line.startswith(inner) for line in got.split("\n")[1:]
    ):
        got = None  # e.g. a document end marker ("...") after it: not a value's text
    with _lock:
        if len(_foldeds) >= _MAX_MEMO:
            _foldeds.clear()
        _foldeds[memo_key] = got
    return got


def _mapping(data: Dict[Any, Any], indent: int, out: List[str], free: bool) -> bool:
    """*data* at *indent*; *free*: reached through mappings only (no ``- `` before it)."""
    pad = " " * indent
    for key, value in data.items():
        text = _key(key)
        if text is None:
            return False
        head = f"{pad}{text}:"
        if isinstance(value, dict):
            if not value:
                out.append(f"{head} {{}}\n")
            else:
                out.append(f"{head}\n")
                if not _mapping(value, indent + 2, out, free):
                    return False
        elif isinstance(value, list):
            if not value:
                out.append(f"{head} []\n")
            else:
                out.append(f"{head}\n")
                if not _sequence(value, indent, out):  # not indented under its key
                    return False
        else:
            text = scalar(value)
            if text is None or not fits(text, value, len(head) + 1):
                text = _folded(value, key, indent) if free and type(value) is str else None
                if text is None:
                    return False
            out.append(f"{head} {text}\n")
    return True


def _sequence(items: List[Any], indent: int, out: List[str]) -> bool:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict):
            if not item:
                out.append(f"{pad}- {{}}\n")
                continue
            start = len(out)
            if not _mapping(item, indent + 2, out, False):
                return False
            out[start] = f"{pad}- {out[start][indent + 2 :]}"  # first key on the dash line
        elif isinstance(item, list):
            return False  # nested sequences: left to PyYAML
        else:
            text = scalar(item)
            if text is None or not fits(text, item, indent + 2):
                return False
            out.append(f"{pad}- {text}\n")
    return True
