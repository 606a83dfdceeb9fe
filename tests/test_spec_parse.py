"""Parsing specs: data plus a source map, syntax errors with their line, nothing executed."""

from __future__ import annotations

import doctest

import pytest

from zenspec.errors import SpecError
from zenspec.spec import parse as parse_mod
from zenspec.spec import tomlmap
from zenspec.spec.parse import format_path, parse_file, parse_text

TOML = """\
#:schema x
[experiment]
target = "a.b:c"  # comment with = and [brackets]

[config]
xy = [-1.5,
      0.5]
fn = { _ref_ = "m:f" }
s = \"\"\"multi
[not.a.table]
line\"\"\"
after = 2
"quoted key" = 1
a.b = 3

[groups.optim.sgd]
lr = 0.3

[[runs]]
n = 1
[[runs]]
n = 2
"""


def test_toml_source_map():
    parsed = parse_text(TOML, "toml", file="s.toml")
    at = parsed.source.positions
    assert at[("experiment", "target")] == (3, 1)
    assert at[("config", "xy", 1)] == (7, 7)
    assert at[("config", "fn", "_ref_")] == (8, 8)
    assert at[("config", "after")] == (12, 1)
    assert ("not",) not in at  # inside a string
    assert at[("config", "quoted key")] == (13, 1)
    assert at[("config", "a", "b")] == (14, 3)
    assert at[("groups", "optim", "sgd", "lr")] == (17, 1)
    assert at[("runs", 1, "n")] == (22, 1)
    assert parsed.data["config"]["s"].startswith("multi")
    # a path never written is located at its nearest written ancestor
    assert parsed.source.locate(("groups", "optim", "sgd", "momentum")) == (16, 15)


def test_yaml_source_map():
    text = "experiment:\n  target: a.b\nconfig:\n  xy: [1, 2]\n  nested:\n    - k: 1\n"
    parsed = parse_text(text, "yaml")
    at = parsed.source.positions
    assert at[("experiment", "target")] == (2, 3)
    assert at[("config", "xy", 1)] == (4, 11)
    assert at[("config", "nested", 0, "k")] == (6, 7)


def test_format_path():
    assert format_path(("groups", "optim", "sgd", "lr")) == "$.groups.optim.sgd.lr"
    assert format_path(("sweep", "a", 0)) == "$.sweep.a[0]"
    assert format_path(("sweep", "+x")) == '$.sweep["+x"]'
    assert format_path(()) == "$"


def test_toml_syntax_error_has_line_and_column():
    with pytest.raises(SpecError) as e:
        parse_text("[experiment]\ntarget = a.b\n", "toml", file="s.toml")
    assert e.value.line == 2 and e.value.column == 10
    assert e.value.format_message().startswith(
        "s.toml::$.experiment.target (line 2, column 10): TOML syntax error: "
    )


def test_yaml_tags_are_refused_not_constructed(tmp_path):
    marker = tmp_path / "ran"
    text = f"experiment:\n  target: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(SpecError) as e:
        parse_text(text, "yaml", file="s.yaml")
    assert "'!!python/object/apply:os.system' is refused" in str(e.value)
    assert e.value.path == "$.experiment.target"
    assert e.value.line == 2
    assert not marker.exists()
    with pytest.raises(SpecError, match="is refused"):
        parse_text("a: !!python/name:os.system\n", "yaml")


def test_bom_is_accepted_and_empty_is_refused(tmp_path):
    f = tmp_path / "s.toml"
    f.write_bytes('\ufeff[experiment]\ntarget = "a.b"\n'.encode())
    assert parse_file(f).data == {"experiment": {"target": "a.b"}}
    f.write_text("   \n# only a comment\n")
    with pytest.raises(SpecError, match="the spec is empty"):
        parse_file(f)


@pytest.mark.parametrize("module", [parse_mod, tomlmap])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
