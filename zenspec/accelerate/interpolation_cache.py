"""The interpolations zenspec resolves itself, each string parsed once per process.

OmegaConf parses an interpolation string with its ANTLR grammar every time it
resolves it (0.2-0.5 ms each). Two of the strings a sweep's every job resolves
are resolved by zenspec's own code: the job's directory (``hydra.sweep.subdir``,
``${hydra.job.num}``; ``hydra.sweep.dir``, often ``${now:...}``) in
``run_job``, and the job log's file name
(``${hydra.runtime.output_dir}/${hydra.job.name}.log``) in
:mod:`zenspec.accelerate.logging_setup`. :func:`select` and :func:`item` resolve a
value as ``OmegaConf.select`` and ``node[key]`` do, through OmegaConf's own
resolution of a parse tree (``_resolve_interpolation_from_parse_tree``, what
both call after parsing), with the tree kept here: a parse tree depends on
nothing but the string, and resolving only reads it.

Nothing of OmegaConf's is replaced: any other resolution (a task's own
``${...}``) parses as always. Anything but a string interpolation that
resolves to a plain value goes to OmegaConf's own call; so does everything
where this piece is off (``FAST_GRAMMAR``, :mod:`zenspec.accelerate.switches`).
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Union

from omegaconf import Container, DictConfig, OmegaConf, ValueNode
from omegaconf.grammar_parser import parse

from zenspec._compatibility import (
    is_interpolation_node,
    is_missing_node,
    is_none_node,
    node_of,
    node_value,
    resolve_from_parse_tree,
)
from zenspec.accelerate.switches import shortcut

__all__ = ["item", "select"]

_MAX_TREES = 256
_lock = threading.Lock()
_trees: Dict[str, Any] = {}
_STOCK = object()  # "not served here": OmegaConf's own call answers


def _tree(text: str) -> Any:
    tree = _trees.get(text)
    if tree is None:
        tree = parse(text)  # errors are never kept
        with _lock:
            if len(_trees) >= _MAX_TREES:
                _trees.clear()
            _trees[text] = tree
    return tree


def _resolve(parent: Container, key: Union[str, int]) -> Any:
    """``parent[key]``'s value if it is a string interpolation resolving to a plain value."""
    node = node_of(parent, key)
    if not isinstance(node, ValueNode):
        return _STOCK
    text = node_value(node)
    if not isinstance(text, str) or "${" not in text:
        return _STOCK
    resolved = resolve_from_parse_tree(parent, key, node, _tree(text))
    if not isinstance(resolved, ValueNode) or is_missing_node(resolved):
        return _STOCK
    return node_value(resolved)


def _select(cfg: DictConfig, key: str) -> Any:
    node: Any = cfg
    *path, last = key.split(".")
    for part in path:
        if not isinstance(node, DictConfig) or is_interpolation_node(node):
            return OmegaConf.select(cfg, key)
        if is_none_node(node) or is_missing_node(node):
            return OmegaConf.select(cfg, key)
        node = node_of(node, part)
    if not isinstance(node, DictConfig) or is_interpolation_node(node) or is_missing_node(node):
        return OmegaConf.select(cfg, key)
    if is_none_node(node) or not last:
        return OmegaConf.select(cfg, key)
    value = _resolve(node, last)
    return OmegaConf.select(cfg, key) if value is _STOCK else value


def select(cfg: DictConfig, key: str) -> Any:
    """``OmegaConf.select(cfg, key)`` for a dotted *key* of plain names."""
    return shortcut("grammar", lambda: _select(cfg, key), lambda: OmegaConf.select(cfg, key))


def _item(parent: Container, key: Union[str, int]) -> Any:
    value = _resolve(parent, key)
    return parent[key] if value is _STOCK else value


def item(parent: Container, key: Union[str, int]) -> Any:
    """``parent[key]``."""
    return shortcut("grammar", lambda: _item(parent, key), lambda: parent[key])
