"""Getting a job to a worker process: what must be pickled by value, and clear errors.

Parallel launchers (joblib, submitit, Ray) pickle the task function, the
config, the config loader and Hydra's global state (the ConfigStore) and send
them to another process. ``cloudpickle`` pickles a module-level function *by
reference* (``test_mod.task``): the worker must then import ``test_mod``
itself. That fails for a task defined in a test module, a notebook-ish script
directory or anything else that is importable here only because of this
process's ``sys.path`` (submitit's child processes and Ray's workers start
from the environment, not from this process's ``sys.path``).

:func:`prepare_for_workers` pickles the payload once, as the launcher will,
and records every module an object is pickled by reference from. The modules
a fresh interpreter (the worker) cannot import -- checked in a subprocess with
this process's environment -- are registered with
``cloudpickle.register_pickle_by_value`` (and Ray's vendored copy, when the
launcher uses it) for the duration of the launch, then unregistered. A payload
that cannot be pickled at all is a :class:`~zenspec.errors.LaunchError`
naming the object (``the task function``, ``the config``...) and the part of
it that could not be pickled (``task.__closure__[lock]: _thread.lock``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pickle
import subprocess
import sys
import sysconfig
import types
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from zenspec._compatibility import cloudpickle_by_reference_test
from zenspec.errors import LaunchError

__all__ = ["by_value", "find_unpicklable", "importable_in_worker", "prepare_for_workers"]

_MAX_ROUNDS = 5
# what workers run zenspec's jobs with: never pickled by value
_ENGINE = frozenset({"zenspec", "hydra", "hydra_plugins", "omegaconf", "cloudpickle", "ray"})


def _cloudpickles(extra: Sequence[str] = ()) -> List[types.ModuleType]:
    """The cloudpickle copies in use: the package (joblib/loky, submitit) and vendored ones."""
    import cloudpickle

    found = [cloudpickle]
    for name in extra:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if mod not in found and hasattr(mod, "register_pickle_by_value"):
            found.append(mod)
    return found


def _system_dirs() -> Tuple[str, ...]:
    """Directories every interpreter of this environment imports from (stdlib, site)."""
    paths = sysconfig.get_paths()
    dirs = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        import site

        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except Exception:  # pragma: no cover - embedded interpreters
        pass
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


def _module_location(name: str) -> Optional[str]:
    """Where the module's top-level package (or the module) lives, as a real path."""
    top = sys.modules.get(name.partition(".")[0])
    if top is None:
        return None
    # as the worker check reports it: a package's directory, a module's file
    locations = list(getattr(top, "__path__", []) or [])
    where = locations[0] if locations else getattr(top, "__file__", None)
    return os.path.realpath(where) if where else None


_WORKER_CHECK = r"""
import importlib.util, json, os, sys
out = {}
for name in json.loads(sys.argv[1]):
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    if spec is None:
        out[name] = None
        continue
    where = spec.origin
    if spec.submodule_search_locations:
        where = list(spec.submodule_search_locations)[0]
    out[name] = os.path.realpath(where) if where and where not in ("built-in", "frozen") else "?"
print(json.dumps(out))
"""

_checked: Dict[Tuple[str, str, str, str], Dict[str, Optional[str]]] = {}


def importable_in_worker(
    names: Iterable[str], *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None
) -> Set[str]:
    """The module *names* a fresh interpreter of this environment imports *from the same files*.

    Only top-level names are looked up (``find_spec`` of a top-level name runs
    no user code); the answer is cached per environment and directory.
    """
    tops = sorted({n.partition(".")[0] for n in names})
    if not tops:
        return set()
    env = dict(os.environ if env is None else env)
    cwd = cwd or os.getcwd()
    key = (sys.executable, env.get("PYTHONPATH", ""), cwd, json.dumps(tops))
    if key not in _checked:
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _WORKER_CHECK, json.dumps(tops)],
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=60,
            )
            _checked[key] = json.loads(proc.stdout.strip().splitlines()[-1])
        except Exception:  # cannot tell: leave pickling as it is
            return set(names)
    found = _checked[key]
    ok = set()
    for name in names:
        here = _module_location(name)
        there = found.get(name.partition(".")[0])
        if there is not None and (here is None or there == "?" or there == here):
            ok.add(name)
    return ok


class _Recorder:
    """A cloudpickle Pickler that notes every module something is pickled by reference from."""

    def __init__(self, cp: types.ModuleType) -> None:
        should_ref = cloudpickle_by_reference_test(cp.cloudpickle)
        modules: Set[str] = set()

        base: Any = cp.Pickler  # a module passed in: its classes are only known at run time

        class Pickler(base):
            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, types.ModuleType):
                    if should_ref is None or should_ref(obj):
                        modules.add(obj.__name__)
                elif isinstance(obj, (type, types.FunctionType)):
                    mod = getattr(obj, "__module__", None)
                    if isinstance(mod, str) and (should_ref is None or should_ref(obj)):
                        modules.add(mod)
                return super().reducer_override(obj)

        self.pickler_cls = Pickler
        self.modules = modules

    def dumps(self, obj: Any) -> int:
        buf = io.BytesIO()
        self.pickler_cls(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
        return buf.tell()


def _parts(obj: Any) -> Iterator[Tuple[str, Any]]:
    """The named pieces of *obj* that pickling it pickles too."""
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        for name, cell in zip(code.co_freevars, obj.__closure__ or ()):
            with contextlib.suppress(ValueError):  # an empty cell
                yield f".__closure__[{name}]", cell.cell_contents
        for name in code.co_names:
            if name in obj.__globals__:
                yield f".__globals__[{name}]", obj.__globals__[name]
        for i, d in enumerate(obj.__defaults__ or ()):
            yield f".__defaults__[{i}]", d
        for k, d in (obj.__kwdefaults__ or {}).items():
            yield f".__kwdefaults__[{k}]", d
    elif isinstance(obj, types.MethodType):
        yield ".__self__", obj.__self__
        yield ".__func__", obj.__func__
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield f"[{k!r}]", v
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, v in enumerate(obj):
            yield f"[{i}]", v
    elif isinstance(obj, (type, types.ModuleType)):
        return
    else:
        state = getattr(obj, "__dict__", None)
        if isinstance(state, dict):
            for k, v in state.items():
                yield f".{k}", v


def find_unpicklable(
    obj: Any, name: str, dumps: Callable[[Any], Any], depth: int = 6
) -> Tuple[str, Any, BaseException]:
    """The innermost piece of *obj* that *dumps* refuses: (path, piece, error)."""
    try:
        dumps(obj)
    except Exception as e:
        error: BaseException = e
    else:
        raise ValueError(f"{name} pickles fine")
    if depth > 0:
        seen = 0
        for suffix, part in _parts(obj):
            seen += 1
            if seen > 200:
                break
            try:
                return find_unpicklable(part, name + suffix, dumps, depth - 1)
            except ValueError:
                continue
    return name, obj, error


def _describe(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__


@contextlib.contextmanager
def by_value(modules: Iterable[str], picklers: Sequence[types.ModuleType] = ()) -> Iterator[None]:
    """Register *modules* to be pickled by value for a block, then unregister them."""
    picklers = list(picklers) or _cloudpickles()
    done: List[Tuple[types.ModuleType, types.ModuleType]] = []
    try:
        for name in sorted(set(modules)):
            module = sys.modules.get(name)
            if module is None:
                continue
            for cp in picklers:
                if name not in cp.list_registry_pickle_by_value():
                    cp.register_pickle_by_value(module)
                    done.append((cp, module))
        yield
    finally:
        for cp, module in reversed(done):
            with contextlib.suppress(ValueError):
                cp.unregister_pickle_by_value(module)


def _needs_import(modules: Iterable[str], system: Tuple[str, ...]) -> Set[str]:
    out = set()
    for name in modules:
        if name in ("__main__", "builtins") or name in sys.builtin_module_names:
            continue  # __main__ is pickled by value already
        if name.partition(".")[0] in _ENGINE:
            continue  # every worker has these installed
        where = _module_location(name)
        if where is None or where.startswith(system):
            continue
        out.add(name)
    return out


def prepare_for_workers(
    payload: Sequence[Tuple[str, Any]],
    *,
    stack: contextlib.ExitStack,
    check_imports: bool = True,
    extra_picklers: Sequence[str] = (),
    launcher: str = "the launcher",
) -> List[str]:
    """Make *payload* picklable for a worker process, for as long as *stack* is open.

    Parameters
    ----------
    payload : sequence of (description, object)
        What the launcher sends, described for messages ("the task function").
    stack : ExitStack
        Registrations are undone when it closes (the end of the launch).
    check_imports : bool, default True
        Look up, in a fresh interpreter, the modules pickled by reference, and
        pickle those it cannot import by value. False where workers get this
        process's ``sys.path`` (joblib's loky workers).
    extra_picklers : sequence of str
        Vendored cloudpickle copies the launcher uses (``"ray.cloudpickle"``).

    Returns
    -------
    list of str
        The modules registered to be pickled by value.

    Raises
    ------
    LaunchError
        Part of the payload cannot be pickled; the message names it.
    """
    picklers = _cloudpickles(extra_picklers)
    system = _system_dirs()
    registered: Set[str] = set()
    for _ in range(_MAX_ROUNDS):
        recorder = _Recorder(picklers[0])
        for what, obj in payload:
            try:
                recorder.dumps(obj)
            except Exception as e:
                raise _pickling_error(what, obj, e, launcher) from e
        if not check_imports:
            return []
        wanted = _needs_import(recorder.modules, system) - registered
        missing = wanted - importable_in_worker(wanted)
        if not missing:
            break
        stack.enter_context(by_value(missing, picklers))
        registered |= missing
    return sorted(registered)


def _pickling_error(what: str, obj: Any, error: BaseException, launcher: str) -> LaunchError:
    import cloudpickle

    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or _describe(obj)
    try:
        path, piece, inner = find_unpicklable(obj, name, cloudpickle.dumps)
    except ValueError:  # pickles alone: it was a piece of Hydra's state it refers to
        path, piece, inner = name, obj, error
    detail = " ".join(str(inner).split()) or type(inner).__name__
    return LaunchError(
        f"{what} cannot be sent to {launcher}'s worker processes: {path} "
        f"({_describe(piece)}) cannot be pickled: {detail}",
        hint="Fix: define the task at module level and create unpicklable resources "
        "(locks, open files, connections, clients) inside the task, or use the basic "
        "launcher (in-process).",
    )
