"""``hydra.yaml`` of a job copied from a sweep's job preset: the preset's text, five holes filled.

Jobs composed from one job preset (:func:`zenspec.accelerate.composition_cache._job_preset`)
share their whole ``hydra`` node but for what composition, the launcher and
``run_job`` write per job: ``hydra.overrides.task``, ``hydra.job.override_dirname``,
``hydra.job.id``, ``hydra.job.num`` and ``hydra.runtime.output_dir`` (the
holes). So the document is rendered once per preset with a placeholder token in
each hole, and every job after fills the holes: each value laid out by the
rules of :mod:`zenspec.accelerate.yaml_text` (PyYAML's own text per scalar, lines
short enough never to fold), which is the whole difference between two jobs'
documents. Not assumed: the first job of each preset renders both ways and the
skeleton is kept only if the filled text equals the whole document exactly
(``yaml_text.to_yaml``, which writes ``OmegaConf.to_yaml``'s text)
(else that preset always goes through the general path). A value that cannot
be laid out this way (a long string, a nested list) sends that one job to the
general path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any, List, Optional, Tuple, Union

from omegaconf import DictConfig, ListConfig, SCMode, ValueNode

from zenspec._compatibility import (
    container_content,
    is_interpolation_node,
    is_none_node,
    node_of,
    node_value,
    to_content,
)
from zenspec.accelerate import yaml_text

__all__ = ["HOLES", "hole_leaves", "render"]

#: (``hydra`` key, child key): the fields two jobs of one job preset differ in
HOLES: Tuple[Tuple[str, str], ...] = (
    ("overrides", "task"),
    ("job", "override_dirname"),
    ("job", "id"),
    ("job", "num"),
    ("runtime", "output_dir"),
)
_LIST = ("overrides", "task")  # the one list: `task: []` or a block sequence
_TOKEN = "zzskeletonhole{}zz"  # a plain scalar PyYAML writes as is
_MAX = 64

_lock = threading.Lock()
# job preset serial -> its skeleton, or False (verified not to fit: general path)
_skeletons: OrderedDict[int, Union[_Skeleton, bool]] = OrderedDict()


@dataclass(frozen=True)
class _Skeleton:
    parts: Tuple[str, ...]  # text around the holes: len(HOLES) + 1 pieces
    widths: Tuple[int, ...]  # per hole: the line's length before the value (list: the indent)


def render(hydra_cfg: DictConfig, shared: int) -> Optional[str]:
    """The job's ``hydra.yaml`` text, or None: render it the general way."""
    values = _hole_values(hydra_cfg)
    if values is None:
        return None
    with _lock:
        known = _skeletons.get(shared)
    if known is False:
        return None
    if isinstance(known, _Skeleton):
        return _fill(known, values)
    # OmegaConf.to_yaml's text (yaml_text is held to it by its own tests), a
    # few ms quicker than PyYAML's emitter on the first job of every worker
    full = yaml_text.to_yaml(hydra_cfg)
    made = _make(hydra_cfg)
    filled = _fill(made, values) if made is not None else None
    if made is not None and filled is None:
        return full  # this job's values do not fit the layout: verify on another job
    with _lock:
        _skeletons[shared] = made if made is not None and filled == full else False
        if len(_skeletons) > _MAX:
            _skeletons.popitem(last=False)
    return full


def _node(hydra_cfg: DictConfig, path: Tuple[str, str]) -> Any:
    hydra = node_of(hydra_cfg, "hydra")
    parent = node_of(hydra, path[0]) if isinstance(hydra, DictConfig) else None
    if not isinstance(parent, DictConfig) or is_interpolation_node(parent) or is_none_node(parent):
        return None
    return node_of(parent, path[1])


def hole_leaves(hydra_cfg: DictConfig) -> Optional[List[Any]]:
    """The raw values in the holes (the list hole as a list), in :data:`HOLES` order.

    None when a hole is not a plain value node (the list hole: a list of them).
    """
    values: List[Any] = []
    for path in HOLES:
        node = _node(hydra_cfg, path)
        if path == _LIST:
            if (
                not isinstance(node, ListConfig)
                or is_interpolation_node(node)
                or is_none_node(node)
            ):
                return None
            content = container_content(node)
            if not isinstance(content, list) or not all(isinstance(i, ValueNode) for i in content):
                return None
            values.append([node_value(item) for item in content])
        elif isinstance(node, ValueNode):
            values.append(node_value(node))
        else:
            return None
    return values


def _hole_values(hydra_cfg: DictConfig) -> Optional[List[Any]]:
    """The holes as ``to_container(resolve=False, enum_to_str=True)`` gives them."""
    values = hole_leaves(hydra_cfg)
    if values is None:
        return None
    return [
        [_as_text(v) for v in value] if path == _LIST else _as_text(value)
        for path, value in zip(HOLES, values)
    ]


def _as_text(value: Any) -> Any:
    return value.name if isinstance(value, Enum) else value


def _make(hydra_cfg: DictConfig) -> Optional[_Skeleton]:
    """The document with a token in each hole, cut at the tokens."""
    content = to_content(hydra_cfg, enum_to_str=True, structured_config_mode=SCMode.DICT)
    try:
        for n, (outer, inner) in enumerate(HOLES):
            content["hydra"][outer][inner] = _TOKEN.format(n)
    except (KeyError, TypeError):
        return None
    text = yaml_text.dump(content)
    parts: List[str] = []
    widths: List[int] = []
    rest = text
    for n, path in enumerate(HOLES):
        token = (" " if path == _LIST else "") + _TOKEN.format(n)
        if rest.count(token) != 1:
            return None
        before, _, rest = rest.partition(token)
        if not rest.startswith("\n"):
            return None
        line = before[before.rfind("\n") + 1 :]
        widths.append(len(line) - len(line.lstrip(" ")) if path == _LIST else len(line))
        parts.append(before)
    parts.append(rest)
    return _Skeleton(parts=tuple(parts), widths=tuple(widths))


def _fill(skeleton: _Skeleton, values: List[Any]) -> Optional[str]:
    out = [skeleton.parts[0]]
    for n, path in enumerate(HOLES):
        value, width = values[n], skeleton.widths[n]
        if path == _LIST:
            if not value:
                out.append(" []")
            else:
                pad = " " * width
                lines = []
                for item in value:
                    text = yaml_text.scalar(item)
                    if text is None or not yaml_text.fits(text, item, width + 2):
                        return None
                    lines.append(f"\n{pad}- {text}")
                out.append("".join(lines))
        else:
            text = yaml_text.scalar(value)
            if text is None or not yaml_text.fits(text, value, width):
                return None
            out.append(text)
        out.append(skeleton.parts[n + 1])
    return "".join(out)
