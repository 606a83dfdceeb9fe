"""Crash safety: kill zenspec sweeps at random moments, resume them, count what was lost.

Each trial writes a spec and a task module into a temp dir, starts
``python -m zenspec run spec.toml`` in a session of its own (as a terminal
would), waits a random moment and delivers one fault:

``sigkill-parent``  SIGKILL to the zenspec process (``kill -9``, the OOM killer);
``sigkill-worker``  SIGKILL to one worker (a joblib process running a job if one
                    is, else any worker); not applicable to the basic launcher;
``sigint-group``    SIGINT to the whole process group (Ctrl-C in a terminal);
``sigterm-parent``  SIGTERM to the zenspec process only (``scancel``, ``docker stop``).

Then it waits for the zenspec process to exit (its exit code is kept), gives
the session a few seconds to empty and counts the processes of that session
still alive (excluding zombies), notes which jobs were cut off by the fault (a
``.N.running`` marker, or a ``failed``/``interrupted`` record), and runs
``python -m zenspec resume sweep`` (``--retry-failed`` once a job is recorded
``failed``: the task never fails by itself, so only the fault can fail it) until
every job has a ``completed`` record, at most 5 times.

The task appends one line per start to ``counts/<a>``; so at the end we know how
many times each job really ran. Counted per trial:

* lost: jobs with no ``completed`` record at the end;
* ran 2+: jobs that started twice or more. A rerun is explained if the job was
  cut off by the fault (running when it hit: a ``.N.running`` marker then or after
  the run exited, or a ``failed``/``interrupted`` record), or, ``cut later``, if
  every earlier start of it ended mid-task (the task also notes ``end`` when it
  returns), e.g. the other worker of a loky pool that the killed worker broke;
  ``unexpl`` are the other reruns: a job whose task had returned ran again;
* failed by the fault: jobs recorded ``failed`` at some point (then retried);
* corrupt: a ``jobs/*.json`` that does not parse or lacks ``num``/``status`` (or
  names another job), after the fault or at the end; temp files (``.*.tmp``) left
  under ``.zenspec`` are counted apart;
* left: processes of the killed sweep's session (or of a resume's) still alive
  a few seconds after it exited (they are then killed);
* ran 0: jobs with a ``completed`` record that never started;
* late: jobs that the faulted run's processes started more than 50 ms after the
  signal was sent (SIGKILL/SIGINT/SIGTERM of the sweep: none should start; not
  counted for ``sigkill-worker``, after which the sweep goes on); shown, not failed;
* resume errors: a ``zenspec resume`` that exited other than 0 or 1, or did not
  end in time; and the exit codes of the faulted runs.

* hung: a run or resume still alive 60 s after the fault or its start (its
  processes are described; a joblib run's Python stacks are dumped to its
  ``run.err`` by SIGABRT, ``PYTHONFAULTHANDLER=1`` being set for joblib runs).

Exit status 1 if any job was lost, any record corrupt, any process left behind,
any run or resume hung or errored, any completed job never ran, or a job ran
twice without having been cut off. Trials whose checks failed keep their temp dir
(printed). ``--no-reap`` resumes while the faulted run's leftovers still live (as a
user would), ``--settle`` sets how long they get to exit first (5 s),
``--max-sleep`` the longest job (0.3 s).

Usage::

    python bench/crash_safety.py                  # 3 trials per launcher x fault, 12 jobs
    python bench/crash_safety.py --quick          # 1 trial each
    python bench/crash_safety.py --trials 10 --seed 7 --launchers joblib-fork \\
        --faults sigkill-parent,sigint-group

Each trial's random choices come from ``(seed, launcher, fault, trial)``: the same
command draws the same delays and job sleeps (the machine's timing still varies).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

LAUNCHERS = ("basic", "joblib-fork", "joblib-loky")
FAULTS = ("sigkill-parent", "sigkill-worker", "sigint-group", "sigterm-parent")
EXPECTED_EXIT = {  # the run's exit code when the fault landed (0/1: it finished first)
    "sigkill-parent": {-9},
    "sigkill-worker": {1},  # the killed worker's job is recorded failed, the rest run
    "sigint-group": {130},
    "sigterm-parent": {143},
}
MAX_RESUMES = 5
SETTLE_S = 5.0  # how long a killed sweep's session may take to empty
LATE_GRACE_S = 0.05  # a job starting this long after the signal was delivered is "late"
RUN_TIMEOUT_S = 60.0  # a run or resume still alive after this is hung

TASK = """
import os, pathlib, random, time

def _note(a, what):
    with open(pathlib.Path("counts") / str(a), "a") as f:  # one short O_APPEND write
        f.write(f"{what} {os.getpid()} {time.time():.3f}\\n")

def task(cfg):
    _note(cfg.a, "start")  # one line per start of job a
    time.sleep(random.Random(f"{cfg.seed}-{cfg.a}").uniform(0.02, cfg.max_sleep))
    _note(cfg.a, "end")  # the task returned (its record is written after this)
    return {"loss": cfg.a}
"""

SPEC = """
[experiment]
name = "crash_safety"
task = "crashtask:task"
search_path = ["."]
metric = "loss"

[config]
a = 0
seed = {seed}
max_sleep = {max_sleep}

[sweep]
a = "range(0, {n})"
{launcher}
[hydra]
sweep.dir = "sweep"
"""


# ------------------------------------------------------------------ processes
def _stat(pid: int) -> Optional[List[str]]:
    """Fields 3.. of /proc/<pid>/stat (state, ppid, pgrp, session, ...), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2 :].decode().split()


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def _session_members(sid: int) -> List[int]:
    """Live (non-zombie) processes whose session id is *sid*."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[0] != "Z" and int(st[3]) == sid:
                out.append(int(entry))
    return out


def _children(pid: int) -> List[int]:
    out: List[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _describe(pid: int) -> str:
    """pid, state, wchan of each thread, and command line: what a hung process waits on."""
    st = _stat(pid) or ["?"]
    waits = []
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            try:
                with open(f"/proc/{pid}/task/{tid}/wchan") as f:
                    waits.append(f.read().strip() or "-")
            except OSError:
                pass
    except OSError:
        pass
    return f"pid {pid} [{st[0]}, wchan {','.join(waits)}] {_cmdline(pid)[:90]}"


def _settle(sid: int, timeout: float = SETTLE_S, kill: bool = True) -> List[str]:
    """Wait for session *sid* to empty; describe (and kill) what is still there after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        left = _session_members(sid)
        if not left:
            return []
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    described = [f"pid {p} ({_cmdline(p)[:120]})" for p in left]
    for p in left if kill else ():  # our own descendants: clean up before the next step
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    return described


# ------------------------------------------------------------------ records
def _jobs_dir(tmp: Path) -> Path:
    return tmp / "sweep" / ".zenspec" / "jobs"


def _read_records(tmp: Path) -> Tuple[Dict[int, dict], List[str]]:
    """(records by num, problems) of the job records on disk."""
    records: Dict[int, dict] = {}
    bad: List[str] = []
    d = _jobs_dir(tmp)
    if not d.is_dir():
        return records, bad
    for p in sorted(d.iterdir()):
        if p.name.startswith(".") or not p.name.endswith(".json"):
            continue
        try:
            r = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            bad.append(f"{p.name}: unreadable ({type(e).__name__}: {e})")
            continue
        if not isinstance(r, dict) or "num" not in r or "status" not in r:
            bad.append(f"{p.name}: lacks num/status")
            continue
        if f"{r['num']}.json" != p.name:
            bad.append(f"{p.name}: says num {r['num']}")
            continue
        records[r["num"]] = r
    return records, bad


def _markers(tmp: Path) -> Dict[int, Optional[int]]:
    """``{num: pid}`` of the ``.N.running`` markers (pid None if unreadable)."""
    out: Dict[int, Optional[int]] = {}
    d = _jobs_dir(tmp)
    if not d.is_dir():
        return out
    for p in d.glob(".*.running"):
        try:
            num = int(p.name.split(".")[1])
        except (IndexError, ValueError):
            continue
        try:
            pid = json.loads(p.read_text()).get("pid")
        except (OSError, ValueError, AttributeError):
            pid = None
        out[num] = pid if isinstance(pid, int) else None
    return out


def _temp_files(tmp: Path) -> List[str]:
    root = tmp / "sweep" / ".zenspec"
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(tmp)) for p in root.rglob(".*.tmp"))


def _manifest_status(manifest: Path) -> str:
    try:
        return str(json.loads(manifest.read_text()).get("status", "?"))
    except (OSError, ValueError, AttributeError) as e:
        return f"unreadable ({type(e).__name__})"


def _starts(tmp: Path, a: int) -> List[bool]:
    """Job *a*'s starts, in order: True for each whose task returned (an ``end`` line)."""
    p = tmp / "counts" / str(a)
    if not p.exists():
        return []
    starts: List[bool] = []
    open_by_pid: Dict[str, int] = {}
    for line in p.read_text().splitlines():
        what, pid, _ = line.split()
        if what == "start":
            open_by_pid[pid] = len(starts)
            starts.append(False)
        elif pid in open_by_pid:
            starts[open_by_pid.pop(pid)] = True
    return starts


def _start_times(tmp: Path, a: int) -> List[float]:
    p = tmp / "counts" / str(a)
    if not p.exists():
        return []
    return [float(line.split()[2]) for line in p.read_text().splitlines()
            if line.startswith("start ")]  # fmt: skip


def _runs(tmp: Path, n: int) -> List[int]:
    return [len(_starts(tmp, a)) for a in range(n)]


# ------------------------------------------------------------------ one trial
@dataclass
class Trial:
    launcher: str
    fault: str
    index: int
    seed: str
    n: int
    landed: bool = False  # the fault was delivered while the sweep ran
    how: str = ""  # what was done, when
    exit_code: Optional[int] = None
    running_at_fault: Set[int] = field(default_factory=set)  # markers when the fault hit
    cut_off: Set[int] = field(default_factory=set)
    cut_mid_task: List[int] = field(default_factory=list)  # reruns cut off after the fault
    failed_by_fault: Set[int] = field(default_factory=set)
    lost: List[int] = field(default_factory=list)
    ran_twice: List[int] = field(default_factory=list)
    unexplained: List[int] = field(default_factory=list)
    never_ran: List[int] = field(default_factory=list)
    corrupt: List[str] = field(default_factory=list)
    temps_after_fault: List[str] = field(default_factory=list)
    temps_at_end: List[str] = field(default_factory=list)
    left: List[str] = field(default_factory=list)
    hung: List[str] = field(default_factory=list)
    fault_at: float = 0.0  # when the fault was delivered (Unix time)
    late: List[int] = field(default_factory=list)  # jobs the faulted run started after it
    resumes: int = 0
    resume_codes: List[int] = field(default_factory=list)
    resume_errors: List[str] = field(default_factory=list)
    manifest_status: str = ""
    notes: List[str] = field(default_factory=list)
    tmpdir: str = ""
    seconds: float = 0.0

    @property
    def bad(self) -> bool:
        return bool(
            self.lost or self.corrupt or self.left or self.unexplained or self.hung
            or self.resume_errors or self.never_ran
        )  # fmt: skip


def _env(launcher: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ZENSPEC_JOBLIB_START"}
    if launcher == "joblib-loky":
        env["ZENSPEC_JOBLIB_START"] = "loky"
    if launcher != "basic":  # SIGABRT dumps a hung run's Python stacks to its stderr
        env["PYTHONFAULTHANDLER"] = "1"  # (basic: zenspec's own crash log is left alone)
    return env


def _start(tmp: Path, args: List[str], env: Dict[str, str], log: str) -> subprocess.Popen:
    with open(tmp / f"{log}.out", "w") as out, open(tmp / f"{log}.err", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "zenspec", *args],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a session and process group of its own, as a terminal
        )


def _tail(tmp: Path, log: str, lines: int = 6) -> str:
    try:
        text = (tmp / f"{log}.err").read_text().strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _pick_worker(tmp: Path, parent: int) -> Optional[int]:
    """A worker running a job (its marker names it), else any worker of *parent*."""
    busy = [
        pid for pid in _markers(tmp).values()
        if pid is not None and pid != parent and _alive(pid)
        and (_stat(pid) or ["", "", "", "0"])[3] == str(parent)
    ]  # fmt: skip
    if busy:
        return busy[0]
    idle = [
        c for c in _children(parent)
        if _alive(c) and "resource_tracker" not in _cmdline(c)
    ]  # fmt: skip
    return idle[0] if idle else None


def _deliver(t: Trial, proc: subprocess.Popen, tmp: Path) -> None:
    pid = proc.pid
    t.running_at_fault = set(_markers(tmp))
    if proc.poll() is not None:
        t.how += "; missed: the sweep had already ended"
        return
    try:
        if t.fault == "sigkill-parent":
            os.kill(pid, signal.SIGKILL)
        elif t.fault == "sigterm-parent":
            os.kill(pid, signal.SIGTERM)
        elif t.fault == "sigint-group":
            os.killpg(pid, signal.SIGINT)
        elif t.fault == "sigkill-worker":
            worker = _pick_worker(tmp, pid)
            if worker is None:
                t.how += "; missed: no worker to kill"
                return
            busy = worker in _markers(tmp).values()
            os.kill(worker, signal.SIGKILL)
            t.how += f"; killed {'busy' if busy else 'idle'} worker {worker}"
    except ProcessLookupError:
        t.how += "; missed: the target was gone"
        return
    t.landed = True
    t.fault_at = time.time()


def _wait_moment(t: Trial, rng: random.Random, proc: subprocess.Popen, tmp: Path) -> None:
    """Sleep until the fault's random moment (or the sweep's end)."""
    t0 = time.monotonic()
    if rng.random() < 0.2:  # a plain delay: may land during start-up
        delay = rng.uniform(0.05, 2.0)
        t.how = f"after {delay:.2f} s"
        while time.monotonic() - t0 < delay and proc.poll() is None:
            time.sleep(0.01)
        return
    k = rng.randint(0, t.n - 2)
    extra = rng.uniform(0.0, 0.2)
    t.how = f"at >= {k} records, +{extra:.2f} s"
    deadline = t0 + 60
    while proc.poll() is None and time.monotonic() < deadline:
        records, _ = _read_records(tmp)
        markers = _markers(tmp)
        if t.fault == "sigkill-worker":
            running = any(p is not None and p != proc.pid for p in markers.values())
        else:
            running = bool(markers)
        if len(records) >= k and running:
            break
        time.sleep(0.01)
    end = time.monotonic() + extra
    while time.monotonic() < end and proc.poll() is None:
        time.sleep(0.01)


def run_trial(
    launcher: str,
    fault: str,
    index: int,
    seed: int,
    n: int,
    keep: bool,
    reap: bool = True,
    max_sleep: float = 0.3,
    settle: float = SETTLE_S,
) -> Trial:
    tseed = f"{seed}:{launcher}:{fault}:{index}"
    rng = random.Random(tseed)
    t = Trial(launcher, fault, index, tseed, n)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"crash-{launcher}-{fault}-{index}-"))
    t.tmpdir = str(tmp)
    (tmp / "crashtask.py").write_text(TASK)
    (tmp / "counts").mkdir()
    section = '\n[launcher]\nkind = "joblib"\nn_jobs = 2\n' if launcher != "basic" else ""
    (tmp / "spec.toml").write_text(
        SPEC.format(seed=rng.randrange(1 << 30), n=n, launcher=section, max_sleep=max_sleep)
    )
    env = _env(launcher)

    proc = _start(tmp, ["run", "spec.toml"], env, "run")
    _wait_moment(t, rng, proc, tmp)
    _deliver(t, proc, tmp)
    try:
        t.exit_code = proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        t.hung.append(f"the faulted run did not exit in {RUN_TIMEOUT_S:.0f} s: "
                      + "; ".join(_describe(q) for q in _session_members(proc.pid)))  # fmt: skip
        if launcher != "basic":  # faulthandler: every thread's stack, into run.err
            os.kill(proc.pid, signal.SIGABRT)
            time.sleep(1.0)
            t.hung.append(f"its Python stacks (SIGABRT, faulthandler): {tmp / 'run.err'}")
        os.killpg(proc.pid, signal.SIGKILL)
        t.exit_code = proc.wait()
    t.left += [f"run: {d}" for d in _settle(proc.pid, timeout=settle, kill=reap)]
    if t.exit_code not in EXPECTED_EXIT[fault] | {0}:
        t.notes.append(f"run exit code {t.exit_code} ({_tail(tmp, 'run', 2)})")

    # what the fault cut off, before any resume touches the records
    records, bad = _read_records(tmp)
    t.corrupt += [f"after the fault: {b}" for b in bad]
    t.cut_off = (
        t.running_at_fault
        | set(_markers(tmp))
        | {num for num, r in records.items() if r["status"] in ("failed", "interrupted")}
    )
    t.failed_by_fault |= {num for num, r in records.items() if r["status"] == "failed"}
    t.temps_after_fault = _temp_files(tmp)
    started_before = _runs(tmp, n)
    if t.landed and fault != "sigkill-worker":  # (after a dead worker the sweep goes on)
        t.late = [a for a in range(n) if any(
            t.fault_at + LATE_GRACE_S < ts for ts in _start_times(tmp, a)
        )]  # fmt: skip

    manifest = tmp / "sweep" / ".zenspec" / "manifest.json"
    if not manifest.exists():  # killed before the sweep was set up: nothing to resume
        if any(started_before):
            t.notes.append(f"jobs ran ({started_before}) but no manifest was written")
            t.resume_errors.append("no manifest after jobs ran")
        t.notes.append("no manifest: started again with `zenspec run`")
        again = _start(tmp, ["run", "spec.toml"], env, "rerun")
        try:
            code = again.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(again.pid, signal.SIGKILL)
            code = again.wait()
            t.hung.append("`zenspec run spec.toml` (again) did not exit in time")
        t.left += [f"rerun: {d}" for d in _settle(again.pid)]
        if code != 0:  # the task never fails by itself
            t.resume_errors.append(f"`zenspec run spec.toml` exit {code}: {_tail(tmp, 'rerun')}")

    for i in range(MAX_RESUMES):
        records, bad = _read_records(tmp)
        t.corrupt += [f"before resume {i + 1}: {b}" for b in bad]
        t.failed_by_fault |= {num for num, r in records.items() if r["status"] == "failed"}
        done = len(records) == n and all(r["status"] == "completed" for r in records.values())
        if done and (_manifest_status(manifest) == "completed" or i > 0):
            break  # (a run killed after its last job: one resume closes the manifest)
        args = ["resume", "sweep"]
        if any(r["status"] == "failed" for r in records.values()):
            args.append("--retry-failed")
        log = f"resume{i + 1}"
        res = _start(tmp, args, env, log)
        t.resumes += 1
        try:
            code = res.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(res.pid, signal.SIGKILL)
            code = res.wait()
            t.hung.append(f"`zenspec {' '.join(args)}` did not exit in {RUN_TIMEOUT_S:.0f} s")
        t.resume_codes.append(code)
        t.left += [f"{log}: {d}" for d in _settle(res.pid)]
        after, _ = _read_records(tmp)
        # exit 1 means "a job failed": fine if a job is recorded failed (by the fault)
        if code != 0 and not (code == 1 and any(r["status"] == "failed" for r in after.values())):
            t.resume_errors.append(f"`zenspec {' '.join(args)}` exit {code}: {_tail(tmp, log)}")

    if not reap:  # the leftovers of the faulted run, if any, go now
        _settle(proc.pid, timeout=0)
    records, bad = _read_records(tmp)
    t.corrupt += [f"at the end: {b}" for b in bad]
    t.failed_by_fault |= {num for num, r in records.items() if r["status"] == "failed"}
    t.lost = [a for a in range(n) if records.get(a, {}).get("status") != "completed"]
    runs = _runs(tmp, n)
    t.ran_twice = [a for a in range(n) if runs[a] > 1]
    # a rerun is explained if the job was running when the fault hit (or was recorded
    # failed/interrupted by it), or if every earlier start was cut off mid-task (e.g. the
    # other workers of a loky pool broken by the killed one); a rerun of a job whose task
    # had returned, with nothing to say it was cut off, is not
    t.cut_mid_task = [
        a for a in t.ran_twice if a not in t.cut_off and not any(_starts(tmp, a)[:-1])
    ]  # fmt: skip
    t.unexplained = [a for a in t.ran_twice if a not in t.cut_off and a not in t.cut_mid_task]
    t.never_ran = [a for a in range(n) if runs[a] == 0 and a not in t.lost]
    if t.failed_by_fault - t.cut_off:
        t.notes.append(f"failed without being cut off: {sorted(t.failed_by_fault - t.cut_off)}")
    t.temps_at_end = _temp_files(tmp)
    try:
        t.manifest_status = json.loads(manifest.read_text()).get("status", "?")
    except (OSError, ValueError) as e:
        t.manifest_status = f"unreadable ({type(e).__name__})"
        t.corrupt.append(f"manifest.json: {e}")
    if not t.lost and t.manifest_status != "completed":
        t.notes.append(f"every job completed but the manifest says {t.manifest_status!r}")
    t.seconds = time.monotonic() - started
    if not (keep or t.bad):
        shutil.rmtree(tmp, ignore_errors=True)
    return t


# ------------------------------------------------------------------ report
COLUMNS = [
    ("launcher", 11), ("fault", 14), ("trials", 6), ("landed", 6), ("run exit codes", 22),
    ("cut off", 7), ("cut later", 9), ("failed", 6), ("lost", 4), ("ran 2+", 6), ("unexpl", 6),
    ("ran 0", 5), ("late", 4), ("corrupt", 7), ("tmp", 3), ("left", 4), ("hung", 4), ("resumes", 7), ("res err", 7),
]  # fmt: skip


def _row(cells: List[str]) -> str:
    return "  ".join(str(c).ljust(w) if i < 2 or i == 4 else str(c).rjust(w)
                     for i, ((_, w), c) in enumerate(zip(COLUMNS, cells)))  # fmt: skip


def _cells(label: List[str], trials: List[Trial]) -> List[str]:
    codes = Counter(t.exit_code for t in trials)
    return [
        *label,
        len(trials),
        sum(t.landed for t in trials),
        " ".join(f"{c}x{k}" for c, k in sorted(codes.items(), key=lambda x: str(x[0]))),
        sum(len(t.cut_off) for t in trials),
        sum(len(t.cut_mid_task) for t in trials),
        sum(len(t.failed_by_fault) for t in trials),
        sum(len(t.lost) for t in trials),
        sum(len(t.ran_twice) for t in trials),
        sum(len(t.unexplained) for t in trials),
        sum(len(t.never_ran) for t in trials),
        sum(len(t.late) for t in trials),
        sum(len(t.corrupt) for t in trials),
        sum(len(t.temps_at_end) for t in trials),
        sum(len(t.left) for t in trials),
        sum(len(t.hung) for t in trials),
        sum(t.resumes for t in trials),
        sum(len(t.resume_errors) for t in trials),
    ]  # type: ignore[list-item]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=3, help="trials per launcher x fault (3)")
    ap.add_argument("--quick", action="store_true", help="1 trial per launcher x fault")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=12, help="jobs per sweep (12)")
    ap.add_argument("--launchers", default=",".join(LAUNCHERS))
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument(
        "--max-sleep", type=float, default=0.3, help="each job sleeps 0.02 s to this (0.3)"
    )
    ap.add_argument(
        "--settle", type=float, default=SETTLE_S,
        help="seconds a faulted run's session may take to empty before it counts as left (5)",
    )  # fmt: skip
    ap.add_argument("--keep", action="store_true", help="keep every trial's temp dir")
    ap.add_argument(
        "--no-reap", action="store_true",
        help="resume while the faulted run's leftover processes still live (as a user "
        "would), killing them only at the trial's end",
    )  # fmt: skip
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per trial")
    args = ap.parse_args(argv)
    launchers = [x for x in args.launchers.split(",") if x]
    faults = [x for x in args.faults.split(",") if x]
    for x in launchers:
        if x not in LAUNCHERS:
            ap.error(f"unknown launcher {x!r} (one of {', '.join(LAUNCHERS)})")
    for x in faults:
        if x not in FAULTS:
            ap.error(f"unknown fault {x!r} (one of {', '.join(FAULTS)})")
    trials_each = 1 if args.quick else args.trials
    if args.jobs < 2:
        ap.error("--jobs must be at least 2")

    t0 = time.monotonic()
    print(f"# {sys.executable} {' '.join(sys.argv)}", flush=True)
    print(f"# {trials_each} trial(s) per launcher x fault, {args.jobs} jobs, seed {args.seed}",
          flush=True)  # fmt: skip
    groups: Dict[tuple, List[Trial]] = {}
    for launcher in launchers:
        for fault in faults:
            if launcher == "basic" and fault == "sigkill-worker":
                continue  # the basic launcher has no worker: the job runs in zenspec's process
            for i in range(trials_each):
                t = run_trial(
                    launcher, fault, i, args.seed, args.jobs, args.keep,
                    not args.no_reap, args.max_sleep, args.settle,
                )  # fmt: skip
                groups.setdefault((launcher, fault), []).append(t)
                if args.verbose or t.bad or t.notes:
                    flag = "BAD " if t.bad else ""
                    print(f"  {flag}{launcher} {fault} #{i}: {t.how}; exit {t.exit_code}; "
                          f"running {sorted(t.running_at_fault)}; cut off {sorted(t.cut_off)}; failed {sorted(t.failed_by_fault)}; "
                          f"ran 2+ {t.ran_twice} (cut mid-task later: {t.cut_mid_task}); resumes {t.resume_codes}; "
                          f"{t.seconds:.1f} s", flush=True)  # fmt: skip
                for what, items in [
                    ("lost", [t.lost] if t.lost else []),
                    ("ran twice, not cut off", [t.unexplained] if t.unexplained else []),
                    ("completed, never ran", [t.never_ran] if t.never_ran else []),
                    ("started after the fault by the faulted run", [t.late] if t.late else []),
                    ("corrupt", t.corrupt),
                    ("left behind", t.left), ("hung", t.hung), ("resume errors", t.resume_errors),
                    ("note", t.notes),
                ]:  # fmt: skip
                    for item in items:
                        print(f"      {what}: {item}", flush=True)
                if t.bad:
                    print(f"      kept: {t.tmpdir}", flush=True)

    print()
    print(_row([name for name, _ in COLUMNS]))
    print(_row(["-" * w for _, w in COLUMNS]))
    everything: List[Trial] = []
    for (launcher, fault), trials in groups.items():
        print(_row(_cells([launcher, fault], trials)))
        everything += trials
    print(_row(["-" * w for _, w in COLUMNS]))
    print(_row(_cells(["total", ""], everything)))
    temps = sum(len(t.temps_after_fault) for t in everything)
    print(f"\ntemp files (.*.tmp) under .zenspec: {temps} right after the faults, "
          f"{sum(len(t.temps_at_end) for t in everything)} at the end")  # fmt: skip
    print(f"{len(everything)} trials in {time.monotonic() - t0:.0f} s")
    bad = [t for t in everything if t.bad]
    if bad:
        print(f"FAILED: {len(bad)} trial(s) lost a job, left a corrupt record or a process, "
              "failed to resume, or ran a job twice without cutting it off")  # fmt: skip
        return 1
    print("OK: nothing lost, nothing corrupt, nothing left behind, no unexplained rerun")
    return 0


if __name__ == "__main__":
    sys.exit(main())
