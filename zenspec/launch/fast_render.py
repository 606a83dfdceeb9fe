"""``hydra.yaml`` for a job, rendered without re-rendering what every job shares.

A job's ``hydra.yaml`` is ``OmegaConf.to_yaml`` of its ~300-node Hydra config,
and almost all of it is the same for every job composed from the same cached
base (:mod:`zenspec.launch.fast_loader`): only ``hydra.overrides``,
``hydra.job``, ``hydra.runtime`` and the ``hydra`` keys that the job's own
value overrides touch are written per job. The loader says which (a
:class:`RenderHint`, for the config it just returned); every other top-level
key of ``hydra`` is the base's node, untouched.

The document is ``hydra:`` followed by one block per top-level key, each the
YAML of ``{"hydra": {key: value}}`` minus its first line. That split is not
assumed: the first job of each (base, key layout) renders both ways and the
cached blocks are used only if the concatenation equals ``OmegaConf.to_yaml``
exactly; otherwise that layout is always rendered by ``OmegaConf.to_yaml``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, FrozenSet, Optional, Tuple, Union

import yaml
from omegaconf import Container, DictConfig, OmegaConf, SCMode
from omegaconf._utils import get_omega_conf_dumper
from omegaconf.basecontainer import BaseContainer

__all__ = ["RenderHint", "render_hydra_yaml"]

_HEAD = "hydra:\n"
_PER_JOB = frozenset({"overrides", "job", "runtime"})  # written by composition / run_job
_MAX_LAYOUTS = 64


@dataclass(frozen=True)
class RenderHint:
    """Which base a job's config came from, and which ``hydra`` keys are its own."""

    base: int  # the base's serial number (never reused in a process)
    per_job: FrozenSet[str]

    @staticmethod
    def for_overrides(base: int, hydra_keys: Any) -> Optional[RenderHint]:
        """The hint for a job whose value overrides touch *hydra_keys* (``hydra.x.y``...)."""
        own = set(_PER_JOB)
        for key in hydra_keys:
            _, _, rest = key.partition(".")
            if not rest:  # the whole hydra node
                return None
            own.add(rest.split(".", 1)[0])
        return RenderHint(base=base, per_job=frozenset(own))


_lock = threading.Lock()
# (base, key layout) -> {key: block} of the keys no job writes, or False: always stock
_layouts: OrderedDict[Tuple[Any, ...], Union[Dict[str, str], bool]] = OrderedDict()


def _content(node: DictConfig, key: str) -> Any:
    """What ``OmegaConf.to_container(..., enum_to_str=True)`` makes of ``node[key]``."""
    child = node._get_child(key, throw_on_missing_value=False)
    if isinstance(child, Container):
        return BaseContainer._to_content(
            child,
            resolve=False,
            throw_on_missing=False,
            enum_to_str=True,
            structured_config_mode=SCMode.DICT,
        )
    value = child._value()  # type: ignore[union-attr]
    return f"{value.name}" if isinstance(value, Enum) else value


def _block(node: DictConfig, key: str) -> Optional[str]:
    text = yaml.dump(
        {"hydra": {key: _content(node, key)}},
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
        Dumper=get_omega_conf_dumper(),
    )
    return text[len(_HEAD) :] if text.startswith(_HEAD) else None


def render_hydra_yaml(hydra_cfg: DictConfig, hint: Optional[RenderHint]) -> str:
    """``OmegaConf.to_yaml(hydra_cfg)``, reusing the blocks shared by the base's jobs."""
    content = hydra_cfg.__dict__["_content"]
    node = content.get("hydra") if isinstance(content, dict) else None
    if hint is None or list(content) != ["hydra"] or not isinstance(node, DictConfig):
        return OmegaConf.to_yaml(hydra_cfg)
    keys = node.__dict__["_content"]
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
    parts = [_HEAD]
    for key in keys:
        block = cached.get(key) if key not in hint.per_job else None
        if block is None:
            block = _block(node, key)
            if block is None:  # cannot happen for a layout that verified; stay exact anyway
                return OmegaConf.to_yaml(hydra_cfg)
        parts.append(block)
    return "".join(parts)


def _first_of_layout(
    hydra_cfg: DictConfig, node: DictConfig, hint: RenderHint, layout: Tuple[Any, ...]
) -> str:
    full = OmegaConf.to_yaml(hydra_cfg)
    blocks = {key: _block(node, key) for key in node.__dict__["_content"]}
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
