"""What ``zenspec.report`` costs a task, beside what Hydra users do without it.

Run by hand (not a timed test)::

    python bench/bench_report.py            # 200,000 calls each
    python bench/bench_report.py --calls 20000

Printed, in microseconds per call, inside a job (a metric stream open) and outside:

* ``zenspec.report(step, val_loss=..., acc=...)``: one JSON line, one unbuffered
  ``os.write`` (a ``kill -9`` loses nothing written), a throttled look for a prune flag;
* the stock habit, ``log.info(f"step {i} val_loss {x} acc {y}")`` through a file
  handler as Hydra's job logging sets up (buffered by the handler's stream, flushed per
  record by ``logging.FileHandler``), for scale;
* ``zenspec.report`` outside a job: a no-op.

The target: at most 20 µs a call in a job.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path


def _per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        fn(i)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    from zenspec.adaptive import report as stream

    root = Path(tempfile.mkdtemp(prefix="zenspec-bench-report-"))
    previous = stream.begin_job(root, 0)
    try:
        in_job = _per_call(lambda i: stream.report(i, val_loss=0.5 / (i + 1), acc=0.9), args.calls)
    finally:
        stream.end_job(previous)
    outside = _per_call(lambda i: stream.report(i, val_loss=0.5, acc=0.9), args.calls)

    log = logging.getLogger("bench_report")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = logging.FileHandler(root / "job.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    log.addHandler(handler)
    try:
        logged = _per_call(
            lambda i: log.info(f"step {i} val_loss {0.5 / (i + 1)} acc {0.9}"), args.calls
        )
    finally:
        log.removeHandler(handler)
        handler.close()
    rows = [
        ("zenspec.report in a job", in_job),
        ("log.info to a job log (stock habit)", logged),
        ("zenspec.report outside a job", outside),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'':{width}}  µs/call  vs log.info")
    for name, us in rows:
        print(f"{name:{width}}  {us:7.2f}  {us / logged:8.2f}x")
    verdict = "PASS" if in_job <= 20 else "MISS"
    print(f"target: zenspec.report <= 20 µs a call in a job: {verdict} ({in_job:.2f} µs)")


if __name__ == "__main__":
    main()
