"""Hydra's path settings that would write outside the directory they belong in.

``hydra.job.name`` names the job's log file (``<job dir>/<name>.log``) and often
a directory (``sweep.dir = "sweeps/${hydra.job.name}"``); ``hydra.sweep.subdir``
is each job's directory inside ``hydra.sweep.dir``; ``hydra.output_subdir`` is
where the job's ``.hydra/*.yaml`` go inside the job's directory. A ``/`` or a
``..`` in them puts files outside the sweep: records miss them, and on a shared
scratch filesystem they land in someone else's directories. Refused here, from
the text alone (nothing imported, nothing resolved):

* ``hydra.job.name``: one path component: not empty, not ``.``/``..``, no ``/``
  or ``\\``;
* ``hydra.sweep.subdir``, ``hydra.output_subdir``: a relative path with no
  ``..`` component (the subdir also not empty or ``.``: the job's directory would
  be the sweep's own);
* ``hydra.run.dir``, ``hydra.sweep.dir``: the user's choice (absolute, or
  ``../outputs``), but not empty and not ``/``.

Interpolations (``${...}``) are unknown until run time: only the literal text
around them is judged (``${experiment.name}_x`` is fine, ``../${x}`` is not).
What an interpolation resolves to is the launch layer's to check, on the job's
resolved output directory.

A mixin of :class:`zenspec.spec.semantic._Checker` (``[hydra]`` of a spec), and
:func:`override_problems` (command-line overrides, ``<command line>::key``).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from zenspec.errors import Problem
from zenspec.spec.parse import KeyPath

__all__ = ["COMMAND_LINE", "PathChecks", "override_problems", "path_problem"]

#: The "file" of a problem found in a command-line override.
COMMAND_LINE = "<command line>"

_HOLE = "\0"  # stands for an interpolation: never '/', '\\' or '.'
_DRIVE = re.compile(r"^[A-Za-z]:")  # C:\... on Windows

_NAME_HINT = (
    "Fix: give a single name such as 'train' (letters, digits, '_', '-', '.'; "
    "interpolations such as '${hydra.job.num}' are fine), or leave hydra.job.name out: "
    "the experiment's name is used."
)
_SUBDIR_HINT = (
    "Fix: a relative path inside the sweep directory, such as '${hydra.job.num}' (the "
    "default), '${hydra.job.override_dirname}' or 'lr=${lr}/seed_${seed}'; to put the "
    "sweep somewhere else, set hydra.sweep.dir instead."
)
_OUTPUT_SUBDIR_HINT = (
    "Fix: a relative path inside the job's directory, such as '.hydra' (the default), "
    "or null to not save the job's config."
)
_DIR_HINT = (
    "Fix: name a directory of its own, such as 'multirun/${now:%Y-%m-%d}/${now:%H-%M-%S}' "
    "(absolute paths and '../outputs' are fine too)."
)


def _skeleton(text: str) -> Tuple[str, bool]:
    """*text* with each ``${...}`` replaced by one placeholder character; any found?"""
    out: List[str] = []
    i, found = 0, False
    while i < len(text):
        if text.startswith("\\${", i):  # an escaped interpolation is literal text
            out.append("${")
            i += 3
            continue
        if text.startswith("${", i):
            depth, j = 0, i
            while j < len(text):
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                if text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j < len(text):  # closed: a placeholder for the whole interpolation
                out.append(_HOLE)
                found, i = True, j + 1
                continue
            out.append(text[i:])  # unclosed: literal text (Hydra will refuse it anyway)
            break
        out.append(text[i])
        i += 1
    return "".join(out), found


def _components(skeleton: str) -> List[str]:
    return re.split(r"[/\\]", skeleton)


def _is_absolute(skeleton: str) -> bool:
    return skeleton.startswith(("/", "\\")) or bool(_DRIVE.match(skeleton))


def _job_name(value: str) -> Optional[Tuple[str, str]]:
    skeleton, _ = _skeleton(value)
    if not value.strip():
        return (
            f"hydra.job.name is {'empty' if not value else f'blank ({value!r})'}: Hydra names the "
            "job's log file after it (<job dir>/<name>.log).",
            _NAME_HINT,
        )
    if "/" in skeleton or "\\" in skeleton:
        sep = "/" if "/" in skeleton else "\\"
        return (
            f"hydra.job.name {value!r} is a path, not a name (it has a {sep!r}): Hydra "
            "writes the job's log to <job dir>/<name>.log, and specs use the name in "
            "directories, so the files would land outside the directory they belong in.",
            _NAME_HINT,
        )
    literal = skeleton.replace(_HOLE, "")
    if skeleton in (".", "..") or (_HOLE in skeleton and literal == ".."):
        which = "the parent directory" if literal == ".." else "the current directory"
        return (
            f"hydra.job.name {value!r} is not a name but {which}"
            f"{' (when the interpolation is empty)' if _HOLE in skeleton else ''}: Hydra "
            "writes the job's log to <job dir>/<name>.log, and specs use the name in "
            "directories, so the files would land outside the directory they belong in.",
            _NAME_HINT,
        )
    return None


def _inner_path(key: str, value: str, parent: str, hint: str, empty_ok: bool) -> Optional[Tuple[str, str]]:  # fmt: skip
    """A relative path that stays inside *parent*: *key*'s rule."""
    skeleton, _ = _skeleton(value)
    if not empty_ok and skeleton.strip() in ("", "."):
        return (
            f"{key} {value!r} names {parent} itself, not a directory inside it: every job "
            "would write into the same directory, over the others' files.",
            hint,
        )
    if _is_absolute(skeleton):
        return (
            f"{key} {value!r} is an absolute path: Hydra joins it to {parent}, which gives "
            f"the path itself, so the files would land outside {parent}.",
            hint,
        )
    if ".." in _components(skeleton):
        return (
            f"{key} {value!r} climbs out of {parent} with '..': the files would land "
            f"outside it, where the sweep's records do not see them and other runs' files "
            "may be overwritten.",
            hint,
        )
    return None


def _output_dir(key: str, value: str) -> Optional[Tuple[str, str]]:
    skeleton, _ = _skeleton(value)
    if not skeleton.strip():
        return f"{key} is empty: Hydra needs a directory to write the outputs in.", _DIR_HINT
    if _HOLE not in skeleton and posixpath.normpath(skeleton.strip().replace("\\", "/")) in (
        "/",
        "//",
    ):
        return (
            f"{key} {value!r} is the filesystem root: the outputs and zenspec's records "
            "would be written directly under '/'.",
            _DIR_HINT,
        )
    return None


_RULES = {
    "hydra.job.name": lambda v: _job_name(v),
    "hydra.sweep.subdir": lambda v: _inner_path(
        "hydra.sweep.subdir", v, "the sweep directory (hydra.sweep.dir)", _SUBDIR_HINT, False
    ),
    "hydra.output_subdir": lambda v: _inner_path(
        "hydra.output_subdir", v, "the job's directory", _OUTPUT_SUBDIR_HINT, True
    ),
    "hydra.run.dir": lambda v: _output_dir("hydra.run.dir", v),
    "hydra.sweep.dir": lambda v: _output_dir("hydra.sweep.dir", v),
}


def path_problem(key: str, value: Any) -> Optional[Tuple[str, str]]:
    """``(message, hint)`` when *value* of Hydra's dotted *key* would write outside, else None.

    Keys other than ``hydra.job.name``, ``hydra.sweep.subdir``,
    ``hydra.output_subdir``, ``hydra.run.dir`` and ``hydra.sweep.dir`` are never
    a problem, nor is ``None`` (Hydra's "not set"); numbers are judged as text.
    """
    rule = _RULES.get(key)
    if rule is None or value is None or isinstance(value, (dict, list, bool)):
        return None
    return rule(str(value))


def _leaves(prefix: str, value: Any) -> Iterator[Tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(f"{prefix}.{k}" if prefix else str(k), v)
    else:
        yield prefix, value


class PathChecks:
    spec: Any

    def add(self, path: KeyPath, message: str, hint: Any = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def paths(self) -> None:
        """``[hydra]``'s job name, sweep subdir, output subdir and output dirs."""
        for key, value in _leaves("hydra", self.spec.hydra):
            found = path_problem(key, value)
            if found is not None:
                self.add(tuple(key.split(".")), *found)


def _override_values(override: Any) -> Iterator[Any]:
    if not override.is_sweep_override():
        yield override.value()
        return
    try:
        yield from override.sweep_iterator()
    except Exception:  # glob(), interval(): not values this check can judge
        return


def override_problems(overrides: Optional[Sequence[str]]) -> List[Problem]:
    """Command-line overrides that set a path of Hydra's to one that would write outside.

    Each problem's file is ``<command line>`` and its path the key
    (``<command line>::hydra.job.name``). An override that does not parse is
    left to the override checks, which say why.
    """
    from zenspec.errors import ZenspecError

    problems: List[Problem] = []
    for text in overrides or ():
        if not isinstance(text, str) or "hydra" not in text:
            continue
        from zenspec.launch.overrides import parse_overrides  # Hydra's parser: only now

        try:
            (parsed,) = parse_overrides([text])
        except (ZenspecError, ValueError):
            continue
        if parsed.is_delete():
            continue
        key = parsed.key_or_group
        if not key.startswith("hydra"):
            continue
        try:
            values = list(_override_values(parsed))
        except Exception:  # a value Hydra's own checks will refuse with their message
            continue
        seen = set()
        for value in values:
            for leaf, leaf_value in _leaves(key, value):
                found = path_problem(leaf, leaf_value)
                if found is not None and (leaf, found[0]) not in seen:
                    seen.add((leaf, found[0]))
                    problems.append(
                        Problem(
                            f"the override {text!r}: {found[0]}",
                            file=COMMAND_LINE,
                            path=leaf,
                            hint=found[1],
                        )
                    )
    return problems
