"""Per-job results, written by whichever process ran the job, the moment it finished.

:class:`RecordingTask` wraps the user's task function. It runs inside the job
(in-process, or in a joblib/submitit/ray worker: it is picklable whenever the
task is), so the record is on disk before the launcher even hears back; a
sweep killed with SIGKILL keeps every finished job.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union, cast

from zenspec.records.store import (
    _CLOEXEC,
    _NOFOLLOW,
    FORMAT_VERSION,
    dumps_indented,
    jobs_dir,
    read_json,
    safe_dir,
    to_jsonable,
    write_text_nofollow,
)

__all__ = [
    "RecordingTask",
    "extract_metric",
    "read_job_records",
    "running_jobs",
    "running_marker",
    "write_record",
]


def extract_metric(value: Any, metric: Optional[str]) -> Optional[float]:
    """The number a job reports: *value* itself if numeric, else ``value[metric]``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if metric is not None and hasattr(value, "get"):
        try:
            got = value.get(metric)
        except Exception:
            return None
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            return float(got)
    try:  # numpy/torch scalars
        if getattr(value, "size", None) == 1 and hasattr(value, "item"):
            return float(value.item())
    except Exception:
        pass
    return None


class RecordingTask:
    """Call *task* and write the job's result record next to the sweep's manifest.

    The exception of a failing task is recorded, then re-raised, so Hydra marks
    the job FAILED exactly as it would without zenspec.
    """

    def __init__(
        self,
        task: Callable[[Any], Any],
        metric: Optional[str] = None,
        seed: Optional[int] = None,
    ) -> None:
        self.task = task
        self.metric = metric
        self.seed = seed  # the spec's seed: each job gets one derived from it and its overrides
        self.__name__ = getattr(task, "__name__", type(task).__name__)
        self.__qualname__ = getattr(task, "__qualname__", self.__name__)
        self.__module__ = getattr(task, "__module__", __name__)

    def __call__(self, cfg: Any) -> Any:
        from zenspec.adaptive import report

        start = time.time()
        tic = time.perf_counter()
        where = self._where()  # the job's own, read once: the task cannot change it
        _mark_running(where)
        extra: Dict[str, Any] = {}
        if where is not None and self.seed is not None:
            extra["seed"] = _seed_job(self.seed, where[0])
        previous = report.begin_job(where[1], where[2]) if where is not None else None
        stream = None
        try:
            try:
                value = self.task(cfg)
            finally:  # the stream closed, job_seed() None again: outside the job
                if where is not None:
                    stream = report.end_job(previous)
                if "seed" in extra:
                    from zenspec.adaptive import seeds

                    seeds._set_job_seed(None)
        except report.Pruned as e:
            if where is None:
                raise
            self._write(
                where,
                status="pruned",
                started=start,
                duration=time.perf_counter() - tic,
                pruned={"step": e.step, "metrics": to_jsonable(e.metrics)},
                stream=stream,
                **extra,
            )
            return report.PrunedTrial(e.step, e.metrics)
        except BaseException as e:
            cause = _user_error(e)
            if where is not None and isinstance(e, Exception):
                # its traceback in the job's own log file too, as upstream Hydra (#3215)
                from zenspec.accelerate.logging_setup import log_job_error

                log_job_error(e, within=str(where[0].runtime.output_dir))
            self._write(
                where,
                status="failed" if isinstance(e, Exception) else "interrupted",
                started=start,
                duration=time.perf_counter() - tic,
                error={
                    "type": f"{type(cause).__module__}.{type(cause).__qualname__}",
                    "message": str(cause),
                    "traceback": traceback.format_exc(),
                },
                stream=stream,
                **extra,
            )
            raise
        self._write(
            where,
            status="completed",
            started=start,
            duration=time.perf_counter() - tic,
            value=value,
            stream=stream,
            **extra,
        )
        return value

    @staticmethod
    def _where() -> Optional[Tuple[Any, Path, int]]:
        """The running job's Hydra config, records root and number (None outside a job)."""
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
        from omegaconf import DictConfig

        try:
            # typed as the HydraConf schema, but it is the DictConfig built from it
            hc = cast(DictConfig, HydraConfig.get())
        except ValueError:  # called outside a Hydra job: nothing to record against
            return None
        multirun = hc.mode == RunMode.MULTIRUN
        # relative to where Hydra was started, not to the job's cwd (which
        # hydra.job.chdir=True, the default of version_base 1.1, moves)
        root = Path(hc.runtime.cwd, hc.sweep.dir if multirun else hc.run.dir)
        return hc, root, int(hc.job.get("num", 0) or 0) if multirun else 0

    def _write(
        self,
        where: Optional[Tuple[Any, Path, int]],
        *,
        status: str,
        started: float,
        duration: float,
        **extra: Any,
    ) -> None:
        if where is None:
            return
        hc, root, num = where
        from omegaconf import OmegaConf

        # as written, never resolved: "+x=${nosuch}" is an override's text, not a reference
        overrides = OmegaConf.to_container(hc.overrides.task, resolve=False)
        record: Dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "num": num,
            "overrides": overrides,
            "status": status,
            "started_at": started,
            "duration_s": round(duration, 6),
            "job_dir": str(Path(hc.runtime.output_dir)),
            "pid": os.getpid(),
            "choices": _user_choices(hc.runtime.choices),
        }
        devices = os.environ.get("CUDA_VISIBLE_DEVICES")
        if devices:  # the GPUs the job saw (joblib's gpus_per_job, Ray, SLURM)
            record["cuda_visible_devices"] = devices
        if "value" in extra:
            record["return_value"] = to_jsonable(extra["value"])
            record["metric"] = extract_metric(extra["value"], self.metric)
        if "error" in extra:
            record["error"] = extra["error"]
        if "pruned" in extra:
            record["pruned"] = extra["pruned"]
        if extra.get("stream"):  # what the job last reported (zenspec.report)
            record["reports"] = to_jsonable(extra["stream"])
        if extra.get("seed") is not None:
            record["seed"] = extra["seed"]
        try:
            write_record(jobs_dir(root), num, record)
            with contextlib.suppress(OSError):
                os.unlink(running_marker(root, num))
        except OSError as e:  # a full disk must not turn a finished job into a failed one
            import warnings

            warnings.warn(f"zenspec could not write the record of job {num}: {e}", stacklevel=2)


def _seed_job(base: int, hc: Any) -> int:
    """The job's seed, from the spec's and its overrides; random, numpy and torch seeded."""
    from omegaconf import OmegaConf

    from zenspec.adaptive import seeds

    overrides = OmegaConf.to_container(hc.overrides.task, resolve=False)
    seed = seeds.derive_seed(int(base), [str(o) for o in overrides or []])
    seeds._set_job_seed(seed)
    seeds.seed_everything(seed, imports=False)  # what the task's modules have loaded
    return seed


def _user_choices(choices: Any) -> Dict[str, Any]:
    """The job's group choices but Hydra's own (``hydra/launcher``...)."""
    from omegaconf import OmegaConf

    every = OmegaConf.to_container(choices, resolve=True)  # ~2x quicker than .items()
    assert isinstance(every, dict)
    return {str(k): v for k, v in every.items() if not str(k).startswith("hydra/")}


_made_dirs: Set[str] = set()  # jobs dirs known to exist (one mkdir per sweep, not per job)


def _ensure_dir(directory: Path) -> str:
    """*directory*, made once per process (then remembered), as an absolute path."""
    where = os.path.abspath(directory)
    if where not in _made_dirs:
        safe_dir(directory.parent)  # .zenspec: a planted link must not redirect the records
        safe_dir(directory)
        _made_dirs.add(where)
    return where


def write_record(directory: Path, num: int, record: Dict[str, Any]) -> None:
    """One small atomic write: the whole record appears under its name, or nothing.

    Serialised first (an unserialisable record leaves no file), written to a
    temp name unique to this process and job (``O_EXCL | O_NOFOLLOW``: never
    through a planted link), then renamed over ``<num>.json``. A killed
    process leaves every finished job's record complete. No fsync per job (it
    costs milliseconds on a journaling file system, more than the rest of a
    trivial job); what a *power loss* may lose is the last records the OS had
    not flushed yet, never half a record that a reader would accept (a torn
    temp file keeps its temp name).
    """
    text = dumps_indented(record) + "\n"
    where = _ensure_dir(directory)
    try:
        write_text_nofollow(os.path.join(where, f"{num}.json"), text)
    except FileNotFoundError:  # the directory went away (e.g. the sweep dir was moved)
        _made_dirs.discard(where)
        write_text_nofollow(os.path.join(_ensure_dir(directory), f"{num}.json"), text)


def _user_error(e: BaseException) -> BaseException:
    """The target's own exception, not Hydra's "Error in call to target" wrapper."""
    from hydra.errors import InstantiationException

    while isinstance(e, InstantiationException) and e.__cause__ is not None:
        e = e.__cause__
    return e


def running_marker(root: Path, num: int) -> str:
    """The file that says job *num* has started and not yet ended (not a record)."""
    return os.path.join(jobs_dir(root), f".{num}.running")


def _mark_running(where: Optional[Tuple[Any, Path, int]]) -> None:
    # Which jobs run now, written by the process that runs them and removed
    # when the record lands. It names that process (host, pid and the pid's
    # start time, so a reused pid is not taken for it): a marker whose process
    # is gone is a job that died without a record (zenspec.records.lost).
    if where is None:
        return
    _, root, num = where
    with contextlib.suppress(OSError):
        where_dir = _ensure_dir(jobs_dir(root))
        text = marker_text().encode()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _CLOEXEC
        try:
            fd = os.open(running_marker(root, num), flags, 0o666)
        except FileNotFoundError:  # the directory went away since it was made: again
            _made_dirs.discard(where_dir)
            _ensure_dir(jobs_dir(root))
            fd = os.open(running_marker(root, num), flags, 0o666)
        try:
            os.write(fd, text)
        finally:
            os.close(fd)


_marker_text: Dict[int, str] = {}  # pid -> its marker's text (forked children differ)


def marker_text() -> str:
    """``{"pid": ..., "host": ..., "ppid": ..., "start": ...}`` of this process, as JSON."""
    pid = os.getpid()
    text = _marker_text.get(pid)
    if text is None:
        import json
        import socket

        from zenspec.records.lost import process_start_time

        text = json.dumps(
            {
                "pid": pid,
                "ppid": os.getppid(),
                "host": socket.gethostname(),
                "start": process_start_time(pid),
            }
        )
        _marker_text.clear()
        _marker_text[pid] = text
    return text


def running_jobs(root: Path) -> List[int]:
    """Numbers of the jobs that have started and have no record yet."""
    out = []
    for path in jobs_dir(root).glob(".*.running"):
        with contextlib.suppress(ValueError):
            out.append(int(path.name.split(".")[1]))
    return sorted(out)


def read_job_records(
    root: Path, damaged: Optional[List[Tuple[str, str]]] = None
) -> List[Dict[str, Any]]:
    """Every usable job record under *root*, sorted by job number.

    A file that is not a usable record (unreadable, not JSON, a wrong type, a
    ``num`` that is not its file's, a planted symlink) is skipped; with a
    *damaged* list, ``("jobs/<name>", why)`` is appended to it for each.
    """
    records: List[Dict[str, Any]] = []
    directory = jobs_dir(root)
    if not directory.is_dir():
        return records
    for path in sorted(directory.glob("*.json")):
        got = _read_record_file(path)
        if isinstance(got, str):
            if damaged is not None:
                damaged.append((f"{directory.name}/{path.name}", got))
        elif got is not None:
            records.append(got)
    return sorted(records, key=lambda r: r["num"])


def _read_record_file(path: Path) -> Union[str, Dict[str, Any], None]:
    """The record in *path*; else why it is damaged (a str); None if the file has gone."""
    import errno
    import json
    import stat

    from zenspec.records.checks import record_problem

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # a FIFO would block the reader
            return (
                "not a regular file" if not path.is_symlink() else "a symbolic link (not followed)"
            )
        data = read_json(path)  # a planted symlink is refused (ELOOP): not a record
    except FileNotFoundError:
        return None  # moved aside (or renamed over) since the listing: not damaged
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):
            return "a symbolic link (not followed)"
        return f"cannot be read: {e.strerror or e}"
    except RecursionError:
        return "nested too deeply to read"
    except json.JSONDecodeError as e:
        return f"not valid JSON ({e.msg}: line {e.lineno}, column {e.colno})"
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except (ValueError, MemoryError):  # read_json: valid JSON, but not an object
        return "not a JSON object"
    problem = record_problem(data, path.name)
    return data if problem is None else problem
