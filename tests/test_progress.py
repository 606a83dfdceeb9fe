"""Progress from records: a live line in a terminal, one line per job in a pipe."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from helpers.sweep_tasks import every_third_fails

from zenspec import hydra_multirun
from zenspec.cli.progress import Progress

REPO = Path(__file__).resolve().parents[1]


def test_plain_output_has_one_line_per_job_with_metric_and_failures():
    out = io.StringIO()
    hydra_multirun(
        dict(a=0),
        every_third_fails,
        ["a=1,2,3,4"],
        metric="loss",
        on_error="continue",
        progress=Progress(out, interval=0.01),
        with_log_configuration=False,
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("[1/4] job 0 a=1 -> completed metric=361")
    assert "job 2 a=3 -> failed" in out.getvalue()
    assert "ValueError: a=3 is a multiple of three" in out.getvalue()


def test_status_line_counts_eta_and_best():
    p = Progress(io.StringIO(), tty=True)
    p.total = 4
    p.seen = {0: {"status": "completed"}, 1: {"status": "failed"}}
    p.best = 0.25
    line = p.status_line()
    assert "[##########..........] 2/4 jobs" in line
    assert "1 ok" in line and "1 failed" in line and "best 0.25" in line and "ETA" in line


def test_live_line_in_a_pseudo_terminal(tmp_path):
    code = (
        "import sys\n"
        "from zenspec import hydra_multirun\n"
        "from zenspec.cli.progress import Progress\n"
        "from helpers.sweep_tasks import dies_at\n"
        "hydra_multirun(dict(a=0), dies_at, ['a=range(0,5)'], metric='loss',"
        " progress=Progress(sys.stdout, interval=0.01), with_log_configuration=False)\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}")
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=child, stderr=child
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, screen
    assert "\r\x1b[K" in screen  # redrawn in place, not scrolled
    final = screen.split("\r\x1b[K")[-1]
    assert "5/5 jobs" in final and "5 ok" in final and "best 0" in final


SPEC = """
[experiment]
task = "tests.helpers.sweep_tasks:every_third_fails"
metric = "loss"
search_path = ["{repo}"]

[config]
a = 0

[sweep]
a = "range(1, 6)"
"""


def _spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SPEC.format(repo=REPO))
    return path


def _read_all(fd):
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def test_cli_in_a_terminal_live_line_no_launcher_lines_then_summary(tmp_path):
    main, child = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "zenspec", "run", str(_spec(tmp_path))],
        cwd=tmp_path,
        env=env,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    screen = _read_all(main)
    proc.wait(timeout=60)
    os.close(main)
    assert proc.returncode == 1, screen  # a=3 fails
    assert "\r\x1b[K" in screen
    final = screen.split("\r\x1b[K")[-1]
    assert "5/5 jobs" in final and "4 ok" in final and "1 failed" in final and "best 225" in final
    assert "Launching 5 jobs" not in screen  # the launcher's lines would drown the live line
    # the summary: one row per job, the output dir, the failure and how to re-run it
    assert "2    3  failed" in screen and "ValueError: a=3 is a multiple of three" in screen
    assert "outputs: " in screen and "--retry-failed" in screen


def test_cli_in_a_pipe_one_line_per_job_and_verbose_keeps_launcher_lines(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "zenspec", "run", str(_spec(tmp_path))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = [x for x in done.stderr.splitlines() if x.startswith("[")]
    assert len(lines) == 5 and "\x1b" not in done.stderr
    assert (
        "job 2 a=3 -> failed" in done.stderr and "job 4 a=5 -> completed metric=225" in done.stderr
    )
    # not a terminal: nothing is hushed (with a metric, the first job is launched alone:
    # it shows whether the task returns the metric before the others start)
    assert "Launching 1 jobs" in done.stdout and "Launching 4 jobs" in done.stdout
    quiet = subprocess.run(
        [sys.executable, "-m", "zenspec", "run", str(_spec(tmp_path)), "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "job 2 a=3" not in quiet.stderr and "1 of 5 job(s) failed" in quiet.stderr
    assert "Launching" not in quiet.stdout and "5 jobs: 4 completed, 1 failed" in quiet.stdout


def _sees_itself_running(cfg):
    from hydra.core.hydra_config import HydraConfig

    from zenspec.records.jobs import running_jobs

    hc = HydraConfig.get()
    return running_jobs(Path(hc.sweep.dir))


def test_a_job_is_marked_running_while_it_runs_and_the_line_counts_it(tmp_path):
    from zenspec import hydra_multirun
    from zenspec.cli.progress import Progress
    from zenspec.records.jobs import running_jobs

    jobs = hydra_multirun(
        dict(a=0), _sees_itself_running, ["a=1,2,3"], with_log_configuration=False
    )
    assert [j.return_value for j in jobs[0]] == [[0], [1], [2]]  # each saw itself, alone
    assert running_jobs(jobs[0][0].output_dir.parent) == []  # no marker outlives its record
    p = Progress(tty=False)
    p.total, p.running = 4, 2
    assert "2 running" in p.status_line()
