"""Per-job seeds for sweeps: one seed per job, from the spec's seed and the job's overrides.

* :func:`derive_seed` -- a job's seed: a pure function of the spec-level seed
  and the job's overrides as text (their order does not matter), the same in
  every process, on every platform and Python version (SHA-256 over a canonical
  encoding, never :func:`hash`, which ``PYTHONHASHSEED`` salts per process);
* :func:`seed_everything` -- seeds Python's :mod:`random`, numpy's legacy global
  RNG and torch, whichever are installed;
* :func:`job_seed` -- the seed of the job running in this process (``None``
  outside a job, or when the sweep has no seed); the job runner sets it with
  :func:`_set_job_seed`.

Seeds are in ``[0, 2**31 - 1]``: valid for :func:`random.seed`,
:func:`numpy.random.seed` (which needs ``< 2**32``), :func:`torch.manual_seed`
and any API that takes a signed 32-bit int.

``PYTHONHASHSEED`` is deliberately left alone: it is read once, when the
interpreter starts, so setting it in a running job would change nothing but
the environment its subprocesses inherit.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import random
import sys
from typing import Any, List, Optional, Sequence

__all__ = ["MAX_SEED", "derive_seed", "job_seed", "seed_everything"]

#: The largest seed :func:`derive_seed` returns (seeds are in ``[0, MAX_SEED]``).
MAX_SEED = 2**31 - 1

# Part of the hashed text: changing the encoding below means a new tag, since
# every recorded job seed depends on it.
_ENCODING_TAG = "zenspec.derive_seed.v1"

# numpy.random.seed rejects seeds outside [0, 2**32 - 1]
_SEED_LIMIT = 2**32

_JOB_SEED: Optional[int] = None


def _check_seed_type(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}: {value!r}")


def derive_seed(base_seed: int, overrides: Sequence[str]) -> int:
    """The seed of one job of a sweep: a pure function of the spec's seed and the job's overrides.

    The overrides are sorted first, so their order does not matter; the pair is
    hashed with SHA-256 over a canonical JSON encoding, so the seed is the same
    in every process and on every Python version (:func:`hash` is salted per
    process and is not used). Different overrides give different seeds, but
    for the 31 bits of a seed: among ``n`` distinct jobs the chance that two
    share a seed is about ``n**2 / 2**32`` (under 0.3 % for 3,000 jobs).

    Parameters
    ----------
    base_seed : int
        The spec-level seed of the sweep (any int, negative ones included).
    overrides : sequence of str
        The job's overrides as text, e.g. ``["lr=0.1", "model=resnet"]``. A
        single string is refused (it would be read as its characters).

    Returns
    -------
    int
        The job's seed, in ``[0, 2**31 - 1]``.

    Raises
    ------
    TypeError
        When ``base_seed`` is not an int (a bool is refused too), ``overrides``
        is a single string, or one of the overrides is not a string.

    Examples
    --------
    >>> seed = derive_seed(0, ["lr=0.1", "model=resnet"])
    >>> seed == derive_seed(0, ["model=resnet", "lr=0.1"])
    True
    >>> seed == derive_seed(1, ["lr=0.1", "model=resnet"])
    False
    >>> 0 <= seed <= 2**31 - 1
    True
    >>> derive_seed(0, [])
    1786267298
    """
    _check_seed_type("base_seed", base_seed)
    if isinstance(overrides, (str, bytes)):
        raise TypeError(
            f"overrides must be a sequence of strings, not a single string: {overrides!r}"
        )
    texts = list(overrides)
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"each override must be a string, not {type(text).__name__}: {text!r}")
    # JSON keeps the items apart (["a=1,b=2"] and ["a=1", "b=2"] encode differently)
    # and is the same text on every Python version; sorting by code point is too
    canonical = json.dumps(
        [_ENCODING_TAG, base_seed, sorted(texts)], ensure_ascii=True, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % (MAX_SEED + 1)


def seed_everything(seed: int, imports: bool = True) -> List[str]:
    """Seed Python's ``random``, numpy's legacy global RNG and torch, whichever are installed.

    numpy and torch are imported here when they are installed, even if nothing
    has imported them yet: an RNG left unseeded now is not seeded when the task
    imports its library later (numpy's global RNG would then start from OS
    entropy, torch's from the same fixed default in every job). An installed
    library costs its import once per process (torch's takes about a second),
    which the task pays anyway when it uses it. A library that is not installed
    (or is blocked with ``sys.modules[name] = None``) is skipped; one that is
    installed but fails to import raises its import error.

    ``torch.cuda.manual_seed_all`` is called only when ``torch.cuda.is_available()``.
    ``PYTHONHASHSEED`` is not set: it cannot take effect in a running process.

    Parameters
    ----------
    seed : int
        The seed, in ``[0, 2**32 - 1]`` (numpy's range; :func:`derive_seed`'s
        seeds are all in it).
    imports : bool, default True
        False: seed numpy and torch only if already imported. zenspec's per-job
        seeding (``[experiment] seed``) passes False: importing torch would cost
        every worker seconds, and numpy's BLAS threads would stop the joblib
        launcher from forking its workers; a task module that imports them at its
        top (as usual) has them loaded before its job starts.

    Returns
    -------
    list of str
        What was seeded, in this order: ``"random"`` always, then ``"numpy"``,
        ``"torch"`` and ``"torch.cuda"`` when each was seeded.

    Raises
    ------
    TypeError
        When ``seed`` is not an int (a bool is refused too).
    ValueError
        When ``seed`` is outside ``[0, 2**32 - 1]``; nothing is seeded then.
    ImportError
        When numpy or torch is installed but fails to import.

    Examples
    --------
    >>> import random
    >>> names = seed_everything(1234)
    >>> names[0]
    'random'
    >>> first = random.random()
    >>> _ = seed_everything(1234)
    >>> random.random() == first
    True
    """
    _check_seed_type("seed", seed)
    if not 0 <= seed < _SEED_LIMIT:
        raise ValueError(f"seed must be in [0, 2**32 - 1], got {seed}")
    seeded = ["random"]
    random.seed(seed)
    numpy = _import_if_installed("numpy") if imports else sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)
        seeded.append("numpy")
    torch = _import_if_installed("torch") if imports else sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        seeded.append("torch")
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
            seeded.append("torch.cuda")
    return seeded


def _import_if_installed(name: str) -> Any:
    """The module ``name``, imported, or ``None`` when it is not installed or is blocked.

    Only a missing module is skipped: an installed one that fails to import
    raises, rather than leave its RNG unseeded without a word.
    """
    if name in sys.modules:
        return sys.modules[name]  # None when blocked with sys.modules[name] = None
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def job_seed() -> Optional[int]:
    """The seed of the job running in this process.

    Returns
    -------
    int or None
        The seed the job runner set for the running job, or ``None`` outside a
        job or when the sweep has no seed.

    Examples
    --------
    >>> job_seed() is None
    True
    """
    return _JOB_SEED


def _set_job_seed(seed: Optional[int]) -> None:
    """Set (or, with ``None``, clear) the seed :func:`job_seed` returns; for the job runner.

    A plain module global: one current job per process (a job runner that runs
    jobs in threads of one process would have them share it).

    Parameters
    ----------
    seed : int or None
        The running job's seed, or ``None`` when no job runs or it has no seed.

    Raises
    ------
    TypeError
        When ``seed`` is neither an int nor ``None`` (a bool is refused too).

    Examples
    --------
    >>> _set_job_seed(42)
    >>> job_seed()
    42
    >>> _set_job_seed(None)
    >>> job_seed() is None
    True
    """
    global _JOB_SEED
    if seed is not None:
        _check_seed_type("seed", seed)
    _JOB_SEED = seed
