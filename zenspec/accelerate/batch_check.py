"""Batch validation for the fast config loader: Hydra's check, each job composed once.

Before launching a batch, Hydra's sweepers call ``load_sweep_config`` for every
job (``Sweeper.validate_batch_is_legal``) and throw the configs away; the
launcher then composes every job again. The check has one observable effect:
the first job that cannot be composed raises, before any job of the batch runs.
:func:`validate_batch` raises exactly then, and composes in full only what it
must:

* per distinct *validation key* -- the cached base (group choices) and the
  job's value overrides that touch ``hydra`` -- one job is composed in full
  (``load_sweep_config``: the fast path, or stock where the fast path cannot
  vouch);
* every other job with that key only applies its value overrides that do not
  touch ``hydra`` to a copy of the base *without* its ``hydra`` node (for a
  typical sweep, ~10 nodes rather than ~300).

Why that is the same check. Within one key, jobs differ only in value
overrides on the user's part of the tree. Applying them (Hydra's own
``_apply_overrides_to_config``) reads nothing but the node path it writes to
(and, for ``+``/``~``, the value there); the ``hydra`` node is reached from
there only through an interpolation, which fails to resolve in the copy
without it. So a job whose overrides apply cleanly to that copy applies them
cleanly to the full tree. The ``hydra`` node's part, for each job, is then the
reference job's: its overrides are the same lines, applied to the same base
-- provided nothing there reads the user's part, which is checked: no
interpolation on the path of a ``hydra`` override, in its value, or in what the
rest of composition reads (``hydra.job.env_copy``,
``hydra.job.config.override_dirname``); ``+``/``~`` overrides of ``hydra`` keys
are composed in full. Any job that fails this way is composed in full, so the
error raised is Hydra's own; a warning emitted on the way (stock would emit it)
sends the batch to full composition. A job that this check fails and full
composition then accepts means the check was wrong: it is switched off for the
process (:mod:`zenspec.accelerate.switches`), the batch checked in full.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, ListConfig, OmegaConf

from zenspec._compatibility import (
    apply_overrides_to_config,
    is_interpolation_node,
    is_missing_node,
    is_none_node,
    node_of,
)
from zenspec.accelerate.composition_cache import _touches_hydra
from zenspec.accelerate.switches import disable

if TYPE_CHECKING:
    from zenspec.accelerate.composition_cache import FastConfigLoader

__all__ = ["validate_batch"]

# what _finish reads from the hydra node (besides what it writes)
_READ_BY_FINISH = (
    "hydra.job.env_copy",
    "hydra.job.env_set",
    "hydra.job.name",
    "hydra.job.config.override_dirname",
    "hydra.overrides.hydra",
    "hydra.overrides.task",
)


def validate_batch(
    loader: FastConfigLoader, master_config: DictConfig, batch: Sequence[Sequence[str]]
) -> None:
    """Raise what ``load_sweep_config(master_config, job)`` raises for the first such job."""
    hydra_overrides = OmegaConf.to_container(master_config.hydra.overrides.hydra)
    assert isinstance(hydra_overrides, list)
    config_name = master_config.hydra.job.config_name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        failed, error = _proven_up_to(loader, master_config, config_name, hydra_overrides, batch)
    if caught:  # stock would have warned, job by job: let it
        failed, error = 0, None
    for overrides in batch[failed:]:
        loader.load_sweep_config(master_config, list(overrides))
        if error is not None:  # the job this check refused composes: the check was wrong
            disable("validate", error)
            error = None


def _proven_up_to(
    loader: FastConfigLoader,
    master_config: DictConfig,
    config_name: Optional[str],
    hydra_overrides: List[Any],
    batch: Sequence[Sequence[str]],
) -> Tuple[int, Optional[Exception]]:
    """How many leading jobs of *batch* are proven to compose (the rest is checked in full).

    Also what this check raised on the next job, if it refused it without
    composing it in full (None: full composition refused it, or all are proven).
    """
    uniform: Dict[Tuple[Any, ...], bool] = {}  # validation key -> reference job composed
    keep_alive: List[Any] = []
    for i, job in enumerate(batch):
        overrides = hydra_overrides + list(job)
        cheap = True  # False while a job is composed in full (its error is Hydra's)
        try:
            with loader._lock:
                loader._check_sources()
                base, _, _, config_overrides = loader._plan(config_name, overrides)
            on_hydra = [o for o in config_overrides if _touches_hydra(o.key_or_group)]
            key = (id(base), tuple(o.input_line for o in on_hydra))
            proven = uniform.get(key)
            if proven is None:
                # the reference job: composed in full (raises as stock would)
                keep_alive.append(base)  # its id stays its own for the whole batch
                cheap = False
                cfg = loader.load_sweep_config(master_config, list(job))
                cheap = True
                proven = uniform[key] = base.task is not None and _hydra_part_uniform(
                    cfg, on_hydra, base
                )
                continue
            if not proven:
                cheap = False
                loader.load_sweep_config(master_config, list(job))
                continue
            assert base.task is not None
            task_cfg = base.task.new()
            apply_overrides_to_config(
                [o for o in config_overrides if not _touches_hydra(o.key_or_group)], task_cfg
            )
            del task_cfg
        except Exception as e:  # composed in full from here on: Hydra's own error, or none
            return i, e if cheap else None
    return len(batch), None


def _hydra_part_uniform(cfg: DictConfig, on_hydra: List[Override], base: Any) -> bool:
    """Whether composing ``hydra`` cannot read the user's part of the tree."""
    for path in _READ_BY_FINISH:
        node = _node_at(cfg, path)
        if node is False or (node is not None and _has_interpolation(node)):
            return False
    template = base.template.new()  # the base, before any override
    for o in on_hydra:
        if o.type not in (OverrideType.CHANGE, OverrideType.FORCE_ADD) or o.package is not None:
            return False
        if _value_interpolates(o.value()):
            return False
        # every node the write walks through must be a plain container
        parent = o.key_or_group.rpartition(".")[0]
        if parent and _node_at(template, parent) is False:
            return False
    return True


def _node_at(cfg: DictConfig, path: str) -> Any:
    """The node at *path*, None if absent, False if the walk meets anything but plain dicts."""
    node: Any = cfg
    for part in path.split("."):
        if not isinstance(node, DictConfig) or is_interpolation_node(node):
            return False
        if is_missing_node(node) or is_none_node(node):
            return False
        node = node_of(node, part)
        if node is None:
            return None
    return node


def _has_interpolation(node: Any) -> bool:
    if is_interpolation_node(node):
        return True
    if is_missing_node(node) or is_none_node(node):
        return False
    if isinstance(node, DictConfig):
        return any(_has_interpolation(node_of(node, k)) for k in node)
    if isinstance(node, ListConfig):
        return any(_has_interpolation(node_of(node, i)) for i in range(len(node)))
    return False


def _value_interpolates(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_value_interpolates(k) or _value_interpolates(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_value_interpolates(v) for v in value)
    return False
