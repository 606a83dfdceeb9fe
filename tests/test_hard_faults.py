"""Hard faults lose nothing: crashes, killed parents, SIGTERM, two writers, planted links.

Every case runs ``zenspec`` as a user would (a fresh process, real signals, real
crashes) on a spec written to a temp dir, and checks what the user sees: the
exit code, the records on disk, the table, and side-effect counters that say
how many times each job really ran.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")

REPO = Path(__file__).resolve().parents[1]

TASK = """
import ctypes, os, pathlib, time

def task(cfg):
    counts = pathlib.Path(os.environ["COUNT_DIR"])
    with open(counts / f"{cfg.a}", "a") as f:  # one "x" per start of job a
        f.write("x")
    fixed = (counts / "FIXED").exists()
    if cfg.a == cfg.crash_at and not fixed:
        if cfg.how == "exit":
            os._exit(3)
        if cfg.how == "segv":
            ctypes.string_at(0)
        if cfg.how == "kill":
            os.kill(os.getpid(), 9)
        if cfg.how == "unpicklable":
            import threading
            return {"loss": cfg.a, "lock": threading.Lock()}
    time.sleep(cfg.sleep)
    return {"loss": cfg.a}
"""

SPEC = """
[experiment]
name = "faults"
task = "faulty:task"
search_path = ["."]
metric = "loss"

[config]
a = 0
crash_at = -1
how = "exit"
sleep = {sleep}

[sweep]
a = "range(0, {n})"
{launcher}
[hydra]
sweep.dir = "{sweep_dir}"
"""

JOBLIB = '\n[launcher]\nkind = "joblib"\nn_jobs = 2\n'


def _setup(tmp: Path, n: int = 8, sleep: float = 0.0, launcher: str = "", sweep_dir="sweep"):
    (tmp / "faulty.py").write_text(TASK)
    (tmp / "counts").mkdir(exist_ok=True)
    spec = tmp / "spec.toml"
    spec.write_text(SPEC.format(n=n, sleep=sleep, launcher=launcher, sweep_dir=sweep_dir))
    return spec


def _env(tmp: Path, **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ZENSPEC_JOBLIB_START"}
    env.update(COUNT_DIR=str(tmp / "counts"), PYTHONPATH=str(REPO), **extra)
    return env


def _zenspec(tmp: Path, *args: str, env: Optional[dict] = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "zenspec", *args],
        cwd=tmp,
        env=env or _env(tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _start(tmp: Path, *args: str, env: Optional[dict] = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zenspec", *args],
        cwd=tmp,
        env=env or _env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a "terminal" of its own
    )


def _records(root: Path) -> Dict[int, dict]:
    out = {}
    for p in (root / ".zenspec" / "jobs").glob("*.json"):
        r = json.loads(p.read_text())
        out[r["num"]] = r
    return out


def _runs(tmp: Path, n: int) -> List[int]:
    """How many times each job started (its side-effect counter)."""
    return [len((tmp / "counts" / str(a)).read_text()) if (tmp / "counts" / str(a)).exists()
            else 0 for a in range(n)]  # fmt: skip


def _manifest(root: Path) -> dict:
    return json.loads((root / ".zenspec" / "manifest.json").read_text())


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _children(pid: int) -> List[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


# -- the in-process launcher: a crash takes zenspec down, resume records it ------------------


@pytest.mark.parametrize("how, cause", [("exit", "died"), ("segv", "killed by SIGSEGV")])
def test_a_job_that_crashes_zenspec_is_recorded_by_resume_which_runs_the_rest(tmp_path, how, cause):
    spec = _setup(tmp_path)
    crashed = _zenspec(tmp_path, "run", str(spec), "crash_at=3", f"how={how}")
    assert crashed.returncode == (3 if how == "exit" else -signal.SIGSEGV), crashed.stderr
    root = tmp_path / "sweep"
    assert sorted(_records(root)) == [0, 1, 2]

    # the killed sweep is not "running": nobody holds its lock
    results = _zenspec(tmp_path, "results", "sweep")
    assert "the sweep is interrupted (its zenspec process is gone)" in results.stdout
    assert "zenspec resume" in results.stdout
    assert _zenspec(tmp_path, "results", "sweep", "--check").returncode == 1

    resumed = _zenspec(tmp_path, "resume", "sweep")
    assert resumed.returncode == 1, resumed.stderr  # a job failed; all others ran
    records = _records(root)
    assert sorted(records) == list(range(8))
    assert records[3]["status"] == "failed" and cause in records[3]["cause"]
    if how == "segv":  # faulthandler's native traceback, in the record
        assert "faulty.py" in records[3]["error"]["traceback"]
    assert f"failed ({records[3]['cause']}" in resumed.stdout  # the table says why
    assert _runs(tmp_path, 8) == [1] * 8  # nothing ran twice
    assert _manifest(root)["status"] == "failed"

    # it runs again only when asked
    (tmp_path / "counts" / "FIXED").touch()
    again = _zenspec(tmp_path, "resume", "sweep", "--retry-failed")
    assert again.returncode == 0, again.stderr
    assert _records(root)[3]["status"] == "completed"
    assert _runs(tmp_path, 8) == [1, 1, 1, 2, 1, 1, 1, 1]


# -- joblib: a dead worker fails its job; the pool goes on ---------------------------------


@pytest.mark.parametrize("start", ["fork", "loky"])
@pytest.mark.parametrize("how, cause", [("segv", "killed by SIGSEGV"), ("kill", "SIGKILL")])
def test_a_dead_joblib_worker_fails_its_job_and_the_sweep_goes_on(tmp_path, start, how, cause):
    spec = _setup(tmp_path, n=10, launcher=JOBLIB)
    env = _env(tmp_path, **({"ZENSPEC_JOBLIB_START": "loky"} if start == "loky" else {}))
    done = _zenspec(tmp_path, "run", str(spec), "crash_at=4", f"how={how}", env=env)
    assert done.returncode == 1, done.stderr
    records = _records(tmp_path / "sweep")
    assert sorted(records) == list(range(10))
    assert records[4]["status"] == "failed" and cause in records[4]["cause"]
    assert all(r["status"] == "completed" for n, r in records.items() if n != 4)
    runs = _runs(tmp_path, 10)
    if start == "fork":  # a forked worker's death takes nothing but its own job
        assert runs == [1] * 10
    else:  # loky stops every worker of a broken pool: the jobs it cut off run again
        assert all(n in (1, 2) for n in runs) and sum(runs) - 10 <= 2
    assert "10 jobs: 9 completed, 1 failed" in done.stdout


def test_an_unpicklable_return_value_fails_its_job_only(tmp_path):
    spec = _setup(tmp_path, n=8, launcher=JOBLIB)
    done = _zenspec(tmp_path, "run", str(spec), "crash_at=2", "how=unpicklable")
    assert done.returncode == 1, done.stderr
    records = _records(tmp_path / "sweep")
    assert sorted(records) == list(range(8))
    assert records[2]["status"] == "failed"
    assert "cannot be sent back" in records[2]["error"]["message"]
    completed = sorted(n for n, r in records.items() if r["status"] == "completed")
    assert completed == [0, 1, 3, 4, 5, 6, 7]


# -- a killed or interrupted parent ---------------------------------------------------------


@pytest.mark.parametrize("start", ["fork", "loky"])
def test_killing_zenspec_leaves_no_worker_and_resume_runs_each_job_once(tmp_path, start):
    spec = _setup(tmp_path, n=8, sleep=1.0, launcher=JOBLIB)
    env = _env(tmp_path, **({"ZENSPEC_JOBLIB_START": "loky"} if start == "loky" else {}))
    proc = _start(tmp_path, "run", str(spec), env=env)
    jobs = tmp_path / "sweep" / ".zenspec" / "jobs"
    _wait_for(
        lambda: len(list(jobs.glob(".*.running"))) == 2 and bool(_records(tmp_path / "sweep"))
    )
    workers = _children(proc.pid)  # loky: its two workers and two resource trackers
    assert len(workers) == (2 if start == "fork" else 4)
    proc.kill()
    proc.wait()
    _wait_for(lambda: not any(_alive(w) for w in workers), timeout=15)  # they died with it

    resumed = _zenspec(tmp_path, "resume", "sweep", env=env)
    assert resumed.returncode == 0, resumed.stderr
    records = _records(tmp_path / "sweep")
    assert sorted(records) == list(range(8))
    assert all(r["status"] == "completed" for r in records.values())
    # the jobs cut off by the kill ran again; nothing else ran twice
    runs = _runs(tmp_path, 8)
    assert all(n in (1, 2) for n in runs) and runs.count(2) <= 2


@pytest.mark.parametrize("launcher", ["", JOBLIB], ids=["in-process", "forked-joblib"])
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_record_the_running_jobs_interrupted(tmp_path, launcher, sig, code):
    spec = _setup(tmp_path, n=4, sleep=1.5, launcher=launcher)
    proc = _start(tmp_path, "run", str(spec))
    jobs = tmp_path / "sweep" / ".zenspec" / "jobs"
    _wait_for(lambda: len(list(jobs.glob(".*.running"))) >= 1)
    time.sleep(0.3)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C: the terminal signals the whole group
    else:
        proc.send_signal(sig)  # scancel, docker stop, timeout: the main process only
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "zenspec resume" in err
    root = tmp_path / "sweep"
    assert _manifest(root)["status"] == "interrupted"
    records = _records(root)
    assert records and all(r["status"] == "interrupted" for r in records.values())
    assert not list(jobs.glob(".*.running"))
    started = sum(1 for n in _runs(tmp_path, 4) if n)
    assert started == len(records)  # no queued job started after the signal

    resumed = _zenspec(tmp_path, "resume", "sweep")
    assert resumed.returncode == 0, resumed.stderr
    assert all(r["status"] == "completed" for r in _records(root).values())
    assert len(_records(root)) == 4


# -- one writer per sweep dir -------------------------------------------------------------


def test_a_second_writer_of_a_sweep_dir_is_refused_naming_the_holder(tmp_path):
    spec = _setup(tmp_path, n=4, sleep=3.0)
    first = _start(tmp_path, "run", str(spec))
    jobs = tmp_path / "sweep" / ".zenspec" / "jobs"
    _wait_for(lambda: jobs.is_dir() and any(jobs.glob(".*.running")))
    try:
        # the same literal sweep dir, from another run of the spec
        second = _zenspec(tmp_path, "run", str(spec))
        assert second.returncode == 2, second.stderr
        assert "this sweep is being written by" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        resume = _zenspec(tmp_path, "resume", "sweep")
        assert resume.returncode == 2 and f"pid {first.pid}" in resume.stderr
        live = _zenspec(tmp_path, "results", "sweep")
        assert "the sweep is running" in live.stdout
    finally:
        first.kill()
        first.wait()
    assert all(n <= 1 for n in _runs(tmp_path, 4))  # nothing ran twice
    # its holder is dead: the lock is free again
    assert _zenspec(tmp_path, "resume", "sweep").returncode in (0, 1)


# -- records on shared scratch: links are not followed ------------------------------------


def test_links_planted_in_a_sweep_dir_are_neither_followed_nor_read(tmp_path):
    spec = _setup(tmp_path, n=6)
    (tmp_path / "counts" / "FIXED").touch()
    first = _zenspec(tmp_path, "run", str(spec), "crash_at=9")  # nothing crashes
    assert first.returncode == 0, first.stderr
    root = tmp_path / "sweep"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    jobs = root / ".zenspec" / "jobs"
    # a planted record link, a marker link and config links pointing outside
    (jobs / "5.json").unlink()
    (jobs / "5.json").symlink_to(jobs / "1.json")
    (jobs / ".5.running").symlink_to(victim)
    (root / "5" / ".hydra" / "config.yaml").unlink()
    (root / "5" / ".hydra" / "config.yaml").symlink_to(victim)
    (root / "multirun.yaml").unlink()
    (root / "multirun.yaml").symlink_to(victim)

    results = _zenspec(tmp_path, "results", "sweep", "--format", "json")
    rows = {r["num"]: r for r in json.loads(results.stdout)["jobs"]}
    assert rows[5]["status"] == "missing"  # the link is not job 5's result

    resumed = _zenspec(tmp_path, "resume", "sweep")
    assert resumed.returncode == 0, resumed.stderr
    assert victim.read_text() == "precious"
    assert not (root / "multirun.yaml").is_symlink()
    assert not (root / "5" / ".hydra" / "config.yaml").is_symlink()
    assert json.loads((jobs / "5.json").read_text())["status"] == "completed"


def test_records_get_the_umask_permissions_and_resume_works_from_anywhere(tmp_path):
    spec = _setup(tmp_path, n=3)
    env = _env(tmp_path)
    proc = subprocess.run(
        ["sh", "-c", f"umask 022 && {sys.executable} -m zenspec run {spec} crash_at=1 how=exit"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3
    root = tmp_path / "sweep"
    assert (root / ".zenspec" / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert (root / ".zenspec" / "jobs" / "0.json").stat().st_mode & 0o777 == 0o644
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = subprocess.run(
        [sys.executable, "-m", "zenspec", "resume", str(root)],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 1, resumed.stderr  # job 1 crashed: failed; the rest ran
    assert sorted(_records(root)) == [0, 1, 2]


# -- jobs an engine still runs are neither missing nor run twice ---------------------------


def test_resume_refuses_jobs_the_engine_still_runs_and_results_shows_them(tmp_path):
    import socket

    from zenspec.records.engine import record_engine_ids

    spec = _setup(tmp_path, n=5)
    assert _zenspec(tmp_path, "run", str(spec), "crash_at=2", "how=exit").returncode == 3
    root = tmp_path / "sweep"
    # as a launcher that handed job 4 to an engine (submitit's local executor) would record it
    elsewhere = subprocess.Popen(["sleep", "60"])
    try:
        info = {"kind": "local", "job_id": str(elsewhere.pid), "host": socket.gethostname()}
        record_engine_ids(root, {4: info})
        shown = _zenspec(tmp_path, "results", "sweep")
        assert "job(s) are still queued/running under their engine" in shown.stdout
        rows = json.loads(_zenspec(tmp_path, "results", "sweep", "--format", "json").stdout)
        assert {r["num"]: r["status"] for r in rows["jobs"]}[4] == "running"
        refused = _zenspec(tmp_path, "resume", "sweep")
        assert refused.returncode == 2, refused.stderr
        assert "#4 running" in refused.stderr and "would run them twice" in refused.stderr
    finally:
        elsewhere.kill()
        elsewhere.wait()
    resumed = _zenspec(tmp_path, "resume", "sweep", "--wait")
    assert resumed.returncode == 1, resumed.stderr  # job 2 crashed zenspec: failed
    assert sorted(_records(root)) == [0, 1, 2, 3, 4]


def test_a_broken_loky_pool_cuts_off_a_running_job_which_runs_again_and_completes(tmp_path):
    # both workers busy when job 2 segfaults: loky stops the other worker too; its job
    # (cut off, not at fault) runs again and completes, only job 2 is failed
    spec = _setup(tmp_path, n=6, sleep=1.0, launcher=JOBLIB)
    env = _env(tmp_path, ZENSPEC_JOBLIB_START="loky")
    done = _zenspec(tmp_path, "run", str(spec), "crash_at=2", "how=segv", env=env, timeout=300)
    assert done.returncode == 1, done.stderr
    records = _records(tmp_path / "sweep")
    assert sorted(records) == list(range(6))
    assert records[2]["status"] == "failed" and records[2]["cause"] == "killed by SIGSEGV"
    assert all(r["status"] == "completed" for n, r in records.items() if n != 2)
    runs = _runs(tmp_path, 6)
    assert runs[2] == 2 or runs[2] == 1  # alone the second time, if it was not alone at first
    assert sum(runs) - 6 <= 2  # only the jobs cut off by the broken pool ran again


def test_a_slurm_job_ignores_the_time_limit_signal_from_its_first_statement(tmp_path):
    """SLURM's early USR2 warning may arrive while the job still imports (a loaded node).

    The ``python`` command zenspec gives submitit's sbatch script ignores it before any
    import, so a job that is only starting is not killed by it; the module submitit
    names (``-u -m submitit.core._submit <folder>``) then runs with its own arguments.
    """
    from zenspec.launchers.slurm_state import job_python

    (tmp_path / "early_usr2.py").write_text(
        "import os, signal, sys\n"
        "os.kill(os.getpid(), signal.SIGUSR2)\n"
        "print('still here', sys.argv[1:])\n"
    )
    tail = "-u -m early_usr2 the-folder"
    plain = subprocess.run(
        f"exec {sys.executable} {tail}", shell=True, cwd=tmp_path, capture_output=True, text=True
    )
    assert plain.returncode == -signal.SIGUSR2  # what stock submitit's command gets
    booted = subprocess.run(
        f"exec {job_python('USR2')} {tail}",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert booted.returncode == 0, booted.stderr
    assert booted.stdout == "still here ['the-folder']\n"
    assert "received SIGUSR2 while the job was starting" in booted.stderr


@pytest.mark.parametrize("fast", ["1", "0"])
def test_linked_job_dirs_and_logs_are_unlinked_before_a_resume_writes(tmp_path, fast):
    """Stock Hydra's run_job (hydra-core 1.4's path; ZENSPEC_FAST=0 on any version)
    opens its files as they are: links planted where a resumed job writes are removed
    first, never written through."""
    spec = _setup(tmp_path, n=6)
    (tmp_path / "counts" / "FIXED").touch()
    env = _env(tmp_path, ZENSPEC_FAST=fast)
    first = _zenspec(tmp_path, "run", str(spec), "crash_at=9", env=env)
    assert first.returncode == 0, first.stderr
    root, jobs = tmp_path / "sweep", tmp_path / "sweep" / ".zenspec" / "jobs"
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    (victim_dir / "config.yaml").write_text("precious")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for num in (2, 3, 4):
        (jobs / f"{num}.json").unlink()  # so resume runs them again
    shutil.rmtree(root / "2" / ".hydra")
    (root / "2" / ".hydra").symlink_to(victim_dir)  # a linked output_subdir
    shutil.rmtree(root / "3")
    (root / "3").symlink_to(victim_dir)  # a linked job directory
    logs = list((root / "4").glob("*.log"))
    assert logs, list((root / "4").iterdir())
    logs[0].unlink()
    logs[0].symlink_to(victim)  # a linked job log

    resumed = _zenspec(tmp_path, "resume", "sweep", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "removed 3 symbolic link(s)" in resumed.stderr
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in victim_dir.iterdir()) == ["config.yaml"]
    assert (victim_dir / "config.yaml").read_text() == "precious"
    for num in (2, 3, 4):
        assert not (root / str(num)).is_symlink()
        assert (root / str(num) / ".hydra" / "config.yaml").is_file()
        assert json.loads((jobs / f"{num}.json").read_text())["status"] == "completed"
    assert not logs[0].is_symlink()
