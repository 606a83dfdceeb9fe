"""The one place zenspec touches Hydra's and OmegaConf's private names.

Supported: hydra-core 1.3.6 to 1.4.x (omegaconf 2.3 with 1.3, 2.4 with 1.4).
The installed versions are read once, from the package metadata (cheap: no
Hydra import), and turned into flags; every private name zenspec needs is
imported here, lazily, and given to the rest of the package under a public
name (plain functions, or a module attribute through ``__getattr__``). So is
every private attribute or method of their objects zenspec reads, writes or
calls (``node._get_node(key)`` is :func:`node_of`, ``ret._return_value`` is
:func:`job_outcome`...).

Speed pieces that cannot be proven for the installed version are switched off
here (``FAST_*``): zenspec then runs stock Hydra's code path, with stock's
outputs. ``tests/test_compatibility.py`` fails if any other module imports
``hydra._internal`` or a ``_``-prefixed name from Hydra or OmegaConf, or
accesses a ``_``-prefixed attribute their classes define.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from omegaconf import Container, Node

__all__ = [
    "FAST_COMPOSITION",
    "FAST_GRAMMAR",
    "FAST_LOGGING",
    "FAST_RUN_JOB",
    "FAST_YAML",
    "HAS_EXECUTION_WHITELIST",
    "HAS_OVERRIDE_VALIDATE",
    "HYDRA_14",
    "HYDRA_VERSION",
    "LOAD_HOOK_14",
    "OMEGACONF_24",
    "OMEGACONF_VERSION",
    "POLICY_WORD",
    "RUN_JOB_LOGS_ERRORS",
    "SETS_OVERRIDE_DIRNAME",
    "SUPPORTED_RANGE",
    "active_execution_whitelist",
    "apply_overrides_to_config",
    "authorize_target_name",
    "base_at_least",
    "check_hydra_context",
    "child_of",
    "cloudpickle_by_reference_test",
    "configure_logging",
    "container_content",
    "execution_whitelist_scope",
    "get_overrides_dirname",
    "get_yaml_loader",
    "has_target_policy",
    "has_trusted_internal_target",
    "hydra_context",
    "is_interpolation_node",
    "is_missing_node",
    "is_none_node",
    "job_id",
    "job_outcome",
    "local_job_process",
    "node_metadata",
    "node_of",
    "node_parent",
    "node_value",
    "normalize_file_name",
    "omegaconf_resolvers",
    "override_element_text",
    "override_value",
    "require_supported",
    "resolve_from_parse_tree",
    "set_container_content",
    "set_node_value",
    "set_omegaconf_resolvers",
    "set_parent",
    "set_singleton_instances",
    "set_version_base",
    "singleton_instances",
    "split_arguments",
    "to_content",
    "trusted_internal_target",
    "trusted_plugin_kwargs",
    "unsupported_reason",
    "validate_override",
]

SUPPORTED_RANGE = "hydra-core 1.3.6 to 1.4.x"

#: Hydra's own sweeper and launcher, as their ``_target_`` is written in its configs
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
_FLOOR = (1, 3, 6)
_CEILING = (1, 5)  # first unsupported major.minor


def _distribution_version(dist: str, module: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # no metadata (a vendored copy): ask the module itself
        return str(getattr(importlib.import_module(module), "__version__", "0"))


def _release(text: str) -> Tuple[int, ...]:
    """``"1.4.0rc3"`` -> ``(1, 4, 0)``: the numeric release part only."""
    parts: List[int] = []
    for piece in text.split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):  # "0rc3": a pre-release tag ends the release
            break
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


HYDRA_VERSION: str = _distribution_version("hydra-core", "hydra")
OMEGACONF_VERSION: str = _distribution_version("omegaconf", "omegaconf")
_HYDRA = _release(HYDRA_VERSION)
_OMEGACONF = _release(OMEGACONF_VERSION)

HYDRA_14: bool = _HYDRA[:2] >= (1, 4)  # 1.4.0 pre-releases included
OMEGACONF_24: bool = _OMEGACONF[:2] >= (2, 4)

# --- what the installed Hydra has (B2, B3, B7) ---------------------------------
# 1.4 computes hydra.job.override_dirname with a resolver (${hydra_override_dirname:})
SETS_OVERRIDE_DIRNAME: bool = not HYDRA_14
HAS_OVERRIDE_VALIDATE: bool = not HYDRA_14  # Override.validate() is gone in 1.4
# hydra-core 1.4's execution whitelist (report §5.3): instantiate(_execution_whitelist_=),
# hydra.utils.execution_whitelist(), @hydra.main(execution_whitelist=), HydraContext
HAS_EXECUTION_WHITELIST: bool = HYDRA_14
# the word Hydra's target policy refuses a target with
POLICY_WORD: str = "blacklisted" if HYDRA_14 else "blocklisted"

# --- speed pieces proven for this version (off: stock Hydra's code path) -------
# The composition cache: proven by tests/differential on 1.3.6-1.3.8 and 1.4.0rc3.
# 1.3 serves load_configuration (the primary config too); 1.4's load_sweep_config
# goes through the private _load_configuration (B9): the cache serves that hook
# (jobs only: the primary config is stock's, which expands override aliases) and
# leaves hydra.job.override_dirname to 1.4's resolver (B2).
FAST_COMPOSITION: bool = True
LOAD_HOOK_14: bool = HYDRA_14
# zenspec's run_job copies 1.3's; 1.4's adds the execution whitelist, env_set
# resolution and job-error logging (report §5.1): not proven on 1.4.
FAST_RUN_JOB: bool = not HYDRA_14
# 1.4's run_job itself writes a failed job's traceback ("Job failed") to every file
# handler of the root logger (_log_job_error_to_file; report §5.1 (4))
RUN_JOB_LOGS_ERRORS: bool = HYDRA_14
# configure_log without re-resolving: 1.4 passes an execution whitelist (B8)
FAST_LOGGING: bool = not HYDRA_14
# OmegaConf.to_yaml's text: 2.4 encodes "\???" literals (B10)
FAST_YAML: bool = not OMEGACONF_24
# interpolation_cache: the two interpolations zenspec resolves itself (a job's subdir and
# log name), from parse trees it keeps; not proven on omegaconf 2.4
FAST_GRAMMAR: bool = not OMEGACONF_24


def unsupported_reason(version: Optional[str] = None) -> Optional[str]:
    """The error message for hydra-core *version* (default: the installed one), or None."""
    text = HYDRA_VERSION if version is None else version
    release = _release(text)
    if release < _FLOOR or release[:2] >= _CEILING:
        return f"zenspec supports {SUPPORTED_RANGE}; found {text}"
    return None


def require_supported(version: Optional[str] = None) -> None:
    """Raise a :class:`~zenspec.errors.LaunchError` (exit 2) out of range."""
    reason = unsupported_reason(version)
    if reason is not None:
        from zenspec.errors import LaunchError

        raise LaunchError(
            reason,
            hint="Install a supported version, e.g. pip install 'hydra-core>=1.3.6,<1.5'.",
        )


# --- private names, under public ones ---------------------------------------------

# name -> (module, attribute): imported on first use (``from zenspec._compatibility import X``)
_LAZY: Dict[str, Tuple[str, str]] = {
    "ConfigLoaderImpl": ("hydra._internal.config_loader_impl", "ConfigLoaderImpl"),
    "CachingConfigRepository": ("hydra._internal.config_repository", "CachingConfigRepository"),
    "create_defaults_list": ("hydra._internal.defaults_list", "create_defaults_list"),
    "Hydra": ("hydra._internal.hydra", "Hydra"),
    "create_config_search_path": ("hydra._internal.utils", "create_config_search_path"),
    "get_cls_name": ("hydra._internal.utils", "_get_cls_name"),
    "Callbacks": ("hydra._internal.callbacks", "Callbacks"),
    "BasicLauncher": ("hydra._internal.core_plugins.basic_launcher", "BasicLauncher"),
    "deprecation_warning": ("hydra._internal.deprecation_warning", "deprecation_warning"),
    "FunctionCall": ("hydra._internal.grammar.functions", "FunctionCall"),
    "flush_loggers": ("hydra.core.utils", "_flush_loggers"),
    "YAML_BOOL_TYPES": ("omegaconf._utils", "YAML_BOOL_TYPES"),
    "get_omega_conf_dumper": ("omegaconf._utils", "get_omega_conf_dumper"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def split_arguments(parsed: Any, max_batch_size: Optional[int]) -> Any:
    """``BasicSweeper.split_arguments``. Looked up at call time: Hydra's plugin scan
    re-imports its core plugin modules (a stale class breaks BasicSweeper's super())."""
    from hydra._internal.core_plugins import basic_sweeper

    return basic_sweeper.BasicSweeper.split_arguments(parsed, max_batch_size)


def check_hydra_context(hydra_context: Any) -> None:
    """``hydra.core.utils._check_hydra_context`` (B1: removed in 1.4)."""
    if hydra_context is None:
        raise TypeError("missing 1 required keyword-only argument: 'hydra_context'")


def get_overrides_dirname(
    overrides: Any, exclude_keys: Any, item_sep: str, kv_sep: str
) -> str:  # pragma: no cover - thin
    """Hydra 1.3's ``get_overrides_dirname`` (B2); 1.4 has none (SETS_OVERRIDE_DIRNAME)."""
    if not SETS_OVERRIDE_DIRNAME:
        raise NotImplementedError("hydra-core 1.4 computes hydra.job.override_dirname itself")
    from hydra._internal.config_loader_impl import get_overrides_dirname as stock

    return str(stock(overrides, exclude_keys, item_sep, kv_sep))


def validate_override(override: Any) -> None:
    """``Override.validate()`` where it exists (B3; a no-op for version_base >= 1.2)."""
    validate = getattr(override, "validate", None)
    if validate is not None:
        validate()


def get_yaml_loader() -> Any:
    """OmegaConf's YAML loader class (B4: ``omegaconf._utils`` in 2.3, ``_yaml`` in 2.4)."""
    for name in ("omegaconf._utils", "omegaconf._yaml"):  # looked up by name: one is absent
        stock = getattr(importlib.import_module(name), "get_yaml_loader", None)
        if stock is not None:
            return stock()
    raise ImportError("omegaconf has no get_yaml_loader in _utils or _yaml")


def base_at_least(ver: str) -> bool:
    """``hydra.version.base_at_least`` (B5: removed in 1.4, where every base is >= 1.3)."""
    from hydra import version

    stock = getattr(version, "base_at_least", None)
    if stock is None:
        return _release(str(version.getbase()))[:2] >= _release(ver)[:2]
    return bool(stock(ver))


def _policy_module() -> Any:
    for name in ("hydra._internal.execution_policy", "hydra._internal.target_policy"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def trusted_internal_target(target: str) -> Optional[ContextManager[None]]:
    """Hydra's ``_trusted_internal_target(target)`` context (B6), or None where the
    installed Hydra has none (1.3.6, which does not refuse ``hydra._internal``)."""
    module = _policy_module()
    trusted: Optional[Callable[[str], ContextManager[None]]]
    trusted = getattr(module, "_trusted_internal_target", None) if module else None
    return None if trusted is None else trusted(target)


def has_trusted_internal_target() -> bool:
    """Whether Hydra has a trusted path for its own internal targets (1.3.7+)."""
    module = _policy_module()
    return module is not None and hasattr(module, "_trusted_internal_target")


def has_target_policy() -> bool:
    """Whether Hydra refuses dangerous ``_target_`` names (1.3.6+)."""
    return _policy_module() is not None


def authorize_target_name(
    name: str, resolved_from: str = "", full_key: str = "", whitelist: Any = None
) -> None:
    """Hydra's target policy asked about *name* (B7); raises ``InstantiationException``.

    1.3.6-1.3.8: ``target_policy._authorize_target_name(name, resolved_from, key)``
    (the blocklist; *whitelist* does not exist there);
    1.4: ``execution_policy._authorize_target_name(..., execution_whitelist)``, with
    *whitelist* as :func:`active_execution_whitelist` gives it (None: the legacy
    blacklist, as ``instantiate`` without a whitelist).
    Does nothing where Hydra has no policy.
    """
    module = _policy_module()
    if module is None:
        return
    authorize = module._authorize_target_name
    if module.__name__.endswith("execution_policy"):
        authorize(name, resolved_from or name, full_key, whitelist)
    else:
        authorize(name, resolved_from or name, full_key)


def configure_logging(conf: Any, whitelist: Any = None) -> None:
    """``hydra._internal.logging_config.configure_logging`` (B8); *whitelist* on 1.4 only."""
    from hydra._internal import logging_config

    stock: Any = logging_config.configure_logging  # 1.3 and 1.4 take different arguments
    if HYDRA_14:
        stock(conf, whitelist)
    else:
        stock(conf)


def set_version_base(version_base: Any) -> None:
    """``hydra.version.setbase(version_base)`` without 1.4's Hydra15MigrationWarning (B11).

    1.4 records the same base (``"1.3"`` -> ``"1.3"``, None -> the current one)
    and warns that the parameter is deprecated: zenspec records it directly.
    """
    from hydra import version

    if not HYDRA_14:
        version.setbase(version_base)
        return
    get_version = getattr(version, "_get_version", None)
    if get_version is None:  # a 1.4 that changed its internals: stock, warning and all
        version.setbase(version_base)
        return
    if version_base is None or version_base is getattr(version, "_UNSPECIFIED_", None):
        base = get_version(HYDRA_VERSION)
    else:
        base = get_version(str(version_base))
        minimum = getattr(version, "_MIN_SUPPORTED_VERSION_BASE", "1.3")
        if _release(base)[:2] < _release(minimum)[:2]:
            version.setbase(version_base)  # stock's own error
            return
    version.VersionBase.instance().setbase(base)


def job_id(value: Any) -> Any:
    """What to assign to ``hydra.job.id`` (B12): a str on omegaconf 2.4, which warns
    about the implicit int -> str conversion (the node is a str either way)."""
    return str(value) if OMEGACONF_24 else value


# --- private attributes of OmegaConf's and Hydra's objects ---------------------------
# One thin wrapper per private attribute or method zenspec reads or calls, so no other
# module names one (tests/test_compatibility.py checks). Several run per job or per
# node: each is a plain call, with no checks of its own. "Checked on" names the
# versions whose source and tests were read for it: hydra-core 1.3.6 and 1.3.8 with
# omegaconf 2.3.1, hydra-core 1.4.0rc3 with omegaconf 2.4.1rc1.


def node_of(container: Container, key: Any) -> Any:
    """``container._get_node(key)``: the child *node* at *key* (None if absent), not its
    value; no resolution, no missing-value error. Checked on omegaconf 2.3.1, 2.4.1rc1."""
    return container._get_node(key)


def child_of(container: Container, key: Any) -> Any:
    """``container._get_child(key, throw_on_missing_value=False)``: as :func:`node_of`, with
    the key validated as ``container[key]`` does. Checked on omegaconf 2.3.1, 2.4.1rc1."""
    return container._get_child(key, throw_on_missing_value=False)


def node_value(node: Node) -> Any:
    """``node._value()``: a value node's raw value (``_val``: an interpolation's string,
    ``"???"``, an Enum member...), a container's content. Checked on omegaconf 2.3.1,
    2.4.1rc1."""
    return node._value()


def is_interpolation_node(node: Node) -> bool:
    """``node._is_interpolation()``: whether the node holds a ``${...}`` string (a
    container: is one). Checked on omegaconf 2.3.1, 2.4.1rc1."""
    return node._is_interpolation()


def is_missing_node(node: Node) -> bool:
    """``node._is_missing()``: whether the node is ``???`` (unresolved: an interpolation
    is not missing). Checked on omegaconf 2.3.1, 2.4.1rc1."""
    return node._is_missing()


def is_none_node(node: Node) -> bool:
    """``node._is_none()``: whether the node is None (unresolved). Checked on omegaconf
    2.3.1, 2.4.1rc1."""
    return node._is_none()


def node_metadata(node: Node) -> Any:
    """``node._metadata``: the node's ``Metadata`` (a ``ContainerMetadata`` for a
    container) dataclass, live. Checked on omegaconf 2.3.1, 2.4.1rc1."""
    return node._metadata


def node_parent(node: Node) -> Any:
    """``node._get_parent()``: the container holding *node*, or None. Checked on omegaconf
    2.3.1, 2.4.1rc1."""
    return node._get_parent()


def set_parent(node: Node, parent: Any) -> None:
    """``node._set_parent(parent)``: re-point *node* at *parent* (a container or None);
    nothing else changes. Checked on omegaconf 2.3.1, 2.4.1rc1."""
    node._set_parent(parent)


def set_node_value(node: Node, value: Any) -> None:
    """``node._set_value(value)``: replace the node's value in place, validated and
    converted as an assignment is (flags: the node's own). Checked on omegaconf 2.3.1,
    2.4.1rc1."""
    node._set_value(value)


def container_content(container: Container) -> Any:
    """``container.__dict__["_content"]``: a DictConfig's ``{key: node}`` dict, a
    ListConfig's list of nodes, the live object (or None / an interpolation string /
    ``"???"``). Checked on omegaconf 2.3.1, 2.4.1rc1."""
    return container.__dict__["_content"]


def set_container_content(container: Container, content: Any) -> None:
    """``container.__dict__["_content"] = content``: swap the container's content
    object; no parent, flag or validation is touched. Checked on omegaconf 2.3.1,
    2.4.1rc1."""
    container.__dict__["_content"] = content


def to_content(conf: Container, enum_to_str: bool, structured_config_mode: Any) -> Any:
    """``BaseContainer._to_content(conf, resolve=False, throw_on_missing=False, ...)``,
    what ``OmegaConf.to_container(conf, resolve=False, ...)`` returns after its checks.
    Checked on omegaconf 2.3.1, 2.4.1rc1 (whose extra parameters keep their defaults)."""
    from omegaconf.basecontainer import BaseContainer

    return BaseContainer._to_content(
        conf,
        resolve=False,
        throw_on_missing=False,
        enum_to_str=enum_to_str,
        structured_config_mode=structured_config_mode,
    )


def resolve_from_parse_tree(parent: Container, key: Any, node: Node, parse_tree: Any) -> Any:
    """``parent._resolve_interpolation_from_parse_tree(...)`` for *node* (at *key* in
    *parent*) and its string's *parse_tree*, throwing on a failure, with a fresh memo:
    what ``parent[key]`` does after parsing. Returns the resolved node. Checked on
    omegaconf 2.3.1 and 2.4.1rc1 (whose extra ``resolved_node_cache`` keeps its default;
    zenspec does not call it there: ``FAST_GRAMMAR`` is off)."""
    return parent._resolve_interpolation_from_parse_tree(
        parent=parent,
        key=key,
        value=node,
        parse_tree=parse_tree,
        throw_on_resolution_failure=True,
        memo=set(),
    )


def job_outcome(ret: Any) -> Any:
    """``ret._return_value`` of a ``JobReturn``: the task's return value, or the error of a
    failed job. ``ret.return_value`` raises the error (and writes to stderr) for a failed
    job, so this is read instead; set it with the public ``ret.return_value = ...``.
    Checked on hydra-core 1.3.6, 1.3.8, 1.4.0rc3."""
    return ret._return_value


def override_value(override: Any) -> Any:
    """``override._value`` of a parsed ``Override``: the parsed value as it is (a
    ``Sweep``, a list, a ``QuotedString``...); the public ``value()`` converts it.
    Checked on hydra-core 1.3.6, 1.3.8, 1.4.0rc3."""
    return override._value


def override_element_text(value: Any) -> str:
    """``Override._get_value_element_as_str(value)``: an element of a sweep as Hydra
    writes it on an override line. Checked on hydra-core 1.3.6, 1.3.8, 1.4.0rc3."""
    from hydra.core.override_parser.types import Override

    return Override._get_value_element_as_str(value)


def apply_overrides_to_config(overrides: Any, cfg: Any) -> None:
    """``ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)``: a composed
    config's value overrides, written as composition writes them. Checked on hydra-core
    1.3.6, 1.3.8, 1.4.0rc3."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)


def normalize_file_name(filename: str) -> str:
    """``ConfigSource._normalize_file_name(filename=...)``: a config name with its
    ``.yaml`` suffix. Checked on hydra-core 1.3.6, 1.3.8, 1.4.0rc3."""
    from hydra.plugins.config_source import ConfigSource

    return ConfigSource._normalize_file_name(filename=filename)


def singleton_instances() -> Dict[Any, Any]:
    """``Singleton._instances``: Hydra's live ``{class: instance}`` dict of singletons.
    Checked on hydra-core 1.3.6, 1.3.8, 1.4.0rc3."""
    from hydra.core.singleton import Singleton

    return Singleton._instances


def set_singleton_instances(instances: Dict[Any, Any]) -> None:
    """``Singleton._instances = instances``. Checked on hydra-core 1.3.6, 1.3.8,
    1.4.0rc3."""
    from hydra.core.singleton import Singleton

    Singleton._instances = instances


def omegaconf_resolvers() -> Dict[str, Any]:
    """``BaseContainer._resolvers``: OmegaConf's live ``{name: resolver}`` registry (what
    ``Singleton.get_state`` saves). Checked on omegaconf 2.3.1, 2.4.1rc1."""
    from omegaconf.basecontainer import BaseContainer

    return BaseContainer._resolvers


def set_omegaconf_resolvers(resolvers: Dict[str, Any]) -> None:
    """``BaseContainer._resolvers = resolvers`` (what ``Singleton.set_state`` restores).
    Checked on omegaconf 2.3.1, 2.4.1rc1."""
    from omegaconf.basecontainer import BaseContainer

    BaseContainer._resolvers = resolvers


# --- the execution whitelist (hydra-core 1.4; report §5.3) ---------------------------


def active_execution_whitelist() -> Any:
    """The whitelist active in this context (1.4's ``_get_active_execution_whitelist()``:
    a tuple of patterns, ``UNSAFE_DISABLE_EXECUTION_CHECKS`` or None); None on 1.3."""
    if not HAS_EXECUTION_WHITELIST:
        return None
    policy = importlib.import_module("hydra._internal.execution_policy")  # 1.4 only
    return policy._get_active_execution_whitelist()


def execution_whitelist_scope(whitelist: Any) -> ContextManager[Any]:
    """``hydra.utils.execution_whitelist(whitelist)`` (adds to the active one, as
    ``@hydra.main(execution_whitelist=...)`` does); nothing on 1.3 or for None."""
    import contextlib

    if not HAS_EXECUTION_WHITELIST or whitelist is None:
        return contextlib.nullcontext()
    scope: Any = importlib.import_module("hydra.utils").execution_whitelist  # 1.4
    return scope(whitelist)


def hydra_context(config_loader: Any, callbacks: Any) -> Any:
    """A ``HydraContext``; on 1.4 carrying the active whitelist, as ``Hydra.run``/``multirun``
    build it (stock 1.4 ``run_job`` runs each job under exactly that whitelist)."""
    from hydra.types import HydraContext

    if not HAS_EXECUTION_WHITELIST:
        return HydraContext(config_loader=config_loader, callbacks=callbacks)
    context: Any = HydraContext  # 1.4's takes the whitelist; 1.3's type does not know it
    return context(
        config_loader=config_loader,
        callbacks=callbacks,
        execution_whitelist=active_execution_whitelist(),
    )


def trusted_plugin_kwargs(class_path: str) -> Dict[str, Any]:
    """Extra ``instantiate`` arguments for a plugin class zenspec's own code chose.

    1.4: ``_execution_whitelist_=class_path``, as ``Plugins._instantiate`` passes for a
    registered plugin (the class, added to the active whitelist: nested targets still
    need the caller's); 1.3: nothing (the target blocklist applies)."""
    return {"_execution_whitelist_": class_path} if HAS_EXECUTION_WHITELIST else {}


# --- other packages' private attributes ---------------------------------------------


def local_job_process(job: Any) -> Any:
    """The ``subprocess.Popen`` of a submitit *local* job (``LocalJob._process``), or None.

    submitit (checked on 1.5.3-1.5.4) keeps no public handle on it; zenspec reads it to
    reap a finished job, to see how it ended and whether it still runs.
    """
    return getattr(job, "_process", None)


def cloudpickle_by_reference_test(cloudpickle_module: Any) -> Any:
    """cloudpickle's ``_should_pickle_by_reference(obj)`` (its rule for pickling a class
    or function by reference), or None where it has none (checked on 2.2-3.1)."""
    return getattr(cloudpickle_module, "_should_pickle_by_reference", None)
