"""Hydra behaviour through zenspec: modes, dirs, callbacks, logs, errors, launchers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import OmegaConf

from zenspec import (
    LaunchError,
    OverrideError,
    _compatibility,
    builds,
    hydra_multirun,
    hydra_run,
    instantiate,
)

EVENTS: list = []
log = logging.getLogger(__name__)


class Recorder(Callback):
    def __init__(self, name: str) -> None:
        self.name = name

    def __getattribute__(self, attr):
        if attr.startswith("on_"):
            return lambda **kw: EVENTS.append((object.__getattribute__(self, "name"), attr))
        return object.__getattribute__(self, attr)


def echo(cfg):
    return OmegaConf.to_container(cfg)


def where(cfg):
    return os.getcwd()


def square(cfg):
    return cfg.x**2, os.getpid()


def logs_one_line(cfg):
    log.info("job says %s", cfg.word)
    return cfg.word


def test_jobs_do_not_chdir_by_default_and_output_dir_is_on_the_job(tmp_path):
    job = hydra_run(dict(a=1), where)
    assert job.return_value == str(tmp_path)
    assert job.output_dir.is_dir() and job.output_dir != tmp_path
    assert tmp_path in job.output_dir.parents
    assert (job.output_dir / ".hydra" / "overrides.yaml").is_file()


def test_chdir_true_runs_the_job_in_its_output_dir(tmp_path):
    job = hydra_run(dict(a=1), where, ["hydra.job.chdir=True"])
    assert Path(job.return_value) == job.output_dir
    assert os.getcwd() == str(tmp_path)


def test_hydra_mode_is_set_in_run_and_multirun_jobs():
    assert hydra_run(dict(a=1), echo).hydra_cfg.hydra.mode == RunMode.RUN
    jobs = hydra_multirun(dict(a=1), echo, ["a=1,2"])
    assert {j.hydra_cfg.hydra.mode for j in jobs[0]} == {RunMode.MULTIRUN}


def test_run_and_sweep_dirs_are_honoured(tmp_path):
    job = hydra_run(dict(a=1), echo, ["hydra.run.dir=my_run"])
    assert job.output_dir == tmp_path / "my_run"
    assert (tmp_path / "my_run/.hydra/config.yaml").is_file()
    jobs = hydra_multirun(dict(a=1), echo, ["hydra.sweep.dir=my_sweep", "a=1,2"])
    assert [j.output_dir for j in jobs[0]] == [tmp_path / "my_sweep/0", tmp_path / "my_sweep/1"]
    assert (tmp_path / "my_sweep/multirun.yaml").is_file()
    assert OmegaConf.load(tmp_path / "my_sweep/1/.hydra/overrides.yaml") == ["a=2"]


def test_callbacks_fire_in_order_start_forward_end_reversed():
    EVENTS.clear()
    trace = {
        "first": {"_target_": f"{__name__}.Recorder", "name": "first"},
        "second": {"_target_": f"{__name__}.Recorder", "name": "second"},
    }
    hydra_run(
        dict(a=1), echo, ["hydra/callbacks=trace"], groups={"hydra/callbacks": {"trace": trace}}
    )
    assert EVENTS == [
        ("first", "on_run_start"),
        ("second", "on_run_start"),
        ("first", "on_job_start"),
        ("second", "on_job_start"),
        ("second", "on_job_end"),
        ("first", "on_job_end"),
        ("second", "on_run_end"),
        ("first", "on_run_end"),
    ]
    EVENTS.clear()
    hydra_multirun(
        dict(a=1),
        echo,
        ["hydra/callbacks=trace", "a=1,2"],
        groups={"hydra/callbacks": {"trace": trace}},
    )
    names = [e for n, e in EVENTS if n == "first"]
    assert names == ["on_multirun_start"] + ["on_job_start", "on_job_end"] * 2 + ["on_multirun_end"]


def test_logs_append_without_duplicated_lines_on_repeated_runs(tmp_path):
    for word in ("one", "two", "three"):
        hydra_run(dict(word=word), logs_one_line, ["hydra.run.dir=same"])
    text = (tmp_path / "same" / "logs_one_line.log").read_text()
    lines = [ln for ln in text.splitlines() if "job says" in ln]
    assert [ln.split("job says ")[1] for ln in lines] == ["one", "two", "three"]


def test_sweep_syntax_in_a_single_run_is_a_clear_error():
    with pytest.raises(OverrideError) as info:
        hydra_run(dict(bar="x"), echo, ["bar=mom,dad"])
    msg = str(info.value)
    assert "'bar=mom,dad' is a sweep" in msg and "hydra_multirun" in msg and "bar=[a,b]" in msg
    assert info.value.exit_code == 2


def test_interval_sweep_under_the_basic_sweeper_names_the_fix():
    with pytest.raises(LaunchError) as info:
        hydra_multirun(dict(x=1), echo, ["x=interval(0, 1)"])
    assert "interval sweep" in str(info.value) and "hydra/sweeper=" in str(info.value)


def test_unknown_key_override_is_an_override_error():
    with pytest.raises(
        OverrideError, match=r"override .nope=1. could not be applied.*use \+nope=1"
    ):
        hydra_run(dict(a=1), echo, ["nope=1"])


def test_unknown_group_option_is_reported():
    with pytest.raises(OverrideError, match="opt"):
        hydra_run(dict(opt=None), echo, ["opt=c"], groups={"opt": {"a": {"v": 1}}})


def test_bad_override_grammar_fails_before_any_job(tmp_path):
    with pytest.raises(OverrideError, match="not valid Hydra override syntax"):
        hydra_multirun(dict(a=1), echo, ["a=[1,"])
    assert not (tmp_path / "multirun").exists()


def test_failed_single_run_raises_the_task_error():
    def boom(cfg):
        raise ValueError("bad value")

    with pytest.raises(ValueError, match="bad value"):
        hydra_run(dict(a=1), boom)


def test_a_non_sweeper_sweeper_target_is_a_launch_error():
    with pytest.raises(LaunchError, match=r"not a hydra\.plugins\.sweeper\.Sweeper"):
        hydra_multirun(
            dict(a=1),
            echo,
            ["hydra/sweeper=notone", "a=1,2"],
            groups={"hydra/sweeper": {"notone": builds(dict, x=1)}},
        )


def test_mapping_overrides_with_multirun_marker():
    from zenspec import multirun

    jobs = hydra_multirun(dict(a=0, s="x"), echo, {"a": multirun([1, 2]), "s": "p,q"})
    assert [j.return_value for j in jobs[0]] == [{"a": 1, "s": "p,q"}, {"a": 2, "s": "p,q"}]


def test_joblib_launcher_runs_a_task_from_a_test_module():
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    jobs = hydra_multirun(
        dict(x=0), square, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "x=1,2,3"]
    )
    values = [j.return_value[0] for j in jobs[0]]
    assert values == [1, 4, 9]
    assert all(pid != os.getpid() for _, pid in (j.return_value for j in jobs[0]))


def test_instantiate_launcher_config_through_the_trusted_plugin_path():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    def make_launcher(cfg):
        return type(instantiate(cfg.hydra.launcher)).__name__

    # the documented call, inside a job where cfg.hydra is available
    from hydra.core.hydra_config import HydraConfig

    job = hydra_run(
        dict(a=1), lambda c: make_launcher(OmegaConf.create({"hydra": HydraConfig.get()}))
    )
    assert job.return_value == "BasicLauncher"
    assert issubclass(
        Plugins.instance().class_name_to_class[
            "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
        ],
        Launcher,
    )


_INTERNAL = pytest.mark.skipif(
    not _compatibility.has_trusted_internal_target(),
    reason=f"hydra-core {_compatibility.HYDRA_VERSION} does not refuse hydra._internal targets "
    "(1.3.7 began to)",
)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("hydra._internal.utils._locate", marks=_INTERNAL),  # internal, not a plugin
        # a plugin, not a launcher/sweeper
        pytest.param(
            "hydra._internal.core_plugins.bash_completion.BashCompletion", marks=_INTERNAL
        ),
        "os.system",
    ],
)
def test_target_policy_still_holds_for_everything_else(target):
    from hydra.errors import InstantiationException

    with pytest.raises(InstantiationException):
        instantiate({"_target_": target, "_partial_": True})


def test_trusted_path_does_not_extend_to_nested_targets():
    from hydra.errors import InstantiationException

    cfg = {
        "_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
        "nested": {"_target_": "hydra._internal.utils._locate", "path": "os"},
    }
    with pytest.raises(InstantiationException):
        instantiate(cfg)


def test_hydra_mode_run_in_a_sweep_warns_and_runs_multirun_as_stock(tmp_path):
    with pytest.warns(UserWarning, match="overriding with `hydra.mode=MULTIRUN`"):
        jobs = hydra_multirun(
            builds(dict, x=0),
            instantiate,
            ["x=1,2", "hydra.mode=RUN", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
            with_log_configuration=False,
        )
    assert [j.return_value for j in jobs[0]] == [{"x": 1}, {"x": 2}]
    assert all(j.hydra_cfg.hydra.mode == RunMode.MULTIRUN for j in jobs[0])
    saved = (tmp_path / "sweep" / "0" / ".hydra" / "hydra.yaml").read_text()
    assert "mode: MULTIRUN" in saved
