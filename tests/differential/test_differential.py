"""Differential suite: FastConfigLoader against stock ConfigLoaderImpl, sweep by sweep.

Every case of the corpus (``diff_cases.py``) runs twice through Hydra's own
``Hydra.multirun``: once with stock composition, once with the fast loader.
Everything the runs produced must be equal, field by field: the sweep's error,
each job's status, config, Hydra config, overrides, working dir, the task's
resolved view of its config, and every file written (multirun.yaml,
.hydra/config.yaml, hydra.yaml, overrides.yaml, job logs, directory names).

This suite is what pins hydra-core's range in pyproject: a Hydra release that
composes differently fails here first.
"""

from __future__ import annotations

import pytest
from diff_cases import CASES
from diff_harness import run_case
from hydra._internal.config_loader_impl import ConfigLoaderImpl

from zenspec.launch.fast_loader import FastConfigLoader


def test_corpus_is_big_enough():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_as_stock(case, tmp_path):
    stock = run_case(case, ConfigLoaderImpl, tmp_path / "stock")
    # the corpus itself is checked: a case meant to fail must fail, and vice versa
    if case.expect_error:
        assert stock.error is not None, "stock Hydra was expected to fail on this case"
    else:
        assert stock.error is None, f"stock Hydra failed unexpectedly: {stock.error}"
        assert stock.jobs, "no jobs ran"
    if any(".callbacks." in o for o in case.overrides):
        assert stock.callback_events, "the recording callback did not run"

    # FastConfigLoader under Hydra's BasicLauncher, then with zenspec's FastLauncher
    for name, launcher in (("loader", False), ("loader+launcher", True)):
        fast = run_case(case, FastConfigLoader, tmp_path / name, fast_launcher=launcher)
        try:
            _assert_same(case, stock, fast)
        except AssertionError as e:
            raise AssertionError(f"[{name}] {e}") from e


def _assert_same(case, stock, fast):
    assert fast.error == stock.error
    assert len(fast.jobs) == len(stock.jobs)
    for i, (f, s) in enumerate(zip(fast.jobs, stock.jobs)):
        for key in s:
            assert f[key] == s[key], f"job {i}: {key} differs"
        assert f.keys() == s.keys()
    assert fast.task_views == stock.task_views
    assert fast.callback_events == stock.callback_events
    assert sorted(fast.files) == sorted(stock.files), "different files were written"
    for name, content in stock.files.items():
        assert fast.files[name] == content, f"{name} differs"

    # the fast path must actually have served jobs (no silent all-stock pass)
    stats = fast.stats
    assert stats is not None
    if case.expect_fast and (not case.expect_error or len(stock.task_views) >= 2):
        assert stats.hits > 0, stats
    if not case.expect_error and not case.allow_fallback:
        assert stats.fallbacks == 0, stats
