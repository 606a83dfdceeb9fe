"""``zenspec results`` and ``zenspec resume``, and Ctrl-C, through the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers.cli import run_cli as run

REPO = Path(__file__).resolve().parents[1]

SPEC = """
[experiment]
task = "tests.helpers.sweep_tasks:{task}"
metric = "loss"
search_path = ["{repo}"]

[config]
a = 0

[sweep]
a = "range(0, {n})"
"""


def write_spec(tmp_path: Path, task: str, n: int, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(SPEC.format(task=task, n=n, repo=REPO)))
    return path


def sweep_dir(tmp_path: Path) -> Path:
    (manifest,) = tmp_path.glob("multirun/**/.zenspec/manifest.json")
    return manifest.parent.parent


def jobs(root: Path) -> dict:
    return {
        int(p.stem): json.loads(p.read_text()) for p in (root / ".zenspec" / "jobs").glob("*.json")
    }


def test_every_third_fails_then_retry_failed_completes_all_fifty(tmp_path, capsys):
    spec = write_spec(tmp_path, "every_third_fails", 50)
    code, out, err = run(capsys, "run", spec, "-q")
    assert code == 1
    assert "17 of 50 job(s) failed (first: #0, ValueError: a=0 is a multiple of three)" in err
    root = sweep_dir(tmp_path)
    assert f"zenspec resume {root} --retry-failed" in err
    recorded = jobs(root)
    assert len(recorded) == 50
    assert {n for n, r in recorded.items() if r["status"] == "failed"} == set(range(0, 50, 3))
    assert "Traceback" in recorded[3]["error"]["traceback"]
    assert recorded[20]["metric"] == 0

    code, out, _ = run(capsys, "results", root)
    assert code == 0
    assert "50 jobs: 33 completed, 17 failed; best: job 20 (*)" in out
    assert "the sweep is" not in out  # it ran to the end; failures are not "missing"
    assert f"to re-run the failed jobs: zenspec resume {root} --retry-failed" in out

    Path("FIXED").write_text("")  # the cause is fixed
    code, out, _ = run(capsys, "resume", root, "--retry-failed", "-q")
    assert code == 0, out
    assert "50 jobs: 50 completed; best: job 20 (*)" in out
    after = jobs(root)
    assert sorted(after) == list(range(50)) and all(
        r["status"] == "completed" for r in after.values()
    )
    # jobs that had succeeded were not run again
    assert all(after[n]["started_at"] == recorded[n]["started_at"] for n in range(1, 50, 3))


@pytest.mark.parametrize("fmt", ["csv", "json", "markdown"])
def test_results_formats_and_sorting(tmp_path, capsys, fmt):
    spec = write_spec(tmp_path, "every_third_fails", 7)
    Path("FIXED").write_text("")
    assert run(capsys, "run", spec, "-q")[0] == 0
    root = sweep_dir(tmp_path)
    code, out, _ = run(capsys, "results", root, "--format", fmt, "--sort", "metric")
    assert code == 0
    if fmt == "json":
        doc = json.loads(out)
        assert doc["best"] == 6 and [j["num"] for j in doc["jobs"]][:2] == [6, 5]
    elif fmt == "csv":
        lines = out.splitlines()
        assert lines[0] == "job,a,status,metric,return:a,duration_s"
        assert [line.split(",")[0] for line in lines[1:3]] == ["6", "5"]
    else:
        assert out.startswith("| job | a | status | metric | return:a | duration_s |")
        assert "| 6* | 6 | completed | 196 |" in out
    # judged by another returned key, higher is better: job 6 (a=6) is still best
    code, out, _ = run(capsys, "results", root, "--metric", "a", "--maximize")
    assert "best: job 6 (*)" in out


def test_results_check_fails_on_failed_jobs(tmp_path, capsys):
    spec = write_spec(tmp_path, "every_third_fails", 4)
    assert run(capsys, "run", spec, "-q")[0] == 1
    root = sweep_dir(tmp_path)
    assert run(capsys, "results", root)[0] == 0
    assert run(capsys, "results", root, "--check")[0] == 1


def test_resume_refuses_a_changed_spec_unless_forced(tmp_path, capsys):
    spec = write_spec(tmp_path, "every_third_fails", 4)
    run(capsys, "run", spec, "-q")
    root = sweep_dir(tmp_path)
    spec.write_text(spec.read_text().replace("a = 0", "a = 1"))
    code, _, err = run(capsys, "resume", root, "--retry-failed")
    assert code == 2
    assert "the spec" in err and "changed since the sweep started" in err and "--force" in err
    Path("FIXED").write_text("")
    # forced, the recorded job list still holds: the sweep axis did not change
    code, out, _ = run(capsys, "resume", root, "--retry-failed", "--force", "-q")
    assert code == 0, out
    assert "4 jobs: 4 completed" in out


def test_resume_errors_are_clear(tmp_path, capsys):
    code, _, err = run(capsys, "resume", tmp_path)
    assert code == 2 and "no zenspec records here" in err
    code, _, err = run(capsys, "results", tmp_path / "nope")
    assert code == 2 and "no zenspec records here" in err
    spec = write_spec(tmp_path, "every_third_fails", 3)
    run(capsys, "run", spec, "-q")
    root = sweep_dir(tmp_path)
    spec.rename(tmp_path / "moved.toml")
    code, _, err = run(capsys, "resume", root)
    assert code == 2 and "no longer exists" in err and "--spec PATH" in err
    code, out, _ = run(capsys, "resume", root, "--spec", tmp_path / "moved.toml", "-q")
    assert code == 1  # the failed job was not retried: still reported, still exit 1
    assert "3 jobs: 2 completed, 1 failed" in out


def test_ctrl_c_exits_130_with_a_resume_hint_then_resume_completes(tmp_path, capsys):
    spec = write_spec(tmp_path, "slow_square", 8)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zenspec", "run", str(spec), "-q"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = list(tmp_path.glob("multirun/**/.zenspec/jobs/*.json"))
        if len(done) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    root = sweep_dir(tmp_path)
    assert f"zenspec resume {root}" in err
    assert "Traceback" not in err
    manifest = json.loads((root / ".zenspec" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    before = jobs(root)
    assert 2 <= len([r for r in before.values() if r["status"] == "completed"]) < 8

    code, out, _ = run(capsys, "resume", root, "-q")
    assert code == 0, out
    after = jobs(root)
    assert sorted(after) == list(range(8))
    assert [after[n]["return_value"] for n in range(8)] == [{"loss": n * n} for n in range(8)]
