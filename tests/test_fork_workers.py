"""Joblib sweeps on workers forked from a single-threaded parent, and when they are not.

Each case runs in a fresh interpreter (the test process itself has threads:
pytest plugins, earlier loky executors), which prints the launcher's log lines
and a JSON line with what the sweep returned and recorded.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")

REPO = Path(__file__).resolve().parents[1]

TASKS = """
import os, random, sys, threading, time

def _make_locked():
    lock = threading.Lock()  # cannot be pickled: a loky worker cannot get this task
    def locked(cfg):
        with lock:
            return {"pid": os.getpid(), "sq": cfg.a * cfg.a}
    return locked

locked = _make_locked()

def square(cfg):
    time.sleep(0.05)
    if cfg.a == cfg.get("die_at"):
        os._exit(3)
    return {"pid": os.getpid(), "sq": cfg.a * cfg.a}

def frozen(cfg):
    import gc
    return {"pid": os.getpid(), "sq": cfg.a * cfg.a, "frozen": gc.get_freeze_count()}

def draws(cfg):
    import numpy
    time.sleep(0.2)  # both workers take a job each
    return {"pid": os.getpid(), "np": int(numpy.random.randint(1 << 30)),
            "py": random.getrandbits(30)}
"""

SCRIPT = """
import gc, json, logging, os, sys, threading
frozen_at_start = gc.get_freeze_count()  # CPython 3.12 starts with objects frozen (375)
sys.path.insert(0, os.getcwd())
from tasks import {task}
from zenspec import hydra_multirun
from zenspec.errors import JobDiedError, JobFailedError, LaunchError
from zenspec.records import read_job_records
{before}
try:
    out = hydra_multirun({config}, {task}, {overrides})
    result = {{"returns": [j.return_value for j in out[0]]}}
except (JobDiedError, JobFailedError, LaunchError) as e:
    result = {{"error": type(e).__name__, "message": str(e)}}
records = read_job_records("sweep")
result["records"] = [
    {{k: r.get(k) for k in ("num", "overrides", "status", "return_value", "pid", "cause")}}
    for r in records
]
result["parent"] = os.getpid()
result["parent_frozen"] = gc.get_freeze_count() - frozen_at_start
print("RESULT " + json.dumps(result))
"""


def _sweep(
    tmp_path: Path,
    *,
    task: str = "square",
    jobs: str = "1,2,3,4,5,6",
    config: str = "dict(a=0, die_at=None)",
    before: str = "",
    env: Dict[str, str] = {},  # noqa: B006
) -> Dict[str, Any]:
    (tmp_path / "tasks.py").write_text(TASKS)
    overrides = [
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweep.dir=sweep",
        f"a={jobs}",
    ]
    script = SCRIPT.format(
        task=task, config=config, overrides=overrides, before=textwrap.dedent(before)
    )
    (tmp_path / "run.py").write_text(script)
    full_env = dict(os.environ, PYTHONPATH=str(REPO))
    full_env.pop("ZENSPEC_JOBLIB_START", None)
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "run.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    got = json.loads(line[len("RESULT ") :])
    got["log"] = proc.stdout + proc.stderr
    return got


def _same_records(got: Dict[str, Any]) -> list:
    """The records, less which process wrote them."""
    return [
        {**{k: v for k, v in r.items() if k != "pid"}, "return_value": r["return_value"]["sq"]}
        for r in got["records"]
    ]


def test_workers_are_forked_from_a_single_threaded_parent_and_match_loky(tmp_path):
    (tmp_path / "fork").mkdir()
    forked = _sweep(tmp_path / "fork")
    assert "Forking 2 workers from this process to launch 6 jobs" in forked["log"]
    assert "Joblib.Parallel" not in forked["log"]
    assert [r["sq"] for r in forked["returns"]] == [1, 4, 9, 16, 25, 36]
    pids = {r["pid"] for r in forked["returns"]}
    assert len(pids) == 2 and forked["parent"] not in pids  # two workers, not the parent
    # each record was written by the process that ran its job
    assert [r["pid"] for r in forked["records"]] == [r["pid"] for r in forked["returns"]]

    (tmp_path / "loky").mkdir()
    loky = _sweep(tmp_path / "loky", env={"ZENSPEC_JOBLIB_START": "loky"})
    assert "Joblib.Parallel(n_jobs=2" in loky["log"] and "Forking" not in loky["log"]
    assert [r["sq"] for r in loky["returns"]] == [r["sq"] for r in forked["returns"]]
    assert _same_records(loky) == _same_records(forked)
    assert loky["parent"] not in {r["pid"] for r in loky["returns"]}


def test_a_thread_in_the_parent_sends_the_launch_to_loky(tmp_path):
    got = _sweep(
        tmp_path,
        before="""
        stop = threading.Event()
        threading.Thread(target=stop.wait, name="users-thread", daemon=True).start()
        logging.getLogger("hydra_plugins.hydra_joblib_launcher._core").setLevel(logging.DEBUG)
        """,
    )
    assert "Forking" not in got["log"] and "Joblib.Parallel(n_jobs=2" in got["log"]
    assert "other Python threads are running (users-thread)" in got["log"]
    assert [r["sq"] for r in got["returns"]] == [1, 4, 9, 16, 25, 36]


def test_forked_workers_draw_their_own_random_numbers(tmp_path):
    # numpy loaded in the parent, with no BLAS thread: the parent stays single-threaded
    got = _sweep(
        tmp_path,
        task="draws",
        jobs="1,2",
        before="import numpy; numpy.random.seed(0)",
        env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    assert "Forking 2 workers" in got["log"]
    first, second = got["returns"]
    assert first["pid"] != second["pid"]
    # a fork copies the parent's generator state; each worker is reseeded, as a
    # fresh interpreter would be
    assert first["np"] != second["np"]
    assert first["py"] != second["py"]


def test_forked_workers_freeze_what_they_inherit_and_the_parent_does_not(tmp_path):
    """A full collection in a worker scans only its own objects; the caller's GC is as it was."""
    got = _sweep(tmp_path, task="frozen", jobs="1,2,3,4")
    assert "Forking 2 workers" in got["log"]
    assert all(r["frozen"] > 10_000 for r in got["returns"])  # the interpreter, Hydra, zenspec
    assert got["parent_frozen"] == 0


@pytest.mark.parametrize("start", ["fork", "loky"])
def test_a_worker_that_dies_fails_its_job_and_the_rest_of_the_sweep_runs(tmp_path, start):
    env = {"ZENSPEC_JOBLIB_START": "loky"} if start == "loky" else {}
    got = _sweep(tmp_path, jobs="1,2,3,4,5,6,7,8", config="dict(a=0, die_at=5)", env=env)
    assert ("Forking 2 workers" in got["log"]) == (start == "fork")
    # the sweep ends as with any failed job: the first failure raised, all recorded
    assert got["error"] == "JobDiedError" and got["message"] == "exit code 3"
    done = {r["num"]: r for r in got["records"]}
    assert sorted(done) == list(range(8))  # every job has a record: none lost
    assert done[4]["status"] == "failed" and done[4]["cause"] == "exit code 3"
    assert all(r["status"] == "completed" for n, r in done.items() if n != 4)
    assert not list((tmp_path / "sweep" / ".zenspec" / "jobs").glob(".*.running"))


def test_a_task_that_cannot_be_pickled_runs_on_forked_workers(tmp_path):
    (tmp_path / "fork").mkdir()
    forked = _sweep(tmp_path / "fork", task="locked", jobs="1,2,3")
    assert "Forking 2 workers" in forked["log"]
    assert [r["sq"] for r in forked["returns"]] == [1, 4, 9]
    # loky must pickle it: the clear error, before any job runs
    (tmp_path / "loky").mkdir()
    loky = _sweep(
        tmp_path / "loky", task="locked", jobs="1,2,3", env={"ZENSPEC_JOBLIB_START": "loky"}
    )
    assert loky["error"] == "LaunchError"
    assert "the task function cannot be sent" in loky["message"]
    assert loky["records"] == []


def test_a_bad_start_method_is_a_clear_error(tmp_path, monkeypatch):
    from zenspec.errors import LaunchError
    from zenspec.launchers.forking import fork_blocker

    monkeypatch.setenv("ZENSPEC_JOBLIB_START", "spawn")
    with pytest.raises(LaunchError, match="ZENSPEC_JOBLIB_START='spawn': expected 'auto'"):
        fork_blocker()
    monkeypatch.setenv("ZENSPEC_JOBLIB_START", "loky")
    assert fork_blocker() == "ZENSPEC_JOBLIB_START=loky"


def _zenspec_run(spec: Path, cwd: Path, *python_args: str) -> str:
    """``zenspec run SPEC -v`` in a fresh interpreter (workers may fork); its output."""
    proc = subprocess.run(
        [sys.executable, *python_args, "-m", "zenspec", "run", str(spec), "-v"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ZENSPEC_JOBLIB_START"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_the_cli_forks_workers_beside_its_progress_thread(tmp_path):
    # `zenspec run` reports progress from a thread; it is stopped for each fork
    # (Python 3.12+ warns about a fork from a multi-threaded process: an error here)
    fork_warning = "error:This process:DeprecationWarning"
    out = _zenspec_run(REPO / "specs" / "launchers_joblib.toml", tmp_path, "-W", fork_warning)
    assert "Forking 2 workers from this process to launch 12 jobs" in out
    assert "12 jobs: 12 completed" in out
    assert "multi-threaded" not in out


def test_zenspecs_threads_are_stopped_for_a_fork_and_started_again(tmp_path):
    import threading

    from zenspec.cli.progress import Progress
    from zenspec.launchers.forking import fork_blocker, threads_paused

    progress = Progress(io.StringIO(), tty=False, interval=0.01)
    progress.started_sweep(tmp_path, 3)
    try:
        assert progress.thread is not None and progress.thread.is_alive()
        # zenspec's own thread does not block forking (other tests may leave loky's threads)
        assert "zenspec-progress" not in (fork_blocker() or "")
        with threads_paused():
            assert progress.thread is None
            assert "zenspec-progress" not in [t.name for t in threading.enumerate()]
        assert progress.thread is not None and progress.thread.is_alive()
    finally:
        progress.finished_sweep()
    assert progress.thread is None


def test_configs_made_by_builds_cross_to_forked_workers_and_back(tmp_path):
    # the config's node types are dataclasses made at run time (builds()): the
    # standard pickler cannot name them, so configs and results go by cloudpickle
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[experiment]\ntarget = "builtins:dict"\n[config]\na = 1\n'
        '[sweep]\na = [1, 2, 3]\n[launcher]\nkind = "joblib"\nn_jobs = 2\n'
    )
    out = _zenspec_run(spec, tmp_path)
    assert "Forking 2 workers from this process to launch 3 jobs" in out
    assert "3 jobs: 3 completed" in out
    assert "{'a': 1}" in out and "{'a': 3}" in out
