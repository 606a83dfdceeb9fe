"""``builds`` and ``just``: dataclass configs made from callables.

A ``builds(f, **kw)`` config is a dataclass type with ``_target_`` naming *f*;
Hydra's ``instantiate`` turns it back into ``f(**kw)``. The keyword arguments
are checked against *f*'s signature when the config is built, because a typo
found at build time costs a second, found in job 3,517 of a sweep costs a night.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import keyword
import pathlib
from typing import Any, Callable, List, Mapping, Optional, Sequence, Type, overload

from omegaconf import MISSING, DictConfig, ListConfig
from typing_extensions import Literal, Protocol, runtime_checkable

from zenspec.errors import BuildsError, did_you_mean

__all__ = ["Builds", "PartialBuilds", "builds", "get_target_path", "is_builds", "just"]

_PRIMITIVES = (str, int, float, bool, type(None), bytes, enum.Enum)


@runtime_checkable
class Builds(Protocol):
    """A config that instantiates to ``target(*args, **kwargs)``."""

    _target_: str


@runtime_checkable
class PartialBuilds(Builds, Protocol):
    """A config that instantiates to ``functools.partial``-like ``target(**kwargs)``."""

    _partial_: bool


def get_target_path(obj: Any) -> str:
    """The import path Hydra's ``_target_`` needs for *obj* (``"pkg.mod.Name"``).

    Raises
    ------
    BuildsError
        If *obj* cannot be imported by path (a lambda, a local function).
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if module is None and isinstance(obj, type(len)):  # some C builtins
        module = "builtins"
    if not module or not qualname:
        raise BuildsError(
            f"{obj!r} has no importable path (__module__/__qualname__ missing); "
            "Hydra configs can only name module-level functions and classes."
        )
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise BuildsError(
            f"{module}.{qualname} cannot be named by a config because it is defined "
            "inside a function or is a lambda. Move it to module level."
        )
    return f"{module}.{qualname}"


def is_builds(obj: Any) -> bool:
    """True for configs (dataclass types/instances, DictConfigs) that have a ``_target_``."""
    if isinstance(obj, DictConfig):
        return "_target_" in obj
    return dataclasses.is_dataclass(obj) and hasattr(obj, "_target_")


def _signature(target: Callable[..., Any]) -> Optional[inspect.Signature]:
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):  # builtins such as dict have none to check against
        return None


def _check_against_signature(
    target: Callable[..., Any], sig: inspect.Signature, args: Sequence[Any], kwargs: Mapping
) -> None:
    params = sig.parameters
    accepts_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if not accepts_var_kw:
        named = [
            n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        for key in kwargs:
            if key not in named:
                raise BuildsError(
                    f"builds({target.__name__}, ...): '{key}' is not a parameter of "
                    f"{get_target_path(target)}{sig}.{did_you_mean(key, named)}"
                )
    try:
        sig.bind_partial(*args, **kwargs)
    except TypeError as e:
        raise BuildsError(
            f"builds({target.__name__}, ...): the arguments do not fit "
            f"{get_target_path(target)}{sig}: {e}"
        ) from None


def _as_field_value(value: Any, where: str) -> Any:
    """Turn one user value into something a dataclass field (and OmegaConf) can hold."""
    if isinstance(value, _PRIMITIVES) or value is MISSING:
        return value
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, (DictConfig, ListConfig)):
        return value
    if dataclasses.is_dataclass(value):
        return value  # a config: builds() type or a structured-config instance
    if isinstance(value, (list, tuple)):
        return [_as_field_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {k: _as_field_value(v, f"{where}.{k}") for k, v in value.items()}
    if callable(value):
        return just(value)
    raise BuildsError(
        f"{where}: a value of type {type(value).__name__} cannot be stored in a config. "
        "Use a primitive (str/int/float/bool/None), a list or dict of them, "
        "builds(...) for an object made by a call, or just(...) for an object itself."
    )


def _field(name: str, value: Any) -> tuple:
    """(name, type, field) with a default_factory wherever the default is mutable."""
    if isinstance(value, (list, dict, DictConfig, ListConfig)) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        frozen_value = value

        def factory(v: Any = frozen_value) -> Any:
            return copy.deepcopy(v)

        return (name, Any, dataclasses.field(default_factory=factory))
    return (name, Any, dataclasses.field(default=value))


@overload
def builds(
    target: Callable[..., Any],
    *pos_args: Any,
    hydra_partial: Literal[True],
    zen_partial: Optional[bool] = ...,
    populate_full_signature: bool = ...,
    hydra_defaults: Optional[List[Any]] = ...,
    dataclass_name: Optional[str] = ...,
    **kwargs: Any,
) -> Type[PartialBuilds]: ...


@overload
def builds(
    target: Callable[..., Any],
    *pos_args: Any,
    zen_partial: Literal[True],
    hydra_partial: Optional[bool] = ...,
    populate_full_signature: bool = ...,
    hydra_defaults: Optional[List[Any]] = ...,
    dataclass_name: Optional[str] = ...,
    **kwargs: Any,
) -> Type[PartialBuilds]: ...


@overload
def builds(
    target: Callable[..., Any],
    *pos_args: Any,
    hydra_partial: Optional[bool] = ...,
    zen_partial: Optional[bool] = ...,
    populate_full_signature: bool = ...,
    hydra_defaults: Optional[List[Any]] = ...,
    dataclass_name: Optional[str] = ...,
    **kwargs: Any,
) -> Type[Builds]: ...


def builds(
    target: Callable[..., Any],
    *pos_args: Any,
    hydra_partial: Optional[bool] = None,
    zen_partial: Optional[bool] = None,
    populate_full_signature: bool = False,
    hydra_defaults: Optional[List[Any]] = None,
    dataclass_name: Optional[str] = None,
    **kwargs: Any,
) -> Type[Builds]:
    """Make a dataclass config that instantiates to ``target(*pos_args, **kwargs)``.

    Parameters
    ----------
    target : Callable
        A module-level function or class.
    *pos_args : Any
        Positional arguments, stored as ``_args_``.
    hydra_partial, zen_partial : bool, optional
        If true, instantiating gives a partial object awaiting the remaining
        arguments (``_partial_: true``). The two names are aliases.
    populate_full_signature : bool, default False
        Add every parameter of *target* as a field: its default where it has
        one, ``???`` (required) where it does not.
    hydra_defaults : list, optional
        A Hydra defaults list for the config (``["_self_", {"optim": "sgd"}]``).
    dataclass_name : str, optional
        The name of the generated dataclass (default ``Builds_<target>``).
    **kwargs : Any
        Keyword arguments, checked against *target*'s signature. Callables
        become ``just(...)`` references; configs nest.

    Returns
    -------
    type
        A dataclass type with ``_target_`` (and ``_partial_``) fields.

    Raises
    ------
    BuildsError
        If a keyword is not a parameter of *target* (with "did you mean"), the
        arguments do not bind, or a value cannot be stored in a config.

    Examples
    --------
    >>> from zenspec import builds, instantiate
    >>> instantiate(builds(dict, a=1, b=1))
    {'a': 1, 'b': 1}
    >>> instantiate(builds(pow, exp=2, hydra_partial=True))(3)
    9
    """
    if not callable(target):
        raise BuildsError(f"builds() needs a callable target, got {target!r}")
    if hydra_partial is not None and zen_partial is not None and hydra_partial != zen_partial:
        raise BuildsError("builds(): hydra_partial and zen_partial disagree; pass only one.")
    partial = bool(hydra_partial if hydra_partial is not None else zen_partial)
    target_path = get_target_path(target)
    name = getattr(target, "__name__", "target")

    sig = _signature(target)
    if sig is not None:
        _check_against_signature(target, sig, pos_args, kwargs)

    fields: List[tuple] = [("_target_", str, dataclasses.field(default=target_path))]
    if partial:
        fields.append(("_partial_", bool, dataclasses.field(default=True)))
    if pos_args:
        args = [_as_field_value(a, f"builds({name}) argument {i}") for i, a in enumerate(pos_args)]
        fields.append(_field("_args_", args))

    for key in kwargs:
        if not key.isidentifier() or keyword.iskeyword(key):
            # a dataclass field must be a Python identifier; Hydra would also refuse it
            raise BuildsError(
                f"builds({name}): {key!r} cannot be a config field (it is not a Python "
                "identifier, or is a keyword); rename it or pass the value through a "
                "nested mapping."
            )
    values = {k: _as_field_value(v, f"builds({name}).{k}") for k, v in kwargs.items()}
    if populate_full_signature and sig is not None:
        bound_positionally = set(list(sig.parameters)[: len(pos_args)])
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
                continue
            if pname in values or pname in bound_positionally:
                continue
            if param.default is param.empty:
                # a partial may leave required arguments for the caller
                if partial:
                    continue
                values[pname] = MISSING
            else:
                values[pname] = _as_field_value(param.default, f"builds({name}).{pname}")
    fields.extend(_field(k, v) for k, v in values.items())
    if hydra_defaults is not None:
        fields.append(_field("defaults", list(hydra_defaults)))

    cls_name = dataclass_name or f"Builds_{name}"
    return dataclasses.make_dataclass(cls_name, fields)


def just(obj: Any) -> Any:
    """A config for *obj* itself, not for a call of it.

    Functions and classes become a node that instantiates to the object
    (``landscape_fn=just(parabaloid)``); primitives, lists and dicts are
    returned as config values with their callables converted.

    Examples
    --------
    >>> from zenspec import just, instantiate
    >>> instantiate(just(len)) is len
    True
    """
    if callable(obj) and not dataclasses.is_dataclass(obj):
        from zenspec.funcs import get_obj

        path = get_target_path(obj)
        fields = [
            ("_target_", str, dataclasses.field(default=get_target_path(get_obj))),
            ("path", str, dataclasses.field(default=path)),
        ]
        return dataclasses.make_dataclass(f"Just_{getattr(obj, '__name__', 'obj')}", fields)
    return _as_field_value(obj, "just()")
