"""Stage 1: a spec file (TOML or YAML) to plain data plus a source map.

The data is what ``tomllib``/OmegaConf's YAML loader would return; the source map
says where each key path was written (``("groups", "optim", "sgd", "lr") ->
(12, 1)``), so every later stage can point at a line. Nothing here imports or
runs user code: YAML is read with PyYAML's *safe* loader, which refuses every
``!!python/...`` tag instead of constructing it.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from zenspec.errors import Problem, SpecError
from zenspec.spec.tomlmap import toml_source_map

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

__all__ = [
    "MAX_DEPTH",
    "MAX_SPEC_BYTES",
    "MAX_YAML_VALUES",
    "KeyPath",
    "ParsedSpec",
    "SourceMap",
    "format_path",
    "parse_file",
    "parse_text",
]

KeyPath = Tuple[Union[str, int], ...]
SUFFIXES = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}

#: Input limits. A spec is a few kilobytes and a few levels deep; these stop
#: inputs that would otherwise exhaust memory, time or Python's stack (a
#: RecursionError or MemoryError instead of a message), so validating untrusted
#: input costs at most ~1 s and ~50 MB (bench/bench_validate.py). Module
#: constants, so a caller with a real need can raise them.
MAX_SPEC_BYTES = 1024 * 1024
#: The longest key path (``$.config.a.b`` is 3 deep). jsonschema needs about ten
#: stack frames per level, so much deeper data would overflow Python's stack.
MAX_DEPTH = 64
#: Values a document may hold -- for YAML, counted as anchors and aliases
#: (``*a``) expand them: a few lines of aliases can otherwise expand to billions
#: ("billion laughs"). Long lists of values belong in a sweep expression
#: (``range(0, 100000)``), which is not expanded here.
MAX_YAML_VALUES = 10_000


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
            message,
            file=self.file,
            path=format_path(path),
            line=line,
            column=column,
            hint=hint,
            keys=tuple(path),
        )


def detect_format(path: Union[str, os.PathLike[str]]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        name = os.fspath(path)
        raise SpecError(
            f"cannot tell the format of '{name}' from its suffix {suffix!r}.",
            file=name,
            hint="Fix: name the spec *.toml, *.yaml or *.yml.",
        )
    return SUFFIXES[suffix]


def parse_file(path: Union[str, os.PathLike[str]]) -> ParsedSpec:
    """Read and parse one spec file.

    Raises
    ------
    SpecError
        The file is missing, unreadable, not UTF-8, empty, not a table at the
        top level, or has a syntax error (with its line and column).
    """
    fmt = detect_format(path)
    name = os.fspath(path)
    try:
        raw = _read_capped(path, name)
    except FileNotFoundError:
        raise SpecError(f"no such file: '{name}'.", file=name) from None
    except IsADirectoryError:
        raise SpecError(f"'{name}' is a directory, not a spec file.", file=name) from None
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


def _too_big(size: str, name: str) -> SpecError:
    return SpecError(
        f"the file is {size}, more than the {_mib(MAX_SPEC_BYTES)} a spec may be.",
        file=name,
        hint="Fix: a spec names its data, it does not contain it; load large data in the task.",
    )


def _read_capped(path: Union[str, os.PathLike[str]], name: str) -> bytes:
    """The file's bytes, reading at most MAX_SPEC_BYTES + 1 of them.

    Only a regular file is read: a FIFO, socket or device (``/dev/zero``, also
    through a symlink) is refused before any read, since reading it could block
    forever or never end. The file is opened non-blocking, so opening a FIFO
    with no writer does not block either.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", name)
        if not stat.S_ISREG(st.st_mode):
            raise SpecError(
                f"'{name}' is {_file_kind(st.st_mode)}, not a regular file; a spec must be "
                "a regular file.",
                file=name,
                hint="Fix: point at the spec file itself (a symlink to a regular file is fine).",
            )
        if st.st_size > MAX_SPEC_BYTES:
            raise _too_big(_mib(st.st_size), name)
        chunks: List[bytes] = []
        left = MAX_SPEC_BYTES + 1  # the file may grow between fstat and read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise _too_big(f"more than {_mib(MAX_SPEC_BYTES)}", name)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _mib(size: int) -> str:
    """``1.5 MiB``; in bytes when a MiB figure would hide the difference to the limit."""
    text = f"{size / (1024 * 1024):.1f} MiB"
    if size != MAX_SPEC_BYTES and text == f"{MAX_SPEC_BYTES / (1024 * 1024):.1f} MiB":
        return f"{size:,} bytes"
    return text


def _too_deep(file: Optional[str], path: KeyPath = (), line: Optional[int] = None, column: Optional[int] = None) -> SpecError:  # fmt: skip
    # the path names where the deep value starts (its first levels); line and
    # column point at the level past the limit
    return SpecError(
        f"the value here is nested more than {MAX_DEPTH} levels deep."
        if path
        else f"the spec is nested more than {MAX_DEPTH} levels deep.",
        file=file,
        path=format_path(path[:4]) if path else None,
        line=line,
        column=column,
        hint="Fix: flatten the structure; a spec that deep is almost certainly generated "
        "by mistake.",
    )


def _deep_path(data: Any) -> Optional[KeyPath]:
    """The first key path longer than MAX_DEPTH in *data*, found without recursion."""
    stack: List[Tuple[Any, KeyPath]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return path
        if isinstance(value, dict):
            stack.extend((v, (*path, str(k))) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return None


def _count_values(data: Any, limit: int) -> int:
    """How many values *data* holds (tables and arrays included), stopping past *limit*."""
    count, stack = 0, [data]
    while stack and count <= limit:
        value = stack.pop()
        count += 1
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count


def parse_text(text: str, fmt: str, file: Optional[str] = None) -> ParsedSpec:
    """Parse spec *text* in format *fmt* (``"toml"`` or ``"yaml"``).

    Raises
    ------
    SpecError
        Syntax errors (with line and column), refused YAML tags, duplicate or
        non-string keys, an empty or non-mapping document, and inputs over the
        limits (:data:`MAX_SPEC_BYTES`, :data:`MAX_DEPTH`, :data:`MAX_YAML_VALUES`).
    """
    if text.startswith("\ufeff"):  # editors on Windows like to write a BOM
        text = text[1:]
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            f"the spec is {_mib(len(text))}, more than the {_mib(MAX_SPEC_BYTES)} a spec may be.",
            file=file,
        )
    try:
        if fmt == "toml":
            data, source = _parse_toml(text, file)
        elif fmt == "yaml":
            from zenspec.spec.yamlload import parse_yaml

            data, source = parse_yaml(text, file)
        else:
            raise ValueError(f"unknown spec format {fmt!r}")
    except RecursionError:  # deeper than the parser's own recursion can go
        raise _too_deep(file) from None
    if data is None or data == {}:
        raise SpecError(
            "the spec is empty.",
            file=file,
            path="$",
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


def _toml_error_path(text: str, line: Optional[int]) -> Optional[str]:
    """The key path a TOML syntax error is in, from the table header and key before it.

    A courtesy for the message (the text is not valid TOML, so this reads only
    the error's line and the last table header above it); None when unsure.
    """
    from zenspec.spec.tomlmap import _Scanner

    if line is None:
        return None
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return None
    try:
        path: List[str] = []
        for header in reversed(lines[: line - 1]):
            stripped = header.strip()
            if stripped.startswith("["):
                scanner = _Scanner(stripped)
                scanner.i = 2 if stripped.startswith("[[") else 1
                path = [name for name, _ in scanner.key()]
                break
        current = lines[line - 1]
        if current.strip().startswith("["):
            scanner = _Scanner(current.strip())
            scanner.i = 2 if current.strip().startswith("[[") else 1
            path = [name for name, _ in scanner.key()]
        elif "=" in current:
            scanner = _Scanner(current)
            parts = [name for name, _ in scanner.key()]
            if scanner.peek() == "=" and all(parts):
                path += parts
        return format_path(tuple(path)) if path else "$"
    except (IndexError, ValueError, RecursionError):
        return None


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
            path=_toml_error_path(text, line),
            line=line,
            column=column,
            hint="Fix: see https://toml.io/en/v1.0.0 (strings need quotes, keys may appear once).",
        ) from None
    values = _count_values(data, MAX_YAML_VALUES)
    if values > MAX_YAML_VALUES:
        # what a YAML spec may hold, so schema checks (per value) stay bounded
        raise SpecError(
            f"the TOML document has more than {MAX_YAML_VALUES:,} values.",
            file=file,
            hint="Fix: a spec names its data, it does not contain it; load large data in the task.",
        )
    source = SourceMap(toml_source_map(text))
    deep = _deep_path(data)
    if deep is not None:
        raise _too_deep(file, deep[: MAX_DEPTH + 1], *source.locate(deep))
    return data, source
