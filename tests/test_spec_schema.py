"""The one schema: valid Draft-07, editor-friendly, shipped with the package, documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from zenspec.spec import load_schema
from zenspec.spec.parse import parse_file, parse_text
from zenspec.spec.reference import render_markdown
from zenspec.spec.schema import describe, schema_problems

REPO = Path(__file__).resolve().parents[1]
TOP = REPO / "schemas" / "zenspec.schema.json"


def test_schema_passes_the_draft7_metaschema():
    Draft7Validator.check_schema(load_schema())
    assert load_schema()["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_packaged_schema_is_the_top_level_file():
    assert load_schema() == json.loads(TOP.read_text())
    link = REPO / "zenspec" / "schemas"
    assert link.is_symlink() and link.resolve() == TOP.parent.resolve()


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


def test_every_property_has_a_description():
    missing = [
        f"{path}/{name}"
        for path, node in _walk(load_schema())
        if path.endswith("/properties") or path == "/properties"
        for name, sub in node.items()
        if isinstance(sub, dict) and not sub.get("description")
    ]
    # `properties` of the helper `if` conditions only test values; they describe nothing
    missing = [m for m in missing if "/if/" not in m]
    assert not missing


def test_patterns_avoid_lookaround_that_taplo_cannot_compile():
    # Taplo compiles patterns with Rust's regex crate: no lookahead/lookbehind/backrefs
    for _, node in _walk(load_schema()):
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            assert not re.search(r"\(\?[=!<]|\\\d", pattern), pattern


def test_the_reference_is_generated_from_the_schema():
    checked_in = (REPO / "docs" / "spec-reference.md").read_text()
    assert checked_in == render_markdown(), (
        "docs/spec-reference.md is out of date: run `zenspec schema --markdown > "
        "docs/spec-reference.md`"
    )
    for key in ("experiment.target", "sweeper.kind", "launcher.n_jobs", "hydra.sweep.dir"):
        assert f"`{key}`" in checked_in


@pytest.mark.parametrize("spec", sorted((REPO / "specs").iterdir()), ids=lambda p: p.name)
def test_shipped_specs_declare_the_schema_for_editors(spec):
    first = spec.read_text().splitlines()[0]
    if spec.suffix == ".toml":
        assert first == "#:schema ../schemas/zenspec.schema.json"
    else:
        assert first == "# yaml-language-server: $schema=../schemas/zenspec.schema.json"
    assert schema_problems(parse_file(spec)) == []


@pytest.mark.parametrize("stem", ["dict_builds", "graddesc", "hello"])
def test_toml_and_yaml_versions_say_the_same(stem):
    toml = parse_file(REPO / "specs" / f"{stem}.toml").data
    yaml = parse_file(REPO / "specs" / f"{stem}.yaml").data

    def canon(d):  # `torch.optim:SGD` and `torch.optim.SGD` name the same object
        return json.loads(json.dumps(d).replace("torch.optim:", "torch.optim."))

    assert canon(toml) == canon(yaml)


def problems(text, fmt="toml"):
    return [p.format() for p in schema_problems(parse_text(text, fmt, file="s." + fmt))]


def test_alternatives_report_the_branch_meant_not_a_wall():
    # a list was meant: the complaint is about the list's item, not "not valid under anyOf"
    (msg,) = problems('[experiment]\ntarget = "a.b"\n[sweep]\na = [{ _ref_ = 3 }]\n')
    assert msg == (
        "s.toml::$.sweep.a[0]._ref_ (line 4, column 8): expected an import path such as "
        '"pkg.mod:attr" or "pkg.mod.attr", found integer 3.'
    )


def test_messages_name_path_line_expected_and_found():
    text = '[experiment]\ntarget = "a.b"\n[launcher]\nkind = "joblib"\nn_jobs = "fast"\n'
    assert problems(text) == [
        's.toml::$.launcher.n_jobs (line 5, column 1): expected an integer, found string "fast".'
    ]


def test_describe():
    assert describe("fast") == 'string "fast"'
    assert describe(True) == "boolean true"
    assert describe(None) == "null"
    assert describe([]) == "an empty list"
    assert describe("x" * 100).endswith('..."') and len(describe("x" * 100)) < 70
