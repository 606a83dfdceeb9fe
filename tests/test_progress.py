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
from zenspec.progress import Progress

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
        "from zenspec.progress import Progress\n"
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
