"""Build time and size of ``zenspec report`` for a 1,000-job sweep.

Run by hand (not a timed test)::

    python bench/bench_html_report.py              # 1,000 jobs, 300 of them with curves
    python bench/bench_html_report.py --jobs 5000 --curves 1000 --steps 50 --repeat 5
    python bench/bench_html_report.py --keep /tmp/bench-report   # keep the sweep and report

The sweep's records are written the way zenspec writes them (its manifest, a record
per job, a metric stream per reporting job: ``zenspec.records.manifest.new_manifest``,
``zenspec.records.jobs.write_record``, the ``zenspec.report`` line format), without
running jobs, so making them takes about a second. A random search over ``lr``
(log-uniform), ``width`` (4 options), ``optim`` (3 names) and ``dropout``; ~5% of the
jobs fail with one of three error types, ~20% of the reporting jobs are pruned, each
job returns its metric and two more scalars.

Printed, best of ``--repeat`` (default 3) in this process, after a first "cold"
build (plotly.js packed once per process, ~0.15 s, is in the cold figure only):
``write_report`` (build and write the file), ``build_report`` with and without
gzipped plotly.js, the file's size and what of it is plotly.js and the data. Target:
<= 2 s for the 1,000-job report.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_S = 2.0
ERRORS = [
    ("builtins.ValueError", "loss diverged to {x:.3g}"),
    ("builtins.RuntimeError", "CUDA out of memory (tried to allocate {x:.0f} MiB)"),
    ("torch.cuda.OutOfMemoryError", "out of memory"),
]


def make_sweep(root: Path, jobs: int, curves: int, steps: int, seed: int = 0) -> None:
    """A finished random search of *jobs* jobs in *root*, *curves* of them reporting."""
    from zenspec.records.jobs import write_record
    from zenspec.records.manifest import finish_manifest, new_manifest
    from zenspec.records.store import FORMAT_VERSION, jobs_dir, safe_dir

    rng = random.Random(seed)
    planned: List[List[str]] = []
    for _ in range(jobs):
        lr = 10 ** rng.uniform(-4, 0)
        planned.append(
            [
                f"lr={lr!r}",
                f"width={rng.choice([16, 32, 64, 128])}",
                f"optim={rng.choice(['sgd', 'adam', 'adamw'])}",
                f"dropout={rng.uniform(0, 0.5)!r}",
            ]
        )
    spec = {
        "path": "bench.toml",
        "data": {
            "experiment": {"name": "bench_report", "metric": "val_loss"},
            "sweeper": {"kind": "random", "max_trials": jobs},
        },
        "metric": "val_loss",
        "direction": "minimize",
    }
    manifest = new_manifest(
        root=root,
        mode="MULTIRUN",
        task="bench:train",
        job_name="bench_report",
        config_name="zenspec_config",
        overrides=[],
        config_hash="0" * 64,
        sweeper="zenspec.sweepers.random.RandomSearchSweeper",
        launcher="hydra._internal.core_plugins.basic_launcher.BasicLauncher",
        planned=planned,
        spec=spec,
        metric="val_loss",
        tags={"bench": "html_report"},
        note="a synthetic sweep for bench/bench_html_report.py",
    )
    streams = safe_dir(root / ".zenspec" / "metrics")
    reporting = set(rng.sample(range(jobs), min(curves, jobs)))
    counts = {"completed": 0, "failed": 0, "pruned": 0}
    for num, overrides in enumerate(planned):
        lr = float(overrides[0].split("=")[1])
        width = int(overrides[1].split("=")[1])
        floor = 0.05 + 0.4 * math.log10(lr / 0.01) ** 2 + 0.6 / math.sqrt(width)
        record: Dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "num": num,
            "overrides": overrides,
            "started_at": 1.8e9 + num,
            "duration_s": round(rng.uniform(0.5, 30), 6),
            "job_dir": str(root / str(num)),
            "pid": 1000,
            "choices": {},
        }
        last = steps - 1
        if num in reporting:
            pruned = rng.random() < 0.2
            last = rng.randint(3, steps - 1) if pruned else steps - 1
            lines = []
            for step in range(last + 1):
                loss = floor + (1 - floor) * math.exp(-0.2 * (step + 1)) + rng.gauss(0, 0.005)
                lines.append(
                    json.dumps({"step": step, "time": 1.8e9, "metrics": {"val_loss": loss}})
                )
            (streams / f"{num}.jsonl").write_text("\n".join(lines) + "\n")
            record["reports"] = {"reports": last + 1, "step": last, "metrics": {"val_loss": loss}}
            if pruned:
                record.update(status="pruned", pruned={"step": last, "metrics": {"val_loss": loss}})
                counts["pruned"] += 1
                write_record(jobs_dir(root), num, record)
                continue
        if rng.random() < 0.05:
            kind, message = rng.choice(ERRORS)
            text = message.format(x=rng.uniform(1, 1e4))
            short = kind.rsplit(".", 1)[-1]
            record.update(
                status="failed",
                error={
                    "type": kind,
                    "message": text,
                    "traceback": f'Traceback (most recent call last):\n  File "train.py", '
                    f"line 42, in train\n    step()\n{short}: {text}\n",
                },
            )
            counts["failed"] += 1
        else:
            loss = floor + rng.gauss(0, 0.01)
            value = {"val_loss": loss, "train_loss": loss * 0.8, "epochs": last + 1}
            record.update(status="completed", return_value=value, metric=loss)
            counts["completed"] += 1
        write_record(jobs_dir(root), num, record)
    finish_manifest(root, manifest, "completed", {"planned": jobs, "recorded": jobs, **counts})


def _best_of(repeat: int, fn: Callable[[], Any]) -> Tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--curves", type=int, default=300, help="jobs that report a curve")
    parser.add_argument("--steps", type=int, default=30, help="steps a full curve reports")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="make the sweep and report here, keep them")
    args = parser.parse_args()
    from zenspec.visual import build_report, write_report
    from zenspec.visual.report import plotly_bundle

    where = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="zenspec-bench-html-"))
    try:
        sweep, output = where / "sweep", where / "report.html"
        if sweep.exists():
            shutil.rmtree(sweep)
        start = time.perf_counter()
        make_sweep(sweep, args.jobs, args.curves, args.steps)
        made = time.perf_counter() - start
        start = time.perf_counter()
        write_report([sweep], output)
        cold = time.perf_counter() - start
        written, _ = _best_of(args.repeat, lambda: write_report([sweep], output))
        packed, text = _best_of(args.repeat, lambda: build_report([sweep]))
        plain, plain_text = _best_of(args.repeat, lambda: build_report([sweep], compress=False))
        size = output.stat().st_size
        bundle = len(plotly_bundle(True))
        print(f"sweep: {args.jobs} jobs, {args.curves} with curves of <= {args.steps} steps "
              f"(records made in {made:.2f} s)")  # fmt: skip
        rows = [
            ("write_report, cold (packs plotly.js)", cold, size),
            (f"write_report, best of {args.repeat}", written, size),
            ("build_report (plotly.js gzipped)", packed, len(text.encode())),
            ("build_report (plotly.js plain)", plain, len(plain_text.encode())),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"{'':{width}}  seconds      size")
        for name, seconds, nbytes in rows:
            print(f"{name:{width}}  {seconds:7.3f}  {nbytes / 1e6:6.2f} MB")
        print(f"of the gzipped report: plotly.js {bundle / 1e6:.2f} MB, "
              f"data and page {(len(text.encode()) - bundle) / 1e6:.2f} MB")  # fmt: skip
        verdict = "PASS" if written <= TARGET_S else "MISS"
        print(f"target: a {args.jobs}-job report in <= {TARGET_S:g} s: {verdict} ({written:.3f} s)")
        if args.keep:
            print(f"kept: {output}")
    finally:
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
