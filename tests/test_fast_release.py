"""Finished job configs are freed at once when nothing holds them, and never broken when something does."""

from __future__ import annotations

import gc

import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from zenspec.launch.fast_release import release


def _tree():
    return OmegaConf.create(
        {"a": {"b": [1, {"c": "${a.d}"}], "d": 2}, "e": "x", "hydra": {"job": {"num": 1}}}
    )


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def test_a_tree_nothing_else_holds_is_freed_by_reference_counting(no_gc):
    cfg = _tree()
    assert release(cfg, 1)
    del cfg
    assert gc.collect() == 0  # nothing left for the cyclic collector

    cfg = _tree()
    del cfg
    assert gc.collect() > 0  # as it was without release


@pytest.mark.parametrize(
    "keep",
    [
        lambda cfg: cfg.a,
        lambda cfg: cfg.a.b,
        lambda cfg: cfg.a.b[1],
        lambda cfg: cfg._get_node("e"),
        lambda cfg: cfg.a.b._get_node(0),
        lambda cfg: cfg.hydra.job,
    ],
)
def test_a_tree_with_any_node_held_elsewhere_is_left_whole(keep):
    cfg = _tree()
    held = keep(cfg)
    assert not release(cfg, 1)
    assert held._get_parent() is not None
    assert cfg.a.b[1].c == 2  # interpolations still resolve through the root
    assert OmegaConf.to_container(cfg, resolve=True)["a"]["b"] == [1, {"c": 2}]


def test_the_root_held_more_than_the_caller_says_is_left_whole():
    cfg = _tree()
    other = cfg
    assert not release(cfg, 1)
    assert other.a.b[1].c == 2
    assert release(cfg, 2)  # both references declared


def _keeps_its_hydra_config(cfg):
    kept.append(HydraConfig.get())
    return cfg.a


kept: list = []


def test_a_task_that_keeps_hydra_config_still_reads_it_after_the_sweep(tmp_path):
    from zenspec import hydra_multirun

    kept.clear()
    jobs = hydra_multirun(dict(a=0), _keeps_its_hydra_config, ["a=1,2,3"])
    assert [j.return_value for j in jobs[0]] == [1, 2, 3]
    # every job's config is still whole: numbers, dirs, interpolations
    assert [hc.job.num for hc in kept] == [0, 1, 2]
    assert [hc.overrides.task for hc in kept] == [["a=1"], ["a=2"], ["a=3"]]
    assert [hc.sweep.subdir for hc in kept] == ["0", "1", "2"]
    assert [hc.runtime.output_dir.endswith(f"/{n}") for n, hc in enumerate(kept)] == [True] * 3
