"""Shell completion and the pre-commit hook, exercised the way a shell and pre-commit do."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from zenspec.cli import build_parser, main
from zenspec.cli.completion import bash_script

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "specs").glob("*.*"))


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("completion") / "zenspec.bash"
    path.write_text(bash_script(build_parser()))
    return path


def complete(script: Path, *words: str, cwd: Path = REPO) -> list:
    """What bash offers for the command line *words* (the last one being completed)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    zenspec_dir = Path(sys.executable).parent  # the script calls `zenspec completion keys`
    line = " ".join(shlex.quote(w) for w in words)
    program = (
        f"export PATH={shlex.quote(str(zenspec_dir))}:$PATH; source {shlex.quote(str(script))}; "
        f"COMP_WORDS=({line}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); "
        "_zenspec_complete; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    out = subprocess.run(
        ["bash", "-c", program], cwd=cwd, capture_output=True, text=True, check=True
    )
    return sorted(x for x in out.stdout.splitlines() if x)


def test_completes_subcommands_options_specs_and_config_keys(script):
    assert complete(script, "zenspec", "re") == ["results", "resume"]
    assert "--fail-fast" in complete(script, "zenspec", "run", "--f")
    assert complete(script, "zenspec", "run", "specs/hel") == [
        "specs/hello.toml",
        "specs/hello.yaml",
    ]
    keys = complete(script, "zenspec", "run", "specs/graddesc.toml", "")
    assert {"num_steps=", "optim=", "starting_xy="} <= set(keys)
    assert complete(script, "zenspec", "init", "x", "--format", "y") == ["yaml"]


def test_completion_command_prints_the_script(capsys):
    assert main(["completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert "complete -o filenames -F _zenspec_complete zenspec" in out
    assert main(["completion", "keys", str(REPO / "specs" / "dict_builds.toml")]) == 0
    assert capsys.readouterr().out.split() == ["a=", "b="]
    # a config that lives in a dataclass would need an import: completion skips it
    assert main(["completion", "keys", str(REPO / "specs" / "hello.toml")]) == 0
    assert capsys.readouterr().out == ""


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
