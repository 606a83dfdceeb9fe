"""hydra.yaml rendering: the per-job blocks dumped together split into exactly
what one dump per block gives, whatever the strings in them (multi-line, quoted,
unicode, long, YAML-looking)."""

from __future__ import annotations

from hydra.types import RunMode
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from zenspec.accelerate.hydra_yaml import _block, _blocks

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120) | st.sampled_from(
    ["  key: x", "a\n  b: c", "- item", "null", "'quoted'", "x" * 200, "€ ü", "123", "true", ""]
)


@settings(max_examples=200, deadline=None)
@given(
    task=st.lists(text, max_size=4),
    name=text,
    dirname=text,
    out=text,
    choices=st.dictionaries(text, text | st.none(), max_size=3),
    empty_env=st.booleans(),
)
def test_one_dump_splits_into_the_separate_blocks(task, name, dirname, out, choices, empty_env):
    node = OmegaConf.create(
        {
            "run": {"dir": out},
            "mode": RunMode.MULTIRUN,
            "verbose": empty_env,
            "n": len(task),
            "missing": None,
            "overrides": {"hydra": ["hydra.verbose=true"], "task": task},
            "job": {
                "name": name,
                "override_dirname": dirname,
                "env_set": {} if empty_env else {"K": name},
            },
            "runtime": {"output_dir": out, "choices": choices},
        }
    )
    keys = ["mode", "overrides", "verbose", "job", "n", "runtime", "missing"]
    assert _blocks(node, keys) == {key: _block(node, key) for key in keys}


def test_values_that_are_not_mappings_are_dumped_one_by_one():
    node = OmegaConf.create(
        {"searchpath": ["pkg://a", "file://b\n  c: d"], "s": "x " * 60, "job": {"num": 1}}
    )
    keys = ["searchpath", "s", "job"]
    assert _blocks(node, keys) == {key: _block(node, key) for key in keys}


def test_mappings_are_dumped_once(monkeypatch):
    import zenspec.accelerate.hydra_yaml as hydra_yaml

    calls = []
    dump = hydra_yaml._dump
    monkeypatch.setattr(hydra_yaml, "_dump", lambda data: calls.append(data) or dump(data))
    node = OmegaConf.create({"overrides": {"task": ["a=1"]}, "job": {"name": "x: y\n  z"}})
    blocks = _blocks(node, ["overrides", "job"])
    assert len(calls) == 1
    assert blocks == {
        "overrides": "  overrides:\n    task:\n    - a=1\n",
        "job": _block(node, "job"),
    }
