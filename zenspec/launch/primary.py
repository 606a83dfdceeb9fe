"""Turn the caller's config into the primary config node Hydra composes from.

Two things happen here besides the conversion:

* the caller's object is never touched: dataclass instances, DictConfigs and
  mappings are copied before anything is added to them;
* the *group default rule*: Hydra 1.3 only lets ``optim=sgd`` select a config
  group option when ``optim`` is already in the defaults list, otherwise it
  demands ``+optim=sgd``. zenspec adds ``optim: null`` to the primary config's
  defaults list for every config group (registered in the ConfigStore, outside
  ``hydra/``) that is named by a top-level key of the config or by a plain
  ``key=value`` override, and is not in the defaults list already (nor
  selected with Hydra's own ``+optim=sgd``, which keeps working). ``null``
  means "nothing selected", so nothing changes until an override picks an
  option, and the natural spelling ``optim=sgd,adam`` works. When zenspec
  creates the defaults list it puts ``_self_`` first, so the selected option
  overrides a placeholder such as ``optim=None`` in the config; a defaults list
  you write yourself keeps its own ``_self_`` position.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Iterable, List, Mapping, Optional, Set

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from zenspec.errors import LaunchError

__all__ = ["group_exists", "make_primary", "referenced_groups"]


def make_primary(config: Any) -> DictConfig:
    """A fresh DictConfig for *config* (dataclass type/instance, DictConfig, mapping)."""
    try:
        if isinstance(config, DictConfig):
            return copy.deepcopy(config)
        if dataclasses.is_dataclass(config):
            return OmegaConf.structured(config)
        if isinstance(config, Mapping):
            return OmegaConf.create(copy.deepcopy(dict(config)))
    except Exception as e:  # OmegaConf's own message says which value it could not take
        raise LaunchError(
            f"the config could not be converted to an OmegaConf config: {e}",
            hint="Fix: use primitives, lists, dicts, builds(...) or just(...) values.",
        ) from e
    raise LaunchError(
        f"config must be a dataclass (type or instance), a DictConfig or a mapping; "
        f"got {type(config).__name__}."
    )


def group_exists(group: str) -> bool:
    """True if *group* is a config group in Hydra's ConfigStore."""
    node: Any = ConfigStore.instance().repo
    for part in group.split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, dict)


def _defaults_groups(defaults: Optional[ListConfig]) -> Set[str]:
    found: Set[str] = set()
    for item in defaults or []:
        if isinstance(item, (dict, DictConfig)):
            for key in item:
                key = str(key)
                if key.startswith("override "):
                    key = key[len("override ") :]
                found.add(key.split("@")[0].strip().lstrip("/"))
        elif isinstance(item, str) and item != "_self_":
            found.add(item.split("@")[0].lstrip("/"))
    return found


def referenced_groups(primary: DictConfig, overrides: Iterable[Override]) -> List[str]:
    """Groups named by top-level config keys or plain overrides, in a stable order."""
    names: List[str] = [str(k) for k in primary if k != "defaults"]
    explicit: Set[str] = set()  # `+optim=adam` is Hydra's own spelling: leave it to Hydra
    for o in overrides:
        key = o.key_or_group
        if o.is_add() or o.is_force_add() or o.is_delete():
            explicit.add(key)
            continue
        if o.package is not None or key.startswith("hydra"):
            continue
        if key not in names:
            names.append(key)
    return [n for n in names if n not in explicit and not n.startswith("hydra") and group_exists(n)]


def add_group_defaults(primary: DictConfig, groups: Iterable[str]) -> None:
    """Apply the group default rule (module docstring) to *primary*, in place."""
    existing = primary.get("defaults") if "defaults" in primary else None
    missing = [g for g in groups if g not in _defaults_groups(existing)]
    if not missing:
        return
    with open_dict(primary):
        if existing is None:
            primary["defaults"] = ["_self_", *({g: None} for g in missing)]
        else:
            for g in missing:
                primary.defaults.append({g: None})
