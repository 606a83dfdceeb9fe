"""``zenspec init``: a starter spec for a real callable, that validates and runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from zenspec.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "target, fmt, fill, expected",
    [
        # a stdlib function with required parameters and **kwargs
        ("textwrap:shorten", "toml", ["text=hello big world", "width=12"], "'hello [...]'"),
        # a class: every default comes from its signature
        ("textwrap:TextWrapper", "yaml", ["width=33"], "TextWrapper object"),
        # one of the examples
        ("examples.random_search:square", "toml", ["x=2", "y=-1"], "return value: 16"),
    ],
)
def test_starter_spec_validates_and_runs(
    tmp_path, capsys, monkeypatch, target, fmt, fill, expected
):
    monkeypatch.syspath_prepend(str(REPO))
    spec = tmp_path / f"starter.{fmt}"
    code, out, _ = run(capsys, "init", target, "-o", spec)
    assert code == 0 and f"wrote {spec}" in out
    text = spec.read_text()
    assert text.startswith("#:schema " if fmt == "toml" else "# yaml-language-server: $schema=")
    data = tomllib.loads(text) if fmt == "toml" else yaml.safe_load(text)
    assert data["experiment"]["target"] == target
    code, out, _ = run(capsys, "validate", spec, "--imports")
    assert code == 0, out
    code, out, err = run(capsys, "run", spec, *fill)
    assert code == 0, err
    assert expected in out


def test_required_parameters_are_marked_and_refused_until_set(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    assert run(capsys, "init", "textwrap:shorten", "-o", spec)[0] == 0
    data = tomllib.loads(spec.read_text())
    assert data["config"] == {"text": "???", "width": "???"}
    assert "# **kwargs: add keys by hand" in spec.read_text()
    code, _, err = run(capsys, "run", spec)
    assert code != 0 and "Missing mandatory value" in err


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
