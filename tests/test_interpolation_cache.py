"""interpolation_cache: select/item resolve as OmegaConf does, parse each string once,
and never touch OmegaConf's own functions."""

from __future__ import annotations

import omegaconf._utils
import omegaconf.base
import pytest
from omegaconf import OmegaConf, grammar_parser
from omegaconf.errors import OmegaConfBaseException

import zenspec.accelerate.interpolation_cache as interpolation_cache
from zenspec._compatibility import FAST_GRAMMAR
from zenspec.accelerate import switches


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(interpolation_cache, "_trees", {})
    switches.reset()
    yield
    switches.reset()


def _cfg():
    return OmegaConf.create(
        {
            "a": 2,
            "s": "x_${a}",
            "c": "${s}/${a}",
            "esc": "\\${a}",
            "node": "${sub}",
            "sub": {"k": 1, "up": "${..a}", "num": "${a}"},
            "lst": ["${a}", "plain", "${sub.k}"],
            "miss": "???",
            "to_miss": "${miss}",
            "bad": "${nope}",
            "env": "${oc.env:ZENSPEC_TEST_GRAMMAR,fallback}",
            "plain": "no interpolation",
        }
    )


SELECTS = ["a", "s", "c", "esc", "node", "sub.k", "sub.up", "sub.num", "plain", "env", "absent"]


@pytest.mark.parametrize("key", SELECTS)
def test_select_is_omegaconf_select(key):
    cfg = _cfg()
    assert interpolation_cache.select(cfg, key) == OmegaConf.select(cfg, key)
    assert type(interpolation_cache.select(cfg, key)) is type(OmegaConf.select(cfg, key))


@pytest.mark.parametrize(
    "path", [("a",), ("s",), ("c",), ("esc",), ("sub", "up"), ("lst", 0), ("lst", 2), ("env",)]
)
def test_item_is_getitem(path):
    cfg = _cfg()
    parent = cfg
    for part in path[:-1]:
        parent = parent[part]
    assert interpolation_cache.item(parent, path[-1]) == parent[path[-1]]


@pytest.mark.parametrize("key", ["bad", "to_miss"])
def test_errors_are_omegaconfs(key):
    cfg = _cfg()
    with pytest.raises(OmegaConfBaseException) as stock:
        cfg[key]
    with pytest.raises(type(stock.value)):
        interpolation_cache.item(cfg, key)
    assert switches.disabled() == {}  # the input's fault, not the piece's


@pytest.mark.skipif(
    not FAST_GRAMMAR,
    reason="the grammar piece is not proven on omegaconf 2.4 (FAST_GRAMMAR): every "
    "resolution is OmegaConf's own, parsed by it",
)
def test_each_string_is_parsed_once_and_values_are_fresh(monkeypatch):
    calls = []

    def counting(text, *args):
        calls.append(text)
        return grammar_parser.parse(text, *args)

    monkeypatch.setattr(interpolation_cache, "parse", counting)
    cfg = _cfg()
    for _ in range(3):
        assert interpolation_cache.select(cfg, "c") == "x_2/2"
        assert interpolation_cache.item(cfg.sub, "num") == 2
    assert sorted(calls) == ["${a}", "${s}/${a}"]
    cfg.a = 5  # resolved afresh each time: only the parse tree is kept
    assert interpolation_cache.select(cfg, "c") == "x_5/5"
    assert len(calls) == 2  # (the inner "x_${a}" is OmegaConf's own resolution)


def test_omegaconf_is_left_alone():
    before = (omegaconf.base.parse, omegaconf._utils.parse)
    interpolation_cache.select(_cfg(), "c")
    assert (omegaconf.base.parse, omegaconf._utils.parse) == before
    assert omegaconf.base.parse is grammar_parser.parse


def test_off_switch_gives_omegaconfs_own_call(monkeypatch):
    monkeypatch.setenv("ZENSPEC_FAST_OFF", "grammar")
    monkeypatch.setattr(interpolation_cache, "_resolve", None)  # would raise if called
    cfg = _cfg()
    assert interpolation_cache.select(cfg, "c") == "x_2/2"
    assert switches.disabled() == {}
