"""Overrides from Python: lists pass through, mappings are escaped exactly."""

from __future__ import annotations

import contextlib
import math

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import given, settings
from hypothesis import strategies as st

from zenspec import OverrideError, multirun
from zenspec.launch.overrides import parse_overrides, to_override_list, value_to_override

PARSER = OverridesParser.create()


def parsed_value(text: str):
    (o,) = PARSER.parse_overrides([f"k={text}"])
    return o.value()


def test_list_is_copied_not_mutated():
    given_list = ["a=1", "b=2"]
    out = to_override_list(given_list)
    out.append("c=3")
    assert given_list == ["a=1", "b=2"]


def test_mapping_values_are_escaped():
    out = to_override_list(
        {"a": multirun([1, 2]), "+b": "x,y", "c": None, "d": [1, "two", None], "e": True}
    )
    assert out == ["a=1,2", "+b='x,y'", "c=null", "d=[1,two,null]", "e=true"]


def test_multirun_expression_passes_through():
    assert to_override_list({"x": multirun("range(-2,3)")}) == ["x=range(-2,3)"]


def test_delete_override_from_mapping():
    assert to_override_list({"~a": None}) == ["~a"]


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("a=1", "wrap it in a list"),
        ([1], "must be strings"),
        ({"a": object()}, "cannot be expressed"),
        ({"a": multirun([])}, "sweeps over nothing"),
    ],
)
def test_bad_overrides_are_clear_errors(bad, fragment):
    with pytest.raises(OverrideError, match=fragment):
        to_override_list(bad)


def test_bad_grammar_names_the_override():
    with pytest.raises(OverrideError) as info:
        parse_overrides(["a=[1,2"])
    assert "'a=[1,2'" in str(info.value) and "override_grammar" in str(info.value)


@pytest.mark.parametrize(
    "value",
    [
        "sgd",
        "a,b",
        "it's",
        "back\\slash\\",
        "1",
        "true",
        "null",
        "range(1,2)",
        "",
        " x ",
        "${a}",
        "a b",
        "1e5",
        "-3",
        "a=b",
        "[1]",
        "{a:1}",
        "é",
        "x'y\\'z",
    ],
)
def test_strings_round_trip(value):
    assert parsed_value(value_to_override(value)) == value


leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, width=64)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=10)
)
values = st.recursive(
    leaf,
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True), c, max_size=3)
    ),
    max_leaves=8,
)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isinf(a) and math.isinf(b) and (a > 0) == (b > 0))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(values)
def test_any_value_round_trips_through_hydra_grammar(value):
    """value_to_override(v) parses back (with Hydra's own parser) to exactly v."""
    # Hydra's grammar strips surrounding whitespace of unquoted words and reads
    # floats like 1e300 as floats: the escaping must survive all of it.
    assert _same(parsed_value(value_to_override(value)), value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_override_text_parses_or_is_an_override_error(text):
    """Fuzz: Hydra's grammar either accepts a string or zenspec says why, nothing else."""
    try:
        parse_overrides([text])
    except OverrideError as e:
        assert repr(text) in str(e)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=3))
def test_any_mapping_converts_or_is_an_override_error(mapping):
    try:
        out = to_override_list(mapping)
    except OverrideError:
        return
    # keys are the caller's to get right; a bad one is an OverrideError naming it
    with contextlib.suppress(OverrideError):
        parse_overrides(out)


def test_parsed_overrides_are_kept_but_handed_out_as_copies():
    from zenspec.launch.overrides import parse_overrides

    first = parse_overrides(["a=1", "b=choice(1,2)"])
    first[0].input_line = "changed by the caller"
    again = parse_overrides(["a=1", "b=choice(1,2)"])
    assert [o.input_line for o in again] == ["a=1", "b=choice(1,2)"]
    assert again[1].is_sweep_override() and again[0] is not first[0]


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet="abcXYZ019_-/+.$%*@?|()[]{}:=, \\'\"#é", min_size=1, max_size=8),
        st.integers(),
        min_size=1,
        max_size=3,
    )
)
def test_dict_keys_round_trip_through_hydras_parser_or_are_refused(table):
    # keys such as a logging config's factory key "()" are written escaped
    try:
        text = value_to_override(table)
    except OverrideError:
        assert any(not set(k) <= set(_KEY_CHARS) or _looks_typed(k) for k in table)
        return
    (parsed,) = OverridesParser.create().parse_overrides([f"x={text}"])
    assert parsed.value() == table


_KEY_CHARS = "abcXYZ019_-/+.$%*@?|()[]{}:=, \\"


def _looks_typed(key: str) -> bool:
    import re

    return bool(re.match(r"^[-+]?[\d.]", key)) or key.lower() in {"null", "true", "false", "nan", "inf", "-inf", "+inf"}  # fmt: skip


def test_a_factory_key_is_written_escaped():
    assert value_to_override({"()": "mod.Factory"}) == r"{\(\):mod.Factory}"
