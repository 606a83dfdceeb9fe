"""memoized_parse: OmegaConf resolves as always, parses each string once inside the
block, and is left exactly as found after it (nested blocks too)."""

from __future__ import annotations

import omegaconf._utils
import omegaconf.base
import pytest
from omegaconf import OmegaConf
from omegaconf.errors import GrammarParseError

from zenspec.launch.fast_grammar import memoized_parse


def test_resolution_is_unchanged_and_each_string_is_parsed_once(monkeypatch):
    import zenspec.launch.fast_grammar as fast_grammar

    cfg = OmegaConf.create({"a": 2, "b": "x_${a}", "c": "${b}/${a}", "d": "\\${a}"})
    expected = OmegaConf.to_container(cfg, resolve=True)
    original = omegaconf.base.parse
    with memoized_parse():
        assert omegaconf.base.parse is not original
        assert OmegaConf.to_container(cfg, resolve=True) == expected
        kept = len(fast_grammar._trees)
        assert kept >= 3
        tree = omegaconf.base.parse("x_${a}")
        assert omegaconf.base.parse("x_${a}") is tree
        for _ in range(3):
            assert OmegaConf.to_container(cfg, resolve=True) == expected
        assert len(fast_grammar._trees) == kept  # nothing parsed again
        cfg.a = 5  # values are resolved afresh; only the parse is kept
        assert cfg.c == "x_5/5"
    assert omegaconf.base.parse is original and omegaconf._utils.parse is not None
    assert fast_grammar._trees == {}


def test_nested_blocks_restore_only_at_the_outermost():
    original = omegaconf.base.parse
    with memoized_parse():
        inner_parse = omegaconf.base.parse
        with memoized_parse():
            assert omegaconf.base.parse is inner_parse
        assert omegaconf.base.parse is inner_parse
    assert omegaconf.base.parse is original


def test_parse_errors_are_raised_every_time_and_never_kept():
    with memoized_parse():
        for _ in range(2):
            with pytest.raises(GrammarParseError):
                omegaconf.base.parse("${a")
