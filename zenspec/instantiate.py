"""``instantiate``: Hydra's, plus a trusted path for Hydra's own plugin classes.

hydra-core 1.3.8 added a target policy that refuses ``_target_`` values under
``hydra._internal`` ("exposes implementation state"). The documentation zenspec
grew from has a user sweeper call ``instantiate(config.hydra.launcher)``, whose
target is ``hydra._internal.core_plugins.basic_launcher.BasicLauncher``. Hydra
itself instantiates plugins through a trusted context scoped to exactly the
registered plugin class; zenspec does the same, for launchers and sweepers that
Hydra's plugin registry knows, and for nothing else. Nested targets inside such a
config, and every other target, still go through the full policy.

hydra-core 1.4 adds an execution whitelist (the callables config may name,
given by trusted code): ``instantiate`` passes ``_execution_whitelist_`` on to
Hydra there; on 1.3, which has none, it is checked for form and has no effect.
:func:`normalize_execution_whitelist` is the one check of a whitelist's form,
for ``hydra_run(execution_whitelist=...)`` and a spec's
``[experiment] execution_whitelist`` too.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager, Optional

from hydra.utils import instantiate as _hydra_instantiate
from omegaconf import DictConfig, OmegaConf

__all__ = ["instantiate", "is_whitelisted", "normalize_execution_whitelist"]

from zenspec._compatibility import (
    HAS_EXECUTION_WHITELIST,
    has_trusted_internal_target,
    trusted_internal_target,
    trusted_plugin_kwargs,
)
from zenspec.spec.whitelist import is_whitelisted, normalize_execution_whitelist


def _top_level_target(config: Any) -> Optional[str]:
    if isinstance(config, DictConfig):
        target = config.get("_target_") if "_target_" in config else None
    elif isinstance(config, dict):
        target = config.get("_target_")
    else:
        target = getattr(config, "_target_", None)
    return target if isinstance(target, str) else None


def _trusted_plugin_class(target: Optional[str]) -> Optional[type]:
    """The registered Launcher/Sweeper class named exactly by *target*, if any."""
    if target is None or not has_trusted_internal_target():  # 1.3.6 has no such policy
        return None
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    clazz = Plugins.instance().class_name_to_class.get(target)
    if clazz is not None and issubclass(clazz, (Launcher, Sweeper)):
        return clazz
    return None


def _plugin_context(target: Optional[str]) -> ContextManager[Any]:
    if _trusted_plugin_class(target) is None:
        return contextlib.nullcontext()
    assert target is not None
    trusted = trusted_internal_target(target)
    return contextlib.nullcontext() if trusted is None else trusted


def instantiate(config: Any, *args: Any, **kwargs: Any) -> Any:
    """Instantiate a config, like ``hydra.utils.instantiate``.

    Parameters
    ----------
    config : Any
        A ``builds(...)`` dataclass (type or instance), a DictConfig or a
        mapping with a ``_target_``; or a plain container, returned as is.
    *args, **kwargs : Any
        Passed on to Hydra's ``instantiate`` (extra call arguments,
        ``_partial_``, ``_convert_``, ...).

    Notes
    -----
    A config whose top-level ``_target_`` is a launcher or sweeper class
    registered with Hydra's plugin registry (e.g. Hydra's ``BasicLauncher``) is
    instantiated through Hydra's own trusted-plugin path, so documented calls
    such as ``instantiate(config.hydra.launcher)`` work under hydra-core 1.3.8's
    target policy. Nothing else is exempt from the policy.

    Examples
    --------
    >>> from zenspec import builds, instantiate
    >>> instantiate(builds(dict, a=1))
    {'a': 1}
    """
    if "_execution_whitelist_" in kwargs:
        whitelist = normalize_execution_whitelist(kwargs.pop("_execution_whitelist_"))
        if HAS_EXECUTION_WHITELIST:  # 1.3 has no whitelist: accepted, no effect
            kwargs["_execution_whitelist_"] = whitelist
    target = _top_level_target(config)
    clazz = _trusted_plugin_class(target)
    if clazz is not None:
        assert target is not None
        if not isinstance(config, DictConfig):
            config = OmegaConf.structured(config)
        # the class Hydra's registry holds, allowed as Hydra allows its own plugins
        trusted = {**trusted_plugin_kwargs(target), **kwargs}
        if "_execution_whitelist_" in kwargs and HAS_EXECUTION_WHITELIST:
            trusted["_execution_whitelist_"] = _with(kwargs["_execution_whitelist_"], target)
        with _plugin_context(target):
            return _hydra_instantiate(config, *args, _target_=clazz, **trusted)
    return _hydra_instantiate(config, *args, **kwargs)


def _with(whitelist: Any, name: str) -> Any:
    if whitelist is None:
        return name
    if not isinstance(whitelist, tuple):  # 1.4's UNSAFE_DISABLE_EXECUTION_CHECKS
        return whitelist
    return (*whitelist, name)


def instantiate_plugin(config: Any, clazz: type, class_path: str) -> Any:
    """Instantiate *config* as the Launcher/Sweeper class *clazz* that zenspec's own
    code chose (Hydra's ``Plugins._instantiate``: the class, explicitly allowed; on
    1.4 through the execution whitelist, so no legacy warning). *class_path* is the
    name the class is checked by (``module.qualname``)."""
    with _plugin_context(class_path):
        return _hydra_instantiate(config, _target_=clazz, **trusted_plugin_kwargs(class_path))
