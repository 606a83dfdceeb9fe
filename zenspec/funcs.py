"""Targets that zenspec's own configs point at.

They live in a module of their own so that the ``_target_`` strings written
into configs and ``.hydra/config.yaml`` files stay short and stable.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_obj"]


def get_obj(*, path: str) -> Any:
    """Return the object at the import *path* itself (not a call of it).

    ``just(parabaloid)`` configs instantiate through this, so a function can be
    passed as a value (``landscape_fn=parabaloid``). *path* comes from a config, so
    it is held to Hydra's policy as a ``_target_`` is: the blocklist (``os.system``,
    ``builtins.eval``...), and on hydra-core 1.4 the active execution whitelist;
    both the path as written and the object's own name (an alias such as
    ``logging.os.system`` names ``os.system``) are checked.
    """
    from hydra.utils import get_object

    from zenspec._compatibility import active_execution_whitelist, authorize_target_name

    whitelist = active_execution_whitelist()
    authorize_target_name(path, path, "path", whitelist)
    obj = get_object(path)
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        resolved = f"{module}.{qualname}"
        if resolved != path:
            authorize_target_name(resolved, path, "path", whitelist)
    return obj
