"""Stage 1: a spec file (TOML or YAML) to plain data plus a source map.

The data is what ``tomllib``/``yaml.safe_load`` would return; the source map
says where each key path was written (``("groups", "optim", "sgd", "lr") ->
(12, 1)``), so every later stage can point at a line. Nothing here imports or
runs user code: YAML is read with PyYAML's *safe* loader, which refuses every
``!!python/...`` tag instead of constructing it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import yaml

from zenspec.errors import Problem, SpecError
from zenspec.spec.tomlmap import toml_source_map

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

__all__ = ["KeyPath", "ParsedSpec", "SourceMap", "format_path", "parse_file", "parse_text"]

KeyPath = Tuple[Union[str, int], ...]
SUFFIXES = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


def format_path(path: KeyPath) -> str:
    """``("groups", "optim", "sgd", "lr")`` -> ``$.groups.optim.sgd.lr``.

    Keys that are not plain identifiers are quoted (``$.sweep["+extra"]``) so
    the path stays unambiguous; list indices are ``[n]``.
    """
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum() and not part[:1].isdigit():
            out += f".{part}"
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


@dataclass
class SourceMap:
    """Where each key path of a spec was written: 1-based ``(line, column)``."""

    positions: Dict[KeyPath, Tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: KeyPath) -> Tuple[Optional[int], Optional[int]]:
        """The position of *path*, or of its nearest written ancestor."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), (None, None))


@dataclass
class ParsedSpec:
    """A spec file's data, its format, and where each key came from."""

    data: Dict[str, Any]
    source: SourceMap
    file: Optional[str] = None
    format: str = "toml"
    text: str = ""

    def problem(self, path: KeyPath, message: str, hint: Optional[str] = None) -> Problem:
        """A :class:`Problem` at *path* in this file, with its line where known."""
        line, column = self.source.locate(path)
        return Problem(
            message, file=self.file, path=format_path(path), line=line, column=column, hint=hint
        )


def detect_format(path: Union[str, Path]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise SpecError(
            f"cannot tell the format of '{path}' from its suffix {suffix!r}.",
            file=str(path),
            hint="Fix: name the spec *.toml, *.yaml or *.yml.",
        )
    return SUFFIXES[suffix]


def parse_file(path: Union[str, Path]) -> ParsedSpec:
    """Read and parse one spec file.

    Raises
    ------
    SpecError
        The file is missing, unreadable, not UTF-8, empty, not a table at the
        top level, or has a syntax error (with its line and column).
    """
    fmt = detect_format(path)
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError(f"no such file: '{path}'.", file=name) from None
    except IsADirectoryError:
        raise SpecError(f"'{path}' is a directory, not a spec file.", file=name) from None
    except OSError as e:
        raise SpecError(
            f"cannot read the file: {e.strerror or e}.",
            file=name,
            hint="Fix: check the file's permissions.",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise SpecError(
            f"the file is not UTF-8 text (byte {e.start}).", file=name, line=line
        ) from None
    return parse_text(text, fmt, file=name)


def parse_text(text: str, fmt: str, file: Optional[str] = None) -> ParsedSpec:
    """Parse spec *text* in format *fmt* (``"toml"`` or ``"yaml"``)."""
    if text.startswith("\ufeff"):  # editors on Windows like to write a BOM
        text = text[1:]
    if fmt == "toml":
        data, source = _parse_toml(text, file)
    elif fmt == "yaml":
        data, source = _parse_yaml(text, file)
    else:
        raise ValueError(f"unknown spec format {fmt!r}")
    if data is None or data == {}:
        raise SpecError(
            "the spec is empty.",
            file=file,
            hint="Fix: a spec needs at least an [experiment] table with a target or task "
            "(see `zenspec schema --markdown`).",
        )
    if not isinstance(data, dict):
        raise SpecError(
            f"a spec must be a mapping of sections at the top level, found {_kind(data)}.",
            file=file,
            path="$",
            line=1,
            hint="Fix: start with `experiment:` (YAML) or `[experiment]` (TOML).",
        )
    return ParsedSpec(data=data, source=source, file=file, format=fmt, text=text)


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _parse_toml(text: str, file: Optional[str]) -> Tuple[Any, SourceMap]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        line = column = None
        # tomllib says "... (at line 3, column 7)"; lift the position into the location
        if "(at line " in message:
            message, _, pos = message.rpartition(" (at line ")
            nums = pos.rstrip(")").split(", column ")
            line, column = int(nums[0]), int(nums[1]) if len(nums) > 1 else None
        elif message.endswith("(at end of document)"):
            message = message[: -len(" (at end of document)")]
            line = text.count("\n") + 1
        raise SpecError(
            f"TOML syntax error: {message[:1].lower()}{message[1:]}.",
            file=file,
            line=line,
            column=column,
            hint="Fix: see https://toml.io/en/v1.0.0 (strings need quotes, keys may appear once).",
        ) from None
    return data, SourceMap(toml_source_map(text))


class _SpecYamlLoader(yaml.SafeLoader):
    """The safe loader; only ever constructs plain YAML types."""


def _parse_yaml(text: str, file: Optional[str]) -> Tuple[Any, SourceMap]:
    loader = _SpecYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, SourceMap()
        data = loader.construct_document(node)
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark or e.context_mark
        tag = (e.problem or "").partition("tag ")[2].strip("'") or "?"
        if "python/" in tag:
            tag = "!!" + tag.rsplit(":", 2)[-2] if tag.count(":") >= 3 else tag
        raise SpecError(
            f"the YAML tag {tag!r} is refused: zenspec reads YAML with a safe loader and never "
            "builds Python objects from tags.",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="Fix: name a callable with `_target_: pkg.mod.attr` (called) or "
            "`_ref_: pkg.mod:attr` (the object itself).",
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = " ".join(str(x) for x in (e.context, e.problem) if x)
        raise SpecError(
            f"YAML syntax error: {what}.",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="Fix: check the indentation and that strings containing ': ' or '#' are quoted.",
        ) from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML error: {e}", file=file) from None
    finally:
        loader.dispose()
    positions: Dict[KeyPath, Tuple[int, int]] = {}
    duplicates: List[Problem] = []
    _walk_yaml(node, (), positions, duplicates, file)
    if duplicates:
        raise SpecError(duplicates[0].message, problems=duplicates)
    return data, SourceMap(positions)


def _walk_yaml(
    node: yaml.Node,
    path: KeyPath,
    out: Dict[KeyPath, Tuple[int, int]],
    problems: List[Problem],
    file: Optional[str],
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: Dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            pos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            child = (*path, key)
            if key_node.tag != "tag:yaml.org,2002:str":
                # `1: x` or `true: x` make int/bool keys that no override can name
                kind = key_node.tag.rpartition(":")[2]
                problems.append(
                    Problem(
                        f"key {key!r} is read as a YAML {kind}, but spec keys must be strings.",
                        file=file,
                        path=format_path(child),
                        line=pos[0],
                        column=pos[1],
                        hint=f'Fix: quote it: "{key}":',
                    )
                )
            if key in seen:
                # PyYAML keeps the last value silently; a spec with the same key
                # twice almost always lost an edit, so say so.
                problems.append(
                    Problem(
                        f"duplicate key '{key}' (first written on line {seen[key]}); the "
                        "earlier value would be silently replaced.",
                        file=file,
                        path=format_path(child),
                        line=pos[0],
                        column=pos[1],
                        hint="Fix: keep one of them.",
                    )
                )
            seen[key] = pos[0]
            out.setdefault(child, pos)
            _walk_yaml(value_node, child, out, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, i)
            out.setdefault(child, (item.start_mark.line + 1, item.start_mark.column + 1))
            _walk_yaml(item, child, out, problems, file)
