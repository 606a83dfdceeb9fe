"""``zenspec init TARGET``: a starter spec for a callable, from its signature.

Every parameter the spec can carry becomes a ``[config]`` entry: its default
when the default is plain data (or a reference to a function or class),
``"???"`` (OmegaConf's "missing", which Hydra refuses to run with until it is
set) for a parameter without a default. Parameters the spec cannot express
(``*args``, positional-only, defaults that are arbitrary objects) are listed
as comments, so nothing about the signature is hidden.
"""

from __future__ import annotations

import enum
import inspect
import json
import os
from pathlib import Path
from typing import Any, List, Optional, Tuple

from zenspec.errors import SpecError

__all__ = ["render_starter_spec", "schema_location"]

REQUIRED = "???"
_PLAIN = (bool, int, float, str)
_SECTIONS = {"Parameters", "Returns", "Examples", "Notes", "Args:", "Arguments:"}


def schema_location(spec_file: Optional[Path]) -> str:
    """The schema's path as editors should see it from *spec_file*."""
    schema = (Path(__file__).parent / "schemas" / "zenspec.schema.json").resolve()
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
        items = [_value(v) for v in default]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(default, dict) and all(isinstance(k, str) for k in default):
        items = {k: _value(v) for k, v in default.items()}
        return all(ok for ok, _ in items.values()), {k: v for k, (_, v) in items.items()}
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


def render_starter_spec(
    path: str, fmt: str = "toml", out_file: Optional[Path] = None, target: Any = None
) -> str:
    """The text of a starter spec for the callable at *path* (``pkg.mod:fn``).

    Parameters
    ----------
    path : str
        The target, as a spec names it.
    fmt : {"toml", "yaml"}
        The spec's format.
    out_file : Path, optional
        Where the spec will be written (for the schema line's relative path).
    target : callable, optional
        The object itself, if already imported (default: import *path*).
    """
    if target is None:
        from zenspec.spec.imports import ImportFailure, resolve

        try:
            target = resolve(path)
        except ImportFailure as e:
            raise SpecError(e.message, hint=e.hint) from e.__cause__
    if not callable(target):
        raise SpecError(f"'{path}' is a {type(target).__name__}, not a callable.")
    name = getattr(target, "__name__", "experiment")
    entries: List[Tuple[str, Any, str]] = []  # (key, value, comment)
    skipped: List[str] = []
    for p in _parameters(target, path):
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
    doc = (inspect.getdoc(target) or "").strip()
    summary = doc.splitlines()[0].strip() if doc else ""
    if not summary or summary in _SECTIONS:  # a numpy-style docstring with no summary
        summary = f"Run {path}."
    if fmt == "toml":
        lines = [f"#:schema {schema_location(out_file)}", f"# {summary}", "", "[experiment]"]
        lines += [f"name = {_toml(name)}", f"target = {_toml(path)}", "", "[config]"]
        for key, value, comment in entries:
            lines.append(f"{key} = {_toml(value)}" + (f"  # {comment}" if comment else ""))
        lines += [f"# {s}" for s in skipped]
        lines += ["", '# [sweep]        # a grid: e.g. key = [1, 2, 3] or key = "range(0, 10)"']
    elif fmt == "yaml":
        lines = [f"# yaml-language-server: $schema={schema_location(out_file)}", f"# {summary}"]
        lines += ["experiment:", f"  name: {_yaml(name)}", f"  target: {_yaml(path)}", "config:"]
        for key, value, comment in entries:
            lines.append(f"  {key}: {_yaml(value)}" + (f"  # {comment}" if comment else ""))
        lines += [f"  # {s}" for s in skipped]
        if not entries:
            lines[-1 - len(skipped)] = "config: {}"
        lines += ['# sweep:        # a grid: e.g. key: [1, 2, 3] or key: "range(0, 10)"']
    else:
        raise SpecError(f"unknown format {fmt!r}: choose toml or yaml.")
    return "\n".join(lines) + "\n"
