"""``zenspec init``: a starter spec for a real callable, that validates and runs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from helpers.cli import run_cli as run

REPO = Path(__file__).resolve().parents[1]


def fill_in(spec: Path, values: dict) -> None:
    """What the user does next: replace each '???' in the spec by a value."""
    text = spec.read_text()
    for key, value in values.items():
        for sep in (" = ", ": "):
            text = text.replace(f'{key}{sep}"???"', f"{key}{sep}{value}")
    assert '"???"' not in text
    spec.write_text(text)


@pytest.mark.parametrize(
    "target, fmt, required, fill, expected",
    [
        # a stdlib function with required parameters and **kwargs
        (
            "textwrap:shorten",
            "toml",
            {"text": '"hello big world"', "width": "12"},
            [],
            "'hello [...]'",
        ),
        # a class: every default comes from its signature
        ("textwrap:TextWrapper", "yaml", {}, ["width=33"], "TextWrapper object"),
        # one of the examples
        ("examples.random_search:square", "toml", {"x": "2", "y": "-1"}, [], "return value: 16"),
    ],
)
def test_starter_spec_validates_and_runs(
    tmp_path, capsys, monkeypatch, target, fmt, required, fill, expected
):
    monkeypatch.syspath_prepend(str(REPO))
    spec = tmp_path / f"starter.{fmt}"
    code, out, _ = run(capsys, "init", target, "-o", spec)
    assert code == 0 and f"wrote {spec}" in out
    if required:  # not ready to run: init says what to fill in, and does not say "run it"
        assert f"fill in the required values ('???') of: {', '.join(required)}" in out
        assert "run it with" not in out and out.rstrip().endswith(f"then run: zenspec run {spec}")
        code, out, _ = run(capsys, "validate", spec, "--imports")
        assert code == 2
        for key in required:
            assert f"$.config.{key} " in out
        fill_in(spec, required)
    else:
        assert f"run it with: zenspec run {spec}" in out
    text = spec.read_text()
    assert text.startswith("#:schema " if fmt == "toml" else "# yaml-language-server: $schema=")
    assert "search_path" not in text  # importable wherever the spec is run from
    data = tomllib.loads(text) if fmt == "toml" else yaml.safe_load(text)
    assert data["experiment"]["target"] == target
    code, out, _ = run(capsys, "validate", spec, "--imports")
    assert code == 0, out
    code, out, err = run(capsys, "run", spec, *fill)
    assert code == 0, err
    assert expected in out


def test_required_parameters_are_marked_and_refused_until_set(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    code, out, _ = run(capsys, "init", "textwrap:shorten", "-o", spec)
    assert code == 0 and "fill in the required values ('???') of: text, width" in out
    data = tomllib.loads(spec.read_text())
    assert data["config"] == {"text": "???", "width": "???"}
    assert "# **kwargs: add keys by hand" in spec.read_text()
    code, _, err = run(capsys, "run", spec)
    assert code == 2 and "$.config.text" in err and "$.config.width" in err
    assert not (tmp_path / "outputs").exists()
    # ... or on the command line, as init says
    code, out, err = run(capsys, "run", spec, "text=hello big world", "width=12")
    assert code == 0, err
    assert "'hello [...]'" in out


def test_printed_spec_names_the_required_values_on_stderr(capsys):
    code, out, err = run(capsys, "init", "textwrap:shorten")
    assert code == 0 and out.startswith("#:schema ")
    assert err == "fill in the required values ('???') of: text, width\n"


# -- search_path: a spec written away from the target's package ---------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project dir with a package importable only from it; imports undone after."""
    root = tmp_path / "proj"
    pkg = root / "initpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(
        textwrap.dedent(
            '''
            from dataclasses import dataclass

            import hydra
            from omegaconf import DictConfig


            def fit(epochs: int, lr: float = 0.1):
                """Fit a model."""
                return {"loss": lr * epochs}


            def task(cfg):
                print("task got", sorted(cfg))
                return 1


            def reads(cfg: DictConfig):
                loss = cfg.lr * cfg.epochs + cfg.get("seed", 7) - cfg.optim["momentum"]
                print("loss", loss, cfg.optim.name)
                return {"loss": loss}


            @hydra.main(version_base=None)
            def app(cfg):
                print("app got", cfg.batch)
                return cfg.batch


            @dataclass
            class Conf:
                lr: float
                epochs: int = 3


            def typed(cfg: Conf):
                return cfg.lr * cfg.epochs
            '''
        )
    )
    monkeypatch.chdir(root)
    yield root
    for name in [m for m in sys.modules if m == "initpkg" or m.startswith("initpkg.")]:
        del sys.modules[name]


def elsewhere(tmp_path, monkeypatch) -> Path:
    """Leave the project: from here only the spec's search_path finds its package."""
    for name in [m for m in sys.modules if m == "initpkg" or m.startswith("initpkg.")]:
        del sys.modules[name]
    other = tmp_path / "elsewhere"
    other.mkdir(exist_ok=True)
    monkeypatch.chdir(other)
    return other


@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_spec_in_a_subdirectory_gets_search_path(project, tmp_path, capsys, monkeypatch, fmt):
    spec = Path("specs") / f"fit.{fmt}"
    code, out, _ = run(capsys, "init", "initpkg.train:fit", "-o", spec)
    assert code == 0 and "of: epochs" in out
    text = spec.read_text()
    data = tomllib.loads(text) if fmt == "toml" else yaml.safe_load(text)
    assert data["experiment"]["search_path"] == [".."]  # relative to the spec file
    fill_in(spec, {"epochs": "4"})
    spec = spec.resolve()
    elsewhere(tmp_path, monkeypatch)
    code, out, _ = run(capsys, "validate", spec, "--imports")
    assert code == 0, out
    code, out, err = run(capsys, "run", spec, "lr=0.5")
    assert code == 0, err
    assert "return value: {'loss': 2.0}" in out


def test_spec_next_to_the_package_runs_from_anywhere(project, tmp_path, capsys, monkeypatch):
    code, _, _ = run(capsys, "init", "initpkg.train:fit", "-o", "fit.toml")
    assert code == 0
    assert tomllib.loads(Path("fit.toml").read_text())["experiment"]["search_path"] == ["."]
    spec = (project / "fit.toml").resolve()
    elsewhere(tmp_path, monkeypatch)
    code, out, err = run(capsys, "run", spec, "epochs=2")
    assert code == 0, err
    assert "return value: {'loss': 0.2}" in out


def test_console_script_init_then_run_from_the_specs_directory(project):
    import subprocess

    zenspec = Path(sys.executable).parent / "zenspec"
    proc = subprocess.run(
        [str(zenspec), "init", "initpkg.train:task", "-o", "specs/t.toml"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'search_path = [".."]' in (project / "specs" / "t.toml").read_text()
    for argv in (["validate", "--imports", "t.toml"], ["run", "t.toml"]):
        proc = subprocess.run(
            [str(zenspec), *argv], cwd=project / "specs", capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "task got []" in proc.stdout


# -- Hydra-style task(cfg) functions --------------------------------------------------------


@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_a_hydra_style_task_gets_task_and_runs(project, tmp_path, capsys, monkeypatch, fmt):
    spec = Path("specs") / f"task.{fmt}"
    code, out, _ = run(capsys, "init", "initpkg.train:task", "-o", spec)
    assert code == 0 and "run it with" in out
    text = spec.read_text()
    data = tomllib.loads(text) if fmt == "toml" else yaml.safe_load(text)
    assert data["experiment"] == {
        "name": "task",
        "task": "initpkg.train:task",
        "search_path": [".."],
    }
    assert data["config"] == {}
    spec = spec.resolve()
    elsewhere(tmp_path, monkeypatch)
    code, out, _ = run(capsys, "validate", spec, "--imports")
    assert code == 0, out
    code, out, err = run(capsys, "run", spec, "+a=1")
    assert code == 0, err
    assert "task got ['a']" in out


def test_a_task_gets_the_keys_its_source_reads(project, capsys):
    spec = Path("reads.toml")
    code, out, _ = run(capsys, "init", "initpkg.train:reads", "-o", spec)
    assert code == 0
    assert "of: epochs, lr, optim.momentum, optim.name --" in out and "run it with" not in out
    data = tomllib.loads(spec.read_text())
    assert data["experiment"]["task"] == "initpkg.train:reads"
    assert data["config"] == {
        "epochs": "???",
        "lr": "???",
        "optim": {"momentum": "???", "name": "???"},
        "seed": 7,  # cfg.get("seed", 7)
    }
    code, out, _ = run(capsys, "validate", spec, "--imports")
    assert code == 2
    for key in ("epochs", "lr", "optim.momentum", "optim.name"):
        assert f"$.config.{key} " in out
    code, out, err = run(capsys, "run", spec, "lr=0.5", "epochs=4", "optim.momentum=1", "optim.name=sgd")  # fmt: skip
    assert code == 0, err
    assert "loss 8.0 sgd" in out and "return value: {'loss': 8.0}" in out


def test_a_hydra_main_app_is_a_task(project, capsys):
    code, out, _ = run(capsys, "init", "initpkg.train:app", "-o", "app.yaml")
    assert code == 0 and "of: batch" in out
    data = yaml.safe_load(Path("app.yaml").read_text())
    assert data["experiment"]["task"] == "initpkg.train:app"
    fill_in(Path("app.yaml"), {"batch": "32"})
    assert run(capsys, "validate", "app.yaml", "--imports")[0] == 0
    code, out, err = run(capsys, "run", "app.yaml")
    assert code == 0, err
    assert "app got 32" in out


def test_a_task_annotated_with_a_dataclass_gets_config_class(project, capsys):
    code, out, _ = run(capsys, "init", "initpkg.train:typed", "-o", "typed.toml")
    assert code == 0 and "of: lr --" in out
    text = Path("typed.toml").read_text()
    data = tomllib.loads(text)
    assert data["experiment"]["config_class"] == "initpkg.train:Conf"
    assert data["config"] == {"lr": "???"} and "# epochs: Conf's defaults apply" in text
    code, out, _ = run(capsys, "validate", "typed.toml", "--imports")
    assert code == 2 and "$.config.lr " in out
    code, out, err = run(capsys, "run", "typed.toml", "lr=0.5")
    assert code == 0, err
    assert "return value: 1.5" in out


def test_defaults_the_spec_cannot_express_are_listed_not_hidden(capsys):
    code, out, _ = run(capsys, "init", "fractions:Fraction")
    assert code == 0
    assert "numerator = 0" in out and "_normalize = true" in out
    assert "# denominator = None: the default applies (TOML has no null)" in out
    code, out, _ = run(capsys, "init", "fractions:Fraction", "--format", "yaml")
    assert "denominator: null" in out


def test_schema_line_points_at_the_schema_from_where_the_spec_is(tmp_path, capsys):
    spec = tmp_path / "deep" / "s.toml"
    run(capsys, "init", "textwrap:shorten", "-o", spec)
    first = spec.read_text().splitlines()[0]
    target = (spec.parent / first.removeprefix("#:schema ")).resolve()
    assert target == (REPO / "schemas" / "zenspec.schema.json").resolve()


def test_init_errors(tmp_path, capsys):
    code, _, err = run(capsys, "init", "no_such_module_xyz:f")
    assert code == 2 and "no module 'no_such_module_xyz'" in err
    code, _, err = run(capsys, "init", "math:pi")
    assert code == 2 and "not a callable" in err
    spec = tmp_path / "s.toml"
    spec.write_text("keep me")
    code, _, err = run(capsys, "init", "textwrap:shorten", "-o", spec)
    assert code == 2 and "--force" in err and spec.read_text() == "keep me"
    assert run(capsys, "init", "textwrap:shorten", "-o", spec, "--force")[0] == 0


def _a_file(tmp_path: Path) -> Path:
    f = tmp_path / "notadir"
    f.write_text("x")
    return f


@pytest.mark.parametrize(
    "output, extra, expected",
    [
        (lambda t: t, [], "is a directory"),
        (lambda t: t / "s.json", [], "ends in '.json'; a spec file is .toml, .yaml or .yml"),
        (lambda t: t / "spec", [], "has no suffix"),
        (lambda t: t / "s.toml", ["--format", "yaml"], "--format yaml does not match"),
        (lambda t: _a_file(t) / "s.toml", [], "cannot write"),  # a file where a dir should be
        (lambda t: Path("/proc/zenspec-init-test.toml"), [], "cannot write"),  # not writable
    ],
    ids=["directory", "json", "no-suffix", "format-mismatch", "parent-is-a-file", "unwritable"],
)
def test_init_output_errors_are_one_clean_paragraph(tmp_path, capsys, output, extra, expected):
    dest = output(tmp_path)
    code, out, err = run(capsys, "init", "textwrap:shorten", "-o", dest, *extra)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and expected in err
    assert "Fix: " in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1  # one paragraph
    assert not dest.is_file() or dest.read_text() == "x"
