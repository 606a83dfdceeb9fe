"""``zenspec validate DIR`` checks spec files only; imports that exit; ``plan`` shows descriptions.

Each test runs in its own temporary working directory (see conftest), which is
the "project" here: Hydra writes ``multirun/`` into it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers.cli import run_cli as run

from zenspec.spec import load_spec, validate
from zenspec.spec.api import collect_spec_files, is_spec_file

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"


PYPROJECT = """\
[project]
name = "myproj"
version = "0.1"

[tool.ruff]
line-length = 100
"""

PRE_COMMIT_HOOKS = """\
- id: my-hook
  name: my hook
  entry: my-hook
  language: python
"""


@pytest.fixture
def project(tmp_path, capsys):
    """A project: pyproject.toml, .pre-commit-hooks.yaml, a real multirun/ tree, two specs."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / ".pre-commit-hooks.yaml").write_text(PRE_COMMIT_HOOKS)
    (tmp_path / "ci.yaml").write_text("jobs:\n  test:\n    runs-on: ubuntu-latest\n")
    specs = tmp_path / "specs"
    specs.mkdir()
    # one with a schema line, one (YAML) recognised by its experiment mapping alone
    (specs / "dict_builds.toml").write_text((SPECS / "dict_builds.toml").read_text())
    (specs / "plain.yaml").write_text(
        "experiment:\n  name: plain\n  target: builtins:dict\nconfig:\n  a: 1\n"
    )
    code, out, _ = run(capsys, "run", specs / "dict_builds.toml")
    assert code == 0, out
    multirun = list((tmp_path / "multirun").rglob("multirun.yaml"))
    assert multirun, "the run should have written a multirun tree"
    # the tree holds yaml files that are no specs: .hydra/config.yaml, multirun.yaml
    assert list((tmp_path / "multirun").rglob("config.yaml"))
    return tmp_path


def test_a_directory_reports_only_its_specs(project, capsys):
    code, out, _ = run(capsys, "validate", project, "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    files = sorted(Path(f["file"]).relative_to(project).as_posix() for f in doc["files"])
    assert files == ["specs/dict_builds.toml", "specs/plain.yaml"]
    assert doc["ok"]

    code, out, _ = run(capsys, "validate", ".")  # the cwd is the project
    assert code == 0, out
    assert "2 file(s) checked" in out and "all valid" in out
    assert "pyproject" not in out and "multirun" not in out


def test_files_named_explicitly_are_always_validated(project, capsys):
    code, out, _ = run(capsys, "validate", project / "pyproject.toml")
    assert code == 2
    assert "pyproject.toml: " in out and "problem(s)" in out
    (multirun,) = list((project / "multirun").rglob("multirun.yaml"))
    assert validate(multirun)  # named, so checked: not a spec, so problems


def test_output_trees_hidden_and_tool_directories_are_skipped(tmp_path):
    spec = "[experiment]\ntarget = 'builtins:dict'\n"
    for d in (".venv/lib", "node_modules/x", ".hidden", "out/run1", "recs/sweep", "mr/s"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "s.toml").write_text(spec)
    (tmp_path / "out" / "run1" / ".hydra").mkdir()
    (tmp_path / "recs" / "sweep" / ".zenspec").mkdir()
    (tmp_path / "mr" / "s" / "multirun.yaml").write_text("hydra: {}\n")
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "s.toml").write_text(spec)
    assert collect_spec_files([tmp_path]) == [tmp_path / "kept" / "s.toml"]


def test_what_counts_as_a_spec(tmp_path):
    cases = {
        "directive.toml": "#:schema ../schemas/zenspec.schema.json\n[config]\na = 1\n",
        "directive.yaml": "# yaml-language-server: $schema=https://x/zenspec.schema.json\n"
        "config: {a: 1}\n",
        "table.toml": "[experiment]\nname = 'x'\n",
        "dotted.toml": "experiment.name = 'x'\n",
        # does not parse, but has an experiment table: its syntax error is reported
        "broken.toml": "[experiment]\nname = \n",
        "broken.yaml": "experiment:\n  name: [x\n",
        # not specs
        "other_schema.toml": "#:schema https://json.schemastore.org/pyproject.json\n[x]\n",
        "no_experiment.yaml": "name: x\nhydra: {}\n",
        "scalar_experiment.yaml": "experiment: yes\n",
        "directive_not_first.toml": "\n#:schema zenspec.schema.json\n[config]\n",
        "list.yaml": "- experiment\n",
        "empty.toml": "",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    found = {p.name for p in collect_spec_files([tmp_path])}
    assert found == {
        "directive.toml",
        "directive.yaml",
        "table.toml",
        "dotted.toml",
        "broken.toml",
        "broken.yaml",
    }
    assert not is_spec_file(tmp_path / "nope.toml")


def test_validate_of_a_directory_with_a_broken_spec_fails(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "bad.toml").write_text("[experiment]\ntagret = 'builtins:dict'\n")
    code, out, _ = run(capsys, "validate", tmp_path)
    assert code == 2
    assert "bad.toml: 2 problem(s)" in out and "pyproject" not in out
    assert "Did you mean 'target'?" in out


# -- a target module that exits while being imported -----------------------------------


@pytest.mark.parametrize(
    "body, shown",
    [
        ("import sys\nsys.exit(3)\n", "the module called sys.exit(3) while being imported"),
        ("import sys\nsys.exit()\n", "the module called sys.exit() while being imported"),
        ("raise SystemExit('usage: x')\n", "called sys.exit('usage: x') while being imported"),
        ("raise GeneratorExit('odd')\n", "raised GeneratorExit: odd"),
    ],
)
def test_a_module_exiting_on_import_is_an_import_error(tmp_path, capsys, body, shown):
    name = f"exits_on_import_{abs(hash(body))}"
    (tmp_path / f"{name}.py").write_text(body + "def f(a=1):\n    return a\n")
    spec = tmp_path / "s.toml"
    spec.write_text(f'[experiment]\ntarget = "{name}:f"\n')
    try:
        code, out, _ = run(capsys, "validate", "--imports", spec, "--format", "json")
        assert code == 2
        (problem,) = json.loads(out)["files"][0]["problems"]
        assert problem["path"] == "$.experiment.target"
        assert problem["file"] == str(spec)
        assert shown in problem["message"]

        code, out, err = run(capsys, "run", spec)
        assert code == 2
        assert shown in err and "$.experiment.target" in err
    finally:
        sys.modules.pop(name, None)


# -- plan shows experiment.description ---------------------------------------------------


def test_plan_shows_the_description(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[experiment]\ntarget = "builtins:dict"\n'
        'description = """Sweep a over two values,\n  to compare them."""\n'
        "[config]\na = 1\n[sweep]\na = [1, 2]\n"
    )
    code, out, _ = run(capsys, "plan", spec)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("spec:")
    assert lines[1] == "description: Sweep a over two values, to compare them."

    code, out, _ = run(capsys, "plan", spec, "--format", "json")
    assert code == 0
    assert json.loads(out)["description"] == "Sweep a over two values,\n  to compare them."

    plan = load_spec(spec).plan()
    assert plan.description.startswith("Sweep a")


def test_plan_without_a_description_has_no_description_line(capsys):
    code, out, _ = run(capsys, "plan", SPECS / "dict_builds.toml")
    assert code == 0
    assert "description:" not in out
