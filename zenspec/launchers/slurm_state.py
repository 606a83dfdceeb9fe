"""What SLURM and submitit say about a job that ended: states, causes, refusals.

The queries (``sacct``, ``squeue``) and their reading into the causes zenspec
records (``SLURM: TIMEOUT``, ``exit code 3``, ``killed by SIGSEGV``), the
``sbatch`` refusal turned into an input error naming the spec key, and the
handler of the time-limit signal. Used by :mod:`zenspec.launchers.submitit`.
"""

from __future__ import annotations

import logging
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from zenspec.errors import LaunchError
from zenspec.records.crashlog import FATAL_SIGNALS, fatal_error

__all__ = [
    "ENDED_STATES",
    "RESULT_GRACE_S",
    "exit_cause",
    "ignore_time_signal",
    "job_python",
    "local_crash",
    "sacct",
    "sbatch_refusal",
    "slurm_cause",
    "squeue",
]

# SLURM job states after which no result can come any more
ENDED_STATES = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
}
# how long a result may lag behind the engine saying the job ended (shared filesystems)
RESULT_GRACE_S = 5.0


def slurm_cause(state: str, exit_code: str, step_exit: Optional[str]) -> str:
    """What ended a SLURM job without a result, as recorded."""
    if state == "PREEMPTED":
        return "PREEMPTED"
    if state in ("FAILED", "COMPLETED"):
        # the srun step's status is the task's own (the allocation's folds a
        # signal into an exit code): "3:0" exited 3, "0:11" killed by SIGSEGV
        for code in (step_exit, exit_code):
            cause = exit_cause(code)
            if cause:
                return cause
        if state == "COMPLETED":
            return "SLURM: COMPLETED without a result (the job's process ended early)"
    return f"SLURM: {state}"


def exit_cause(code: Optional[str]) -> Optional[str]:
    from zenspec.records.lost import describe_exit

    if not code or ":" not in code:
        return None
    status, _, sig = code.partition(":")
    try:
        status_n, sig_n = int(status), int(sig)
    except ValueError:
        return None
    if sig_n:
        return describe_exit(-sig_n)
    if status_n:
        return describe_exit(status_n)
    return None


def sacct(
    array_ids: Sequence[str], since: Optional[float] = None
) -> Optional[Dict[str, Tuple[str, str, Optional[str]]]]:
    """``{job_id: (state, exit code, srun step's exit code)}`` of *array_ids*; None if sacct fails.

    *since* (a time before the submission) keeps out older jobs with the same
    ids (with ``-j`` and no ``-S``, sacct searches the whole history).
    """
    from submitit.slurm.slurm import read_job_id

    cmd = ["sacct", "-n", "-P", "-o", "JobID,State,ExitCode"]
    if since is not None:
        cmd += ["-S", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since))]
    for jid in array_ids:
        cmd += ["-j", jid]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    out: Dict[str, Tuple[str, str, Optional[str]]] = {}
    steps: Dict[str, str] = {}
    for line in proc.stdout.splitlines():
        parts = line.split("|")
        if len(parts) < 3 or not parts[0]:
            continue
        jid, state, code = parts[0], (parts[1].split() or ["UNKNOWN"])[0], parts[2]
        if "." in jid:
            base, _, step = jid.partition(".")
            if step.isdigit() and (base not in steps or steps[base] == "0:0"):
                steps[base] = code
            continue
        try:
            ids = read_job_id(jid)
        except Exception:
            continue
        for split in ids:
            if len(split) >= 3:  # a pending range of the array: 12_[3-7%2]
                for index in range(int(split[1]), int(split[2]) + 1):
                    out[f"{split[0]}_{index}"] = (state, code, None)
            else:
                out["_".join(split[:2])] = (state, code, None)
    for jid, (state, code, _) in list(out.items()):
        out[jid] = (state, code, steps.get(jid))
    return out


def squeue(array_ids: Sequence[str]) -> Optional[set]:
    """The job ids SLURM still has (queued or running); None if squeue fails."""
    try:
        proc = subprocess.run(
            ["squeue", "-h", "-r", "-j", ",".join(array_ids), "-o", "%i"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return set() if "Invalid job id" in proc.stderr else None
    return {line.strip() for line in proc.stdout.splitlines() if line.strip()}


def sbatch_refusal(e: BaseException, sweep_dir: Path, n: int) -> LaunchError:
    """An ``sbatch`` refusal as the spec error it is."""
    text = str(e)
    stderr = getattr(e, "stderr", None)
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    if stderr and stderr not in text:
        text = f"{text}\n{stderr}"
    text = text.strip()
    low = text.lower()
    path, hint = "$.launcher", "Fix: check the [launcher] settings against the cluster."
    for key, words in (
        ("partition", ("partition",)),
        ("account", ("account", "association")),
        ("qos", ("qos",)),
        ("constraint", ("constraint", "feature")),
        ("gres", ("gres",)),
        ("timeout_min", ("time limit",)),
        ("mem_gb", ("memory",)),
    ):
        if any(w in low for w in words):
            path = f"$.launcher.{key}"
            if key == "partition":
                hint = "Fix: name a partition the cluster has (`sinfo -s` lists them)."
            elif key == "account":
                hint = "Fix: name an account you may use (`sacctmgr show assoc user=$USER`)."
            else:
                hint = f"Fix: check [launcher] {key} against what the cluster offers."
            break
    return LaunchError(
        f"sbatch refused the job array of {n} job(s); nothing was submitted, no job ran. "
        f"sbatch said: {text} (sweep dir: {sweep_dir})",
        path=path,
        hint=hint,
    )


# The first statements the job's Python runs, before submitit and the pickled launcher
# are imported: SLURM may send the time-limit signal while those imports run (a loaded
# node, a short limit), and the default action of SIGUSR2 is to end the process, which
# would record a job that was only starting as "killed by SIGUSR2". Until submitit and
# then the launcher install their own handlers, this one only says it came (log.err).
_BOOT = (
    "import runpy, signal, sys; "
    "signal.signal(signal.SIG{sig}, lambda n, f: sys.stderr.write("
    "'zenspec: received SIG{sig} while the job was starting: its time limit is near\\n')); "
    "m = sys.argv.index('-m'); sys.argv = sys.argv[m + 1:]; "
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def job_python(signal_name: str) -> str:
    """The ``python`` command submitit puts in the sbatch script (it appends ``-u -m ...``)."""
    if not hasattr(signal, "SIG" + signal_name):
        return shlex.quote(sys.executable)  # submitit refuses an unknown signal itself
    boot = _BOOT.format(sig=signal_name)
    return f"{shlex.quote(sys.executable)} -u -c {shlex.quote(boot)}"


def ignore_time_signal(signum: int, frame: Any) -> None:
    logging.getLogger(__name__).warning(
        "received %s: the job's time limit is near (max_num_timeout = 0: no requeue); "
        "SLURM ends the job at its limit",
        signal.Signals(signum).name,
    )


def local_crash(job: Any) -> Optional[str]:
    """``killed by SIGSEGV`` when faulthandler wrote a fatal error in the job's log."""
    try:
        text = job.paths.stderr.read_text(errors="replace")[-20000:]
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        what = fatal_error(line)
        if what:
            return (
                f"killed by {FATAL_SIGNALS[what]}"
                if what in FATAL_SIGNALS
                else f"fatal error: {what}"
            )
    return None
