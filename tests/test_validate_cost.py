"""``zenspec validate`` on hostile inputs ends quickly (issue 16, item 5).

Each case runs the CLI in a child process with a timeout, so a regression
that blocks (a FIFO) or reads forever (/dev/zero) fails instead of hanging.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zenspec.errors import SpecError
from zenspec.spec.parse import MAX_YAML_VALUES, parse_file
from zenspec.spec.semantic import _interpolation_error

REPO = Path(__file__).resolve().parent.parent


def _validate(path: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zenspec", "validate", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    p = _validate(fifo, timeout=60)
    assert p.returncode == 2
    assert "FIFO" in p.stdout + p.stderr and "spec.yaml" in p.stdout + p.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_symlink_to_dev_zero_is_refused(tmp_path):
    link = tmp_path / "spec.toml"
    link.symlink_to("/dev/zero")
    p = _validate(link, timeout=60)
    assert p.returncode == 2
    assert "character device" in p.stdout + p.stderr


def test_non_regular_file_error_names_the_file(tmp_path):
    fifo = tmp_path / "s.toml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a regular file") as info:
        parse_file(fifo)
    assert info.value.file == str(fifo)


def test_alias_bomb_of_interpolations_ends_quickly(tmp_path):
    # 4.5 KB; on main each of the ~91k copies re-parsed 1,000 interpolations
    s = "${x}" * 1000
    lines = ["experiment:", "  task: examples.my_app:task_function", "config:", "  x: 1"]
    lines += [f'  s: &s "{s}"', "  l1: &l1 [" + ", ".join(["*s"] * 45) + "]"]
    lines += ["  l2: &l2 [" + ", ".join(["*l1"] * 45) + "]"]
    lines += ["  l3: [" + ", ".join(["*l2"] * 45) + "]"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    p = _validate(path, timeout=120)
    assert p.returncode in (0, 2)


def test_values_are_counted_while_composing(tmp_path):
    # a legal flow list far past the limit is refused at the value past it
    path = tmp_path / "big.yaml"
    path.write_text("x: [" + "1, " * (3 * MAX_YAML_VALUES) + "1]\n")
    with pytest.raises(SpecError, match="expands to more than") as info:
        parse_file(path)
    assert info.value.line == 1 and info.value.column < 4 * MAX_YAML_VALUES


@pytest.mark.parametrize(
    "text, ok",
    [
        ("${a}", True),
        ("x${a.b}y${c-d._e}", True),
        ("${a", False),
        ("${}", False),
        ("$${a}", True),
        ("${oc.env:HOME}", True),
        ("${a:", False),
        ("\\${a}", True),
    ],
)
def test_interpolation_check_agrees_with_the_grammar(text, ok):
    assert (_interpolation_error(text, {}) is None) is ok


def test_toml_values_are_bounded(tmp_path):
    path = tmp_path / "big.toml"
    body = "".join(f"k{i} = {i}\n" for i in range(MAX_YAML_VALUES + 1))
    path.write_text('[experiment]\ntask = "m:f"\n[config]\n' + body)
    with pytest.raises(SpecError, match=f"more than {MAX_YAML_VALUES:,} values"):
        parse_file(path)
