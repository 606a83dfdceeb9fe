"""``hydra.yaml`` for a job, rendered without re-rendering what every job shares.

A job's ``hydra.yaml`` is ``OmegaConf.to_yaml`` of its ~300-node Hydra config,
and almost all of it is the same for every job composed from the same cached
base (:mod:`zenspec.accelerate.composition_cache`): only ``hydra.overrides``,
``hydra.job``, ``hydra.runtime`` and the ``hydra`` keys that the job's own
value overrides touch are written per job. The loader says which (a
:class:`RenderHint`, for the config it just returned); every other top-level
key of ``hydra`` is the base's node, untouched.

The document is ``hydra:`` followed by one block per top-level key, each the
YAML of ``{"hydra": {key: value}}`` minus its first line. That split is not
assumed: the first job of each (base, key layout) renders both ways and the
cached blocks are used only if the concatenation equals ``OmegaConf.to_yaml``
exactly; otherwise that layout is always rendered by ``OmegaConf.to_yaml``.

Both this and :mod:`zenspec.accelerate.hydra_yaml_skeleton` are shortcuts
(:mod:`zenspec.accelerate.switches`, ``render`` and ``skeleton``): off, or after
an unexpected error (then off for the process), the document is rendered whole.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

from omegaconf import Container, DictConfig, OmegaConf, SCMode, ValueNode

from zenspec._compatibility import (
    child_of,
    container_content,
    is_interpolation_node,
    is_missing_node,
    is_none_node,
    node_value,
    to_content,
)
from zenspec.accelerate import hydra_yaml_skeleton as skeleton
from zenspec.accelerate import yaml_text
from zenspec.accelerate.switches import enabled, shortcut

__all__ = ["RenderHint", "render_hydra_yaml"]

_HEAD = "hydra:\n"
_PER_JOB = frozenset({"overrides", "job", "runtime"})  # written by composition / run_job
_MAX_LAYOUTS = 64
_KEY_LINE = re.compile(r"^  [^ \n]", re.MULTILINE)  # a line indented by exactly two spaces


@dataclass(frozen=True)
class RenderHint:
    """Which base a job's config came from, and which ``hydra`` keys are its own."""

    base: int  # the base's serial number (never reused in a process)
    per_job: FrozenSet[str]
    # the serial of the sweep's job preset the config was copied from, if it
    # was: then its hydra node is the preset's but for the fields in _HOLES
    shared: Optional[int] = None

    @staticmethod
    def for_overrides(
        base: int, hydra_keys: Any, shared: Optional[int] = None
    ) -> Optional[RenderHint]:
        """The hint for a job whose value overrides touch *hydra_keys* (``hydra.x.y``...)."""
        own = set(_PER_JOB)
        for key in hydra_keys:
            _, _, rest = key.partition(".")
            if not rest:  # the whole hydra node
                return None
            own.add(rest.split(".", 1)[0])
        return RenderHint(base=base, per_job=frozenset(own), shared=shared)


_lock = threading.Lock()
# (base, key layout) -> {key: block} of the keys no job writes, or False: always stock
_layouts: OrderedDict[Tuple[Any, ...], Union[Dict[str, str], bool]] = OrderedDict()


def _content(node: DictConfig, key: str) -> Any:
    """What ``OmegaConf.to_container(..., enum_to_str=True)`` makes of ``node[key]``."""
    child = child_of(node, key)
    if isinstance(child, Container):
        return to_content(child, enum_to_str=True, structured_config_mode=SCMode.DICT)
    value = node_value(child)
    return f"{value.name}" if isinstance(value, Enum) else value


def _block(node: DictConfig, key: str) -> Optional[str]:
    text = _dump({"hydra": {key: _content(node, key)}})
    return text[len(_HEAD) :] if text.startswith(_HEAD) else None


def render_hydra_yaml(hydra_cfg: DictConfig, hint: Optional[RenderHint]) -> str:
    """``OmegaConf.to_yaml(hydra_cfg)``, reusing the blocks shared by the base's jobs."""

    def whole() -> str:
        return yaml_text.to_yaml(hydra_cfg)

    if hint is None:
        return whole()
    if hint.shared is not None and enabled("skeleton"):
        shared = hint.shared
        text = shortcut("skeleton", lambda: skeleton.render(hydra_cfg, shared), whole)
        if text is not None:
            return text
    return shortcut("render", lambda: _render(hydra_cfg, hint), whole)


def _render(hydra_cfg: DictConfig, hint: RenderHint) -> str:
    content = container_content(hydra_cfg)
    node = content.get("hydra") if isinstance(content, dict) else None
    if list(content) != ["hydra"] or not isinstance(node, DictConfig):
        return OmegaConf.to_yaml(hydra_cfg)
    keys = container_content(node)
    if not isinstance(keys, dict) or not keys:
        return OmegaConf.to_yaml(hydra_cfg)
    layout = (hint.base, tuple(keys))
    with _lock:
        cached = _layouts.get(layout)
        if cached is not None:
            _layouts.move_to_end(layout)
    if cached is None:
        return _first_of_layout(hydra_cfg, node, hint, layout)
    if cached is False:
        return OmegaConf.to_yaml(hydra_cfg)
    assert isinstance(cached, dict)
    own = [key for key in keys if key in hint.per_job or key not in cached]
    fresh = _blocks(node, own)
    parts = [_HEAD]
    for key in keys:
        block = fresh.get(key) if key in fresh else cached[key]
        if block is None:  # cannot happen for a layout that verified; stay exact anyway
            return OmegaConf.to_yaml(hydra_cfg)
        parts.append(block)
    return "".join(parts)


def _dump(data: Any) -> str:
    return yaml_text.dump(data)  # yaml.dump's text, as OmegaConf.to_yaml calls it


def _one_line_or_mapping(child: Any) -> bool:
    if isinstance(child, DictConfig):
        return (
            not is_none_node(child)
            and not is_missing_node(child)
            and not is_interpolation_node(child)
        )
    return isinstance(child, ValueNode) and not isinstance(node_value(child), str)


def _blocks(node: DictConfig, keys: List[str]) -> Dict[str, Optional[str]]:
    """``{key: _block(node, key)}``, from one YAML dump where that is the same.

    A dump's fixed cost dwarfs a small block's. When every value is a mapping
    or a scalar that is not a string (``mode: MULTIRUN``, ``verbose: false``),
    the only lines of ``{"hydra": {k1: {...}, k2: v}}`` indented by exactly two
    spaces are its keys (nested content is indented further), so the dump
    splits into the blocks separate dumps give. Anything else (a list, a
    string that might wrap): one dump each.
    """
    children = [child_of(node, k) for k in keys]
    if len(keys) < 2 or not all(_one_line_or_mapping(c) for c in children):
        return {key: _block(node, key) for key in keys}
    text = _dump({"hydra": {key: _content(node, key) for key in keys}})
    if not text.startswith(_HEAD):
        return {key: _block(node, key) for key in keys}
    starts = [m.start() for m in _KEY_LINE.finditer(text)]
    if len(starts) != len(keys) or any(
        not text.startswith(f"  {key}:", at) for key, at in zip(keys, starts)
    ):
        return {key: _block(node, key) for key in keys}
    ends = [*starts[1:], len(text)]
    return {key: text[a:b] for key, a, b in zip(keys, starts, ends)}


def _first_of_layout(
    hydra_cfg: DictConfig, node: DictConfig, hint: RenderHint, layout: Tuple[Any, ...]
) -> str:
    full = OmegaConf.to_yaml(hydra_cfg)
    blocks = {key: _block(node, key) for key in container_content(node)}
    split_ok = all(b is not None for b in blocks.values()) and full == _HEAD + "".join(
        blocks.values()  # type: ignore[arg-type]
    )
    entry: Union[Dict[str, str], bool] = (
        {k: b for k, b in blocks.items() if k not in hint.per_job and b is not None}
        if split_ok
        else False
    )
    with _lock:
        _layouts[layout] = entry
        if len(_layouts) > _MAX_LAYOUTS:
            _layouts.popitem(last=False)
    return full
