"""The Ray launcher under hard faults, as a user sees them from ``zenspec run``.

Real Ray, real crashes, the real command in a subprocess: a job whose worker
dies (``os._exit``, a segfault, SIGKILL), a result that cannot come back, a
SIGTERM in the middle of a sweep, where Ray runs (``address`` omitted, explicit,
not answering, refusing a connection without a token). What is asserted is what
a user sees: the exit code, the table, ``<sweep>/.zenspec/jobs/<num>.json``.

Each ``zenspec run`` starts (and stops) its own local Ray with 2 CPUs; one test
starts a ``ray start --head --block`` cluster of its own (its own temp dir and
token) and stops that one only, by its process group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("ray")

BIN = Path(sys.executable).parent
ZENSPEC = str(BIN / "zenspec")

TASK = """
import ctypes, os, signal, threading, time

def task(cfg):
    # one line per run: a crashing job must run once, not Ray's 1 + 3 retries
    with open(os.path.join(cfg.log_dir, f"{cfg.kind}.runs"), "a") as f:
        f.write(f"{os.getpid()}\\n")
    if cfg.kind == "exit3":
        os._exit(3)
    if cfg.kind == "segv":
        ctypes.string_at(0)
    if cfg.kind == "sigkill":  # as the kernel's OOM killer does
        os.kill(os.getpid(), signal.SIGKILL)
    if cfg.kind == "lock":  # a return value that cannot be pickled back
        return {"lock": threading.Lock()}
    if cfg.kind == "raise":
        raise ValueError("told to fail")
    if cfg.kind == "sleep":
        time.sleep(120)
    import ray

    ctx = ray.get_runtime_context()
    return {"gcs": ctx.gcs_address, "pid": os.getpid(), "value": 1}
"""


def _write(tmp: Path, kinds, launcher: str = "", extra_axis: str = "") -> Path:
    (tmp / "crashy.py").write_text(TASK)
    (tmp / "runs").mkdir(exist_ok=True)
    spec = tmp / "spec.toml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            [experiment]
            name = "crashy"
            task = "crashy:task"
            search_path = ["."]

            [config]
            kind = "ok"
            log_dir = "{tmp / "runs"}"
            x = 0

            [sweep]
            kind = {json.dumps(list(kinds))}
            {extra_axis}

            [launcher]
            kind = "ray"
            {launcher}
            """
        )
    )
    return spec


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(extra)
    return env


def _run(tmp: Path, spec: Path, sweep: str = "sweep", env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [ZENSPEC, "run", str(spec), f"hydra.sweep.dir={tmp / sweep}"],
        cwd=tmp,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    if "a new local Ray could not start" in proc.stderr:
        pytest.skip(f"Ray cannot start here: {proc.stderr.strip().splitlines()[-1]}")
    return proc


def _records(tmp: Path, sweep: str = "sweep") -> dict:
    jobs = tmp / sweep / ".zenspec" / "jobs"
    return (
        {int(p.stem): json.loads(p.read_text()) for p in jobs.glob("*.json")}
        if jobs.is_dir()
        else {}
    )


def _by_kind(records: dict) -> dict:
    return {r["overrides"][0].split("=", 1)[1]: r for r in records.values()}


def _runs(tmp: Path, kind: str) -> int:
    path = tmp / "runs" / f"{kind}.runs"
    return len(path.read_text().split()) if path.exists() else 0


# -- jobs that die ---------------------------------------------------------------------


def test_dead_jobs_are_failed_jobs_with_their_cause_and_the_others_complete(tmp_path):
    kinds = ["ok", "exit3", "segv", "sigkill", "lock", "raise"]
    spec = _write(tmp_path, kinds, launcher="num_cpus = 2")
    proc = _run(tmp_path, spec)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 1, err

    rec = _by_kind(_records(tmp_path))
    assert sorted(rec) == sorted(kinds), err
    assert rec["ok"]["status"] == "completed" and rec["ok"]["return_value"]["value"] == 1
    assert rec["raise"]["status"] == "failed"
    assert rec["raise"]["error"]["type"] == "builtins.ValueError"
    for kind in ("exit3", "segv", "sigkill"):
        assert rec[kind]["status"] == "failed", rec[kind]
        assert rec[kind]["engine"]["kind"] == "ray", rec[kind]
        assert len(rec[kind]["engine"]["task_id"]) > 16, rec[kind]
    # what Ray tells (WorkerCrashedError carries no exit code nor signal); a fatal
    # signal Python's faulthandler saw is named
    assert rec["segv"]["cause"] == "killed by SIGSEGV"
    for kind in ("exit3", "sigkill"):
        assert rec[kind]["cause"].startswith("the Ray worker died: The worker died unexpectedly")
    # the task returned (its worker recorded it completed), then its result could not
    # come back: the record says failed, and why
    error = rec["lock"]["error"]
    assert error["type"] == "builtins.RuntimeError", rec["lock"]
    assert "return value cannot be sent back from its Ray worker" in error["message"]
    assert "cannot pickle '_thread.lock' object" in error["message"]
    assert rec["lock"]["metric"] is None

    # Ray did not retry them (its default for tasks: 3 retries on a dead worker)
    assert {kind: _runs(tmp_path, kind) for kind in kinds} == dict.fromkeys(kinds, 1)
    # no fault file, running marker or temp file left behind
    jobs = tmp_path / "sweep" / ".zenspec" / "jobs"
    assert sorted(p.name for p in jobs.iterdir()) == [f"{n}.json" for n in range(len(kinds))]

    # what the user reads: the table from the records, then which job failed first
    assert "failed (killed by SIGSEGV)" in out, out
    assert "failed (the Ray worker died" in out, out
    assert "5 of 6 job(s) failed" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "signum, code, cause, said",
    [
        (signal.SIGTERM, 143, "interrupted: received signal 15", "terminated (signal 15)"),
        (signal.SIGINT, 130, "interrupted (Ctrl-C)", "interrupted:"),
    ],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_a_signal_cancels_the_unfinished_jobs_and_records_them_interrupted(
    signum, code, cause, said, tmp_path
):
    # four 120 s jobs on 2 CPUs: two run, two wait for a CPU
    spec = _write(tmp_path, ["sleep"], launcher="num_cpus = 2", extra_axis="x = [0, 1, 2, 3]")
    proc = subprocess.Popen(
        [ZENSPEC, "run", str(spec), f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _runs(tmp_path, "sleep") < 2:  # both CPUs busy
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate()
                if "a new local Ray could not start" in err:
                    pytest.skip("Ray cannot start here")
                pytest.fail(f"the jobs did not start:\n{out}\n{err}")
            time.sleep(0.2)
        proc.send_signal(signum)  # to zenspec alone, not to its Ray workers
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    records = _records(tmp_path)
    assert sorted(records) == [0, 1, 2, 3], err
    assert all(r["status"] == "interrupted" for r in records.values()), records
    # recorded by the launcher, with the cause and the Ray task id: the two jobs that
    # never started, and a running one unless it recorded itself first (cancelling
    # sends its worker SIGTERM, which Ray's worker turns into SystemExit)
    by_launcher = [r for r in records.values() if "cause" in r]
    assert len(by_launcher) >= 2, records
    for r in by_launcher:
        assert r["cause"] == cause, r
        assert r["engine"]["kind"] == "ray" and r["engine"]["task_id"]
    for r in records.values():
        if "cause" not in r:
            assert r["error"]["type"] == "builtins.SystemExit", r
    # the jobs that were running are gone, not left computing
    pids = [int(p) for p in (tmp_path / "runs" / "sleep.runs").read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)
    assert said in err and "zenspec resume" in err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ray_does_not_retry_a_dead_job_unless_told():
    from zenspec.launchers.ray import RayLauncher, RayLauncherConf

    conf = RayLauncherConf().remote  # what Hydra passes: every field, None where unset
    assert RayLauncher(remote=vars(conf)).remote == {"max_retries": 0, "retry_exceptions": False}
    told = dict(vars(conf), max_retries=2)
    assert RayLauncher(remote=told).remote["max_retries"] == 2


# -- where Ray runs --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_that_does_not_answer_is_a_launch_error_before_any_job(tmp_path):
    spec = _write(tmp_path, ["ok", "ok"], launcher=f'address = "127.0.0.1:{_free_port()}"')
    tic = time.monotonic()
    proc = _run(tmp_path, spec)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - tic < 60
    assert "$.launcher.address" in proc.stderr
    assert "no Ray cluster answers at '127.0.0.1:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _records(tmp_path) == {} and _runs(tmp_path, "ok") == 0


@pytest.fixture
def ray_cluster():
    """A ``ray start --head`` cluster of this test's own (1 CPU, token authentication).

    Its temp dir is its own (no other Ray on the machine finds it through
    ``ray_current_cluster``), its token is given in the environment (no
    ``~/.ray/auth_token`` is read or written), and only its processes are
    stopped, by process group: ``ray stop`` would stop every Ray on the machine.
    """
    temp = tempfile.mkdtemp(prefix="zsr", dir="/tmp")  # short: Ray's socket paths
    token = uuid.uuid4().hex
    port = _free_port()
    env = _env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    with open(os.path.join(temp, "start.log"), "w") as log:
        proc = subprocess.Popen(
            [str(BIN / "ray"), "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
             f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        address_file = Path(temp, "ray_current_cluster")
        deadline = time.monotonic() + 90
        while not (address_file.exists() and address_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"ray start failed: {Path(temp, 'start.log').read_text()}")
            time.sleep(0.2)
        yield address_file.read_text().strip(), token
    finally:
        proc.terminate()  # `ray start --block` stops its processes (~2 s)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with _suppress():
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _suppress():
    import contextlib

    return contextlib.suppress(ProcessLookupError, PermissionError)


def test_address_omitted_is_a_new_local_ray_and_an_explicit_one_needs_the_token(
    tmp_path, ray_cluster
):
    address, token = ray_cluster

    # omitted: a new local Ray, though a cluster runs here and RAY_ADDRESS names it
    spec = _write(tmp_path, ["ok"], launcher="num_cpus = 1")
    proc = _run(tmp_path, spec, env=_env(RAY_ADDRESS=address))
    assert proc.returncode == 0, proc.stderr
    (rec,) = _records(tmp_path).values()
    assert rec["status"] == "completed"
    assert rec["return_value"]["gcs"] != address

    # explicit, without RAY_AUTH_MODE=token: Ray sends no token; a clear error, at once
    spec = _write(tmp_path, ["ok"], launcher=f'address = "{address}"')
    tic = time.monotonic()
    proc = _run(tmp_path, spec, "s2", env=_env(RAY_AUTH_TOKEN=token))
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - tic < 60
    assert "$.launcher.address" in proc.stderr
    assert "requires token authentication" in proc.stderr
    assert "RAY_AUTH_MODE=token" in proc.stderr
    assert not (tmp_path / "s2" / ".zenspec" / "jobs").exists()

    # with it: the jobs run on that cluster
    proc = _run(tmp_path, spec, "s3", env=_env(RAY_AUTH_TOKEN=token, RAY_AUTH_MODE="token"))
    assert proc.returncode == 0, proc.stderr
    (rec,) = _records(tmp_path, "s3").values()
    assert rec["return_value"]["gcs"] == address
