"""hydra-core 1.4's execution whitelist, read and matched without importing Hydra.

The spec layer checks a spec's ``[experiment] execution_whitelist`` (and the
targets it names) in ``validate``, which imports no Hydra runtime; the launch
layer (:func:`zenspec.hydra_run`) and :func:`zenspec.instantiate` use the same
rules. Only 1.4's explicit opt-out object, ``hydra.utils.UNSAFE_DISABLE_EXECUTION_CHECKS``,
needs Hydra: it is looked up only for a value that is not a string or a list.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Tuple

__all__ = ["is_whitelisted", "normalize_execution_whitelist"]

_WHITELIST_FORM = (
    "an execution whitelist is a callable's import path (pkg.mod.attr), a package "
    "prefix ending in '.*' (pkg.*), or a list of them"
)


def _is_unsafe(value: Any) -> bool:
    """Hydra 1.4's ``UNSAFE_DISABLE_EXECUTION_CHECKS`` (its explicit opt-out)."""
    from zenspec._compatibility import HAS_EXECUTION_WHITELIST

    if not HAS_EXECUTION_WHITELIST:
        return False
    import importlib

    # looked up by name: the opt-out exists on hydra-core 1.4 only
    unsafe = getattr(
        importlib.import_module("hydra.utils"), "UNSAFE_DISABLE_EXECUTION_CHECKS", None
    )
    return unsafe is not None and value is unsafe


def normalize_execution_whitelist(value: Any) -> Any:
    """*value* as Hydra 1.4 takes it: None, a tuple of patterns, or 1.4's
    ``hydra.utils.UNSAFE_DISABLE_EXECUTION_CHECKS`` (passed through).

    The rules are 1.4's, on every supported version: a pattern is a non-empty
    name (``"pkg.mod.fn"``, matched exactly) or a package prefix with one
    trailing ``".*"`` (``"pkg.*"``: everything under ``pkg.``); a bare ``"*"`` is
    refused. A string is one pattern. Raises ``ValueError`` naming the entry.
    """
    if value is None or (not isinstance(value, (str, list, tuple)) and _is_unsafe(value)):
        return value
    entries: Iterable[Any]
    if isinstance(value, str):
        entries = (value,)
    elif isinstance(value, (list, tuple)):
        entries = value
    else:
        raise ValueError(f"{_WHITELIST_FORM}; got a {type(value).__name__}: {value!r}.")
    out = []
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            raise ValueError(f"{_WHITELIST_FORM}; got the entry {entry!r}.")
        if entry != entry.strip() or any(c.isspace() for c in entry):
            raise ValueError(f"{_WHITELIST_FORM}; the entry {entry!r} has whitespace.")
        if "*" in entry:
            prefix = entry[:-2]
            if not entry.endswith(".*") or "*" in prefix or not prefix or prefix.endswith("."):
                raise ValueError(
                    f"{_WHITELIST_FORM}; {entry!r} is not: only one trailing '.*' after a "
                    "package name is a wildcard ('*' alone would allow everything: Hydra "
                    "1.4 spells that hydra.utils.UNSAFE_DISABLE_EXECUTION_CHECKS)."
                )
        out.append(entry)
    return tuple(dict.fromkeys(out))


def is_whitelisted(name: str, whitelist: Optional[Tuple[str, ...]]) -> bool:
    """Whether the dotted *name* matches a pattern of *whitelist* (1.4's matching:
    exact, or under a ``"pkg.*"`` prefix). None (no whitelist) allows everything."""
    if whitelist is None:
        return True
    for pattern in whitelist:
        if pattern.endswith(".*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False
