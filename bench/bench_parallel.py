"""Parallel efficiency of a CPU-bound sweep: stock Hydra's joblib against zenspec's launchers.

8 jobs, each a 0.5 s CPU-bound busy loop (``examples.sleepy:busy``), on 2
workers: the ideal wall time is 8 x 0.5 / 2 = 2.0 s. Printed per variant: the
wall time of the multirun call, the ideal, the parallel efficiency (ideal /
measured) and the ratio to stock; and the CPU time the whole process tree
spent (parent + workers) against the 4.0 s of useful work, which unlike wall
time survives a machine shared with other work.

Every variant runs in a fresh child process (one after another), which imports
Hydra, zenspec and the task first; the clock then covers the multirun call
only: composition, pickling, worker start-up (``cold``) and the jobs. ``warm``
is a second identical sweep in the same process, which reuses the workers
(loky's reusable executor; the same Ray).

Variants:

``hydra-joblib``
    Hydra's own ``Hydra.multirun`` (what ``@hydra.main`` does with
    ``--multirun``), stock ``ConfigLoaderImpl``, ``hydra/launcher=joblib``.
``zenspec-joblib``
    ``zenspec.hydra_multirun(..., hydra/launcher=joblib)``, records included.
``zenspec-ray``
    ``zenspec.hydra_multirun(..., hydra/launcher=ray)`` on a local Ray
    (``num_cpus=2``) started in the child before the clock: Ray's start-up
    (several seconds) is shown apart, not counted (``--no-ray`` skips the variant).

Usage::

    python bench/bench_parallel.py             # every variant, 3 repeats: best and median
    python bench/bench_parallel.py --repeat 1 --no-ray
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
JOBS, SECONDS, WORKERS = 8, 0.5, 2
IDEAL = JOBS * SECONDS / WORKERS


# ----------------------------------------------------------------- child side
def _tree_cpu() -> float:
    """CPU seconds (user + system) of this process, its reaped children and live descendants."""
    import resource

    tick = os.sysconf("SC_CLK_TCK")
    parents: Dict[int, int] = {}
    cpu: Dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    me = os.getpid()

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == me:
                return True
        return False

    live = sum(c for pid, c in cpu.items() if pid != me and descends(pid))
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + live


def _timed(run: Any) -> Tuple[float, float]:
    """(wall seconds, CPU seconds of the process tree) of ``run()``."""
    cpu = _tree_cpu()
    t = time.perf_counter()
    run()
    return time.perf_counter() - t, _tree_cpu() - cpu


def _stock(out: str, tag: str) -> Tuple[float, float]:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra

    from examples.sleepy import busy

    ConfigStore.instance().store(name="bench", node={"seconds": SECONDS, "job": 0})
    GlobalHydra.instance().clear()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(None))
    hydra = Hydra(task_name="busy", config_loader=loader)
    GlobalHydra.instance().initialize(hydra)
    overrides = [
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={WORKERS}",
        f"hydra.sweep.dir={out}/{tag}",
        f"job=range(0,{JOBS})",
    ]
    got: List[Any] = []
    took = _timed(lambda: got.append(hydra.multirun("bench", busy, overrides)))
    GlobalHydra.instance().clear()
    assert sorted(j.return_value["job"] for j in got[0][0]) == list(range(JOBS))
    return took


def _zenspec(out: str, tag: str, launcher: str) -> Tuple[float, float]:
    from examples.sleepy import busy
    from zenspec import hydra_multirun

    extra = [f"hydra.launcher.n_jobs={WORKERS}"] if launcher == "joblib" else []
    overrides = [
        f"hydra/launcher={launcher}",
        *extra,
        f"hydra.sweep.dir={out}/{tag}",
        f"job=range(0,{JOBS})",
    ]
    got: List[Any] = []
    took = _timed(
        lambda: got.append(hydra_multirun({"seconds": SECONDS, "job": 0}, busy, overrides))
    )
    assert sorted(j.return_value["job"] for j in got[0][0]) == list(range(JOBS))
    return took


def child(variant: str, out: str) -> Dict[str, float]:
    import logging

    logging.disable(logging.INFO)  # no per-job log lines on the console
    result: Dict[str, float] = {}
    if variant == "hydra-joblib":
        run = lambda tag: _stock(out, tag)  # noqa: E731
    elif variant == "zenspec-joblib":
        run = lambda tag: _zenspec(out, tag, "joblib")  # noqa: E731
    else:
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
        result["ray_start"] = time.perf_counter() - t
        run = lambda tag: _zenspec(out, tag, "ray")  # noqa: E731
    try:
        result["cold"], result["cold_cpu"] = run("cold")
        result["warm"], result["warm_cpu"] = run("warm")
    finally:
        if variant == "zenspec-ray":
            import ray

            ray.shutdown()
    return result


# ---------------------------------------------------------------- parent side
def measure(variant: str) -> Dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
        )
        proc = subprocess.run(
            [sys.executable, __file__, "--child", variant, out],
            capture_output=True,
            text=True,
            cwd=out,
            env=env,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{variant} failed:\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: List[str]) -> None:
    if argv[:1] == ["--child"]:
        print(json.dumps(child(argv[1], argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (best is shown)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray variant")
    args = parser.parse_args(argv)
    variants = ["hydra-joblib", "zenspec-joblib"] + ([] if args.no_ray else ["zenspec-ray"])
    runs: Dict[str, Dict[str, List[float]]] = {}
    for _ in range(args.repeat):
        for v in variants:
            for k, val in measure(v).items():
                runs.setdefault(v, {}).setdefault(k, []).append(val)
    best = {v: {k: min(vals) for k, vals in got.items()} for v, got in runs.items()}
    print(
        f"{JOBS} jobs x {SECONDS} s CPU-bound on {WORKERS} workers; ideal {IDEAL:.1f} s; "
        f"best of {args.repeat}; cpus here: {os.cpu_count()}"
    )
    header = (
        f"{'variant':<16}{'phase':<7}{'wall s':>8}{'ideal s':>9}{'efficiency':>12}{'vs stock':>10}"
        f"{'CPU s':>8}{'CPU eff.':>10}{'median eff.':>13}"
    )
    print(header)
    print("-" * len(header))
    for v in variants:
        for phase in ("cold", "warm"):
            wall = best[v][phase]
            stock = best["hydra-joblib"][phase]
            cpu = best[v][f"{phase}_cpu"]
            median = statistics.median(runs[v][phase])
            print(
                f"{v:<16}{phase:<7}{wall:>8.2f}{IDEAL:>9.1f}{IDEAL / wall:>11.0%}"
                f"{stock / wall:>9.2f}x{cpu:>8.2f}{JOBS * SECONDS / cpu:>9.0%}"
                f"{IDEAL / median:>12.0%}"
            )
    print(
        f"CPU s: CPU time of the process tree during the sweep (the useful work is "
        f"{JOBS * SECONDS:.1f} s); CPU eff. = useful / CPU s. Wall times need an otherwise idle "
        f"machine (1-min load average now: {os.getloadavg()[0]:.1f}); CPU times much less so. "
        f"Wall, CPU and efficiency: the best of {args.repeat} runs; median eff.: of their median."
    )
    if "zenspec-ray" in best:
        print(f"(Ray start-up, not counted above: {best['zenspec-ray']['ray_start']:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
