"""configure_log with a cached logging dict: what reaches logging.config is, call
after call, the dict stock would have made; verbose behaves as stock's."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

import zenspec.accelerate.logging_setup as logging_setup
from zenspec._compatibility import FAST_LOGGING
from zenspec.accelerate.logging_setup import configure_log


def job_logging(out: str, name: str):
    cfg = OmegaConf.create(
        {
            "out": out,
            "name": name,
            "log": {
                "version": 1,
                "formatters": {"simple": {"format": "[%(asctime)s][%(name)s] - %(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "formatter": "simple",
                        "filename": "${out}/${name}.log",
                    }
                },
                "root": {"level": "INFO", "handlers": ["file"]},
                "loggers": {"a.b": {"level": "${level}"}},
                "escaped": "\\${not_this}",
                "disable_existing_loggers": False,
            },
            "level": "WARNING",
        }
    )
    return cfg.log


@pytest.fixture
def handed(monkeypatch):
    """What logging.config is handed, call by call (nothing is really configured)."""
    import hydra._internal.logging_config as logging_config

    calls = []
    monkeypatch.setattr(
        logging_config, "configure_logging", lambda conf, *whitelist: calls.append(conf)
    )
    monkeypatch.setattr(logging_setup, "_entries", type(logging_setup._entries)())
    return calls


def test_each_call_hands_logging_the_dict_stock_would(handed, tmp_path):
    key = ("base", "job_logging")
    for n in range(4):
        node = job_logging(str(tmp_path / f"job{n}"), f"task{n}")
        configure_log(node, False, key=key)
        assert handed[-1] == OmegaConf.to_container(node, resolve=True)
        assert handed[-1]["handlers"]["file"]["filename"] == f"{tmp_path}/job{n}/task{n}.log"
        assert handed[-1]["escaped"] == "${not_this}"
    assert len(handed) == 4 and len({id(c) for c in handed}) == 4  # a fresh dict each time


@pytest.mark.skipif(
    not FAST_LOGGING,
    reason="cached logging dicts off on this Hydra (FAST_LOGGING=False: 1.4's whitelist)",
)
def test_an_entry_that_does_not_match_stock_is_never_used(handed, tmp_path, monkeypatch):
    monkeypatch.setattr(logging_setup, "_put", lambda data, path, value: None)  # broken fill
    key = ("base", "job_logging")
    for n in range(2):
        node = job_logging(str(tmp_path), f"task{n}")
        configure_log(node, False, key=key)
        assert handed[-1] == OmegaConf.to_container(node, resolve=True)
    assert logging_setup._entries[key] is None


def test_verbose_as_stock(handed, tmp_path):
    root, named = logging.getLogger(), logging.getLogger("zenspec.test.verbose")
    saved = root.level, named.level
    try:
        configure_log(job_logging(str(tmp_path), "t"), True, key="k")
        assert root.level == logging.DEBUG
        root.setLevel(logging.INFO)
        configure_log(job_logging(str(tmp_path), "t"), "zenspec.test.verbose", key="k")
        assert root.level == logging.INFO and named.level == logging.DEBUG
    finally:
        root.setLevel(saved[0])
        named.setLevel(saved[1])


def _containers(data, out):
    if isinstance(data, (dict, list)):
        out.append(id(data))
        for v in data.values() if isinstance(data, dict) else data:
            _containers(v, out)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=20,
    )
)
def test_fresh_is_a_deepcopy_sharing_no_container(data):
    from zenspec.accelerate.logging_setup import _fresh

    got = _fresh(data)
    assert got == data
    assert not set(_containers(got, [])) & set(_containers(data, []))


def test_fresh_deep_copies_a_mutable_leaf():
    from zenspec.accelerate.logging_setup import _fresh

    leaf = {1, 2}
    got = _fresh({"a": [leaf]})
    assert got == {"a": [leaf]} and got["a"][0] is not leaf
