"""YAML specs read scalars as OmegaConf does (issue 16, item 2).

PyYAML's YAML 1.1 resolver reads ``1e-4`` as the string '1e-4' (a float needs a
dot and a signed exponent there); OmegaConf's loader, which Hydra's config
files, ``OmegaConf.create`` and so the rest of zenspec use, reads a float.
zenspec's spec loader takes OmegaConf's implicit resolvers, so a YAML spec
value is what the same text in a Hydra config would be:

- a generated corpus of scalars (every spelling of floats, ints, bools, nulls,
  dates, versions, plus random number-ish text), alone and in a flow list,
  parses to the same type and value as ``OmegaConf.create`` gives, or fails in
  both;
- end to end, ``zenspec run``/``plan`` of a YAML spec give floats;
- positions in error messages and the source map are unchanged after such
  scalars.

Deliberate differences from OmegaConf's loader, not in the corpus: zenspec
refuses every Python tag (OmegaConf's loader builds ``pathlib.Path`` from
``!!python/object/apply:pathlib.Path``) and non-string keys, and reports
duplicate keys itself with their positions (OmegaConf raises too).
"""

from __future__ import annotations

import datetime
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest
import yaml
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from zenspec.errors import SpecError
from zenspec.spec.parse import parse_text
from zenspec.spec.yamlload import _SpecYamlLoader

# -- the corpus ---------------------------------------------------------------

_SIGN = st.sampled_from(["", "+", "-"])
_DIGITS = st.text("0123456789", min_size=1, max_size=4)
_UNDERSCORED = st.lists(_DIGITS, min_size=1, max_size=3).map("_".join)
_FRACTION = st.one_of(st.just(""), _DIGITS, _UNDERSCORED)
_EXPONENT = st.builds(lambda e, s, d: e + s + d, st.sampled_from("eE"), _SIGN, _DIGITS)
_MAYBE_EXPONENT = st.one_of(st.just(""), _EXPONENT)


def _cases(*words: str) -> List[str]:
    """Each word in lower, Title and UPPER case, with and without a leading dot."""
    out = []
    for w in words:
        for v in (w, w.title(), w.upper(), w[0].upper() + w[1:].lower()):
            out += [v, "." + v]
    return sorted(set(out))


FLOATS = st.one_of(
    # 1.5, 1., 1.5e3, 1.e-3, 1_000.5, -1.5e+3
    st.builds(lambda s, i, f, e: f"{s}{i}.{f}{e}", _SIGN, _UNDERSCORED, _FRACTION, _MAYBE_EXPONENT),
    # 1e-4, 1E5, 1e+3, 1_0e2
    st.builds(lambda s, i, e: f"{s}{i}{e}", _SIGN, _UNDERSCORED, _EXPONENT),
    # .5, -.5, .5e-3, .5e3, .5_5
    st.builds(lambda s, f, e: f"{s}.{f}{e}", _SIGN, _UNDERSCORED, _MAYBE_EXPONENT),
    # 1:30.5 (sexagesimal)
    st.builds(lambda s, a, b: f"{s}{a}:{b}.5", _SIGN, _DIGITS, st.integers(0, 99)),
    # inf/nan in every spelling, with and without a sign
    st.builds(lambda s, w: s + w, _SIGN, st.sampled_from(_cases("inf", "nan", "infinity"))),
)
INTS = st.one_of(
    st.builds(lambda s, d: s + d, _SIGN, _UNDERSCORED),  # 1_000, -3, 010 (octal)
    st.builds(lambda s, d: f"{s}0{d}", _SIGN, st.text("01234567_", min_size=1, max_size=4)),
    st.builds(
        lambda s, p, d: f"{s}0{p}{d}",
        _SIGN,
        st.sampled_from("xXoObB"),
        st.text("0123456789abcdefABCDEF_", min_size=1, max_size=4),
    ),
    st.builds(lambda s, a, b: f"{s}{a}:{b}", _SIGN, _DIGITS, st.integers(0, 99)),  # 1:30
)
WORDS = st.sampled_from(
    [
        *_cases("yes", "no", "on", "off", "true", "false", "y", "n", "null", "none"),
        *["~", "", "NuLL", "tRUE", "nULL", "Nan", "iNf"],
    ]
)
DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),  # 2024-01-01
    st.datetimes().map(lambda d: d.isoformat()),  # 2024-01-01T10:20:30.5
    st.datetimes().map(lambda d: d.isoformat(sep=" ") + " -5"),
    st.datetimes().map(lambda d: d.isoformat().lower() + "Z"),
    st.sampled_from(["2024-1-1", "2001-12-14t21:59:43.10-05:00", "2024-13-45", "12:30:00"]),
)
VERSIONS = st.one_of(
    st.lists(_DIGITS, min_size=2, max_size=4).map(".".join),  # 1.2, 1.2.3, 1.2.3.4
    st.sampled_from(["v1.2", "1.2.3-rc1", "1.2e3.4", "1..2", "1.2.", "0.1.0a1", "3.10"]),
)
# number-ish text: anything these characters spell, valid or not
NOISE = st.text("0123456789._eE+-:xXoObBinfaNIty~", min_size=1, max_size=10)

SCALARS = st.one_of(FLOATS, INTS, WORDS, DATES, VERSIONS, NOISE)


def _same(a: Any, b: Any) -> bool:
    """Same type (bool is not int) and value (nan equals nan), element-wise for lists."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _non_string_key(value: Any) -> bool:
    """Whether *value* holds a mapping with a key that is not a string (YAML's ``0:``)."""
    if isinstance(value, dict):
        return any(not isinstance(k, str) or _non_string_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_non_string_key(v) for v in value)
    return False


def _omegaconf(text: str) -> Any:
    try:
        return OmegaConf.to_container(OmegaConf.create(text), resolve=False)["value"]
    except yaml.YAMLError as e:
        # omegaconf 2.4 loads with libyaml (CSafeLoader) where it is built. zenspec reads
        # spec files with PyYAML's pure-Python parser, for the line of each key; libyaml
        # refuses a few flow sequences that parser accepts (``[B:, 0]``). That is a syntax
        # difference between PyYAML's two parsers, not a typing one: compare the scalars
        # with OmegaConf's own resolvers on the pure-Python parser.
        from zenspec._compatibility import get_yaml_loader

        loader = get_yaml_loader()
        if issubclass(loader, yaml.SafeLoader) or not hasattr(yaml, "CSafeLoader"):
            return e
        pure = type("Pure", (yaml.SafeLoader,), {})
        pure.yaml_implicit_resolvers = loader.yaml_implicit_resolvers
        try:
            return yaml.load(text, Loader=pure)["value"]
        except yaml.YAMLError:
            return e
    except Exception as e:  # a YAML error in OmegaConf's loader
        return e


def _zenspec(text: str) -> Any:
    try:
        return parse_text(text, "yaml", file="spec.yaml").data["value"]
    except SpecError as e:
        return e


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scalar=SCALARS, in_list=st.booleans())
@example(scalar="0:", in_list=True)  # a one-pair mapping with an int key (found by Hypothesis)
def test_scalars_are_read_as_omegaconf_reads_them(scalar, in_list):
    text = f"value: [{scalar}, 0]\n" if in_list else f"value: {scalar}\n"
    note(repr(text))
    want, got = _omegaconf(text), _zenspec(text)
    if isinstance(want, Exception):
        assert isinstance(got, SpecError), f"OmegaConf refused {text!r} ({want}); zenspec: {got!r}"
        return
    if _non_string_key(want):  # "0:" in a flow list is a mapping {0: None}, not a scalar:
        # OmegaConf takes an int key, a spec refuses it by design, saying how to quote it
        assert isinstance(got, SpecError) and "spec keys must be strings" in str(got), got
        return
    assert not isinstance(got, Exception), f"OmegaConf read {want!r}; zenspec: {got}"
    assert _same(got, want), f"{text!r}: OmegaConf {want!r}, zenspec {got!r}"


@pytest.mark.parametrize(
    "scalar, value",
    [
        ("1e-4", 1e-4),
        ("1E5", 1e5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-1.5e+3", -1500.0),
        ("1.e-3", 1e-3),
        ("1_000.5", 1000.5),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("inf", "inf"),  # YAML needs the dot; OmegaConf too
        ("nan", "nan"),
        ("1_000", 1000),
        ("0x1F", 31),
        ("010", 8),  # YAML 1.1 octal, as in OmegaConf
        ("1:30", 90),  # YAML 1.1 sexagesimal, as in OmegaConf
        ("yes", True),
        ("Off", False),
        ("~", None),
        ("2024-01-01", "2024-01-01"),  # a string, not a date (OmegaConf drops the resolver)
        ("1.2.3", "1.2.3"),
        ('"1e-4"', "1e-4"),  # quoted: a string
        ("'1e-4'", "1e-4"),
    ],
)
def test_documented_spellings(scalar, value):
    got = parse_text(f"value: {scalar}\n", "yaml").data["value"]
    assert _same(got, value)
    assert _same(got, _omegaconf(f"value: {scalar}\n"))


def test_the_resolvers_are_omegaconfs_and_pyyaml_is_left_alone():
    from zenspec._compatibility import get_yaml_loader  # omegaconf 2.4 moved it (B4)

    assert _SpecYamlLoader.yaml_implicit_resolvers == get_yaml_loader().yaml_implicit_resolvers
    # nothing global was patched: PyYAML's own safe loader still reads YAML 1.1
    assert yaml.safe_load("a: 1e-4") == {"a": "1e-4"}
    assert yaml.safe_load("a: 2024-01-01") == {"a": datetime.date(2024, 1, 1)}


def test_an_explicit_timestamp_tag_is_still_a_date_and_refused_by_the_schema(tmp_path):
    from zenspec.spec import validate

    spec = tmp_path / "s.yaml"
    spec.write_text(
        "experiment:\n  name: x\n  target: builtins:dict\nconfig:\n  when: !!timestamp 2024-01-01\n"
    )
    problems = validate(spec)
    assert [(p.path, p.line) for p in problems] == [("$.config.when", 5)]
    assert "date" in problems[0].message


# -- end to end ---------------------------------------------------------------

SPEC = """\
# yaml-language-server: $schema=../schemas/zenspec.schema.json
experiment:
  name: lrs
  target: builtins:dict
config:
  lr: 1e-4
  wd: 1E-2
  scale: .5
  steps: 10
sweep:
  lr: [1e-3, 1e-4]
"""


def _zenspec_cli() -> List[str]:
    exe = Path(sys.executable).parent / "zenspec"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "zenspec"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*_zenspec_cli(), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_a_yaml_spec_runs_with_floats(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    _cli("run", "spec.yaml", "-q", cwd=tmp_path)
    records = sorted(tmp_path.glob("multirun/**/.zenspec/jobs/*.json"))
    assert len(records) == 2
    returned = [json.loads(p.read_text())["return_value"] for p in records]
    assert sorted(r["lr"] for r in returned) == [1e-4, 1e-3]
    for r in returned:
        assert type(r["lr"]) is float and type(r["wd"]) is float and type(r["scale"]) is float
        assert (r["wd"], r["scale"], r["steps"]) == (0.01, 0.5, 10)


def test_a_yaml_spec_plans_with_floats(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    plan = json.loads(_cli("plan", "spec.yaml", "--format", "json", cwd=tmp_path).stdout)
    assert [job["overrides"] for job in plan["jobs"]] == [["lr=0.001"], ["lr=0.0001"]]
    job = json.loads(_cli("plan", "spec.yaml", "--job", "1", "--format", "json", cwd=tmp_path).stdout)  # fmt: skip
    config = job["config"]
    assert (config["lr"], config["wd"], config["scale"], config["steps"]) == (1e-4, 0.01, 0.5, 10)
    assert all(type(config[k]) is float for k in ("lr", "wd", "scale"))


# -- positions ----------------------------------------------------------------


def test_source_map_after_new_floats():
    text = (
        "experiment:\n  target: a.b\nconfig:\n  lr: 1e-4\n  xs: [1E5, .5, 1_000.5, 3]\n  after: 1\n"
    )
    parsed = parse_text(text, "yaml")
    at = parsed.source.positions
    assert parsed.data["config"]["xs"] == [1e5, 0.5, 1000.5, 3]
    assert at[("config", "lr")] == (4, 3)
    assert at[("config", "xs", 3)] == (5, 26)
    assert at[("config", "after")] == (6, 3)


def test_error_position_after_new_floats():
    text = "experiment:\n  target: a.b\nconfig:\n  lr: 1e-4\n  seq: [1e-3, .5, !!int x1]\n"
    with pytest.raises(SpecError) as e:
        parse_text(text, "yaml", file="s.yaml")
    assert (e.value.line, e.value.column) == (5, 19)
    assert e.value.format_message().startswith(
        "s.yaml::$.config.seq[2] (line 5, column 19): YAML cannot read the value 'x1' as !!int"
    )


def test_duplicate_key_after_new_float():
    text = "experiment:\n  target: a.b\nconfig:\n  lr: 1e-4\n  lr: 2e-4\n"
    with pytest.raises(SpecError) as e:
        parse_text(text, "yaml", file="s.yaml")
    assert (e.value.line, e.value.column) == (5, 3)
    assert "duplicate key 'lr' (first written on line 4)" in e.value.format_message()


def test_float_key_is_refused_at_its_position():
    text = "experiment:\n  target: a.b\nconfig:\n  lr: 1e-4\n  1e-4: x\n"
    with pytest.raises(SpecError) as e:
        parse_text(text, "yaml", file="s.yaml")
    assert (e.value.line, e.value.column) == (5, 3)
    assert "key '1e-4' is read as a YAML float" in e.value.format_message()


def test_schema_error_position_after_new_float(tmp_path):
    from zenspec.spec import validate

    spec = tmp_path / "s.yaml"
    spec.write_text("experiment:\n  target: builtins:dict\n  name: 1e-4\nconfig:\n  lr: 1e-4\n")
    problems = validate(spec)
    assert [(p.path, p.line, p.column) for p in problems] == [("$.experiment.name", 3, 3)]
