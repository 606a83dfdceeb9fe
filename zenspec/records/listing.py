"""``zenspec results multirun/``: the runs and sweeps recorded under a directory, newest first.

A directory that is not a run or sweep itself (no ``.zenspec/manifest.json``) is
searched a few levels down (``multirun/<date>/<time>``, ``multirun/<name>/<date>/<time>``)
for ones that are; each is listed with its name, start, status, job counts, best
metric and description, read from its manifest and records.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from zenspec.records.store import RECORDS_DIRNAME
from zenspec.text_table import render_table

__all__ = ["find_runs", "list_runs", "sweeps_named", "tags_text"]

#: how deep below the directory a run's own directory may be
MAX_DEPTH = 4


def find_runs(root: Path, depth: int = MAX_DEPTH) -> List[Path]:
    """Directories under *root* (not following links) that hold a run's records."""
    found: List[Path] = []

    def walk(where: Path, left: int) -> None:
        if (where / RECORDS_DIRNAME / "manifest.json").is_file():
            found.append(where)
            return  # a sweep's job dirs hold no runs of their own
        if left == 0:
            return
        try:
            children = sorted(p for p in where.iterdir() if p.is_dir() and not p.is_symlink())
        except OSError:
            return
        for child in children:
            if child.name != RECORDS_DIRNAME and not child.name.startswith("."):
                walk(child, left - 1)

    walk(Path(root), depth)
    return found


def tags_text(tags: Any) -> str:
    """``lr=cosine, data=v2``: a run's ``--tag``s in one cell."""
    return ", ".join(f"{k}={v}" for k, v in tags.items()) if isinstance(tags, dict) else ""


def sweeps_named(paths: Sequence[Union[str, os.PathLike[str]]]) -> List[Path]:
    """The sweeps *paths* name (``report``, ``export``): each a sweep, or a directory of them.

    Each sweep once (a directory and its parent may both be named), in the order
    given, as given (not resolved). A path that is no directory, or holds no sweep
    at any depth :func:`find_runs` searches, is refused (exit 2).
    """
    from zenspec.errors import ZenspecError
    from zenspec.records.store import manifest_path

    if not paths:
        raise ZenspecError("no sweep directory given.", hint="Fix: name one or more SWEEP_DIRs.")
    found: Dict[Path, Path] = {}
    for given in paths:
        where = Path(given)
        if manifest_path(where).is_file():
            runs = [where]
        elif where.is_dir():
            runs = find_runs(where)
        else:
            raise ZenspecError(
                f"{where}: {'is not a directory' if where.exists() else 'no such directory'}.",
                hint="Fix: pass the sweep directory `zenspec run` printed (outputs: ...).",
            )
        if not runs:
            raise ZenspecError(
                f"{where}: holds no zenspec sweep (no .zenspec/manifest.json in it or below it).",
                hint="Fix: pass a sweep directory (the one `zenspec run` printed as outputs) "
                "or a directory of them (multirun/).",
            )
        for run in runs:
            found.setdefault(run.resolve(), run)
    return list(found.values())


def _summary(where: Path) -> Optional[Dict[str, Any]]:
    from zenspec.records.table import load_results

    try:
        results = load_results(where)
    except Exception as e:  # a damaged manifest: listed, with why
        return {"dir": str(where), "status": f"unreadable ({e})", "started_at": ""}
    m = results.manifest
    best = results.best(results.maximize)
    return {
        "dir": str(where),
        "name": results.name,
        "mode": m.get("mode"),
        "started_at": m.get("started_at") or "",
        "status": results.status,
        "counts": results.counts,
        "metric": results.metric_name,
        "best": None if best is None else {"job": best.num, "metric": best.metric},
        "description": results.description,
        "tags": m.get("tags") or {},
        "note": m.get("note"),
    }


def list_runs(root: Path, fmt: str = "table", found: Optional[List[Path]] = None) -> str:
    """The runs and sweeps under *root* (*found*: :func:`find_runs`'s answer), newest first."""
    where = find_runs(root) if found is None else found
    runs = [s for s in (_summary(p) for p in where) if s is not None]
    runs.sort(key=lambda s: str(s.get("started_at") or ""), reverse=True)
    if fmt == "json":
        return json.dumps({"dir": str(root), "runs": runs}, indent=2, default=str) + "\n"
    if not runs:
        return f"no zenspec runs or sweeps under {root}\n"
    tagged = any(s.get("tags") for s in runs)
    head = ["started", "name", "status", "jobs", "best", *(["tags"] if tagged else []), "dir"]
    body = []
    for s in runs:
        counts = s.get("counts") or {}
        jobs = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        best = s.get("best") or {}
        value = best.get("metric")
        shown = ""
        if isinstance(value, float) and not math.isnan(value):
            shown = f"{s.get('metric') or 'metric'}={value:.6g} (job {best.get('job')})"
        body.append(
            [
                str(s.get("started_at") or "")[:19].replace("T", " "),
                str(s.get("name") or ""),
                str(s.get("status")),
                jobs,
                shown,
                *([tags_text(s.get("tags"))] if tagged else []),
                str(Path(s["dir"]).relative_to(root)) if s["dir"] != str(root) else ".",
            ]
        )
    text = render_table(head, body, rule=True) + "\n"
    for s in runs:
        for said in (s.get("description"), s.get("note")):
            if isinstance(said, str) and said.strip():
                first = said.strip().splitlines()[0]
                text += f"  {Path(s['dir']).relative_to(root)}: {first}\n"
    return text + f"{len(runs)} run(s) under {root}\n"
