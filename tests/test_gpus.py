"""``gpus_per_job``: each joblib worker its own ``CUDA_VISIBLE_DEVICES`` slice.

No GPU is needed: the task reports the variable it sees, as CUDA would read it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")

REPO = Path(__file__).resolve().parents[1]

TASK = """
import os, time
def task(cfg):
    time.sleep(0.2)
    return {"pid": os.getpid(), "devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
"""

SPEC = """
[experiment]
task = "gputask:task"
search_path = ["."]

[config]
a = 0

[sweep]
a = "range(0, 6)"

[launcher]
kind = "joblib"
n_jobs = 2
gpus_per_job = {g}

[hydra]
sweep.dir = "sweep"
"""


def _run(tmp: Path, g: int, visible: str, start: str = "auto"):
    (tmp / "gputask.py").write_text(TASK)
    (tmp / "spec.toml").write_text(SPEC.format(g=g))
    env = dict(os.environ, PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES=visible)
    env["ZENSPEC_JOBLIB_START"] = start
    return subprocess.run(
        [sys.executable, "-m", "zenspec", "run", "spec.toml"],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("start", ["auto", "loky"])
def test_each_worker_gets_its_own_slice_and_the_record_says_which(tmp_path, start):
    done = _run(tmp_path, 2, "3,5,7,9", start)
    assert done.returncode == 0, done.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "sweep/.zenspec/jobs").glob("*.json")]
    assert len(records) == 6
    by_pid = {}
    for r in records:
        assert r["return_value"]["devices"] == r["cuda_visible_devices"]
        by_pid.setdefault(r["return_value"]["pid"], set()).add(r["cuda_visible_devices"])
    assert all(len(s) == 1 for s in by_pid.values())  # a worker keeps its slice
    assert set().union(*by_pid.values()) == {"3,5", "7,9"}  # and no two workers share one


def test_more_gpus_per_job_than_the_machine_shows_is_an_input_error(tmp_path):
    done = _run(tmp_path, 3, "0,1")
    assert done.returncode == 2, done.stderr
    assert "gpus_per_job = 3, but this machine shows 2 GPU(s) (0,1)" in done.stderr
    assert "spec.toml::$.launcher.gpus_per_job (line 15, column 1)" in done.stderr
    assert not list((tmp_path / "sweep" / ".zenspec" / "jobs").glob("*.json"))
