"""Where each key of a TOML document was written.

``tomllib`` parses TOML exactly but forgets positions. This scanner walks the
same text a second time, after ``tomllib`` accepted it, and records the
1-based ``(line, column)`` of every key path: table headers, dotted keys,
inline tables and array items. Because the text is known to be valid TOML the
scanner only has to recognise structure (strings, brackets, comments), not
report errors.
"""

from __future__ import annotations

from typing import Dict, List, Tuple, Union

__all__ = ["toml_source_map"]

KeyPath = Tuple[Union[str, int], ...]
_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line_starts = [0]
        for n, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(n + 1)
        self.out: Dict[KeyPath, Tuple[int, int]] = {}
        self.aot_counts: Dict[KeyPath, int] = {}
        self.table: KeyPath = ()

    # -- positions -------------------------------------------------------
    def pos(self, i: int) -> Tuple[int, int]:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:  # the last line start <= i
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= i:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, i - self.line_starts[lo] + 1

    def record(self, path: KeyPath, i: int) -> None:
        self.out.setdefault(path, self.pos(i))

    # -- lexing ------------------------------------------------------------
    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.s[j] if j < len(self.s) else ""

    def skip_ws(self, newlines: bool = False) -> None:
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.i += 1
            elif ch == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def skip_line(self) -> None:
        while self.i < len(self.s) and self.s[self.i] != "\n":
            self.i += 1

    def string(self) -> str:
        """Read a basic or literal string (single or multi-line) at ``self.i``."""
        q = self.s[self.i]
        if self.s.startswith(q * 3, self.i):
            end = self.s.find(q * 3, self.i + 3)
            while end + 3 < len(self.s) and self.s[end + 3] == q:  # """a"""" ends one later
                end += 1
            body = self.s[self.i + 3 : end]
            self.i = end + 3
            return body
        j = self.i + 1
        buf: List[str] = []
        while j < len(self.s) and self.s[j] != q:
            if q == '"' and self.s[j] == "\\":
                nxt = self.s[j + 1]
                if nxt in _ESCAPES:
                    buf.append(_ESCAPES[nxt])
                    j += 2
                    continue
                if nxt in "uU":
                    width = 4 if nxt == "u" else 8
                    buf.append(chr(int(self.s[j + 2 : j + 2 + width], 16)))
                    j += 2 + width
                    continue
            buf.append(self.s[j])
            j += 1
        self.i = j + 1
        return "".join(buf)

    def key(self) -> List[Tuple[str, int]]:
        """A dotted key: its parts with the offset where each part starts."""
        parts: List[Tuple[str, int]] = []
        while True:
            self.skip_ws()
            start = self.i
            if self.peek() in ('"', "'"):
                parts.append((self.string(), start))
            else:
                while self.peek() and self.peek() in _BARE:
                    self.i += 1
                parts.append((self.s[start : self.i], start))
            self.skip_ws()
            if self.peek() == ".":
                self.i += 1
                continue
            return parts

    def value(self, path: KeyPath) -> None:
        self.skip_ws()
        ch = self.peek()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.i += 1
            n = 0
            while True:
                self.skip_ws(newlines=True)
                if self.peek() == "]":
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                if not self.peek():
                    return
                self.record((*path, n), self.i)
                self.value((*path, n))
                n += 1
        elif ch == "{":
            self.i += 1
            while True:
                self.skip_ws()
                if self.peek() == "}":
                    self.i += 1
                    return
                if self.peek() == ",":
                    self.i += 1
                    continue
                if not self.peek() or self.peek() == "\n":
                    return
                self.keyval(path)
        else:  # number, bool, date: up to a delimiter
            while self.peek() and self.peek() not in ",]}\n#":
                self.i += 1

    def keyval(self, table: KeyPath) -> None:
        parts = self.key()
        path = table
        for name, start in parts:
            path = (*path, name)
            self.record(path, start)
        self.skip_ws()
        if self.peek() == "=":
            self.i += 1
        self.value(path)

    def header(self) -> None:
        aot = self.s.startswith("[[", self.i)
        self.i += 2 if aot else 1
        parts = self.key()
        self.i += 2 if aot else 1
        path: KeyPath = ()
        for n, (name, start) in enumerate(parts):
            path = (*path, name)
            self.record(path, start)
            last = n == len(parts) - 1
            if aot and last:
                idx = self.aot_counts.get(path, 0)
                self.aot_counts[path] = idx + 1
                path = (*path, idx)
                self.record(path, start)
            elif path in self.aot_counts:  # [a.b] under [[a]] means the last a
                path = (*path, self.aot_counts[path] - 1)
        self.table = path

    def run(self) -> Dict[KeyPath, Tuple[int, int]]:
        self.table = ()
        self.out[()] = (1, 1)
        while self.i < len(self.s):
            self.skip_ws(newlines=True)
            if self.i >= len(self.s):
                break
            if self.peek() == "[":
                self.header()
            else:
                before = self.i
                self.keyval(self.table)
                if self.i == before:  # never loop on text we do not understand
                    self.skip_line()
        return self.out


def toml_source_map(text: str) -> Dict[KeyPath, Tuple[int, int]]:
    """Map each key path of the (valid) TOML *text* to its 1-based (line, column).

    Examples
    --------
    >>> m = toml_source_map('[a]\\nb = { c = [1, 2] }\\n')
    >>> m[("a", "b", "c", 1)]
    (2, 15)
    """
    try:
        return _Scanner(text).run()
    except (
        IndexError,
        ValueError,
        RecursionError,
    ):  # positions are a courtesy: never fail a load on them
        return {(): (1, 1)}
