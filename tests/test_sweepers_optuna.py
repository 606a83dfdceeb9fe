"""zenspec's Optuna sweeper (ask-and-tell, Optuna >= 4): reproducible studies, TPE against
random search, a study killed mid-run and resumed from its SQLite storage, multi-objective
studies, and the errors users get."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean

import pytest

from examples.quadratic import quadratic
from examples.quadratic import task as quadratic_task
from zenspec import LaunchError, hydra_multirun
from zenspec.cli import main
from zenspec.sweepers import StudyResult, read_study

optuna = pytest.importorskip("optuna")

REPO = Path(__file__).resolve().parents[1]
SPACE = ["x=interval(-12, 12)", "y=interval(-12, 12)", "z=interval(-5, 5)"]
QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled", "hydra.output_subdir=null"]
CONFIG = {"x": 0.0, "y": 0.0, "z": 0.0}


def study_of(sweeper: str, *overrides: str) -> StudyResult:
    return hydra_multirun(
        CONFIG,
        quadratic_task,
        [f"hydra/sweeper={sweeper}", "hydra.sweeper.metric=loss", *QUIET, *SPACE, *overrides],
        with_log_configuration=False,
    )


def trials(study: StudyResult) -> list:
    return [(t.number, t.params, t.value, t.status) for t in study.trials]


def test_same_seed_same_study_across_runs_and_launchers_different_seed_differs():
    # the batch size decides what each ask sees, so it is fixed: 2, joblib's n_jobs
    args = ("hydra.sweeper.n_trials=6", "hydra.sweeper.seed=1")
    first = study_of("zenspec_optuna", *args, "hydra.sweeper.batch_size=2")
    again = study_of("zenspec_optuna", *args, "hydra.sweeper.batch_size=2")
    joblib = study_of("zenspec_optuna", *args, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    other = study_of("zenspec_optuna", "hydra.sweeper.n_trials=6", "hydra.sweeper.seed=2")
    assert trials(first) == trials(again) == trials(joblib)
    assert joblib.settings["batch_size"] == 2
    assert [t.params for t in other.trials] != [t.params for t in first.trials]
    for t in first.trials:
        assert t.value == quadratic(**t.params)


@pytest.mark.slow
def test_tpe_beats_random_search_on_the_same_budget():
    """Minimising (x-2)^2 + (y+3)^2 over x, y in [-12, 12] (z = 0) with 30 trials, seeds 0-4:
    the mean best loss is 1.62 for Optuna TPE (5 startup trials) and 4.68 for zenspec's
    random search (measured; both studies are deterministic)."""

    def best(sweeper, *overrides):
        return hydra_multirun(
            CONFIG,
            quadratic_task,
            [
                f"hydra/sweeper={sweeper}",
                "hydra.sweeper.metric=loss",
                *QUIET,
                *SPACE[:2],
                *overrides,
            ],
            with_log_configuration=False,
        ).best_value

    tpe = [
        best(
            "zenspec_optuna",
            "hydra.sweeper.n_trials=30",
            f"hydra.sweeper.seed={s}",
            "hydra.sweeper.sampler_kwargs={n_startup_trials:5}",
        )
        for s in range(5)
    ]
    rnd = [
        best("zenspec_random", "hydra.sweeper.max_trials=30", f"hydra.sweeper.seed={s}")
        for s in range(5)
    ]
    assert round(mean(rnd), 2) == 4.68, rnd  # zenspec's own sequence: a pure function of the seed
    assert mean(tpe) < 0.5 * mean(rnd)


@pytest.mark.parametrize("name", ["optuna_quadratic.toml", "optuna_quadratic.yaml"])
def test_shipped_specs_through_the_cli(name, capsys, tmp_path):
    assert main(["run", str(REPO / "specs" / name)]) == 0
    out = capsys.readouterr().out
    (found,) = tmp_path.glob("multirun/**/.zenspec/study.json")
    study = read_study(found.parent.parent)
    assert study.sweeper == "optuna" and study.settings["sampler"] == "tpe"
    assert len(study.trials) == 40 and not study.failed and study.best_value < 5
    assert study.summary() in out
    assert len(list((found.parent / "jobs").glob("*.json"))) == 40


def test_toml_and_yaml_specs_run_the_same_study(tmp_path):
    from zenspec.spec import load_spec

    a, b = (
        load_spec(REPO / "specs" / n).run(
            ["hydra.sweeper.n_trials=12"], with_log_configuration=False
        )
        for n in ("optuna_quadratic.toml", "optuna_quadratic.yaml")
    )
    assert trials(a) == trials(b)


SPEC = """\
[experiment]
name = "resumable"
task = "examples.quadratic:task"
metric = "loss"
[config]
x = 0.0
y = 0.0
z = 0.0
sleep = 0.3
[sweep]
x = { low = -12, high = 12 }
y = { low = -12, high = 12 }
[sweeper]
kind = "optuna"
sampler = "random"
seed = 0
n_trials = 8
storage = "studies/quadratic.db"
study_name = "quadratic"
[hydra]
job_logging = "disabled"
"""


def test_a_killed_study_resumes_from_its_storage_without_repeating_finished_trials(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    (tmp_path / "studies").mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    first = subprocess.Popen(
        [sys.executable, "-m", "zenspec", "run", str(spec), "hydra.sweep.dir=run1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jobs1 = tmp_path / "run1" / ".zenspec" / "jobs"
    deadline = time.monotonic() + 90

    def finished_and_running() -> tuple:
        done = {int(p.stem) for p in jobs1.glob("*.json")}
        running = {int(p.name.split(".")[1]) for p in jobs1.glob(".*.running")} - done
        return done, running

    # kill mid-trial: 3 trials told, and a 4th asked (its job is running), never in between
    while time.monotonic() < deadline:
        assert first.poll() is None, "the study ended before it could be killed"
        done, running = finished_and_running()
        if len(done) >= 3 and running:
            break
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = len(list(jobs1.glob("*.json")))
    assert 3 <= done_before < 8

    url = f"sqlite:///{tmp_path / 'studies' / 'quadratic.db'}"  # relative to the spec's dir
    killed = optuna.load_study(study_name="quadratic", storage=url)
    states = [t.state for t in killed.trials]
    complete_before = states.count(optuna.trial.TrialState.COMPLETE)
    asked_before = len(states)
    assert complete_before >= 2 and optuna.trial.TrialState.RUNNING in states

    assert main(["run", str(spec), "hydra.sweep.dir=run2"]) == 0
    study = optuna.load_study(study_name="quadratic", storage=url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 8  # n_trials in total, across both runs
    params = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(params)) == 8  # nothing finished was run again
    interrupted = [t for t in study.trials if t.user_attrs.get("zenspec_interrupted")]
    assert interrupted and all(t.state == optuna.trial.TrialState.FAIL for t in interrupted)
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    # the second run launched only the missing trials; its study lists them all
    ran2 = sorted(int(p.stem) for p in (tmp_path / "run2" / ".zenspec" / "jobs").glob("*.json"))
    assert len(ran2) == 8 - complete_before and ran2[0] == asked_before
    result = read_study(tmp_path / "run2")
    assert len([t for t in result.trials if t.status == "completed"]) == 8
    assert all("interrupted" in (t.error or "") for t in result.trials if t.status == "failed")


def test_multi_objective_returns_the_pareto_front():
    study = study_of(
        "zenspec_optuna",
        "hydra.sweeper.sampler=nsgaii",
        "hydra.sweeper.metric=[loss,distance]",
        "hydra.sweeper.directions=[minimize,maximize]",
        "hydra.sweeper.n_trials=8",
    )
    assert study.directions == ["minimize", "maximize"] and study.best_value is None
    assert study.pareto_front and all(len(t.values) == 2 for t in study.trials)
    assert study.summary().startswith(f"pareto front: {len(study.pareto_front)} trial(s)")


def test_failed_trials_are_told_as_failed_and_the_study_goes_on():
    study = study_of("zenspec_optuna", "hydra.sweeper.n_trials=8", "+fail_above=100")
    failed = [t for t in study.trials if t.status == "failed"]
    assert len(study.trials) == 8 and failed
    assert all("above fail_above=100" in t.error for t in failed)
    assert study.best_value == min(t.value for t in study.trials if t.status == "completed")


def test_grid_sampler_runs_the_grid_of_discrete_axes():
    study = hydra_multirun(
        {"x": 0, "y": 0},
        quadratic_task,
        [
            "hydra/sweeper=zenspec_optuna",
            "hydra.sweeper.sampler=grid",
            "hydra.sweeper.metric=loss",
            "x=range(0, 3)",
            "y=choice(-3, 0)",
            "hydra.sweeper.n_trials=100",
            *QUIET,
        ],
        with_log_configuration=False,
    )
    assert sorted((t.params["x"], t.params["y"]) for t in study.trials) == [
        (x, y) for x in range(3) for y in (-3, 0)
    ]
    assert study.best_params == {"x": 2, "y": -3} and study.best_value == 0
    with pytest.raises(LaunchError, match="the grid sampler needs discrete axes"):
        study_of("zenspec_optuna", "hydra.sweeper.sampler=grid")


def test_unknown_sampler_is_a_clear_error():
    with pytest.raises(LaunchError) as info:
        study_of("zenspec_optuna", "hydra.sweeper.sampler=tpee")
    assert "unknown Optuna sampler 'tpee'; the samplers are tpe, random, cmaes, grid, nsgaii" in str(info.value)  # fmt: skip
    assert "Did you mean 'tpe'?" in str(info.value)


def test_missing_optuna_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now fails
    assert main(["run", str(REPO / "specs" / "optuna_quadratic.toml")]) == 2
    err = capsys.readouterr().err
    assert "the optuna sweeper needs Optuna, which is not installed" in err
    assert "pip install zenspec[optuna]" in err and "Traceback" not in err
