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

import pickle
from dataclasses import dataclass

import pytest
from diff_cases import CASES
from diff_harness import run_case
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from omegaconf import OmegaConf

from zenspec._compatibility import FAST_COMPOSITION, FAST_RUN_JOB, HYDRA_14
from zenspec.accelerate import job_snapshots
from zenspec.accelerate.composition_cache import FastConfigLoader

# cases stock hydra-core 1.4 decides the other way (the comparison with stock still holds):
# 1.4 refuses ``~b`` on a key with a value, and resolves hydra.job.env_set per job
_STOCK_14_FAILS = {"delete_key": True, "env_set_added_per_job": False}


def _expect_error(case) -> bool:
    return _STOCK_14_FAILS.get(case.id, case.expect_error) if HYDRA_14 else case.expect_error


def test_corpus_is_big_enough():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.skipif(
    not FAST_COMPOSITION,
    reason="composition cache off on this Hydra (FAST_COMPOSITION=False): zenspec runs "
    "stock composition, there is nothing to compare",
)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_as_stock(case, tmp_path):
    _check_case(case, tmp_path)


# Cases that read or write hydra.runtime, or hold classes pickle cannot name: where a
# template copied by reference instead of by value would show.
_DEEPCOPY_CASES = ["runtime_touched", "runtime_choices", "local_dataclass", "group_x_value"]


@pytest.mark.skipif(
    not FAST_COMPOSITION,
    reason="composition cache off on this Hydra (FAST_COMPOSITION=False): zenspec runs "
    "stock composition, there is nothing to compare",
)
@pytest.mark.parametrize("case_id", _DEEPCOPY_CASES)
def test_same_as_stock_with_deepcopy_templates(case_id, tmp_path, monkeypatch):
    """A config pickle cannot copy (and on CPython 3.13.0, whose picklers refuse an
    instance ``persistent_id``, gh-125631, the pickled path was never taken) is copied
    by deepcopy: the same output as stock still."""
    refused = []

    def unpicklable(self, cfg):
        refused.append(cfg)
        raise pickle.PicklingError("refused by the test: deepcopy path")

    monkeypatch.setattr(job_snapshots.Template, "_dumps", unpicklable)
    _check_case(next(c for c in CASES if c.id == case_id), tmp_path)
    assert refused, "no template was made: the deepcopy path was not exercised"


def test_templates_copy_by_pickle():
    """Template's fast path (pickle, ~4x deepcopy) is taken on this Python, a class
    pickle cannot name (defined in a function) included."""

    @dataclass
    class Local:
        x: int = 1

    cfg = OmegaConf.create({"a": {"b": [1, 2]}, "local": OmegaConf.structured(Local)})
    template = job_snapshots.Template(cfg)
    assert template._blob is not None
    assert template._classes == [Local]
    copied = template.new()
    assert copied is not cfg
    assert job_snapshots.signature(copied) == job_snapshots.signature(cfg)


def _check_case(case, tmp_path):
    if HYDRA_14 and case.version_base is not None and case.version_base < "1.3":
        pytest.skip("hydra-core 1.4 refuses version_base < 1.3 (HYDRA_14)")
    stock = run_case(case, ConfigLoaderImpl, tmp_path / "stock")
    # the corpus itself is checked: a case meant to fail must fail, and vice versa
    expect_error = _expect_error(case)
    if expect_error:
        assert stock.error is not None, "stock Hydra was expected to fail on this case"
    else:
        assert stock.error is None, f"stock Hydra failed unexpectedly: {stock.error}"
        assert stock.jobs, "no jobs ran"
    if any(".callbacks." in o for o in case.overrides):
        assert stock.callback_events, "the recording callback did not run"

    # FastConfigLoader under Hydra's BasicLauncher, then with zenspec's FastLauncher
    variants = [("loader", False)]
    if FAST_RUN_JOB:  # zenspec's FastLauncher only where its run_job is proven
        variants.append(("loader+launcher", True))
    for name, launcher in variants:
        fast = run_case(case, FastConfigLoader, tmp_path / name, job_runner=launcher)
        try:
            _assert_same(case, stock, fast, expect_error)
        except AssertionError as e:
            raise AssertionError(f"[{name}] {e}") from e


def _assert_same(case, stock, fast, expect_error):
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
    if case.expect_fast and (not expect_error or len(stock.task_views) >= 2):
        assert stats.hits > 0, stats
    if not expect_error and not case.allow_fallback:
        assert stats.fallbacks == 0, stats
