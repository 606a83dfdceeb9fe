"""A zenspec call leaves the process as it found it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import List

import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.version import VersionBase
from omegaconf import OmegaConf

from zenspec import builds, hydra_multirun, hydra_run, instantiate


@dataclass
class Conf:
    a: int = 1
    tags: List[str] = field(default_factory=lambda: ["x"])


def echo(cfg):
    return OmegaConf.to_container(cfg)


def test_many_runs_in_one_process_each_get_their_own_config():
    for i in range(3):
        assert hydra_run(dict(i=i), echo).return_value == {"i": i}
        assert hydra_run(builds(dict, j=i), instantiate).return_value == {"j": i}
    jobs = hydra_multirun(dict(k=0), echo, ["k=1,2"])
    assert [j.return_value for j in jobs[0]] == [{"k": 1}, {"k": 2}]


def test_singletons_and_cwd_are_restored(tmp_path):
    import omegaconf.base

    cwd = os.getcwd()
    base = VersionBase.instance().getbase()
    parse = omegaconf.base.parse
    hydra_run(dict(a=1), echo, ["hydra.job.chdir=True"])
    assert os.getcwd() == cwd
    assert not GlobalHydra.instance().is_initialized()
    assert HydraConfig.instance().cfg is None
    assert VersionBase.instance().getbase() == base
    assert omegaconf.base.parse is parse  # zenspec's parse memo is gone again


def test_user_logging_handlers_survive_and_keep_working(caplog):
    root = logging.getLogger()
    mine = logging.StreamHandler()
    root.addHandler(mine)
    level = root.level
    try:
        before = list(root.handlers)
        hydra_run(dict(a=1), lambda c: logging.getLogger("task").info("inside"))
        hydra_multirun(dict(a=1), echo, ["a=1,2"])
        assert root.handlers == before and root.level == level
        with caplog.at_level(logging.INFO):
            logging.getLogger("after").info("still captured")
        assert "still captured" in caplog.text
    finally:
        root.removeHandler(mine)


def test_callers_objects_are_not_mutated():
    conf = Conf()
    overrides = ["a=2"]
    mapping = {"a": 1, "sub": {"b": 2}}
    dictconfig = OmegaConf.create({"optim": None})
    hydra_run(conf, echo, overrides)
    hydra_run(mapping, echo, ["sub.b=3"])
    ConfigStore.instance().store(group="optim", name="sgd", node={"lr": 0.1})
    try:
        hydra_run(dictconfig, echo, ["optim=sgd"])
    finally:
        ConfigStore.instance().repo.pop("optim")
    assert conf == Conf() and overrides == ["a=2"]
    assert mapping == {"a": 1, "sub": {"b": 2}}
    assert "defaults" not in dictconfig and dictconfig.optim is None


def test_config_store_entries_are_scoped_and_user_entries_restored():
    cs = ConfigStore.instance()
    cs.store(name="mine", node={"user": True})
    try:
        job = hydra_run(dict(zen=1), echo, config_name="mine")
        assert job.return_value == {"zen": 1}
        assert OmegaConf.to_container(cs.load("mine.yaml").node) == {"user": True}
    finally:
        cs.repo.pop("mine.yaml")
    job = hydra_run(dict(opt=None), echo, ["opt=b"], groups={"opt": {"a": {"v": 1}, "b": {"v": 2}}})
    assert job.return_value == {"opt": {"v": 2}}
    assert "opt" not in cs.repo and "zenspec_config.yaml" not in cs.repo


def test_nested_call_inside_a_task_restores_the_outer_job():
    def outer(cfg):
        inner = hydra_run(dict(inner=1), echo).return_value
        # the outer job's Hydra state is back for the rest of the task
        return inner, HydraConfig.get().job.name

    job = hydra_run(dict(outer=1), outer, job_name="outer_job")
    assert job.return_value == ({"inner": 1}, "outer_job")


def test_environment_set_for_a_job_is_undone(monkeypatch):
    monkeypatch.delenv("ZENSPEC_T", raising=False)
    job = hydra_run(
        dict(a=1), lambda c: os.environ.get("ZENSPEC_T"), ["+hydra.job.env_set.ZENSPEC_T=on"]
    )
    assert job.return_value == "on"
    assert "ZENSPEC_T" not in os.environ


@pytest.mark.parametrize("launch", [hydra_run, hydra_multirun])
def test_failed_call_also_cleans_up(launch):
    def boom(cfg):
        raise RuntimeError("task failed")

    with pytest.raises(RuntimeError, match="task failed"):
        launch(dict(a=1), boom)
    assert not GlobalHydra.instance().is_initialized()
    assert "zenspec_config.yaml" not in ConfigStore.instance().repo
