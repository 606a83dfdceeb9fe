"""yaml_text.dump writes what ``yaml.dump`` (as OmegaConf.to_yaml calls it) writes,
byte for byte, for any config data: it lays out what it knows and leaves the rest
to PyYAML."""

from __future__ import annotations

import math

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf._utils import get_omega_conf_dumper

from zenspec.accelerate import yaml_text

TRICKY = [
    "",
    "true",
    "null",
    "~",
    "1",
    "1.5",
    "1e3",
    "0x1f",
    "- a",
    "a: b",
    "a #b",
    "#c",
    "'q'",
    '"d"',
    "${a.b}",
    "x" * 90,
    "word " * 20,
    "tab\there",
    "üñí €",
    "\x07bell",
    "a\nb",
    " lead",
    "trail ",
    "@at",
    "`tick",
    "%pct",
    "!bang",
    "&amp",
    "*star",
    "[x]",
    "{y}",
    "?q",
    "yes",
    "on",
    ":",
    "a=1,2",
    "/a/long/path/without/any/space/" + "d" * 60,
    "https://example.org/" + "q" * 70 + "?x=1&y=2",
    "x" * 75 + ": y",
    "'" + "z" * 80,
    "n" * 100 + "\u00e9",
    "tab" * 30 + "\t",
    "#" + "h" * 90,
    "\x07" + "b" * 80,
    "\x07" + "c" * 60,
    "yes" + "\x00" * 30,
    "\x07" * 36,
    "\x85",
    "a\u2028b",
    "x\u2029",
    "\u00e9\x07" * 20,
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from([math.inf, -math.inf, 0.0, -0.0, 1e-05, 1e20])
    | st.text(max_size=30)
    | st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=70, max_size=120)
    | st.sampled_from(TRICKY)
)
keys = st.text(max_size=20) | st.sampled_from(TRICKY)
deep = st.sampled_from(TRICKY).map(lambda v: {"a": {"b": {"c": {"d": [v, {"e": v}]}}}})
data = deep | st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)


plainish = st.text(alphabet="aAyYnNoOfFtTeEuUlLiI_/.=,+-0159 :#", max_size=12)


@settings(max_examples=3000, deadline=None)
@given(plainish)
def test_strings_written_without_pyyaml_are_pyyamls_text(value):
    got = yaml_text.scalar(value)
    assert got is None or stock({"k": value}) == f"k: {got}\n"


@settings(max_examples=3000, deadline=None)
@given(plainish)
def test_keys_written_without_pyyaml_are_pyyamls_text(key):
    got = yaml_text._key(key)
    assert got is None or stock({key: 1}) == f"{got}: 1\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(plainish, max_size=4), st.dictionaries(plainish, plainish, max_size=4))
def test_documents_of_plain_looking_strings_are_yaml_dump(items, mapping):
    value = {"a": {"b": items, "c": mapping}, "d": list(items)}  # no shared object: no anchors
    assert yaml_text.dump(value) == stock(value)


def stock(value):
    return yaml.dump(
        value,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
        Dumper=get_omega_conf_dumper(),
    )


@settings(max_examples=600, deadline=None)
@given(data)
def test_dump_is_yaml_dump(value):
    assert yaml_text.dump(value) == stock(value)


def test_typical_configs_take_the_fast_layout(monkeypatch):
    calls = []
    monkeypatch.setattr(yaml_text, "_yaml", lambda d: calls.append(d) or stock(d))
    cfg = OmegaConf.create(
        {
            "model": {"layers": [64, 32], "act": "relu", "dropout": 0.1, "opts": {}},
            "sources": [{"path": "pkg://x", "schema": "pkg"}, {}],
            "tags": [],
            "name": None,
        }
    )
    first = yaml_text.to_yaml(cfg)
    assert first == OmegaConf.to_yaml(cfg)
    calls.clear()
    assert yaml_text.to_yaml(cfg) == first
    assert calls == []  # every scalar and key memoised: no PyYAML emitter at all


# strings PyYAML may fold or break over lines: words, line breaks, long runs
wrapping = st.lists(
    st.sampled_from(["word", "w" * 30, " ", "  ", "\n", "\n\n", "'", "${a.b}", "é", "\t", "#"]),
    max_size=40,
).map("".join) | st.text(max_size=200)
folded_docs = st.recursive(
    wrapping | scalars,
    lambda inner: st.dictionaries(keys, inner, max_size=4) | st.lists(inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=800, deadline=None)
@given(folded_docs)
def test_documents_with_folding_strings_are_yaml_dump(value):
    assert yaml_text.dump(value) == stock(value)


@settings(max_examples=300, deadline=None)
@given(wrapping, st.integers(0, 5), keys)
def test_a_folding_string_at_any_depth_is_yaml_dump(value, depth, key):
    doc = {key: value, "after": 1}
    for n in range(depth):
        doc = {f"k{n}": doc, "next": [value, {"x": value}]}
    assert yaml_text.dump(doc) == stock(doc)


def test_hydras_own_config_takes_the_fast_layout(monkeypatch):
    """Hydra's help templates (multi-line, folded) no longer send the document to PyYAML."""
    from hydra import compose, initialize

    with initialize(version_base="1.3"):
        cfg = compose(config_name=None, overrides=[], return_hydra_config=True)
    calls = []
    monkeypatch.setattr(yaml_text, "_yaml", lambda d: calls.append(d) or stock(d))
    assert yaml_text.to_yaml(cfg) == OmegaConf.to_yaml(cfg)
    whole = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    assert whole not in calls  # only scalars, keys and folded strings went to PyYAML
    calls.clear()
    assert yaml_text.to_yaml(cfg) == OmegaConf.to_yaml(cfg)
    assert calls == []


def test_save_writes_omegaconf_saves_bytes(tmp_path):
    from hydra import compose, initialize

    with initialize(version_base="1.3"):
        cfg = compose(config_name=None, overrides=["+a.b='é ü'"], return_hydra_config=True)
    yaml_text.save(cfg, tmp_path / "fast.yaml")
    OmegaConf.save(cfg, tmp_path / "stock.yaml")
    assert (tmp_path / "fast.yaml").read_bytes() == (tmp_path / "stock.yaml").read_bytes()
