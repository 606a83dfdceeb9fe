"""The corpus of invalid specs (tests/specs/invalid/): one file per mistake users make.

Each case says where the problem must be reported (key path, line) and what the
message must contain; ``zenspec validate`` must exit 2 on every one of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import examples.my_app  # noqa: F401  (it stores "config" in the ConfigStore on import, as the docs do)
from zenspec.cli import main
from zenspec.spec import validate

CORPUS = Path(__file__).parent / "specs" / "invalid"
CASES = json.loads((CORPUS / "cases.json").read_text())["cases"]


def test_the_corpus_is_complete():
    files = {p.name for p in CORPUS.iterdir() if p.name != "cases.json"}
    assert files == {c["file"] for c in CASES}, "every file has a case and every case a file"
    assert len({c["message"] for c in CASES}) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_invalid_spec_is_reported_where_it_is(case, tmp_path, capsys):
    # copied next to nothing: a spec must not depend on where the corpus lives
    spec = tmp_path / case["file"]
    shutil.copy(CORPUS / case["file"], spec)
    problems = validate(spec, imports=case["imports"])
    assert problems, f"{case['file']}: no problem found"
    matching = [p for p in problems if case["message"] in p.format()]
    assert matching, f"{case['file']}: {[p.format() for p in problems]}"
    p = matching[0]
    assert p.file == str(spec)
    if case["path"] is not None:
        assert p.path == case["path"], p.format()
    if case["line"] is not None:
        assert p.line == case["line"], p.format()

    argv = ["validate", str(spec)] + (["--imports"] if case["imports"] else [])
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert case["message"] in out
    assert "Traceback" not in out


@pytest.mark.parametrize("case", [c for c in CASES if c["imports"]], ids=lambda c: c["file"])
def test_import_mistakes_are_not_seen_without_imports(case, tmp_path):
    # validate without --imports imports nothing, so it cannot (and must not) see these
    spec = tmp_path / case["file"]
    shutil.copy(CORPUS / case["file"], spec)
    assert not [p for p in validate(spec) if case["message"] in p.format()]


def test_all_files_and_all_problems_are_reported(tmp_path, capsys):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    (tmp_path / "corpus" / "cases.json").unlink()
    # named one by one: an empty file or a top-level list is no spec a directory search picks
    corpus = sorted(str(p) for p in (tmp_path / "corpus").iterdir())
    assert main(["validate", *corpus, "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert not doc["ok"]
    reports = {Path(f["file"]).name: f for f in doc["files"]}
    assert set(reports) == {c["file"] for c in CASES}
    static = [c for c in CASES if not c["imports"]]
    assert all(not reports[c["file"]]["ok"] for c in static)
    # several mistakes in one file are all reported, in file order
    assert len(reports["target_and_task.toml"]["problems"]) == 1
    many = tmp_path / "many.toml"
    many.write_text(
        '[experiment]\ntagret = "x.y"\n\n[sweeper]\nkind = "grid"\n\n[hydra]\nrunn = 1\n'
    )
    lines = [p.line for p in validate(many)]
    assert lines == sorted(lines) and len(lines) >= 3


def test_python_tag_is_never_executed(tmp_path):
    shutil.copy(CORPUS / "yaml_python_tag.yaml", tmp_path / "s.yaml")
    assert main(["validate", "--imports", str(tmp_path / "s.yaml")]) == 2
    assert main(["run", str(tmp_path / "s.yaml")]) == 2
    assert not (tmp_path / "pwned.txt").exists()


def test_missing_file_directory_and_unknown_suffix(tmp_path, capsys):
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "spec.json").write_text("{}")
    assert main(["validate", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "no such file: " in capsys.readouterr().err
    assert main(["run", str(tmp_path / "dir.toml")]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "spec.json")]) == 2
    assert "name the spec *.toml, *.yaml or *.yml" in capsys.readouterr().out


def test_null_inside_choice_is_refused_by_validate_as_by_hydra(tmp_path, capsys):
    """Hydra's grammar refuses ``choice(null)`` (a plain ``null,1`` it takes): validate must
    say so, with the file and key path, before run would (found by Hypothesis)."""
    from helpers.cli import run_cli

    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[experiment]\ntask = "tests.helpers.noop_tasks:noop"\n'
        f'search_path = ["{Path(__file__).resolve().parents[1]}"]\n'
        '[config]\nb = 0\n[sweep]\nb = "choice(null)"\n'
    )
    code, out, err = run_cli(capsys, "validate", spec)
    assert code == 2
    assert f"{spec}::$.sweep.b (line 7, column 1): 'choice(null)' is not valid" in out + err


@pytest.mark.parametrize("imports", [False, True])
def test_a_broken_interpolation_in_a_sweep_list_is_refused_with_its_line(
    tmp_path, capsys, monkeypatch, imports
):
    """``[false, "${"]``: Hydra's parser takes ``'${'`` as a quoted string and OmegaConf
    refuses it only while composing, naming no spec key; validate names the key and line
    (found by Hypothesis in test_fuzz_spec)."""
    from helpers.cli import run_cli

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[experiment]\ntarget = "builtins:dict"\n[config]\n[sweep]\n"+extra" = [false, "${"]\n'
    )
    code, out, err = run_cli(capsys, "validate", spec, *(["--imports"] if imports else []))
    assert code == 2
    assert f"{spec}::$.sweep[\"+extra\"] (line 5, column 1): the sweep value '${{' is no " in out
    code, _, err = run_cli(capsys, "run", spec)
    assert code == 2 and "(line 5, column 1)" in err
    assert not (tmp_path / "multirun").exists()
