"""simple_overrides parses what it takes exactly as Hydra's ANTLR grammar does.

Every line :func:`parse_line` accepts must give the Override Hydra's own
parser gives, to the types of the values (``1``, ``1.0`` and ``True`` are
equal in Python, not in a config); every line it declines goes to Hydra.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import OverrideParseException
from hypothesis import given, settings
from hypothesis import strategies as st

from zenspec.accelerate import simple_overrides
from zenspec.accelerate.simple_overrides import parse_line, parse_lines
from zenspec.launch.overrides import parse_overrides


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (nan equals nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def stock(line: str, config_loader=None) -> Override:
    return OverridesParser.create(config_loader=config_loader).parse_overrides([line])[0]


COMMON = [
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
    "hydra.sweep.dir=/tmp/out/multirun/2024-01-01_12-30",
    "hydra.mode=MULTIRUN",
    "job=range(0,8)",
    "seed=range(3)",
    "x=range(-4,10,2)",
    "optim=sgd,adam",
    "lr=0.1,0.01,1e-3",
    "x=0",
    "x=-7",
    "x=1_000",
    "lr=3e-4",
    "lr=.5",
    "lr=5.",
    "flag=true",
    "flag=False",
    "maybe=null",
    "x=inf",
    "x=-nan",
    "name=resnet-18",
    "path=data/train.csv",
    "url=http://host:80/a?b=c",
    "time=12:30",
    "+extra=1",
    "++forced=a",
    "empty=",
    "model.layers.0.size=64",
    "a-b.c_d=e",
    "v=007",
    "v=1.2.3",
    "v=-",
    "v=Infinity",
    "v=1__0",
    # a spec's default output dirs (zenspec.spec.compile.default_dirs)
    "hydra.sweep.dir=multirun/quad/${now:%Y-%m-%d}/${now:%H-%M-%S}",
    "hydra.run.dir=outputs/a.b-c/${now:%Y-%m-%d}/${now:%H-%M-%S}",
    "x=${now:%H}",
]


@pytest.mark.parametrize("line", COMMON)
def test_common_lines_are_parsed_here_as_hydra_parses_them(line):
    got = parse_line(line)
    if "?b=c" in line:  # '=' in a value is not one of the simple forms
        assert got is None
        return
    assert got is not None, "a common line went to ANTLR"
    assert same(got, stock(line))


def test_the_config_loader_is_set_as_hydras_parser_sets_it():
    loader = object()
    assert parse_line("a=1", loader).config_loader is loader


@pytest.mark.parametrize(
    "line",
    [
        "~x",
        "~x=1",
        "x@pkg=1",
        "x='quoted'",
        "x=${a.b}",
        "x=${now:%H:%M}",
        "x=${now:}}",
        "x=${now:%H}${",
        "x=[1,2]",
        "x={a:1}",
        "x=a b",
        "x=choice(a,b)",
        "x=range(0.5,2)",
        "x=interval(0,1)",
        "x=a,,b",
        "x=a\\,b",
        "$x=1",
        "a/b.c=1",
        "0=1",
        "x",
    ],
)
def test_other_forms_go_to_hydras_parser(line):
    assert parse_line(line) is None


def test_parse_lines_keeps_hydras_errors():
    with pytest.raises(OverrideParseException):
        parse_lines(["a=1", "b=[1,"])


def test_zenspecs_parse_cache_uses_the_fast_path(monkeypatch):
    def no_antlr(*args, **kwargs):
        raise AssertionError("ANTLR used for a simple line")

    monkeypatch.setattr(OverridesParser, "parse_overrides", no_antlr)
    parsed = parse_overrides(["fast_cache_probe=range(0,3)", "fast_cache_probe2=a,b"])
    assert parsed[0].value_type is ValueType.RANGE_SWEEP
    assert parsed[1].value_type is ValueType.SIMPLE_CHOICE_SWEEP


PIECES = st.sampled_from(
    [
        *"aZ_-/.+:%*@?|09,= '\"\\${}[]()~eE",
        *("0", "1", "12", "1_0", "1__0", "007", "inf", "nan", "NaN", "true", "FALSE", "null"),
        *("range(", ")", ".5", "5.", "e-3", "x", "ab", "hydra", "a.b", "a/b"),
    ]
)
values = st.lists(PIECES, max_size=8).map("".join)
keys = st.lists(
    st.sampled_from(["a", "b_c", "d-e", "0", "01", "1_0", "x9", "_", "$k", "@p", ""]),
    min_size=1,
    max_size=3,
).flatmap(lambda parts: st.sampled_from([".", "/"]).map(lambda sep: sep.join(parts)))
lines = st.tuples(st.sampled_from(["", "+", "++", "~"]), keys, st.sampled_from(["=", ""]), values)


@settings(max_examples=3000, deadline=None)
@given(lines)
def test_lines_parsed_here_are_parsed_alike_by_hydra(parts):
    line = "".join(parts)
    got = parse_line(line)
    if got is not None:
        assert same(got, stock(line)), line


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["x=", "+x=", "a.b="]), values)
def test_values_parsed_here_are_parsed_alike_by_hydra(head, value):
    line = head + value
    got = parse_line(line)
    if got is not None:
        assert same(got, stock(line)), line


def test_the_fast_path_is_what_is_measured():
    """The primitive rule's token types, spot-checked against Hydra (the generated tests
    above check whole lines)."""
    for text, expected in [("1e5", 1e5), ("-0", 0), ("+5", 5), ("TRUE", True), ("NuLL", None)]:
        assert same(simple_overrides.primitive(text), expected)
        assert same(stock(f"k={text}").value(), expected)


SAFE_PIECES = st.sampled_from(
    [
        *"aZ_-/.+:%*@?|09eE,",
        *("0", "12", "1_0", "1__0", "007", "inf", "nan", "true", "null", ".5", "5.", "e-3", "-"),
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(SAFE_PIECES, max_size=8).map("".join))
def test_unquoted_values_and_choice_sweeps_are_parsed_alike(value):
    """Values of the characters the fast path takes, commas (choice sweeps) included."""
    line = "k=" + value
    got = parse_line(line)
    if got is not None:
        assert same(got, stock(line)), line
    else:  # declined only for an empty choice (a,,b), which Hydra rejects
        with pytest.raises(OverrideParseException):
            stock(line)
