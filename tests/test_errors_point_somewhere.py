"""Errors that point somewhere (issue 16, item 4).

Input and environment errors found before any job ran are not "the job failed":
input is exit 2 naming the key, the machine's refusals (disk full, permission
denied) exit 74 naming the path and the OS error. A failed job's traceback is in
its own log file. The final error names the task's own exception. Override
mistakes on config groups are one paragraph with a "did you mean". ``glob`` on
a config group runs under the grid sweeper.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import hydra
import pytest
from helpers.cli import run_cli as cli

from zenspec import builds, hydra_multirun, hydra_run, instantiate
from zenspec._compatibility import HYDRA_14, RUN_JOB_LOGS_ERRORS
from zenspec.errors import LaunchError, OverrideError, StorageError

REPO = Path(__file__).resolve().parents[1]

GROUPS = (
    '[experiment]\nname = "grp"\ntarget = "builtins:dict"\n\n'
    "[config]\nx = 1\n\n"
    "[groups.optim.sgd]\nlr = 0.1\n\n"
    "[groups.optim.adam]\nlr = 0.01\n\n"
    "[groups.optim.adamw]\nlr = 0.02\n\n"
    '[defaults]\noptim = "sgd"\n'
)
HELLO = '[experiment]\nname = "hello"\ntarget = "builtins:dict"\n\n[config]\nbar = "world"\n'


def spec(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def echo(cfg):
    return dict(cfg)


def boom(cfg):
    raise ValueError(f"boom a={cfg.a}")


def negative_fails(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative x: {x}")
    return x


# -- 1. ${hydra:...} in the run and sweep dirs, as Hydra resolves it ----------------------


def test_run_dir_with_a_hydra_resolver_runs_as_stock(tmp_path):
    job = hydra_run(builds(dict, a=1), instantiate, ["hydra.run.dir=out/${hydra:runtime.version}"])
    assert job.return_value == {"a": 1}
    assert Path(job.output_dir) == tmp_path / "out" / hydra.__version__
    assert (tmp_path / "out" / hydra.__version__ / ".hydra" / "hydra.yaml").is_file()


def test_sweep_dir_with_a_hydra_resolver_runs(tmp_path):
    jobs = hydra_multirun(
        dict(a=0), echo, ["a=1,2", "hydra.sweep.dir=sweeps/${hydra:job.name}/x"], job_name="mine"
    )
    assert [j.return_value for j in jobs[0]] == [{"a": 1}, {"a": 2}]
    assert sorted(p.name for p in (tmp_path / "sweeps" / "mine" / "x").iterdir()) == [
        ".zenspec",
        "0",
        "1",
        "multirun.yaml",
    ]


def test_spec_sweep_dir_with_a_hydra_resolver_exits_0(tmp_path, capsys):
    path = spec(
        tmp_path,
        HELLO
        + '\n[sweep]\nbar = ["a", "b"]\n\n[hydra]\nsweep.dir = "sweeps/${hydra:job.name}/g"\n',
    )
    code, _, err = cli(capsys, "run", path)
    assert code == 0, err
    assert "job failed" not in err
    assert (tmp_path / "sweeps" / "hello" / "g" / "1" / ".hydra" / "config.yaml").is_file()


# -- 2. input and environment errors before any job ran -----------------------------------


def test_unresolvable_run_dir_is_an_override_error_naming_the_key(tmp_path, capsys):
    with pytest.raises(OverrideError) as info:
        hydra_run(dict(a=1), echo, ["hydra.run.dir=out/${nosuch}"])
    assert info.value.path == "hydra.run.dir"
    assert "Interpolation key 'nosuch' not found" in str(info.value)
    code, _, err = cli(capsys, "run", spec(tmp_path, HELLO), "hydra.run.dir=out/${nosuch}")
    assert code == 2
    # refused by the checks run makes before it launches (or, from Python, by the session)
    assert "override 'hydra.run.dir=out/${nosuch}'" in err
    assert "Interpolation key 'nosuch' not found" in err
    assert "log" not in err
    assert not (tmp_path / "out").exists()


def test_unresolvable_sweep_subdir_is_input_not_a_failed_job(tmp_path, capsys):
    path = spec(tmp_path, HELLO + '\n[sweep]\nbar = ["a", "b"]\n')
    code, _, err = cli(capsys, "run", path, "hydra.sweep.subdir=${nosuch}")
    assert code == 2, err
    assert "hydra.sweep.subdir" in err and "nosuch" in err
    assert "job failed" not in err and "log" not in err
    code, _, err = cli(capsys, "run", path, "+hydra.job.env_set.V=${nosuch}")
    assert code == 2, err
    assert "hydra.job.env_set.V" in err and "job failed" not in err


def test_an_override_text_with_an_interpolation_is_not_resolved_by_the_records(tmp_path):
    # the task never reads x: stock runs it, and so does zenspec (records keep the text)
    job = hydra_run(dict(a=1), lambda cfg: cfg.a, ["+x=${nosuch}", "hydra.run.dir=r"])
    assert job.return_value == 1
    record = json.loads((tmp_path / "r" / ".zenspec" / "jobs" / "0.json").read_text())
    assert record["status"] == "completed" and record["overrides"] == ["+x=${nosuch}"]


def test_output_dir_under_a_regular_file_is_a_storage_error(tmp_path, capsys):
    (tmp_path / "afile").write_text("not a directory")
    with pytest.raises(StorageError) as info:
        hydra_run(dict(a=1), echo, ["hydra.run.dir=afile/run"])
    assert isinstance(info.value, OSError) and info.value.exit_code == 74
    code, _, err = cli(capsys, "run", spec(tmp_path, HELLO), "hydra.run.dir=afile/run")
    assert code == 74
    assert "afile" in err and "[Errno" in err and "No job ran" in err
    assert "job failed" not in err and "log" not in err
    code, _, err = cli(
        capsys, "run", spec(tmp_path, HELLO), "-m", "bar=a,b", "hydra.sweep.dir=afile/sweep"
    )
    assert code == 74 and "creating the sweep directory" in err


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root ignores directory permissions; the regular-file test covers this path",
)
def test_read_only_parent_is_a_storage_error(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = cli(capsys, "run", spec(tmp_path, HELLO), f"hydra.run.dir={ro}/run")
    finally:
        ro.chmod(0o700)
    assert code == 74
    assert "Permission denied" in err and str(ro) in err and "log" not in err


def test_a_full_disk_is_a_storage_error_naming_the_file(tmp_path, capsys, monkeypatch):
    from zenspec._compatibility import FAST_RUN_JOB
    from zenspec.accelerate import job_runner

    def full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    if FAST_RUN_JOB:  # zenspec's run_job writes the job's .hydra files
        monkeypatch.setattr(job_runner, "write_in_place_nofollow", full)
    else:  # stock run_job (hydra-core 1.4) writes them with its _save_config
        import hydra.core.utils

        def full_save(cfg, filename, output_dir):
            full(output_dir / filename, "")

        monkeypatch.setattr(hydra.core.utils, "_save_config", full_save)
    code, _, err = cli(capsys, "run", spec(tmp_path, HELLO), "hydra.run.dir=run")
    assert code == 74
    assert "No space left on device" in err and "run/.hydra/config.yaml" in err
    assert "free space" in err and "job failed" not in err and "log" not in err
    with pytest.raises(StorageError, match="No space left"):
        hydra_multirun(dict(a=0), echo, ["a=1,2"])


def test_a_bad_job_logging_config_is_input_naming_the_handler(tmp_path, capsys):
    bad = "hydra.job_logging.handlers.file.class=nosuch.Handler"
    with pytest.raises(LaunchError) as info:
        hydra_run(dict(a=1), echo, [bad])
    assert info.value.path == "hydra.job_logging.handlers.file"
    code, _, err = cli(capsys, "run", spec(tmp_path, HELLO), bad)
    assert code == 2
    assert "hydra.job_logging.handlers.file" in err and "No module named 'nosuch'" in err
    assert "job failed" not in err
    code, _, err = cli(capsys, "run", spec(tmp_path, HELLO), "-m", "bar=a,b", bad)
    assert code == 2 and "job failed" not in err


# -- 3. a failed job's traceback in its own log file --------------------------------------


def _log_of(job_dir: Path, name: str) -> str:
    return (job_dir / f"{name}.log").read_text()


@pytest.mark.parametrize(
    "launcher",
    [
        [],
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],  # forked workers
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.launcher.timeout=600"],  # loky
    ],
    ids=["basic", "joblib-fork", "joblib-loky"],
)
def test_a_failed_jobs_traceback_is_in_its_log(tmp_path, launcher):
    if launcher:
        pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    jobs = hydra_multirun(
        dict(a=0), boom, ["a=1,2", "hydra.sweep.dir=sw", *launcher], on_error="continue"
    )
    assert len(jobs[0]) == 2
    for n in range(2):
        text = _log_of(tmp_path / "sw" / str(n), "boom")
        assert "Traceback (most recent call last)" in text
        assert f"ValueError: boom a={n + 1}" in text
        assert text.count("Traceback (most recent call last)") == 1  # once, not per layer


def test_a_failed_single_runs_traceback_is_in_its_log(tmp_path):
    with pytest.raises(ValueError, match="boom a=1") as info:
        hydra_run(dict(a=1), boom, ["hydra.run.dir=one"])
    text = _log_of(tmp_path / "one", "boom")
    assert "Traceback (most recent call last)" in text and "ValueError: boom a=1" in text
    # where it is, for the CLI's "see the job's log"
    assert info.value.zenspec_job_log == str(tmp_path / "one" / "boom.log")


@pytest.mark.skipif(
    RUN_JOB_LOGS_ERRORS,
    reason="hydra-core 1.4's own run_job writes a failed job's traceback to every root "
    "file handler (RUN_JOB_LOGS_ERRORS): stock 1.4 behaviour",
)
def test_without_log_configuration_nothing_is_written_to_the_callers_log(tmp_path):
    import logging

    mine = logging.FileHandler(tmp_path / "mine.log")
    root = logging.getLogger()
    root.addHandler(mine)
    try:
        with pytest.raises(ValueError):
            hydra_run(dict(a=1), boom, with_log_configuration=False)
    finally:
        root.removeHandler(mine)
        mine.close()
    assert "Traceback" not in (tmp_path / "mine.log").read_text()


# -- 4. the final error names the task's own exception ------------------------------------


def test_final_error_of_a_parallel_grid_names_the_tasks_exception(tmp_path, capsys):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    path = spec(
        tmp_path,
        '[experiment]\ntarget = "fractions:Fraction"\n\n[config]\nnumerator = 1\n\n'
        '[sweep]\nnumerator = ["1/2", "one half"]\n\n'
        '[launcher]\nkind = "joblib"\nn_jobs = 2\n\n[hydra]\nsweep.dir = "fr"\n',
    )
    code, _, err = cli(capsys, "run", path)
    assert code == 1
    final = err.strip().splitlines()[-1]
    assert "(first: #1, ValueError: Invalid literal for Fraction: 'one half')" in final
    assert "InstantiationException" not in final


def test_a_workers_failed_job_keeps_the_tasks_exception_as_its_cause():
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    jobs = hydra_multirun(
        builds(negative_fails, x=1),
        instantiate,
        ["x=1,-1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        on_error="continue",
    )
    error = jobs[0][1]._return_value
    # hydra-core 1.3's instantiate wraps the target's error (InstantiationException,
    # the task's error its cause); 1.4's raises the target's own error
    from hydra.errors import InstantiationException

    if isinstance(error, InstantiationException):
        assert not HYDRA_14
        cause = error.__cause__
    else:
        assert HYDRA_14
        cause = error
    assert isinstance(cause, ValueError) and str(cause) == "negative x: -1"
    assert "zenspec_cause" not in error.__dict__


# -- 5. override mistakes on config groups: one paragraph, did you mean -------------------


def test_a_missing_group_option_is_one_paragraph_with_did_you_mean(tmp_path, capsys):
    code, _, err = cli(capsys, "run", spec(tmp_path, GROUPS), "optim=adamx")
    assert code == 2
    assert (
        "override 'optim=adamx': group 'optim' has no option 'adamx' "
        "(it has: adam, adamw, sgd). Did you mean" in err
    )
    assert "'adamw'" in err
    assert "Config search path" not in err and "provider=" not in err
    with pytest.raises(OverrideError) as info:
        hydra_run(dict(optim=None), echo, ["optim=c"], groups={"optim": {"a": {"v": 1}}})
    assert info.value.path == "optim"


def test_an_unknown_launcher_names_the_installed_ones(tmp_path, capsys):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    code, _, err = cli(capsys, "run", spec(tmp_path, GROUPS), "--launcher", "jobib")
    assert code == 2
    assert "override 'hydra/launcher=jobib': no launcher 'jobib' (installed: basic, joblib" in err
    assert "Did you mean 'joblib'?" in err
    assert "Config search path" not in err
    with pytest.raises(OverrideError) as info:
        hydra_run(dict(a=1), echo, ["hydra/launcher=jobib"])
    assert info.value.path == "hydra/launcher"


# -- 6. glob on a config group under the grid sweeper -------------------------------------


@pytest.mark.parametrize(
    "pattern, chosen", [("glob(*)", ["adam", "adamw", "sgd"]), ("glob([a*])", ["adam", "adamw"])]
)
def test_glob_over_a_config_group_runs(tmp_path, capsys, pattern, chosen):
    path = spec(tmp_path, GROUPS + f'\n[sweep]\noptim = "{pattern}"\n\n[hydra]\nsweep.dir = "g"\n')
    code, _, err = cli(capsys, "run", path)
    assert code == 0, err
    got = [
        json.loads(p.read_text())["choices"]["optim"]
        for p in sorted((tmp_path / "g" / ".zenspec" / "jobs").glob("*.json"))
    ]
    assert got == chosen


def test_glob_over_a_config_group_from_the_command_line(tmp_path, capsys):
    code, out, err = cli(
        capsys,
        "run",
        spec(tmp_path, GROUPS),
        "-m",
        "optim=glob(*,exclude=sgd)",
        "hydra.sweep.dir=g",
    )
    assert code == 0, err
    assert "2 jobs: 2 completed" in out
