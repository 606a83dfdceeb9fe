"""MLflow's rules for keys and values, and zenspec's records made to fit them.

Keys (metric, param and tag names) keep the characters MLflow accepts on every
platform; values are cut to MLflow's limits; times become milliseconds; the
non-finite floats zenspec's records keep as strings (``"nan"``) are numbers again.
Nothing here imports MLflow: its limits are repeated.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any, Mapping, Optional

from zenspec.records.manifest import canonical_hash
from zenspec.records.table import SweepResults

__all__ = [
    "MAX_PARAM_VALUE",
    "MAX_RUN_NAME",
    "MAX_TAG_VALUE",
    "as_number",
    "cut",
    "experiment_name",
    "iso_to_ms",
    "safe_key",
    "same",
    "seconds_ms",
    "sweep_id",
]

# MLflow's own limits (mlflow.utils.validation), repeated so that planning needs no
# MLflow: longer values are refused by the store, not cut
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_RUN_NAME = 250

# the characters MLflow accepts in metric, param and tag keys on every platform
# (it allows ":" too, but not on Windows: a store shared with one would refuse it)
_UNSAFE = re.compile(r"[^\w./\- ]")
# zenspec writes uuid4().hex; anything else (a hand-edited manifest) is hashed to this
_ID = re.compile(r"[0-9A-Za-z_\-]{1,64}")
# to_jsonable writes non-finite returned floats as these strings
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def sweep_id(manifest: Mapping[str, Any]) -> str:
    """The manifest's ``run_id``, or its hash where it could not sit in a search filter."""
    run_id = str(manifest.get("run_id"))
    return run_id if _ID.fullmatch(run_id) else canonical_hash(run_id)[:32]


def safe_key(name: str) -> str:
    """*name* as a key MLflow accepts: other characters ``_``, no empty or dot segments."""
    cleaned = _UNSAFE.sub("_", str(name))
    # MLflow refuses a key that a path normalisation would change ("a//b", "/a", "a/..")
    parts = [p for p in cleaned.split("/") if p not in ("", ".", "..")]
    return ("/".join(parts) or "_")[:MAX_KEY]


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def seconds_ms(seconds: Any) -> Optional[int]:
    number = as_number(seconds)
    return int(number * 1000) if number is not None and math.isfinite(number) else None


def iso_to_ms(text: Any) -> Optional[int]:
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(_dt.datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return None


def as_number(value: Any) -> Optional[float]:
    """*value* as a metric value, or None when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _NON_FINITE.get(value)
    return None


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def experiment_name(results: SweepResults) -> str:
    """The spec's ``experiment.name``, else the manifest's ``job_name``."""
    return results.name or "zenspec"
