"""Import paths in specs: ``"pkg.mod:attr"`` or ``"pkg.mod.attr"``, resolved on request.

Nothing here runs at load time; :func:`resolve` is only called by the
``--imports`` checks and by ``run``/``plan``. :func:`search_path` puts the
spec's ``search_path`` directories and the current directory on ``sys.path``
for the duration of a block and restores it afterwards.
"""

from __future__ import annotations

import importlib
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from zenspec.errors import did_you_mean

__all__ = ["ImportFailure", "hydra_path", "resolve", "search_path"]


class ImportFailure(Exception):
    """An import path that does not resolve; ``message``/``hint`` are for a Problem."""

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def hydra_path(path: str) -> str:
    """The dotted form Hydra's ``_target_`` needs: ``"pkg.mod:A.b"`` -> ``"pkg.mod.A.b"``."""
    return path.replace(":", ".")


def _import_module(name: str) -> Any:
    """Import *name*; ``None`` if that module (or a parent package) does not exist."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        # only "this module is missing" means try a shorter prefix; a module
        # that exists but fails on its own imports is the user's real error
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            return None
        raise ImportFailure(
            f"importing '{name}' failed: {type(e).__name__}: {e}",
            "Fix: install the missing package or correct the import in that module.",
        ) from e
    except Exception as e:  # SyntaxError, errors raised at import time...
        raise ImportFailure(
            f"importing '{name}' raised {type(e).__name__}: {e}",
            "Fix: the module itself is broken; import it in Python to see the traceback.",
        ) from e
    except KeyboardInterrupt:
        raise
    except SystemExit as e:  # a script's sys.exit() at module level: not zenspec's exit
        raise ImportFailure(
            f"importing '{name}' failed: the module called {_exit_call(e)} while being imported.",
            'Fix: guard the module\'s script code with `if __name__ == "__main__":`.',
        ) from e
    except BaseException as e:  # GeneratorExit and other non-Exception classes
        raise ImportFailure(
            f"importing '{name}' raised {type(e).__name__}: {e}",
            "Fix: the module itself is broken; import it in Python to see the traceback.",
        ) from e


def _exit_call(e: SystemExit) -> str:
    """``sys.exit(3)``, ``sys.exit()``, ``sys.exit('bad')``: how *e* was raised."""
    if not e.args:
        return "sys.exit()"
    return f"sys.exit({', '.join(repr(a) for a in e.args)})"


def _getattr_chain(obj: Any, attrs: Sequence[str], shown: str) -> Any:
    for i, attr in enumerate(attrs):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            owner = shown + "".join("." + a for a in attrs[:i])
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise ImportFailure(
                f"'{owner}' has no attribute '{attr}'.",
                did_you_mean(attr, names).strip() or None,
            ) from None
    return obj


def resolve(path: str) -> Any:
    """The object named by *path* (``"pkg.mod:attr"`` or ``"pkg.mod.attr"``).

    Raises
    ------
    ImportFailure
        With a message naming the part that failed and, for typos, a hint.
    """
    if ":" in path:
        module_name, _, attrs = path.partition(":")
        module = _import_module(module_name)
        if module is None:
            raise ImportFailure(
                f"cannot import '{path}': there is no module '{module_name}'.",
                "Fix: check the spelling; run from the directory that contains the package, "
                "or add its directory to experiment.search_path.",
            )
        return _getattr_chain(module, attrs.split("."), module_name)
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):  # the longest importable module prefix
        module = _import_module(".".join(parts[:i]))
        if module is not None:
            return _getattr_chain(module, parts[i:], ".".join(parts[:i]))
    raise ImportFailure(
        f"cannot import '{path}': there is no module '{parts[0]}'.",
        "Fix: check the spelling; run from the directory that contains the package, "
        "or add its directory to experiment.search_path.",
    )


@contextmanager
def search_path(directories: Sequence[Path] = ()) -> Iterator[None]:
    """Prepend *directories* and the current directory to ``sys.path`` for a block.

    ``PYTHONPATH`` gets the same entries, so jobs in worker processes (joblib,
    submitit) import the spec's targets as this process does. Both are restored.
    """
    entries = [str(Path(d).resolve()) for d in directories] + [os.getcwd()]
    saved_path = list(sys.path)
    saved_env = os.environ.get("PYTHONPATH")
    new = [e for e in dict.fromkeys(entries) if e not in sys.path or e in entries[:-1]]
    sys.path[:0] = new
    env_parts = [*new, *(saved_env.split(os.pathsep) if saved_env else [])]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in env_parts if p))
    importlib.invalidate_caches()  # files written since the last import are found
    try:
        yield
    finally:
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_env
