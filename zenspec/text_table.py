"""The one renderer of the plain-text tables zenspec prints (results, plans, run summaries).

Columns are separated by two spaces and padded to their widest cell; trailing
blanks are stripped. A row may carry cells beyond the header's columns (a
failed trial's error): they follow unpadded, so one long message does not
widen the whole table.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

__all__ = ["markdown_table", "render_table"]


def render_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    rule: bool = False,
    align: Optional[str] = None,
    min_widths: Optional[Sequence[int]] = None,
) -> str:
    """Lines of a table, without a final newline.

    Parameters
    ----------
    header : sequence of str
        The column titles.
    rows : sequence of sequences of str
        The cells; cells past ``len(header)`` are appended unpadded.
    rule : bool, default False
        A line of dashes under the header.
    align : str, optional
        One character per column, ``"<"`` (default) or ``">"``.
    min_widths : sequence of int, optional
        A smallest width per column.

    Examples
    --------
    >>> print(render_table(["#", "value"], [["0", "1.5"], ["10", "2"]], align="><"))
     #  value
     0  1.5
    10  2
    """
    n = len(header)
    widths = [len(str(h)) for h in header]
    for row in rows:
        for i, cell in enumerate(row[:n]):
            widths[i] = max(widths[i], len(str(cell)))
    if min_widths is not None:
        widths = [max(w, m) for w, m in zip(widths, min_widths)]
    sides = (align or "").ljust(n, "<")

    def line(cells: Sequence[str]) -> str:
        shown = [
            str(c).rjust(w) if side == ">" else str(c).ljust(w)
            for c, w, side in zip(cells, widths, sides)
        ]
        shown += [str(c) for c in cells[n:]]
        return "  ".join(shown).rstrip()

    lines: List[str] = [line(header)]
    if rule:
        lines.append(line(["-" * w for w in widths]))
    lines += [line(r) for r in rows]
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table, without a final newline.

    Examples
    --------
    >>> print(markdown_table(["job", "metric"], [["0", "1.5"]]))
    | job | metric |
    |---|---|
    | 0 | 1.5 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
