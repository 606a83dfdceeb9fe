"""The pre-commit hook, exercised the way pre-commit does (shell completion: test_completion.py)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "specs").glob("*.*"))


def test_precommit_hook_validates_the_shipped_specs_and_fails_on_a_bad_one(tmp_path):
    (hook, imports_hook) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "zenspec-validate" and imports_hook["id"] == "zenspec-validate-imports"
    files = re.compile(hook["files"])
    # pre-commit passes the staged files matching `files` after the entry
    staged = [str(p.relative_to(REPO)) for p in SHIPPED] + ["pyproject.toml", ".ci/run"]
    selected = [f for f in staged if files.search(f)]
    assert selected == [str(p.relative_to(REPO)) for p in SHIPPED]
    entry = shlex.split(hook["entry"])
    assert entry[0] == "zenspec"
    zenspec = Path(sys.executable).parent / "zenspec"
    ok = subprocess.run(
        [str(zenspec), *entry[1:], *selected], cwd=REPO, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{len(selected)} file(s) checked" in ok.stdout

    bad = tmp_path / "specs" / "bad.toml"
    bad.parent.mkdir()
    bad.write_text('[experiment]\ntarget = "m:f"\n[config]\n[sweep]\nx = 3\n')
    assert files.search("specs/bad.toml")
    fail = subprocess.run(
        [str(zenspec), *entry[1:], "specs/bad.toml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert fail.returncode == 2
    assert "specs/bad.toml::$.sweep.x" in fail.stdout
    assert "Traceback" not in fail.stdout + fail.stderr
