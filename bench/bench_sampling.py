"""Per-trial overhead of the optimising sweepers against the grid's per-job overhead.

Every measurement runs in a fresh child process (same interpreter, same
machine, one after the other), so imports, caches and memory of one run never
flatter another. All three go through zenspec's public Python API,
``zenspec.hydra_multirun(..., fast=True)``, in-process (Hydra's basic launcher,
which zenspec runs through its fast launcher path), records included, on the
default Hydra outputs (``.hydra/*.yaml``, a job log) under a temporary directory:

``grid``
    ``x=range(0,N)``: an N-job grid (the basic/grid sweeper).
``random``
    ``hydra/sweeper=zenspec_random hydra.sweeper.max_trials=N x=interval(0,1)``.
``optuna``
    ``hydra/sweeper=zenspec_optuna hydra.sweeper.n_trials=N
    hydra.sweeper.sampler=random x=interval(0,1)``.
``sampler``
    Optuna alone, no jobs: ``ask`` + ``tell`` of N trials in an in-memory study
    with ``RandomSampler`` over the same one-float space (what the Optuna
    sweeper's ``ask``/``tell`` cost by themselves).

The task is trivial (returns ``cfg.x``). Each child first runs a 2-job sweep
of the same kind (imports, plugin scan, resolvers, Optuna's import), then
times the N-job one. Printed: ms/job (median of ``--repeat`` runs, cases
interleaved so a drifting load hits each alike), the ratio of each sweeper to
the grid, and for Optuna also the ratio with its sampler's own ask+tell time
per trial subtracted (the target: within 1.5x of the grid).

Usage::

    python bench/bench_sampling.py                 # N = 200, 1 run of each
    python bench/bench_sampling.py --repeat 3      # median of 3 runs of each
    python bench/bench_sampling.py --n 500 --profile /tmp/prof   # + a cProfile dump per case
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
CASES = ("grid", "random", "optuna", "sampler")
TARGET = 1.5  # the goal: a sampling sweeper's per-trial overhead <= 1.5x the grid's


# ----------------------------------------------------------------- child side
def task(cfg: Any) -> Any:
    return cfg.x


def _overrides(case: str, n: int) -> List[str]:
    if case == "grid":
        return [f"x=range(0,{n})"]
    if case == "random":
        return ["hydra/sweeper=zenspec_random", f"hydra.sweeper.max_trials={n}", "x=interval(0,1)"]
    if case == "optuna":
        return [
            "hydra/sweeper=zenspec_optuna",
            f"hydra.sweeper.n_trials={n}",
            "hydra.sweeper.sampler=random",
            "x=interval(0,1)",
        ]
    raise ValueError(case)


def _sweep(case: str, n: int, sweep_dir: str) -> Any:
    from zenspec import hydra_multirun

    overrides = [*_overrides(case, n), f"hydra.sweep.dir={sweep_dir}"]
    return hydra_multirun({"x": 0.0}, task, overrides, fast=True)


def _sampler(n: int) -> None:
    """Optuna's own cost: ask + tell of *n* trials, RandomSampler, in-memory, no jobs."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    dists: Dict[str, Any] = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for _ in range(n):
        trial = study.ask(dists)
        study.tell(trial, trial.params["x"])


def _check(case: str, n: int, ret: Any) -> None:
    """The sweep ran what it should: n jobs, or n completed trials."""
    if case == "grid":
        got = sum(len(batch) for batch in ret)
        ok = got == n
    else:
        got = len([t for t in ret.trials if t.ok])
        ok = got == n
    if not ok:
        raise SystemExit(f"{case}: {got} jobs/trials completed, expected {n}")


def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    out = tempfile.mkdtemp(prefix="zenspec-bench-sampling-")
    os.chdir(out)
    case, n = args.child, args.n
    if case == "sampler":
        _sampler(5)  # the import, the first study
        t = time.perf_counter()
        _sampler(n)
        elapsed = time.perf_counter() - t
    else:
        _sweep(case, 2, out + "/warm")  # imports, plugin scan, resolvers, optuna
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t = time.perf_counter()
        ret = _sweep(case, n, out + "/sweep")
        elapsed = time.perf_counter() - t
        if profiler is not None:
            profiler.disable()
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(Path(args.profile) / f"{case}.prof"))
        _check(case, n, ret)
    Path(args.result).write_text(json.dumps({"ms_per_job": elapsed * 1000 / n}))


# ---------------------------------------------------------------- parent side
def run_child(case: str, n: int, profile: Optional[str] = None) -> Optional[Dict[str, Any]]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = f.name
    cmd = [sys.executable, __file__, "--child", case, "--n", str(n), "--result", result]
    if profile:
        cmd += ["--profile", profile]
    env = {k: v for k, v in os.environ.items() if k not in ("ZENSPEC_FAST", "ZENSPEC_FAST_OFF")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"  {case} N={n}: skipped ({last[0][:160]})")
            return None
        data: Dict[str, Any] = json.loads(Path(result).read_text())
        return data
    finally:
        os.unlink(result)


def _median(values: List[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _optuna_installed() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200, help="jobs / trials per sweep (default 200)")
    p.add_argument(
        "--repeat", type=int, default=1, help="runs of each case, interleaved (default 1)"
    )
    p.add_argument(
        "--profile", metavar="DIR", help="also dump a cProfile of each timed sweep into DIR"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return

    cases = list(CASES) if _optuna_installed() else ["grid", "random"]
    if "optuna" not in cases:
        print("optuna is not installed: the optuna and sampler cases are skipped")
    n = args.n
    got: Dict[str, List[float]] = {c: [] for c in cases}
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"trivial task, in-process, default outputs, N={n}, {args.repeat} run(s) each"
    )
    sys.stdout.flush()
    for _ in range(args.repeat):  # interleaved: drift hits every case alike
        for case in cases:
            r = run_child(case, n, args.profile if case != "sampler" else None)
            if r is not None:
                got[case].append(r["ms_per_job"])

    ms = {c: _median(v) for c, v in got.items() if v}
    grid = ms.get("grid")
    print(f"\n{'case':>22} {'ms/job':>8} {'x grid':>7}  runs")
    for case in cases:
        if case not in ms:
            continue
        label = {
            "grid": "grid (x=range)",
            "random": "random search",
            "optuna": "optuna (random sampler)",
            "sampler": "optuna ask+tell alone",
        }[case]
        ratio = f"{ms[case] / grid:6.2f}x" if grid and case != "sampler" else "      -"
        runs = " ".join(f"{x:.2f}" for x in got[case])
        print(f"{label:>22} {ms[case]:8.2f} {ratio:>7}  {runs}")
    if grid and "optuna" in ms and "sampler" in ms:
        net = ms["optuna"] - ms["sampler"]
        print(
            f"{'optuna - sampler':>22} {net:8.2f} {net / grid:6.2f}x  (Optuna's ask+tell excluded)"
        )
    if grid:
        print(f"\nper-trial overhead beyond the grid's per-job (target: ratio <= {TARGET}x):")
        for case, label in (("random", "random"), ("optuna", "optuna - sampler")):
            if case not in ms:
                continue
            value = ms[case] - (ms.get("sampler", 0.0) if case == "optuna" else 0.0)
            verdict = "ok" if value / grid <= TARGET else "over"
            print(
                f"  {label:>18}: {value - grid:+7.2f} ms/trial, {value / grid:5.2f}x grid, {verdict}"
            )


if __name__ == "__main__":
    main()
