"""OmegaConf's interpolation parse trees, kept for the duration of a launch.

OmegaConf parses an interpolation string with its ANTLR grammar every time it
resolves it (0.1-0.3 ms each): ``${hydra.job.num}`` in the sweep's subdir, the
job log's ``${hydra.runtime.output_dir}/${hydra.job.name}.log``, a user's own
``${...}``, the same strings in every job of a sweep. A parse tree depends on
nothing but the string (and the grammar rule), and resolving one only reads it,
so while :func:`memoized_parse` is active OmegaConf's ``parse`` keeps the trees
it made. On exit the original function is put back and the trees dropped.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Tuple

from zenspec._compatibility import omegaconf_parse_modules

__all__ = ["memoized_parse"]

# the modules that imported ``parse`` by name (``from .grammar_parser import parse``)
_MODULES = omegaconf_parse_modules()
_MAX_TREES = 4096
_lock = threading.Lock()
_depth = 0
_saved: List[Tuple[Any, Callable[..., Any]]] = []
_trees: Dict[Tuple[str, str, str], Any] = {}


def _memoizing(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse(
        value: str, parser_rule: str = "configValue", lexer_mode: str = "DEFAULT_MODE"
    ) -> Any:
        key = (value, parser_rule, lexer_mode)
        tree = _trees.get(key)
        if tree is None:
            tree = original(value, parser_rule, lexer_mode)  # errors are never kept
            if len(_trees) >= _MAX_TREES:
                _trees.clear()
            _trees[key] = tree
        return tree

    parse.__wrapped__ = original  # type: ignore[attr-defined]
    return parse


@contextmanager
def memoized_parse() -> Iterator[None]:
    """OmegaConf keeps the parse trees of the interpolations it resolves in this block.

    Nests (the outermost block restores OmegaConf); thread-safe.
    """
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            for module in _MODULES:
                original = module.parse  # type: ignore[attr-defined]
                _saved.append((module, original))
                module.parse = _memoizing(original)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                while _saved:
                    module, original = _saved.pop()
                    module.parse = original  # type: ignore[attr-defined]
                _trees.clear()
