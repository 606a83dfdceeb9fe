"""The spec API: ``load_spec``, ``validate``, ``run_spec`` -- what the CLI calls too."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Union

from zenspec.errors import Problem, SpecError, ZenspecError
from zenspec.spec.imports import search_path
from zenspec.spec.model import Spec, build_spec
from zenspec.spec.parse import MAX_SPEC_BYTES, SUFFIXES, ParsedSpec, parse_file
from zenspec.spec.schema import schema_problems
from zenspec.spec.semantic import DEFAULT_MAX_JOBS, check_spec

__all__ = [
    "FileReport",
    "collect_spec_files",
    "is_spec_file",
    "load_spec",
    "run_spec",
    "validate",
    "validate_paths",
]

PathLike = Union[str, "os.PathLike[str]"]


def _parse_and_check_schema(path: PathLike) -> ParsedSpec:
    parsed = parse_file(path)
    problems = schema_problems(parsed)
    if problems:
        raise SpecError(problems[0].message, problems=problems)
    return parsed


def load_spec(path: PathLike, *, imports: bool = False) -> Spec:
    """Parse, schema-check and statically check the spec at *path*.

    Parameters
    ----------
    path : str or PathLike
        A ``.toml``, ``.yaml`` or ``.yml`` spec file.
    imports : bool, default False
        Also import the spec's targets and check their arguments (user code runs).

    Returns
    -------
    Spec
        The typed spec; ``spec.run()``/``spec.plan()`` launch or plan it.

    Raises
    ------
    SpecError
        With every problem found (``err.problems``), each with file, key path and line.

    Examples
    --------
    >>> spec = load_spec("specs/dict_builds.toml")  # doctest: +SKIP
    >>> spec.run().return_value  # doctest: +SKIP
    """
    spec = build_spec(_parse_and_check_schema(path))
    problems = _semantic(spec, imports).problems
    if problems:
        raise SpecError(problems[0].message, problems=problems)
    return spec


def _semantic(
    spec: Spec, imports: bool, max_jobs: Optional[int] = None, compose: bool = True
) -> Any:
    if not imports:
        return check_spec(spec, imports=False, max_jobs=max_jobs)
    with search_path(spec.experiment.search_path):
        return check_spec(spec, imports=True, max_jobs=max_jobs, compose=compose)


@dataclass
class FileReport:
    """The outcome of validating one file."""

    file: str
    problems: List[Problem] = field(default_factory=list)
    grid_size: Optional[int] = None
    spec: Optional[Spec] = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "ok": self.ok,
            "grid_size": self.grid_size,
            "problems": [p.as_dict() for p in self.problems],
        }


def _validate_one(path: PathLike, imports: bool, max_jobs: Optional[int]) -> FileReport:
    report = FileReport(file=str(path))
    try:
        parsed = parse_file(path)
    except ZenspecError as e:
        report.problems = list(e.problems)
        return report
    report.problems = schema_problems(parsed)
    if report.problems:
        # semantic checks assume the schema's shape: they run on the spec without
        # the keys the schema refused, so every problem is reported in one round
        report.problems += _beside_schema_problems(parsed, report.problems, imports)
        report.problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.path or ""))
        return report
    spec = build_spec(parsed)
    result = _semantic(spec, imports, max_jobs)
    report.problems, report.grid_size, report.spec = result.problems, result.grid_size, spec
    return report


def _without(data: Any, path: tuple) -> bool:
    """Delete *path* from *data* in place; False if it cannot be (the root, a list item)."""
    node = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if not path or not isinstance(node, dict) or path[-1] not in node:
        return False
    del node[path[-1]]
    return True


def _beside_schema_problems(
    parsed: ParsedSpec, found: List[Problem], imports: bool
) -> List[Problem]:
    """The semantic problems of *parsed* with the keys the schema refused taken out.

    A problem at or under a removed key, or naming one (``'lr'``), is left out:
    it would only repeat the schema's problem. Nothing is reported when the
    remainder still breaks the schema (a required key was the problem).
    """
    import copy

    data = copy.deepcopy(parsed.data)
    removed = []
    for p in found:
        if p.keys is None or not _without(data, p.keys):
            return []
        removed.append(p.keys)
    pruned = dataclasses.replace(parsed, data=data)
    if schema_problems(pruned):
        return []
    try:
        result = _semantic(build_spec(pruned), imports, None, compose=False)
    except ZenspecError:
        return []
    out = []
    for p in result.problems:
        path = p.keys or ()
        if any(path[: len(r)] == r for r in removed):
            continue
        if any(f"'{r[-1]}'" in p.message for r in removed if isinstance(r[-1], str)):
            continue
        out.append(p)
    return out


#: directory names never searched for specs (besides hidden ones)
SKIPPED_DIRS = frozenset({".venv", "venv", "node_modules", "__pycache__"})
#: the schema a first-line directive must name for the file to count as a spec
SCHEMA_FILE = "zenspec.schema.json"

_DIRECTIVE = re.compile(r"^\ufeff?\s*#\s*(?::schema\s+|yaml-language-server:\s*\$schema=)(\S+)")
# a top-level experiment table in text that does not parse (a syntax error elsewhere)
_EXPERIMENT_TEXT = {
    "toml": re.compile(r"^\s*(\[\s*experiment\s*[\].]|experiment\s*[.=])", re.MULTILINE),
    "yaml": re.compile(r"^experiment\s*:", re.MULTILINE),
}


def _is_output_tree(d: Path) -> bool:
    """A Hydra/zenspec output directory: records, a multirun.yaml or a .hydra/ dir."""
    return (d / ".zenspec").is_dir() or (d / "multirun.yaml").is_file() or (d / ".hydra").is_dir()


def is_spec_file(path: PathLike) -> bool:
    """Whether the file at *path* looks like a zenspec spec (used for directories).

    A spec has a top-level ``experiment`` table (mapping), or a first-line
    ``#:schema`` / ``# yaml-language-server: $schema=`` directive naming
    ``zenspec.schema.json``. A file that does not parse counts when its text
    has a top-level ``experiment`` table, so its syntax error is reported.
    """
    p = Path(path)
    fmt = SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(MAX_SPEC_BYTES)
    except OSError:
        return False
    text = head.decode("utf-8", errors="replace")
    m = _DIRECTIVE.match(text.split("\n", 1)[0])
    if m and m.group(1).rstrip("\"'").replace("\\", "/").endswith(SCHEMA_FILE):
        return True
    try:
        data = parse_file(p).data
    except ZenspecError:
        return bool(_EXPERIMENT_TEXT[fmt].search(text))
    return isinstance(data, dict) and isinstance(data.get("experiment"), dict)


def _walk(root: Path) -> Iterator[Path]:
    for here, dirs, files in os.walk(root):
        base = Path(here)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in SKIPPED_DIRS and not _is_output_tree(base / d)
        )
        for name in sorted(files):
            f = base / name
            if f.suffix.lower() in SUFFIXES and not name.startswith(".") and f.is_file():
                yield f


def collect_spec_files(paths: Iterable[PathLike]) -> List[Path]:
    """Files named directly, plus the spec files under directories.

    Under a directory, a ``*.toml``/``*.yaml``/``*.yml`` file is a spec when
    :func:`is_spec_file` says so (a top-level ``experiment`` table, or a
    first-line schema directive naming ``zenspec.schema.json``); hidden files
    and directories, ``.venv``, ``node_modules`` and output trees (directories
    holding ``.zenspec/``, ``.hydra/`` or a ``multirun.yaml``) are skipped. A
    file named directly is always kept -- even one that does not exist, so
    validating it reports "no such file".
    """
    out: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(f for f in _walk(p) if is_spec_file(f))
        else:
            out.append(p)
    return list(dict.fromkeys(out))


def validate_paths(
    paths: Iterable[PathLike], imports: bool = False, max_jobs: Optional[int] = DEFAULT_MAX_JOBS
) -> List[FileReport]:
    """Validate the files named in *paths* and the spec files under its directories.

    All problems of all files are collected; which files under a directory count
    as specs is :func:`collect_spec_files`'s rule.

    A grid of more than *max_jobs* jobs is a problem (None: no limit).
    """
    return [_validate_one(p, imports, max_jobs) for p in collect_spec_files(paths)]


def validate(
    path: PathLike, imports: bool = False, max_jobs: Optional[int] = DEFAULT_MAX_JOBS
) -> List[Problem]:
    """Every problem of the spec (or the specs under the directory) at *path*.

    An empty list means valid. With ``imports=True`` targets are imported and
    their arguments checked, as ``zenspec validate --imports`` does.
    """
    return [p for r in validate_paths([path], imports, max_jobs) for p in r.problems]


def run_spec(
    spec: Spec,
    overrides: Optional[Sequence[str]] = None,
    multirun: bool = False,
    *,
    imports: bool = True,
    **launch_kwargs: Any,
) -> Any:
    """Launch *spec*, as ``zenspec run`` does.

    Parameters
    ----------
    spec : Spec
        From :func:`load_spec`.
    overrides : list of str, optional
        Hydra CLI overrides applied on top of the spec's (a key overridden here
        replaces the spec's sweep/setting for that key).
    multirun : bool, default False
        Force a multirun; a spec with a sweep or a non-grid sweeper always is one.
    imports : bool, default True
        Run the import checks first, so a typo in a target's argument is reported
        with its line before anything is launched.
    **launch_kwargs
        Passed to :func:`zenspec.hydra_run` / :func:`zenspec.hydra_multirun`
        (``with_log_configuration``, ``on_error``, ``progress``, ``records``...);
        ``execution_whitelist`` defaults to the spec's ``[experiment] execution_whitelist``.
        ``tags`` (a mapping of str to str) and ``note`` (str) label the run in its
        manifest, as ``zenspec run --tag k=v --note TEXT`` does.

    Returns
    -------
    JobResult or Any
        ``hydra_run``'s job for a single run; ``hydra_multirun``'s return value
        (batches of jobs for the grid; the sweeper's value otherwise).
    """
    from zenspec.launch import hydra_multirun, hydra_run
    from zenspec.records.manifest import canonical_hash
    from zenspec.spec.compile import compile_spec
    from zenspec.spec.paths import override_problems

    problems = override_problems(overrides)
    if problems:  # a job name or output path that leaves its directory: nothing runs
        raise SpecError(problems[0].message, problems=problems)

    with search_path(spec.experiment.search_path):
        if imports:
            problems = check_spec(spec, True, None, overrides, multirun).problems
            if problems:
                raise SpecError(problems[0].message, problems=problems)
        compiled = compile_spec(spec, overrides, multirun)
        provenance = {
            "spec": {
                "path": spec.file,
                # resume works from any directory: the absolute path, and the
                # recorded cwd (provenance.cwd) for the relative one
                "abspath": os.path.abspath(spec.file) if spec.file else None,
                "hash": canonical_hash(spec.parsed.data),
                "overrides": list(overrides or []),
                # as written: interpolations such as ${oc.env:...} stay unresolved
                "data": spec.parsed.data,
                "metric": spec.experiment.metric,
                "direction": spec.experiment.direction,
            },
            "tags": {str(k): str(v) for k, v in (launch_kwargs.pop("tags", None) or {}).items()},
            "note": launch_kwargs.pop("note", None),
        }
        if spec.experiment.metric is not None:
            launch_kwargs.setdefault("metric", spec.experiment.metric)
        if spec.experiment.seed is not None:  # [experiment] seed: per-job seeds
            launch_kwargs.setdefault("seed", spec.experiment.seed)
        if compiled.execution_whitelist is not None:  # [experiment] execution_whitelist
            launch_kwargs.setdefault("execution_whitelist", compiled.execution_whitelist)
        launch = hydra_multirun if compiled.multirun else hydra_run
        if not compiled.multirun:
            launch_kwargs = {
                k: v
                for k, v in launch_kwargs.items()
                if k not in ("on_error", "progress", "fail_fast", "max_jobs")
            }
        try:
            return launch(
                compiled.config,
                compiled.task_function,
                compiled.overrides,
                job_name=compiled.job_name,
                groups=compiled.groups,
                provenance=launch_kwargs.pop("provenance", provenance),
                **launch_kwargs,
            )
        except ZenspecError as e:
            _place_in_spec(e, spec.parsed)
            raise


def _place_in_spec(error: ZenspecError, parsed: ParsedSpec) -> None:
    """Give a launch error about a spec key (``$.launcher.partition``) the spec's file and line.

    The launch layer knows the key path a bad launcher setting came from, not the
    file it was written in; here both are known, so every such error reads like
    the spec layer's own (``spec.toml::$.launcher.partition (line 9, column 1)``).
    """
    placed = []
    for p in error.problems:
        keys = p.path[2:].split(".") if p.path and p.path.startswith("$.") else []
        if p.file is None and keys and all(re.fullmatch(r"[A-Za-z_][\w-]*", k) for k in keys):
            p = parsed.problem(tuple(keys), p.message, p.hint)
        placed.append(p)
    if placed and placed[0] is not error.problems[0]:
        first = placed[0]
        error.file, error.path, error.line, error.column = (
            first.file,
            first.path,
            first.line,
            first.column,
        )
    error.problems = tuple(placed)
