"""zenspec on a real SLURM cluster: nothing lost, whatever ends a job.

Needs a cluster that answers (``bash .ci/slurm.sh up`` starts a single-node
one on this machine; CI does). Real sbatch, sacct, scancel and signals, no
mocks of the engine: every test drives ``zenspec run`` as a user would, with
a spec and a task module written into a temporary directory.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ZENSPEC = str(Path(sys.executable).with_name("zenspec"))


def _cluster_problem() -> str:
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH (start a local cluster: bash .ci/slurm.sh up)"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"sinfo does not answer ({e}); start the cluster: bash .ci/slurm.sh up"
    states = proc.stdout.split()
    # a node that takes jobs (``comp``: finishing one; ``idle*`` would be one not answering)
    if proc.returncode != 0 or not any(s in ("idle", "mix", "alloc", "comp") for s in states):
        return (
            f"no SLURM node takes jobs (sinfo: {proc.stdout.strip() or proc.stderr.strip()}); "
            "start the cluster: bash .ci/slurm.sh up"
        )
    return ""


_PROBLEM = _cluster_problem()
pytestmark = pytest.mark.skipif(bool(_PROBLEM), reason=_PROBLEM)
pytest.importorskip("hydra_plugins.hydra_submitit_launcher")

TASKS = """
import os, signal, time

def task(cfg):
    from hydra.core.hydra_config import HydraConfig

    num = HydraConfig.get().job.num
    time.sleep(float(cfg.sleep))
    if cfg.x == cfg.raise_at:
        raise ValueError(f"x={cfg.x} is told to raise")
    if cfg.x == cfg.exit_at or num == cfg.exit_num:
        os._exit(3)
    if cfg.x == cfg.segv_at:
        os.kill(os.getpid(), signal.SIGSEGV)
    if cfg.x == cfg.hang_at:
        time.sleep(900)
    return {"loss": float(cfg.x), "pid": os.getpid()}


def curve(cfg):
    import zenspec

    for step in range(12):
        time.sleep(0.25)
        zenspec.report(step, loss=float(cfg.x) * (step + 1))
    return {"loss": float(cfg.x)}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    where = tmp_path_factory.mktemp("slurm")
    (where / "slurmtasks.py").write_text(TASKS)
    return where


def _spec(
    where: Path,
    name: str,
    sweep: str,
    config: str = "",
    launcher: str = "",
    sweeper: str = "",
) -> Path:
    base = {
        "sleep": 0.0,
        "raise_at": -1,
        "exit_at": -1,
        "exit_num": -1,
        "segv_at": -1,
        "hang_at": -1,
    }
    for line in config.splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            base[key.strip()] = float(value) if "." in value else int(value)
    cfg = "\n".join(f"{k} = {v}" for k, v in base.items())
    text = textwrap.dedent(
        f"""\
        [experiment]
        name = "{name}"
        task = "slurmtasks:task"
        search_path = ["{where}"]

        [config]
        x = 0
        {{cfg}}

        [sweep]
        {{sweep}}

        [launcher]
        kind = "submitit_slurm"
        timeout_min = 5
        {{launcher}}
        {{sweeper}}
        [hydra]
        sweep.dir = "{where / name}"
        """
    ).format(cfg=cfg, sweep=sweep, launcher=launcher, sweeper=sweeper)
    path = where / f"{name}.toml"
    path.write_text(text)
    return path


def _run(spec: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ZENSPEC, "run", str(spec), *args],
        cwd=spec.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _start(spec: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [ZENSPEC, "run", str(spec), *args],
        cwd=spec.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _records(sweep_dir: Path) -> dict:
    out = {}
    for path in (sweep_dir / ".zenspec" / "jobs").glob("*.json"):
        data = json.loads(path.read_text())
        out[data["num"]] = data
    return dict(sorted(out.items()))


def _engine_ids(sweep_dir: Path) -> dict:
    from zenspec.records.engine import read_engine_ids

    return {n: info["job_id"] for n, info in read_engine_ids(sweep_dir).items()}


def _wait_for(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def _running(sweep_dir: Path, num: int) -> bool:
    """Job *num* has started its task (its ``.N.running`` marker is there)."""
    return (sweep_dir / ".zenspec" / "jobs" / f".{num}.running").exists()


def _gone_from_squeue(job_ids) -> bool:
    arrays = sorted({j.split("_")[0] for j in job_ids})
    proc = subprocess.run(
        ["squeue", "-h", "-r", "-j", ",".join(arrays), "-o", "%i"], capture_output=True, text=True
    )
    return not set(proc.stdout.split()) & set(job_ids)


# -- a time limit: started first, it runs while the other tests do ---------------------------


@pytest.fixture(scope="module")
def timeout_sweep(workdir):
    """Job 0 sleeps past its 1-minute limit (SLURM's smallest); job 1 completes."""
    spec = _spec(
        workdir,
        "timelimit",
        "x = [0, 1]",
        config="hang_at = 0",
        # slurmctld looks at time limits about every 30 s: a warning window wider than
        # that always holds one look (with 30 s, a look can fall just before and after it)
        launcher="signal_delay_s = 45",
    )
    text = spec.read_text().replace("timeout_min = 5", "timeout_min = 1")
    spec.write_text(text)
    proc = _start(spec)
    yield workdir / "timelimit", proc
    if proc.poll() is None:  # a failed test: Ctrl-C, so that the launcher cancels its job
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a grid with a raising, an exiting and a segfaulting job --------------------------------


@pytest.fixture(scope="module")
def grid(workdir, timeout_sweep):
    spec = _spec(
        workdir,
        "grid",
        "x = [0, 1, 2, 3, 4]",
        config="raise_at = 1\nexit_at = 2\nsegv_at = 3",
    )
    proc = _run(spec)
    return workdir / "grid", proc


def test_a_grid_is_one_job_array_with_each_task_id_recorded(grid):
    sweep_dir, proc = grid
    ids = _engine_ids(sweep_dir)
    assert sorted(ids) == [0, 1, 2, 3, 4], proc.stderr
    arrays = {jid.split("_")[0] for jid in ids.values()}
    assert len(arrays) == 1
    (array,) = arrays
    assert ids == {n: f"{array}_{n}" for n in range(5)}
    # SLURM itself knows the five tasks of that one array
    acct = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", array, "-o", "JobID,State"],
        capture_output=True,
        text=True,
        check=True,
    )
    tasks = dict(line.split("|") for line in acct.stdout.split())
    assert sorted(tasks) == sorted(ids.values())
    assert tasks[f"{array}_0"] == "COMPLETED"


def test_a_raising_job_fails_and_the_others_complete(grid):
    sweep_dir, proc = grid
    assert proc.returncode == 1, proc.stderr
    records = _records(sweep_dir)
    assert records[1]["status"] == "failed"
    assert records[1]["error"]["type"] == "builtins.ValueError"
    assert "x=1 is told to raise" in records[1]["error"]["message"]
    assert [records[n]["status"] for n in (0, 4)] == ["completed", "completed"]
    assert records[4]["return_value"]["loss"] == 4.0
    assert records[0]["pid"] != records[4]["pid"] or records[0]["job_dir"] != records[4]["job_dir"]


def test_a_crashing_job_is_recorded_with_its_exit_status(grid):
    sweep_dir, proc = grid
    records = _records(sweep_dir)
    assert sorted(records) == [0, 1, 2, 3, 4], proc.stderr
    ids = _engine_ids(sweep_dir)
    for num, cause in ((2, "exit code 3"), (3, "killed by SIGSEGV")):
        rec = records[num]
        assert rec["status"] == "failed"
        assert rec["cause"] == cause
        assert rec["error"]["type"] == "zenspec.errors.JobDiedError"
        assert rec["engine"] == {"kind": "slurm", "job_id": ids[num]}
        assert rec["job_dir"] == str(sweep_dir / str(num))
    # the table is printed, every job in it, and the failure names the cause
    assert "5 jobs: 2 completed, 3 failed" in proc.stdout
    assert "exit code 3" in proc.stdout
    assert "killed by SIGSEGV" in proc.stdout
    assert f"outputs: {sweep_dir}" in proc.stdout


# -- scancel, Ctrl-C ------------------------------------------------------------------------


def test_a_job_cancelled_with_scancel_is_recorded_cancelled(workdir):
    from zenspec.records.engine import live_states

    spec = _spec(workdir, "scancelled", "x = [0, 1]", config="hang_at = 1")
    sweep_dir = workdir / "scancelled"
    proc = _start(spec)
    try:
        _wait_for(lambda: _running(sweep_dir, 1), 60, "job 1 to start")
        ids = _engine_ids(sweep_dir)
        # what `zenspec results`/`resume` ask: SLURM still runs job 1
        assert live_states(sweep_dir, [0, 1]).get(1) == "running"
        subprocess.run(["scancel", ids[1]], check=True)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    records = _records(sweep_dir)
    assert records[0]["status"] == "completed"
    assert records[1]["status"] == "failed"
    assert records[1]["cause"] == "SLURM: CANCELLED"
    assert "SLURM: CANCELLED" in out
    assert live_states(sweep_dir, [0, 1]) == {}


@pytest.mark.parametrize(
    "sig, code, what",
    [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "signal SIGTERM")],
)
def test_ctrl_c_cancels_the_queued_and_running_jobs_of_the_sweep(workdir, sig, code, what):
    # one task at a time: job 0 hangs, jobs 1 and 2 wait in the queue behind it
    spec = _spec(
        workdir,
        "interrupted",
        "x = [0, 1, 2]",
        config="hang_at = 0",
        launcher="array_parallelism = 1",
    )
    sweep_dir = workdir / f"interrupted_{sig.name}"
    spec.write_text(spec.read_text().replace(str(workdir / "interrupted"), str(sweep_dir)))
    proc = _start(spec)
    try:
        _wait_for(lambda: _running(sweep_dir, 0), 60, "job 0 to start")
        ids = _engine_ids(sweep_dir)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "cancelled 3 queued/running SLURM job(s) of this sweep" in out + err
    records = _records(sweep_dir)
    assert [records[n]["status"] for n in (0, 1, 2)] == ["interrupted"] * 3
    assert records[0]["cause"] == f"cancelled: the sweep was interrupted ({what})"
    # SLURM lets go of all of them (KillWait is 5 s on the test cluster)
    _wait_for(lambda: _gone_from_squeue(ids.values()), 30, "the array to leave squeue")


# -- an optimising sweeper keeps its study when a trial crashes -----------------------------


def test_a_random_search_survives_a_crashing_trial(workdir):
    spec = _spec(
        workdir,
        "random",
        "x = [0, 1, 2, 3, 4, 5, 6, 7]",
        config="exit_num = 1",
        sweeper='[sweeper]\nkind = "random"\nseed = 0\nmax_trials = 4\nbatch_size = 2\n'
        'metric = "loss"\ndirection = "minimize"\n',
    )
    proc = _run(spec)
    sweep_dir = workdir / "random"
    records = _records(sweep_dir)
    assert sorted(records) == [0, 1, 2, 3], proc.stdout + proc.stderr
    assert records[1]["status"] == "failed" and records[1]["cause"] == "exit code 3"
    assert [records[n]["status"] for n in (0, 2, 3)] == ["completed"] * 3
    assert proc.returncode in (0, 1), proc.stderr
    # the study went on to its last trial and reports a best one
    assert "best" in proc.stdout.lower(), proc.stdout
    arrays = {jid.split("_")[0] for jid in _engine_ids(sweep_dir).values()}
    assert len(arrays) == 2  # two batches of two: two arrays


def test_async_trials_are_pruned_through_the_shared_sweep_dir(workdir):
    """schedule=async: each trial its own SLURM job, submitted as a slot frees; the sweep
    process prunes from the streams the jobs write on the shared dir."""
    pytest.importorskip("optuna")
    name = "adaptive"
    spec = workdir / f"{name}.toml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            [experiment]
            name = "{name}"
            task = "slurmtasks:curve"
            search_path = ["{workdir}"]
            metric = "loss"

            [config]
            x = 0

            [sweep]
            x = [0, 1, 5, 0, 1, 5]

            [sweeper]
            kind = "random"
            seed = 1
            max_trials = 6
            batch_size = 2
            schedule = "async"
            pruner = {{ kind = "threshold", upper = 4.0 }}

            [launcher]
            kind = "submitit_slurm"
            timeout_min = 5

            [hydra]
            sweep.dir = "{workdir / name}"
            """
        )
    )
    proc = _run(spec, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep_dir = workdir / name
    records = _records(sweep_dir)
    assert sorted(records) == list(range(6))
    study = json.loads((sweep_dir / ".zenspec" / "study.json").read_text())
    for trial in study["trials"]:
        record = records[trial["job"]]
        x = trial["params"]["x"]
        if x == 5:  # 5 * (step + 1) > 4 at once: pruned well before its 12th step
            assert record["status"] == trial["status"] == "pruned", record
            assert record["pruned"]["step"] < 11
        else:  # at most 1 * 12 > 4 late, or 0: x=1 may be pruned from step 4 on
            assert record["status"] in ("completed", "pruned")
        stream = sweep_dir / ".zenspec" / "metrics" / f"{trial['job']}.jsonl"
        # every report the job made is on the shared dir, in order
        steps = [json.loads(line)["step"] for line in stream.read_text().splitlines()]
        assert steps == list(range(record["reports"]["reports"]))
    # one job per trial (no arrays), never more than batch_size at once
    ids = _engine_ids(sweep_dir)
    assert len({jid.split("_")[0] for jid in ids.values()}) == 6
    spans = sorted((r["started_at"], r["started_at"] + r["duration_s"]) for r in records.values())
    for start, _ in spans:
        running = sum(1 for s, e in spans if s <= start < e)
        assert running <= 2


# -- bad input ------------------------------------------------------------------------------


def test_an_sbatch_refusal_is_bad_input_naming_the_key(workdir):
    spec = _spec(workdir, "refused", "x = [0, 1]", launcher='partition = "nosuch"')
    proc = _run(spec)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "$.launcher.partition" in proc.stderr
    assert "invalid partition" in proc.stderr.lower()
    assert str(workdir / "refused") in proc.stderr
    assert _records(workdir / "refused") == {}  # nothing ran, nothing recorded failed
    assert "Traceback" not in proc.stderr


# -- resume: the missing jobs, whatever their numbers, as one array ---------------------------


def test_resume_submits_the_missing_jobs_as_one_array(workdir):
    spec = _spec(workdir, "resumed", "x = [0, 1, 2, 3]")
    sweep_dir = workdir / "resumed"
    first = _run(spec)
    assert first.returncode == 0, first.stderr
    before = _engine_ids(sweep_dir)
    for num in (0, 2):
        (sweep_dir / ".zenspec" / "jobs" / f"{num}.json").unlink()
    proc = subprocess.run(
        [ZENSPEC, "resume", str(sweep_dir)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    records = _records(sweep_dir)
    assert [records[n]["status"] for n in range(4)] == ["completed"] * 4
    assert [records[n]["job_dir"] for n in range(4)] == [str(sweep_dir / str(n)) for n in range(4)]
    after = _engine_ids(sweep_dir)
    assert after[1] == before[1] and after[3] == before[3]
    resubmitted = {after[0].split("_")[0], after[2].split("_")[0]}
    assert len(resubmitted) == 1, after  # jobs 0 and 2 went as one array
    assert resubmitted != {before[0].split("_")[0]}


# -- the time limit (last: its sweep has been running since the first test) ------------------


def test_a_job_past_its_time_limit_is_recorded_timeout(timeout_sweep):
    sweep_dir, proc = timeout_sweep
    # SLURM's limit is whole minutes and slurmctld checks it every 30 s
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, err
    records = _records(sweep_dir)
    assert records[1]["status"] == "completed"
    assert records[0]["status"] == "failed"
    assert records[0]["cause"] == "SLURM: TIMEOUT"
    assert "SLURM: TIMEOUT" in out
    # the USR2 warning (signal_delay_s before the limit) did not end the job early
    logs = list((sweep_dir / ".submitit").glob("*_0/*_0_log.*"))
    assert any("time limit is near" in p.read_text() for p in logs), logs
