"""Start-up time of the commands that import no Hydra: wall time of a fresh process.

    python bench/bench_startup.py            # 15 runs each (about 1 minute)
    python bench/bench_startup.py --runs 41

Each command runs --runs times, one after another, after one warm-up run (the
OS file cache, and the facts `validate` keeps in ~/.cache/zenspec: Hydra's
target policy verdicts, OmegaConf's YAML resolvers, valid specs' digests); the
median wall time is printed next to its target, with the median CPU time (user
+ system) of the process: on a busy machine wall time grows with the load, CPU
time much less.

The children run as an installed zenspec does, with bytecode caches: the
warm-up run writes them under a temporary PYTHONPYCACHEPREFIX (nothing is
written into the checkout), and PYTHONDONTWRITEBYTECODE is dropped. Without
caches every run compiles zenspec's modules from source again.

`validate specs/ (no cache)` is the same command with ZENSPEC_NO_CACHE=1: a
first run, or one after Hydra/OmegaConf/jsonschema were upgraded (every spec is
validated; two of the example specs name builtins, which Hydra's target policy
is asked about; four are YAML).
`python -c pass` and `import hydra` are the floor and what is no longer paid.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]


def _zenspec() -> List[str]:
    script = Path(sys.executable).with_name("zenspec")
    if script.exists():
        return [str(script)]
    found = shutil.which("zenspec")
    return [found] if found else [sys.executable, "-m", "zenspec"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    argv: Sequence[str], runs: int, env: Optional[Dict[str, str]] = None
) -> Tuple[float, float]:
    """Median (wall, CPU) seconds of *argv* in a fresh process (one warm-up run first)."""
    environ = {**os.environ, **(env or {})}
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    walls, cpus = [], []
    for i in range(runs + 1):
        cpu, start = _cpu(), time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, env=environ, capture_output=True)
        elapsed, used = time.perf_counter() - start, _cpu() - cpu
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr.decode()}")
        if i:  # the first run warms the caches
            walls.append(elapsed)
            cpus.append(used)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["PYTHONPYCACHEPREFIX"] = cache  # the children's bytecode, not the checkout's
        table(args.runs)


def table(runs: int) -> None:
    z = _zenspec()
    py = sys.executable
    rows: List[Tuple[str, List[str], Optional[float], Optional[Dict[str, str]]]] = [
        ("python -c pass", [py, "-c", "pass"], None, None),
        ('python -c "import hydra"', [py, "-c", "import hydra"], None, None),
        ("zenspec validate specs/", [*z, "validate", "specs/"], 0.250, None),
        (
            "zenspec validate specs/ (no cache)",
            [*z, "validate", "specs/"],
            None,
            {"ZENSPEC_NO_CACHE": "1"},
        ),
        ("zenspec validate specs/graddesc.toml", [*z, "validate", "specs/graddesc.toml"], 0.250, None),
        ("zenspec schema", [*z, "schema"], None, None),
        ("zenspec plan --no-imports (12 jobs)", [*z, "plan", "--no-imports", "specs/launchers_joblib.toml"], None, None),
        ("completion of config keys (one TAB)", [*z, "completion", "keys", "specs/graddesc.toml"], 0.150, None),
    ]  # fmt: skip
    print(f"{runs} runs each, medians; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    print(f"| {'command':<40} | {'wall ms':>7} | {'CPU ms':>6} | {'target':>7} | {'':<4} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 8}|{'-' * 9}|{'-' * 6}|")
    for name, argv, target, env in rows:
        wall, cpu = measure(argv, runs, env)
        goal = f"<= {target * 1000:.0f}" if target else ""
        verdict = ("ok" if wall <= target else "over") if target else ""
        print(
            f"| {name:<40} | {wall * 1000:7.0f} | {cpu * 1000:6.0f} | {goal:>7} | {verdict:<4} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
