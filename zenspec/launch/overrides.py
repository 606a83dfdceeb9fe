"""Overrides from Python: a list of CLI strings, or a mapping with real values.

A mapping is turned into Hydra's override grammar with every value escaped so
that it parses back to exactly the value given: a string with a comma stays
one string, lists stay lists, ``None`` stays null. A sweep must be asked for
explicitly, with :func:`multirun`. Parsing uses Hydra's own parser, so what is
accepted here is what Hydra accepts.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Iterator, List, Optional, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import OverrideParseException

from zenspec.accelerate.simple_overrides import parse_line
from zenspec.errors import OverrideError

# the text functions live in the spec layer, which imports no Hydra; re-exported here
from zenspec.spec.override_text import (
    OverridesLike,
    hydra_list,
    multirun,
    override_key,
    to_override_list,
    value_to_override,
)

__all__ = [
    "OverridesLike",
    "hydra_list",
    "multirun",
    "override_key",
    "parse_overrides",
    "to_override_list",
    "value_to_override",
]


class ParseCache:
    """Override strings parsed with Hydra's grammar, the least recently used dropped.

    ``shuffle(...)`` is never kept: stock Hydra draws a new order at each parse.
    The parsed overrides are shared: callers that may change one copy it.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, Override] = OrderedDict()
        self._parser: Optional[OverridesParser] = None

    def parse(self, line: str) -> Override:
        """*line* parsed (Hydra's ``OverrideParseException`` if it does not parse)."""
        got = self._items.get(line)
        if got is not None:
            self._items.move_to_end(line)
            return got
        got = parse_line(line)  # the simple forms without ANTLR
        if got is None:
            if self._parser is None:
                self._parser = OverridesParser.create()
            got = self._parser.parse_overrides([line])[0]
        if "shuffle" not in line:
            self._items[line] = got
            if len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return got

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


# a script calling hydra_run in a loop passes the same strings every time
_parsed = ParseCache(1024)


def parse_overrides(overrides: Sequence[str]) -> List[Override]:
    """Parse with Hydra's own grammar; a bad override is an :class:`OverrideError`.

    Examples
    --------
    >>> [(o.get_key_element(), o.is_sweep_override()) for o in parse_overrides(["a=1", "+b=x,y"])]
    [('a', False), ('+b', True)]
    >>> parse_overrides(["a=[1,2"])
    Traceback (most recent call last):
    ...
    zenspec.errors.OverrideError: override 'a=[1,2' is not valid Hydra override syntax: ...
    """
    parsed = []
    for text in overrides:
        try:
            parsed.append(copy.copy(_parsed.parse(text)))  # a copy: callers' own
        except OverrideParseException as e:
            detail = str(e).strip().splitlines()
            raise OverrideError(
                f"override {text!r} is not valid Hydra override syntax: "
                f"{detail[-1] if detail else e}",
                hint="Fix: write key=value (quote values with spaces or commas: key='a,b'); "
                "see https://hydra.cc/docs/advanced/override_grammar/basic/",
            ) from None
    return parsed


def reject_sweeps(parsed: Sequence[Override]) -> None:
    """A single run takes no sweep: say so before any job starts."""
    for o in parsed:
        if o.is_sweep_override():
            text = o.input_line or f"{o.get_key_element()}=..."
            raise OverrideError(
                f"override {text!r} is a sweep, but a single run launches one job.",
                hint=(
                    "Fix: use hydra_multirun (CLI: -m/--multirun) to sweep; for one value "
                    f"that is a list write {o.get_key_element()}=[a,b], for a string with "
                    f"a comma quote it: {o.get_key_element()}='a,b'."
                ),
            )
