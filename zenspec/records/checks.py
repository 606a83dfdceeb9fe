"""Cheap shape checks of records and manifests, so readers never trip on a bad file.

A record is written by zenspec, but it lives in a shared directory that anyone (or
a full disk, or a hand edit) may change. Readers check the shape of every value
they use before using it: a job record with a wrong type is *damaged* (named,
skipped, counted; ``resume`` runs its job again), a manifest with one is a clear
:class:`~zenspec.errors.ZenspecError` naming the key path.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from typing_extensions import TypeGuard

from zenspec.records.store import FORMAT_VERSION

__all__ = ["MAX_DEPTH", "STATUSES", "manifest_problem", "record_problem"]

STATUSES = ("completed", "failed", "interrupted", "pruned")

#: deeper than any record zenspec writes (``to_jsonable`` stops at 50 levels);
#: deeper values would make the readers' own recursion (copy, repr, json) fail
MAX_DEPTH = 100

_NUMBER = "a number"
_STRING = "a string"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    """*value* in short, for a message (never the whole of a large value)."""
    if isinstance(value, (dict, list)):
        return _type_name(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    """An int or float (not a bool) that a float can hold: readers compare and format it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**1023) < value < 2**1023  # float(10**400) overflows
    return isinstance(value, float)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether *value* nests containers deeper than *limit* (iterative: no recursion)."""
    stack: List[Tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _wrong(key: str, value: Any, expected: str) -> str:
    return f"{key} is {_show(value)}, expected {expected}"


def record_problem(data: Any, name: Optional[str] = None) -> Optional[str]:
    """Why *data* (a parsed ``jobs/<num>.json``) is not a usable record, or None.

    *name* is the file's name: a record must be in ``<num>.json`` of its own num.
    """
    if not isinstance(data, dict):
        return f"not a JSON object but {_type_name(data)}"
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        return _wrong("format_version", version, str(FORMAT_VERSION))
    num = data.get("num")
    if not _is_int(num) or num < 0:
        return _wrong("num", num, "an integer >= 0")
    if name is not None and name != f"{num}.json":
        return f"num is {num} but the file is {name} (expected {num}.json)"
    status = data.get("status")
    if not isinstance(status, str):
        return _wrong("status", status, _STRING)
    if status not in STATUSES:
        return _wrong("status", status, "one of " + ", ".join(STATUSES))
    overrides = data.get("overrides")
    if not _is_str_list(overrides):
        return _wrong("overrides", overrides, "a list of strings")
    for key in ("metric", "duration_s", "started_at"):
        if data.get(key) is not None and not _is_number(data[key]):
            return _wrong(key, data[key], f"{_NUMBER} or null")
    for key in ("job_dir", "cause", "cuda_visible_devices"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return _wrong(key, data[key], f"{_STRING} or null")
    for key in ("error", "engine", "choices", "recorded_by"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return _wrong(key, data[key], "an object or null")
    if data.get("pid") is not None and not _is_int(data["pid"]):
        return _wrong("pid", data["pid"], "an integer or null")
    error = data.get("error") or {}
    for key in ("type", "message"):  # progress lines and tables use them as text
        if key in error and not isinstance(error[key], str):
            return _wrong(f"error.{key}", error[key], _STRING)
    if error.get("traceback") is not None and not isinstance(error["traceback"], str):
        return _wrong("error.traceback", error["traceback"], f"{_STRING} or null")
    if _too_deep(data):
        return f"nested deeper than {MAX_DEPTH} levels"
    return None


def manifest_problem(data: Any) -> Optional[Tuple[str, str]]:
    """``(key path, what is wrong)`` if *data* is not a usable manifest, else None.

    Only ``format_version`` is left to the caller (its own, clearer message).
    Checks what the readers (results, resume, progress) use.
    """
    if not isinstance(data, dict):
        return "$", f"the manifest is {_type_name(data)}, expected an object"
    for key in ("status", "mode", "config_hash", "metric", "run_id", "task"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"$.{key}", _wrong(key, data[key], f"{_STRING} or null")
    if data.get("overrides") is not None and not _is_str_list(data["overrides"]):
        return "$.overrides", _wrong("overrides", data["overrides"], "a list of strings")
    for key in ("spec", "provenance", "summary"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"$.{key}", _wrong(key, data[key], "an object or null")
    spec = data.get("spec") or {}
    for key in ("path", "abspath", "hash"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            return f"$.spec.{key}", _wrong(f"spec.{key}", spec[key], f"{_STRING} or null")
    if spec.get("overrides") is not None and not _is_str_list(spec["overrides"]):
        return "$.spec.overrides", _wrong(
            "spec.overrides", spec["overrides"], "a list of strings or null"
        )
    provenance = data.get("provenance") or {}
    if provenance.get("cwd") is not None and not isinstance(provenance["cwd"], str):
        return "$.provenance.cwd", _wrong("provenance.cwd", provenance["cwd"], f"{_STRING} or null")
    if provenance.get("pid") is not None and not _is_int(provenance["pid"]):
        return "$.provenance.pid", _wrong("provenance.pid", provenance["pid"], "an integer or null")
    if data.get("history") is not None and not isinstance(data["history"], list):
        return "$.history", _wrong("history", data["history"], "a list or null")
    if _too_deep(data):
        return "$", f"the manifest is nested deeper than {MAX_DEPTH} levels"
    planned = data.get("planned_jobs")
    if planned is None:
        return None
    if not isinstance(planned, list):
        return "$.planned_jobs", _wrong("planned_jobs", planned, "a list of jobs or null")
    seen = set()
    for i, job in enumerate(planned):
        where = f"$.planned_jobs[{i}]"
        if not isinstance(job, dict):
            return where, _wrong(f"planned_jobs[{i}]", job, 'an object {"num", "id", "overrides"}')
        num = job.get("num")
        if not _is_int(num) or num < 0:
            return f"{where}.num", _wrong(f"planned_jobs[{i}].num", num, "an integer >= 0")
        if num in seen:
            return f"{where}.num", f"planned_jobs[{i}].num {num} is planned twice"
        seen.add(num)
        if not _is_str_list(job.get("overrides")):
            return f"{where}.overrides", _wrong(
                f"planned_jobs[{i}].overrides", job.get("overrides"), "a list of strings"
            )
        if job.get("id") is not None and not isinstance(job["id"], str):
            return f"{where}.id", _wrong(f"planned_jobs[{i}].id", job["id"], f"{_STRING} or null")
    return None
