"""``zenspec init TARGET``: a starter spec for a callable, from its signature.

Every parameter the spec can carry becomes a ``[config]`` entry: its default
when the default is plain data (or a reference to a function or class),
``"???"`` (OmegaConf's "missing", which Hydra refuses to run with until it is
set) for a parameter without a default; :class:`StarterSpec` lists those, so
``init`` tells the user what to fill in. Parameters the spec cannot express
(``*args``, positional-only, defaults that are arbitrary objects) are listed
as comments, so nothing about the signature is hidden.

A Hydra-style task, ``def task(cfg)`` (one positional parameter named like a
config, unannotated or annotated ``DictConfig`` or a dataclass), gets
``task =`` instead of ``target =``: its ``[config]`` holds the keys its source
reads (``cfg.lr``, ``cfg["lr"]``, ``cfg.get("lr", 0.1)``), and a dataclass
annotation becomes ``config_class``. When the target's package is not
installed (it imports from the current directory), the spec gets
``search_path`` naming that directory relative to the spec file, as zenspec
reads it, so the spec runs from any directory.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib.machinery
import inspect
import json
import os
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from zenspec.errors import SpecError

__all__ = ["StarterSpec", "render_starter_spec", "schema_location", "starter_spec"]

REQUIRED = "???"
_PLAIN = (bool, int, float, str)
_SECTIONS = {"Parameters", "Returns", "Examples", "Notes", "Args:", "Arguments:"}
#: Names a Hydra-style task gives its one config parameter.
_CONFIG_NAMES = {"cfg", "config", "conf", "configuration", "hparams"}
#: DictConfig methods: ``cfg.get(...)``/``cfg.items()`` are calls, not config keys.
_METHODS = {"get", "items", "keys", "values", "pop", "copy", "setdefault", "update"}


@dataclass
class StarterSpec:
    """A starter spec: its text, and what the user still has to do with it."""

    text: str
    #: "target" or "task": what ``[experiment]`` names
    kind: str = "target"
    #: config keys (dotted) left ``"???"``: to set before the spec runs
    required: List[str] = field(default_factory=list)
    #: the ``search_path`` entry written, if any
    search_path: Optional[str] = None


def schema_location(spec_file: Optional[Path]) -> str:
    """The schema's path as editors should see it from *spec_file*."""
    schema = (Path(__file__).parents[1] / "schemas" / "zenspec.schema.json").resolve()
    if spec_file is None:
        return schema.as_uri()
    try:
        rel = os.path.relpath(schema, Path(spec_file).resolve().parent)
    except ValueError:  # another drive on Windows
        return schema.as_uri()
    return rel if rel.startswith(".") else f"./{rel}"


def _ref(obj: Any) -> Optional[str]:
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if module and name and "<" not in name and (inspect.isroutine(obj) or inspect.isclass(obj)):
        return f"{module}:{name}"
    return None


def _value(default: Any) -> Tuple[bool, Any]:
    """(representable, value) of a default in the spec's data model."""
    if default is None or isinstance(default, _PLAIN):
        return True, default
    if isinstance(default, enum.Enum):
        return _value(default.value)
    if isinstance(default, (list, tuple)):
        values = [_value(v) for v in default]
        return all(ok for ok, _ in values), [v for _, v in values]
    if isinstance(default, dict) and all(isinstance(k, str) for k in default):
        fields = {k: _value(v) for k, v in default.items()}
        return all(ok for ok, _ in fields.values()), {k: v for k, (_, v) in fields.items()}
    ref = _ref(default)
    if ref is not None:
        return True, {"_ref_": ref}
    return False, None


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[repr(value)]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _yaml(value: Any) -> str:
    return json.dumps(value)  # JSON is YAML, and says exactly which type each value has


def _parameters(target: Any, path: str) -> List[inspect.Parameter]:
    try:
        return list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError) as e:
        raise SpecError(
            f"'{path}' has no signature Python can inspect ({e}), so zenspec cannot list "
            "its parameters.",
            hint="Fix: write the spec by hand (`zenspec schema --markdown` lists the keys), "
            "or point init at a Python function or class wrapping it.",
        ) from e


def _module_root(path: str) -> Optional[Path]:
    """The directory the target's top-level package or module was imported from."""
    top = path.partition(":")[0].split(".")[0] if ":" in path else path.split(".")[0]
    module = sys.modules.get(top)
    file = getattr(module, "__file__", None)
    if file:
        found = Path(file).resolve()
        return found.parent.parent if found.stem == "__init__" else found.parent
    locations = list(getattr(module, "__path__", None) or [])  # a namespace package
    return Path(locations[0]).resolve().parent if locations else None


def _importable_without(top: str, path: Sequence[str], cwd: str) -> bool:
    """True if *top* imports from *path* alone (installed, stdlib, PYTHONPATH)."""
    entries = [e for e in path if e and os.path.abspath(e) != cwd]
    saved = list(sys.path)
    sys.path[:] = entries
    try:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            try:
                if find(top, None) is not None:
                    return True
            except Exception:  # a finder that cannot answer: not ours to judge
                continue
        return False
    finally:
        sys.path[:] = saved
        importlib.machinery.PathFinder.invalidate_caches()


def search_path_entry(
    path: str, out_file: Optional[Path], sys_path: Optional[Sequence[str]] = None
) -> Optional[str]:
    """The ``search_path`` entry a spec at *out_file* needs to import *path*'s module.

    ``None`` when the module imports without one: installed, in the standard
    library, or on *sys_path* (the ``sys.path`` before the current directory
    was added), or when there is no file to be relative to.
    """
    root = _module_root(path)
    if root is None or out_file is None:
        return None
    top = path.partition(":")[0].split(".")[0] if ":" in path else path.split(".")[0]
    cwd = os.path.abspath(os.getcwd())
    if _importable_without(top, list(sys.path if sys_path is None else sys_path), cwd):
        return None
    try:
        rel = os.path.relpath(root, Path(out_file).resolve().parent)
    except ValueError:  # another drive on Windows
        return str(root)
    return Path(rel).as_posix()


def _config_param(target: Any, params: List[inspect.Parameter]) -> Optional[Tuple[str, Any]]:
    """(name, dataclass or None) if *target* is a Hydra-style ``task(cfg)``; else None."""
    if inspect.isclass(target) or len(params) != 1:
        return None
    p = params[0]
    if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or p.default is not p.empty:
        return None
    annotation = p.annotation
    if isinstance(annotation, str) or annotation is p.empty:
        try:  # `from __future__ import annotations`: the real type, if it resolves
            import typing

            annotation = typing.get_type_hints(target).get(p.name, annotation)
        except Exception:
            pass
    if annotation is p.empty:
        return (p.name, None) if p.name in _CONFIG_NAMES else None
    if isinstance(annotation, str):
        return (p.name, None) if annotation.split(".")[-1] == "DictConfig" else None
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return p.name, annotation
    from omegaconf import DictConfig

    if isinstance(annotation, type) and issubclass(annotation, DictConfig):
        return p.name, None
    return None


def _chain(node: ast.AST, name: str) -> Optional[List[str]]:
    """``cfg.a["b"].c`` -> ["a", "b", "c"] when rooted at *name*; else None."""
    keys: List[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            keys.append(node.attr)
            node = node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            keys.append(node.slice.value)
            node = node.value
        elif isinstance(node, ast.Name) and node.id == name:
            return keys[::-1]
        else:
            return None


def _keys_read(target: Any, name: str) -> Dict[Tuple[str, ...], Any]:
    """The config keys *target*'s source reads from its parameter *name*.

    ``cfg.a.b`` and ``cfg["a"]`` are required keys (value ``REQUIRED``);
    ``cfg.get("a", 1)`` has the literal default 1. Without source: none.
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(target))))
    except (OSError, TypeError, SyntaxError, ValueError):
        return {}
    found: Dict[Tuple[str, ...], Any] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            base = _chain(node.func.value, name)
            if base is not None:
                default: Any = REQUIRED
                if len(node.args) > 1:
                    try:
                        default = ast.literal_eval(node.args[1])
                    except ValueError:
                        default = REQUIRED
                found.setdefault((*base, node.args[0].value), default)
            continue
        keys = _chain(node, name)
        if keys:
            while keys and keys[-1] in _METHODS:
                keys = keys[:-1]
            if keys:
                found.setdefault(tuple(keys), REQUIRED)
    # keep the longest paths: cfg.optim.lr makes optim a table, not a value
    leaves = {k: v for k, v in found.items() if not any(o[: len(k)] == k and o != k for o in found)}
    return dict(sorted(leaves.items()))


def _nest(flat: Dict[Tuple[str, ...], Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for keys, value in flat.items():
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = value
    return out


def render_starter_spec(
    path: str, fmt: str = "toml", out_file: Optional[Path] = None, target: Any = None
) -> str:
    """The text of a starter spec for the callable at *path*; see :func:`starter_spec`."""
    return starter_spec(path, fmt, out_file, target).text


def starter_spec(
    path: str,
    fmt: str = "toml",
    out_file: Optional[Path] = None,
    target: Any = None,
    sys_path: Optional[Sequence[str]] = None,
) -> StarterSpec:
    """A starter spec for the callable at *path* (``pkg.mod:fn``).

    Parameters
    ----------
    path : str
        The target, as a spec names it.
    fmt : {"toml", "yaml"}
        The spec's format.
    out_file : Path, optional
        Where the spec will be written (for the schema line's and
        ``search_path``'s relative paths).
    target : callable, optional
        The object itself, if already imported (default: import *path*).
    sys_path : sequence of str, optional
        ``sys.path`` as it was before the current directory was added for the
        import: a module importable from it needs no ``search_path``.
    """
    if fmt not in ("toml", "yaml"):
        raise SpecError(f"unknown format {fmt!r}: choose toml or yaml.")
    if target is None:
        from zenspec.spec.imports import ImportFailure, resolve

        try:
            target = resolve(path)
        except ImportFailure as e:
            raise SpecError(e.message, hint=e.hint) from e.__cause__
    if not callable(target):
        raise SpecError(f"'{path}' is a {type(target).__name__}, not a callable.")
    name = getattr(target, "__name__", "experiment")
    params = _parameters(target, path)
    entries: List[Tuple[str, Any, str]] = []  # (key, value, comment)
    skipped: List[str] = []
    experiment: List[Tuple[str, str]] = [("name", name)]
    as_task = _config_param(target, params)
    if as_task is not None:
        param, config_class = as_task
        experiment.append(("task", path))
        if config_class is not None:
            ref = _ref(config_class)
            experiment.append(("config_class", ref or ""))
            kept = []
            for f in dataclasses.fields(config_class):
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    entries.append((f.name, REQUIRED, "required: set it here or on the command line"))  # fmt: skip
                else:
                    kept.append(f.name)
            if kept:
                skipped.append(f"{', '.join(kept)}: {config_class.__name__}'s defaults apply")
        else:
            for key, value in _nest(_keys_read(target, param)).items():
                entries.append((key, value, f"read by the task as {param}.{key}"))
            if not entries:
                skipped.append(f"add the keys {name}({param}) reads from its config")
    else:
        experiment.append(("target", path))
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                skipped.append(
                    f"{'*' if p.kind is p.VAR_POSITIONAL else '**'}{p.name}: add keys "
                    "by hand if you need them"
                )
            elif p.kind is p.POSITIONAL_ONLY:
                skipped.append(f"{p.name}: positional-only, a spec passes keywords")
            elif p.default is p.empty:
                entries.append((p.name, REQUIRED, "required: set it here or on the command line"))
            else:
                ok, value = _value(p.default)
                if not ok:
                    skipped.append(f"{p.name} = {p.default!r}: not plain data; the default applies")
                elif value is None and fmt == "toml":
                    skipped.append(f"{p.name} = None: the default applies (TOML has no null)")
                else:
                    entries.append((p.name, value, ""))
    where = search_path_entry(path, out_file, sys_path)
    doc = (inspect.getdoc(target) or "").strip()
    summary = doc.splitlines()[0].strip() if doc else ""
    if not summary or summary in _SECTIONS:  # a numpy-style docstring with no summary
        summary = f"Run {path}."
    if fmt == "toml":
        lines = [f"#:schema {schema_location(out_file)}", f"# {summary}", "", "[experiment]"]
        lines += [f"{key} = {_toml(value)}" for key, value in experiment]
        if where is not None:
            lines.append(f"search_path = [{_toml(where)}]  # relative to this file")
        lines += ["", "[config]"]
        for key, value, comment in entries:
            lines.append(f"{key} = {_toml(value)}" + (f"  # {comment}" if comment else ""))
        lines += [f"# {s}" for s in skipped]
        lines += ["", '# [sweep]        # a grid: e.g. key = [1, 2, 3] or key = "range(0, 10)"']
    else:
        lines = [f"# yaml-language-server: $schema={schema_location(out_file)}", f"# {summary}"]
        lines += ["experiment:"] + [f"  {key}: {_yaml(value)}" for key, value in experiment]
        if where is not None:
            lines.append(f"  search_path: [{_yaml(where)}]  # relative to this file")
        lines.append("config:")
        for key, value, comment in entries:
            lines.append(f"  {key}: {_yaml(value)}" + (f"  # {comment}" if comment else ""))
        lines += [f"  # {s}" for s in skipped]
        if not entries:
            lines[-1 - len(skipped)] = "config: {}"
        lines += ['# sweep:        # a grid: e.g. key: [1, 2, 3] or key: "range(0, 10)"']
    return StarterSpec(
        text="\n".join(lines) + "\n",
        kind="task" if as_task is not None else "target",
        required=_required(entries),
        search_path=where,
    )


def _required(entries: List[Tuple[str, Any, str]]) -> List[str]:
    """The dotted keys of *entries* left ``"???"``."""
    out: List[str] = []

    def walk(prefix: str, value: Any) -> None:
        if value == REQUIRED:
            out.append(prefix)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)

    for key, value, _ in entries:
        walk(key, value)
    return out
