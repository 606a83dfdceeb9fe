"""Per-job overhead of multiruns: stock Hydra against zenspec's fast path.

Every measurement runs in a fresh child process (same interpreter, same
machine, one after the other), so imports, caches and memory of one run never
flatter another. Variants:

``stock``
    Hydra's own ``Hydra.multirun`` with stock ``ConfigLoaderImpl`` (what
    ``@hydra.main`` does with ``--multirun``).
``fast``
    The same ``Hydra.multirun`` (BasicSweeper, BasicLauncher, run_job) with
    ``zenspec.accelerate.composition_cache.FastConfigLoader``: the composition only.
``fastlaunch``
    ``fast`` plus ``zenspec.accelerate.job_runner.FastLauncher`` where the
    sweeper instantiates Hydra's BasicLauncher.
``zenspec``
    ``zenspec.hydra_multirun(..., fast=True)``: the public path, records
    included (skipped if that API is not importable).

The task is trivial (returns an int); jobs write Hydra's default outputs
(.hydra/*.yaml, a job log) under a temporary directory. Printed per run:
ms/job, the ratio to stock, peak RSS, and the memory still held after the
sweep per job: RSS growth over the sweep, and (exactly, with tracemalloc, on a
smaller sweep) the Python heap still held per job with the returned results
kept, as a caller keeps them, and after dropping them (what Hydra or the
loader itself keeps).

``--ablation`` instead measures what each speed piece buys: at one N (the
first of ``--sizes``, default 1000), ``stock``, ``zenspec`` with every piece
on, ``zenspec`` with each piece switched off in turn (``ZENSPEC_FAST_OFF=piece``,
:mod:`zenspec.accelerate.switches`) and ``ZENSPEC_FAST=0`` (every piece off),
each ``--repeat`` times, interleaved (a loaded machine drifts: the median of
each is printed, and what switching the piece off costs per job); then the
same for a single ``hydra_run`` (``--no-single`` skips it).

Usage::

    python bench/bench_sweeps.py            # N = 10, 100, 1000 (+10,000 zenspec only), single run x100
    python bench/bench_sweeps.py --quick    # N = 10, 100; single run x20  (~1 min)
    python bench/bench_sweeps.py --ablation --repeat 3   # N = 1000, each piece off in turn
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------- child side
def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def task(cfg: Any) -> Any:
    return cfg.a


def _store() -> None:
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="bench", node={"defaults": ["_self_", {"optim": "sgd"}], "a": 0, "b": 1})
    cs.store(group="optim", name="sgd", node={"name": "sgd", "lr": 0.1})
    cs.store(group="optim", name="adam", node={"name": "adam", "lr": 0.01})


def _overrides(n: int) -> List[str]:
    # two config-group choices, n // 2 values each: two distinct defaults trees
    if n == 1:
        return ["a=0"]
    return [f"a=range(0,{n // 2})", "optim=sgd,adam"]


def _use_fast_launcher() -> None:
    """Hand Hydra's BasicSweeper a FastLauncher where it would make a BasicLauncher."""
    from hydra.core.plugins import Plugins

    from zenspec.accelerate import job_runner

    original = Plugins.instantiate_launcher

    def instantiate(self: Any, hydra_context: Any, task_function: Any, config: Any) -> Any:
        if config.hydra.launcher._target_ != job_runner.BASIC_LAUNCHER:
            return original(self, hydra_context, task_function, config)
        launcher = job_runner.FastLauncher()
        launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        return launcher

    Plugins.instantiate_launcher = instantiate  # type: ignore[method-assign]


def _hydra(variant: str) -> Any:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    sp = create_config_search_path(None)
    if variant == "stock":
        loader = ConfigLoaderImpl(config_search_path=sp)
    else:
        from zenspec.accelerate.composition_cache import FastConfigLoader

        loader = FastConfigLoader(config_search_path=sp)
    hydra = Hydra(task_name="task", config_loader=loader)
    GlobalHydra.instance().initialize(hydra)
    return hydra


def _multirun(variant: str, n: int, sweep_dir: str) -> Any:
    overrides = [*_overrides(n), f"hydra.sweep.dir={sweep_dir}"]
    if variant == "zenspec":
        from zenspec import hydra_multirun

        groups = {
            "optim": {"sgd": {"name": "sgd", "lr": 0.1}, "adam": {"name": "adam", "lr": 0.01}}
        }
        return hydra_multirun({"a": 0, "b": 1}, task, overrides, groups=groups, fast=True)
    return _hydra(variant).multirun("bench", task, overrides, with_log_configuration=True)


def _single(variant: str, reps: int, out: str) -> float:
    """One job, composed from scratch each time, as a script calling it in a loop would."""
    times = []
    for i in range(reps):
        run_dir = f"hydra.run.dir={out}/run{i}"
        t = time.perf_counter()
        if variant == "zenspec":
            from zenspec import hydra_run

            hydra_run({"a": 0, "b": 1}, task, [run_dir], fast=True)
        elif variant == "zenspec_stock":
            from zenspec import hydra_run

            hydra_run({"a": 0, "b": 1}, task, [run_dir], fast=False)
        else:
            _hydra(variant).run("bench", task, ["a=1", run_dir], with_log_configuration=True)
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1000  # median ms/run


def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from hydra.version import setbase

    setbase("1.3")
    _store()
    if args.variant == "fastlaunch":
        _use_fast_launcher()
    out = tempfile.mkdtemp(prefix="zenspec-bench-")
    os.chdir(out)
    result: Dict[str, Any] = {}
    if args.single:
        _single(args.variant, 2, out + "/warm")  # imports, plugin scan
        result["ms_per_run"] = _single(args.variant, args.n, out)
    elif args.mem:
        # exact Python-heap accounting (tracemalloc) on a smaller sweep: RSS
        # never shrinks, so it cannot tell what is freed from what is held
        import tracemalloc

        _multirun(args.variant, 2, out + "/warm")
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        ret = _multirun(args.variant, args.n, out + "/sweep")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        del ret
        gc.collect()
        left = tracemalloc.get_traced_memory()[0]
        result.update(
            retained_kib_per_job=(held - base) / 1024 / args.n,
            leak_kib_per_job=(left - base) / 1024 / args.n,
        )
    else:
        _multirun(args.variant, 2, out + "/warm")  # imports, plugin scan, resolvers
        gc.collect()
        rss0 = _rss_kib()
        t = time.perf_counter()
        ret = _multirun(args.variant, args.n, out + "/sweep")
        elapsed = time.perf_counter() - t
        gc.collect()
        rss1 = _rss_kib()
        del ret
        result.update(
            ms_per_job=elapsed * 1000 / args.n,
            rss_growth_kib_per_job=(rss1 - rss0) / args.n,
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------- parent side
def run_child(
    variant: str,
    n: int,
    single: bool = False,
    mem: bool = False,
    env: Optional[Dict[str, str]] = None,
) -> Optional[Dict[str, Any]]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = f.name
    cmd = [sys.executable, __file__, "--child", variant, "--n", str(n), "--result", result]
    if single:
        cmd.append("--single")
    if mem:
        cmd.append("--mem")
    child_env = {
        k: v for k, v in os.environ.items() if k not in ("ZENSPEC_FAST", "ZENSPEC_FAST_OFF")
    }
    child_env.update(env or {})
    child_env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env
    )
    try:
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"  {variant} N={n}: skipped ({last[0][:120]})")
            return None
        return json.loads(Path(result).read_text())  # type: ignore[no-any-return]
    finally:
        os.unlink(result)


def available(module: str) -> bool:
    sys.path.insert(0, str(REPO))
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _median(values: List[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def ablation(
    n: int, repeat: int, single: bool, reps: int, pieces: Optional[List[str]] = None
) -> None:
    """Stock, zenspec, and zenspec with each speed piece off in turn: median ms of *repeat*.

    *pieces*: only those off in turn, and neither stock nor ``ZENSPEC_FAST=0``
    (the slow cases: a quicker look at the cheap pieces).
    """
    sys.path.insert(0, str(REPO))
    from zenspec.accelerate.switches import PIECES

    cases: List[tuple] = [] if pieces else [("stock", "stock", {})]
    cases.append(("zenspec (all on)", "zenspec", {}))
    # "a+b": both off at once (skeleton and render stand in for each other)
    chosen = pieces or [*PIECES, "skeleton+render"]
    cases += [(f"  - {p}", "zenspec", {"ZENSPEC_FAST_OFF": p.replace("+", ",")}) for p in chosen]
    if not pieces:
        cases.append(("ZENSPEC_FAST=0", "zenspec", {"ZENSPEC_FAST": "0"}))

    def table(title: str, measure: Any, key: str, unit: str) -> None:
        got: Dict[str, List[float]] = {label: [] for label, _, _ in cases}
        for _ in range(repeat):  # interleaved: drift hits every case alike
            for label, variant, env in cases:
                r = measure(variant, env)
                if r is not None:
                    got[label].append(r[key])
        print(f"\n{title}, median of {repeat} ({unit}); 'off costs': vs all on")
        print(f"{'variant':>22} {unit:>9} {'x stock':>8} {'off costs':>10}  runs")
        ref = _median(got["stock"]) if got.get("stock") else None
        on = _median(got["zenspec (all on)"]) if got["zenspec (all on)"] else None
        for label, _, _ in cases:
            if not got[label]:
                continue
            ms = _median(got[label])
            ratio = f"{ref / ms:7.1f}x" if ref else "      -"
            cost = f"{ms - on:+9.2f}" if on is not None and label.startswith("  - ") else ""
            runs = " ".join(f"{x:.2f}" for x in got[label])
            print(f"{label:>22} {ms:9.2f} {ratio:>8} {cost:>10}  {runs}")
        sys.stdout.flush()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; trivial task, default outputs")
    sys.stdout.flush()
    table(f"ablation, N={n} sweep", lambda v, e: run_child(v, n, env=e), "ms_per_job", "ms/job")
    if single:
        table(
            f"ablation, single run (median of {reps} runs each)",
            lambda v, e: run_child(v, reps, single=True, env=e),
            "ms_per_run",
            "ms/run",
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small N only (about a minute)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mem", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--sizes", help="comma-separated sweep sizes (default: 10,100,1000,10000; --quick: 10,100)"
    )
    p.add_argument(
        "--big-all",
        action="store_true",
        help="run every fast variant at N=10,000 (default: zenspec only, the public path)",
    )
    p.add_argument("--no-single", action="store_true", help="skip the single-run timings")
    p.add_argument(
        "--ablation",
        action="store_true",
        help="what each speed piece buys: zenspec with each piece off in turn, at the first "
        "of --sizes (default 1000), and for a single run",
    )
    p.add_argument(
        "--repeat", type=int, default=2, help="--ablation: runs of each case (default 2)"
    )
    p.add_argument(
        "--pieces",
        help="--ablation: only these pieces off in turn (comma-separated; a+b: both at "
        "once), without stock or ZENSPEC_FAST=0",
    )
    args = p.parse_args()
    if args.child:
        args.variant = args.child
        child(args)
        return
    if args.ablation:
        n = int(args.sizes.split(",")[0]) if args.sizes else 1000
        pieces = args.pieces.split(",") if args.pieces else None
        ablation(n, args.repeat, not args.no_single, 20 if args.quick else 50, pieces)
        return

    variants = ["fast"]
    if available("zenspec.accelerate.job_runner"):
        variants.append("fastlaunch")
    if available("zenspec.launch.core"):
        variants.append("zenspec")
    sizes = [10, 100] if args.quick else [10, 100, 1000, 10_000]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    stock_max = 100 if args.quick else 1000  # 10,000 stock jobs would take ~15 min

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; trivial task, default outputs")
    print(
        f"{'N':>6} {'variant':>11} {'ms/job':>8} {'x stock':>8} {'peak RSS':>9} {'RSS growth':>12}"
    )
    stock_ms: Dict[int, float] = {}
    for n in sizes:
        rows = []
        if n <= stock_max:
            rows.append(("stock", run_child("stock", n)))
        big = n > 1000 and not args.big_all and "zenspec" in variants
        rows += [(v, run_child(v, n)) for v in variants if not big or v == "zenspec"]
        for variant, r in rows:
            if r is None:
                continue
            if variant == "stock":
                stock_ms[n] = r["ms_per_job"]
            ref = stock_ms.get(n) or stock_ms.get(max(stock_ms, default=0))
            ratio = f"{ref / r['ms_per_job']:7.1f}x" if ref else "      -"
            print(
                f"{n:>6} {variant:>11} {r['ms_per_job']:8.2f} {ratio:>8} "
                f"{r['peak_rss_mib']:7.0f}Mi {r['rss_growth_kib_per_job']:8.1f}KiB/j"
            )
        if n not in stock_ms and stock_ms:
            print(f"{'':>6} (x stock against the N={max(stock_ms)} stock sample)")

    mem_n = 50 if args.quick else 200
    print(f"\nPython heap per job after an N={mem_n} sweep (tracemalloc), KiB/job")
    print(f"{'variant':>11} {'results held':>13} {'results dropped':>16}")
    for variant in ["stock", *variants]:
        r = run_child(variant, mem_n, mem=True)
        if r is not None:
            print(f"{variant:>11} {r['retained_kib_per_job']:13.1f} {r['leak_kib_per_job']:16.1f}")

    if args.no_single:
        return
    reps = 20 if args.quick else 100
    print(f"\nsingle run, median of {reps} (ms/run)")
    single = {"stock": run_child("stock", reps, single=True)}
    if available("zenspec.launch.core"):
        single["zenspec_stock"] = run_child("zenspec_stock", reps, single=True)
        single["zenspec"] = run_child("zenspec", reps, single=True)
    base = single["stock"]["ms_per_run"] if single["stock"] else None
    for variant, r in single.items():
        if r is not None:
            ratio = f"{base / r['ms_per_run']:.1f}x" if base else "-"
            print(f"  {variant:>13} {r['ms_per_run']:8.2f} ms  {ratio}")


if __name__ == "__main__":
    main()
