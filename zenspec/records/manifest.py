"""The manifest: what a run or sweep was, written before its first job starts.

It records the inputs (spec and its canonical hash, overrides, the planned job
list with stable ids), the provenance (package versions, git commit and dirty
flag, host) and the lifecycle (``status``: running → completed | failed |
interrupted, start/end times). ``zenspec resume`` and ``zenspec results`` read it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from zenspec.records.store import (
    FORMAT_VERSION,
    NotAnObjectError,
    atomic_write_json,
    manifest_path,
    read_json,
)

__all__ = [
    "canonical_hash",
    "finish_manifest",
    "job_id",
    "new_manifest",
    "read_manifest",
]


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="milliseconds")


def canonical_hash(data: Any) -> str:
    """sha256 of *data* as canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def job_id(overrides: Sequence[str]) -> str:
    """A stable id for a job: the same overrides give the same id in every run."""
    return "j" + hashlib.sha256("\0".join(overrides).encode()).hexdigest()[:12]


@functools.cache  # installed versions do not change under a running process
def _version(dist: str, module: str) -> Optional[str]:
    # The imported module's own __version__ is what ran (and is free to read:
    # importing importlib.metadata and scanning the installed distributions
    # costs ~25 ms, before the first job of every run); metadata otherwise.
    found = getattr(sys.modules.get(module), "__version__", None)
    if isinstance(found, str):
        return found
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return None


def _in_git_work_tree(cwd: str) -> bool:
    """Whether git would find a repository from *cwd* (as git looks: up for ``.git``)."""
    if "GIT_DIR" in os.environ:
        return True
    path = Path(cwd).resolve()
    return any((p / ".git").exists() for p in (path, *path.parents))


def _git(cwd: str) -> Optional[Dict[str, Any]]:
    if not _in_git_work_tree(cwd):  # no repository: no git subprocess per run either
        return None

    def run(*args: str) -> Optional[str]:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if commit is None:
        return None
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def provenance(cwd: Optional[str] = None) -> Dict[str, Any]:
    cwd = cwd or os.getcwd()
    return {
        "zenspec": _version("zenspec", "zenspec"),
        "hydra_core": _version("hydra-core", "hydra"),
        "omegaconf": _version("omegaconf", "omegaconf"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cwd": cwd,
        "argv": list(sys.argv),
        "git": _git(cwd),
    }


def new_manifest(
    *,
    root: Path,
    mode: str,
    task: Optional[str],
    job_name: str,
    config_name: str,
    overrides: List[str],
    config_hash: str,
    sweeper: Optional[str],
    launcher: Optional[str],
    planned: Optional[List[List[str]]],
    spec: Optional[Dict[str, Any]] = None,
    metric: Optional[str] = None,
    tags: Optional[Dict[str, str]] = None,
    note: Optional[str] = None,
) -> Dict[str, Any]:
    """Build the manifest of a run/sweep about to start, and write it."""
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": "zenspec-manifest",
        "run_id": uuid.uuid4().hex,
        "mode": mode,
        "status": "running",
        "dir": str(root.resolve()),
        "task": task,
        "job_name": job_name,
        "config_name": config_name,
        "config_hash": config_hash,
        "overrides": list(overrides),
        "spec": spec,
        "metric": metric,
        "tags": dict(tags or {}),
        "note": note,
        "sweeper": sweeper,
        "launcher": launcher,
        "planned_jobs": None
        if planned is None
        else [{"num": i, "id": job_id(o), "overrides": list(o)} for i, o in enumerate(planned)],
        "provenance": provenance(),
        "started_at": now_iso(),
        "ended_at": None,
        "summary": None,
        "history": [],
    }
    atomic_write_json(manifest_path(root), manifest)
    return manifest


def finish_manifest(root: Path, manifest: Dict[str, Any], status: str, summary: Dict) -> None:
    """Record how the run ended (completed, failed, interrupted)."""
    manifest = dict(manifest)
    manifest["status"] = status
    manifest["ended_at"] = now_iso()
    manifest["summary"] = summary
    atomic_write_json(manifest_path(root), manifest)


def read_manifest(root: Path) -> Dict[str, Any]:
    """The manifest of the run/sweep in *root*; a clear error if there is none."""
    from zenspec.errors import ZenspecError

    path = manifest_path(root)
    if not path.is_file():
        raise ZenspecError(
            f"{root}: no zenspec records here (no {path.relative_to(root)}).",
            hint="Fix: pass the run/sweep directory zenspec printed (hydra.sweep.dir).",
        )
    where = str(path)  # rendered as <dir>/.zenspec/manifest.json::$.key.path
    try:
        data = read_json(path)
    except RecursionError as e:
        raise ZenspecError(
            "the manifest cannot be read: it is nested too deeply.", file=where, path="$"
        ) from e
    except NotAnObjectError as e:  # valid JSON, but not an object
        raise ZenspecError("the manifest is not a JSON object.", file=where, path="$") from e
    except (OSError, ValueError, MemoryError) as e:  # (not JSON, not UTF-8, a 5000-digit int)
        raise ZenspecError(f"{path}: the manifest cannot be read: {e}") from e
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise ZenspecError(
            f"manifest format_version {version!r} is not supported "
            f"(this zenspec reads {FORMAT_VERSION}).",
            file=where,
            path="$.format_version",
        )
    from zenspec.records.checks import manifest_problem

    problem = manifest_problem(data)
    if problem is not None:
        key, why = problem
        raise ZenspecError(
            f"the manifest is damaged: {why}.",
            file=where,
            path=key,
            hint="Fix: restore the file (zenspec writes it whole, so a wrong value was put "
            "there by hand or by another program), or start the sweep again.",
        )
    return data
