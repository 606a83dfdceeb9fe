"""Cost of ``zenspec validate`` on hostile specs: seconds and peak RSS per input.

``zenspec validate`` runs on untrusted pull requests in CI, so its cost must be
bounded by the input's size (target: any spec up to the size limit in under
2 s and 200 MB). Each case is generated into a temporary directory and
validated in a fresh child process (``python -m zenspec validate FILE``), one
after the other; the exit code (0 valid, 2 refused) is shown with the time and
the child's peak RSS (``/usr/bin/time -f %M`` when present, else
``resource.getrusage(RUSAGE_CHILDREN)``, which is a maximum over all children).

Usage::

    python bench/bench_validate.py             # every case
    python bench/bench_validate.py --timeout 60 --only alias
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from zenspec.spec.parse import MAX_SPEC_BYTES as LIMIT  # noqa: E402
from zenspec.spec.parse import MAX_YAML_VALUES as VALUES  # noqa: E402

HEAD = "experiment:\n  name: bench\n  task: examples.my_app:task_function\n"


def alias_interp(d: Path) -> Path:
    """4.5 KB: a string of 1,000 ``${x}`` repeated through aliases (~99k copies)."""
    s = "${x}" * 1000
    lines = [HEAD, "config:", "  x: 1", f'  s: &s "{s}"']
    lines.append("  l1: &l1 [" + ", ".join(["*s"] * 45) + "]")
    lines.append("  l2: &l2 [" + ", ".join(["*l1"] * 45) + "]")
    lines.append("  l3: [" + ", ".join(["*l2"] * 45) + "]")
    return _write(d / "alias_interp.yaml", "\n".join(lines) + "\n")


def alias_interp_big(d: Path) -> Path:
    """85 KB: the same with a 20,000-interpolation string."""
    s = "${x}" * 20000
    lines = [HEAD, "config:", "  x: 1", f'  s: &s "{s}"']
    lines.append("  l1: &l1 [" + ", ".join(["*s"] * 300) + "]")
    lines.append("  l2: [" + ", ".join(["*l1"] * 300) + "]")
    return _write(d / "alias_interp_big.yaml", "\n".join(lines) + "\n")


def distinct_interp(d: Path) -> Path:
    """Up to the size limit: distinct strings of interpolations (no memo helps), few values."""
    lines = [HEAD, "config:", "  x: 1", "  y: 2"]
    row = "${x}${y}" * 125  # 1 KB per value
    n, size = 0, sum(len(x) + 1 for x in lines)
    while size < LIMIT - 4096:
        line = f'  k{n}: "{n}{row}"'
        lines.append(line)
        size += len(line) + 1
        n += 1
    return _write(d / "distinct_interp.yaml", "\n".join(lines) + "\n")


def one_long_interp(d: Path) -> Path:
    """Up to the size limit: one string of ``${x}`` interpolations."""
    n = (LIMIT - 4096) // 4
    return _write(d / "one_long_interp.yaml", f'{HEAD}config:\n  x: 1\n  s: "{"${x}" * n}"\n')


def big_flow_list(d: Path) -> Path:
    """Up to the size limit: a legal flow list of small ints (far past the value limit)."""
    n = (LIMIT - 4096) // 2
    return _write(d / "big_flow_list.yaml", f"{HEAD}config:\n  x: [{'1,' * (n - 1)}1]\n")


def many_keys_yaml(d: Path) -> Path:
    """Keys in [config], just under the value limit."""
    body = "".join(f"  key_{i}: {i}\n" for i in range(VALUES - 20))
    return _write(d / "many_keys.yaml", f"{HEAD}config:\n{body}")


def alias_near_limit(d: Path) -> Path:
    """A string of ``${x}`` as long as the size limit allows, aliased just under the value limit."""
    n = VALUES - 40
    refs = ", ".join(["*s"] * n)
    s = "${x}" * ((LIMIT - len(refs) - 4096) // 4)
    return _write(
        d / "alias_near_limit.yaml", f'{HEAD}config:\n  x: 1\n  s: &s "{s}"\n  l: [{refs}]\n'
    )


def long_strings_near_limit(d: Path) -> Path:
    """Distinct strings with an interpolation each, values just under the value limit."""
    n = VALUES - 40
    width = max(1, (LIMIT - 4096) // n - 24)
    body = "".join(f'  k{i}: "{i}${{x}}{"a" * width}"\n' for i in range(n))
    return _write(d / "long_strings.yaml", f"{HEAD}config:\n  x: 1\n{body}")


def many_keys_toml(d: Path) -> Path:
    """Up to the size limit: TOML keys in [config] (past the value limit)."""
    head = '[experiment]\nname = "bench"\ntask = "examples.my_app:task_function"\n[config]\n'
    parts, size, i = [head], len(head), 0
    while size < LIMIT - 4096:
        line = f"key_{i} = {i}\n"
        parts.append(line)
        size += len(line)
        i += 1
    return _write(d / "many_keys.toml", "".join(parts))


def many_keys_toml_under_limit(d: Path) -> Path:
    """TOML keys in [config], just under the value limit."""
    head = '[experiment]\nname = "bench"\ntask = "examples.my_app:task_function"\n[config]\n'
    body = "".join(f"key_{i} = {i}\n" for i in range(VALUES - 20))
    return _write(d / "many_keys_ok.toml", head + body)


def deep_flow(d: Path) -> Path:
    """200,000 nested flow lists ``[[[...]]]`` (400 KB)."""
    n = 200_000
    return _write(d / "deep_flow.yaml", f"{HEAD}config:\n  x: {'[' * n}{']' * n}\n")


def deep_block(d: Path) -> Path:
    """5,000 nested flow mappings ``{k: {k: ...}}``."""
    n = 5000
    return _write(d / "deep_block.yaml", f"{HEAD}config:\n  x: {'{k: ' * n}1{'}' * n}\n")


def deep_toml(d: Path) -> Path:
    """100,000 nested inline TOML arrays."""
    n = 100_000
    head = '[experiment]\nname = "bench"\ntask = "examples.my_app:task_function"\n[config]\n'
    return _write(d / "deep.toml", f"{head}x = {'[' * n}{']' * n}\n")


def fifo(d: Path) -> Path:
    """A FIFO named spec.yaml that nobody writes to (blocks a plain read forever)."""
    p = d / "fifo.yaml"
    os.mkfifo(p)
    return p


def dev_zero(d: Path) -> Path:
    """spec.toml, a symlink to /dev/zero (an endless read)."""
    p = d / "zero.toml"
    p.symlink_to("/dev/zero")
    return p


def oversize(d: Path) -> Path:
    """A regular file 1 byte over the size limit."""
    return _write(d / "oversize.yaml", HEAD + "#" * (LIMIT - len(HEAD) + 1))


CASES: Dict[str, Callable[[Path], Path]] = {
    f.__name__: f
    for f in (
        alias_interp,
        alias_interp_big,
        distinct_interp,
        one_long_interp,
        big_flow_list,
        many_keys_yaml,
        alias_near_limit,
        long_strings_near_limit,
        many_keys_toml,
        many_keys_toml_under_limit,
        deep_flow,
        deep_block,
        deep_toml,
        fifo,
        dev_zero,
        oversize,
    )
}


def _write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def run(path: Path, timeout: float) -> Tuple[Optional[int], float, float, Optional[float], str]:
    """(exit code or None on timeout, wall seconds, CPU seconds, peak RSS MB, message)."""
    cmd = [sys.executable, "-m", "zenspec", "validate", str(path)]
    time_bin = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)  # fmt: skip
    rss_file = path.parent / ".rss"
    if time_bin:
        cmd = [time_bin, "-f", "%M", "-o", str(rss_file), *cmd]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, 0.0, None, f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    rss: Optional[float] = None
    if time_bin and rss_file.exists():
        try:
            rss = int(rss_file.read_text().split()[-1]) / 1024
        except (ValueError, IndexError):
            rss = None
    if rss is None:
        rss = usage.ru_maxrss / 1024 if usage.ru_maxrss > before else None
    out = (p.stderr.strip() or p.stdout.strip()).splitlines()
    msg = next((line for line in out if "error" in line.lower() or ": " in line), out[-1] if out else "")  # fmt: skip
    return p.returncode, seconds, cpu, rss, msg


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    ap.add_argument("--only", default="", help="comma-separated substrings of case names")
    args = ap.parse_args(argv)
    wanted = [w for w in args.only.split(",") if w]
    print(
        f"{'case':<18} {'size':>9} {'exit':>4} {'wall s':>7} {'cpu s':>6} {'peak MB':>8}  message"
    )
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in CASES.items():
            if wanted and not any(w in name for w in wanted):
                continue
            d = Path(tmp) / name
            d.mkdir()
            path = make(d)
            size = path.stat().st_size if path.is_file() and not path.is_symlink() else 0
            code, seconds, cpu, rss, msg = run(path, args.timeout)
            worst = max(worst, seconds)
            rss_s = f"{rss:.0f}" if rss is not None else "?"
            print(
                f"{name:<18} {size / 1024:>7.0f}KB {code if code is not None else '-':>4} "
                f"{seconds:>7.2f} {cpu:>6.2f} {rss_s:>8}  {msg[:70]}",
                flush=True,
            )
    print(f"worst: {worst:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
