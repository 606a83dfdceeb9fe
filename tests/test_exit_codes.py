"""Exit codes that tell the truth: failed study trials exit 1, a metric the task does not
return exits 2 after the first finished job (nothing computed is lost, nothing more runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import run_cli as run

from zenspec import hydra_multirun
from zenspec.errors import MetricError

REPO = Path(__file__).resolve().parents[1]

GRID = "[sweep]\nx = [1, 2, 3, 4]\n"
RANDOM = (
    '[sweep]\nx = { low = -12, high = 12 }\ny = "interval(-12, 12)"\n\n'
    '[sweeper]\nkind = "random"\nseed = 0\nmax_trials = 6\n'
)
OPTUNA = (
    "[sweep]\nx = { low = -12, high = 12 }\ny = { low = -12, high = 12 }\n\n"
    '[sweeper]\nkind = "optuna"\nsampler = "random"\nseed = 0\nn_trials = 6\n'
)
SWEEPS = {"grid": GRID, "random": RANDOM, "optuna": OPTUNA}


def write_spec(where: Path, sweep: str, metric: str = "loss", extra: str = "") -> Path:
    spec = where / "spec.toml"
    spec.write_text(
        "[experiment]\n"
        'name = "quad"\n'
        'task = "examples.quadratic:task"\n'
        f"search_path = [{json.dumps(str(REPO))}]\n"
        f'metric = "{metric}"\n\n'
        "[config]\nx = 0.0\ny = 0.0\n"
        f"{extra}\n{sweep}\n"
        '[hydra]\nsweep.dir = "sweep"\n',
        encoding="utf-8",
    )
    return spec


def records(sweep: Path) -> list:
    return sorted((sweep / ".zenspec" / "jobs").glob("*.json"))


def manifest_status(sweep: Path) -> str:
    return json.loads((sweep / ".zenspec" / "manifest.json").read_text())["status"]


def needs_optuna(kind: str) -> None:
    if kind == "optuna":
        pytest.importorskip("optuna")


# -- studies with failed trials exit 1, as a grid does ---------------------------------


def test_a_random_study_with_some_failed_trials_exits_1_after_its_table(capsys, tmp_path):
    spec = write_spec(tmp_path, RANDOM)
    code, out, err = run(capsys, "run", spec, "+fail_above=100", "-q")
    assert code == 1
    assert "best: trial #" in out and "(6 trial(s), 1 failed)" in out  # the summary first
    assert "1 of 6 trial(s) failed (first: trial #0, ValueError: loss" in err
    assert len(records(tmp_path / "sweep")) == 6  # every trial ran
    assert run(capsys, "results", "sweep", "--check")[0] == 1


def test_an_optuna_study_where_every_trial_fails_says_so_and_exits_1(capsys, tmp_path):
    pytest.importorskip("optuna")
    spec = write_spec(tmp_path, OPTUNA)
    code, out, err = run(capsys, "run", spec, "+fail_above=-1")
    assert code == 1
    assert out.count(" failed ") >= 6  # the table: every trial, with its error
    assert "best: none, no trial completed (6 trial(s), 6 failed)" in out
    assert "error: no trial completed: 6 of 6 trial(s) failed" in err
    assert run(capsys, "results", "sweep", "--check")[0] == 1


@pytest.mark.parametrize("kind", ["random", "optuna"])
def test_a_study_where_every_trial_completes_still_exits_0(kind, capsys, tmp_path):
    needs_optuna(kind)
    spec = write_spec(tmp_path, SWEEPS[kind])
    code, out, _ = run(capsys, "run", spec, "-q")
    assert code == 0 and "(6 trial(s), 0 failed)" in out
    assert run(capsys, "results", "sweep", "--check")[0] == 0


# -- a metric the task does not return: exit 2 after the first finished job ------------


@pytest.mark.parametrize("kind", ["grid", "random", "optuna"])
def test_a_misspelt_metric_stops_the_sweep_with_a_spec_error(kind, capsys, tmp_path):
    needs_optuna(kind)
    spec = write_spec(tmp_path, SWEEPS[kind], metric="los")
    code, _, err = run(capsys, "run", spec)
    assert code == 2
    assert f"{spec}::$.experiment.metric (line 5, column 1): metric 'los' is not in" in err
    assert "(keys: 'loss', 'distance'). did you mean 'loss'?" in err.lower()
    sweep = tmp_path / "sweep"
    # the first job finished and is recorded; nothing was launched after it
    assert len(records(sweep)) == 1
    record = json.loads(records(sweep)[0].read_text())
    assert record["status"] == "completed" and "loss" in record["return_value"]
    assert manifest_status(sweep) == "failed"
    assert run(capsys, "results", "sweep", "--check")[0] == 1
    code, out, _ = run(capsys, "results", "sweep", "--metric", "loss", "--format", "json")
    assert code == 0 and '"loss"' in out  # what was computed is readable


@pytest.mark.parametrize("kind", ["random", "optuna"])
def test_a_misspelt_metric_stops_a_study_after_its_current_batch(kind, capsys, tmp_path):
    needs_optuna(kind)
    spec = write_spec(tmp_path, SWEEPS[kind] + "batch_size = 2\n", metric="los")
    code, _, err = run(capsys, "run", spec)
    assert code == 2 and "did you mean 'loss'?" in err.lower()
    assert len(records(tmp_path / "sweep")) == 2  # one batch of 2, of 6 trials
    from zenspec.sweepers.results import read_study

    study = read_study(tmp_path / "sweep")  # the trials of that batch are on disk
    assert [t.status for t in study.trials] == ["failed", "failed"]


def test_a_non_numeric_metric_is_a_spec_error_too(capsys, tmp_path):
    spec = write_spec(tmp_path, GRID, metric="loss")
    # a task whose 'loss' is a string: the metric names a key that holds no number
    (tmp_path / "texty.py").write_text(
        "def task(cfg):\n    return {'loss': 'low', 'x': cfg.x}\n", encoding="utf-8"
    )
    text = spec.read_text().replace("examples.quadratic:task", "texty:task")
    text = text.replace(f"search_path = [{json.dumps(str(REPO))}]", 'search_path = ["."]')
    spec.write_text(text)
    code, _, err = run(capsys, "run", spec)
    assert code == 2
    assert "metric 'loss' is a str ('low') in what the task returned, not a number" in err
    assert len(records(tmp_path / "sweep")) == 1


def test_a_grid_under_joblib_reports_a_wrong_metric_after_its_batch(capsys, tmp_path):
    # parallel launchers get the whole grid at once (no first round holding every
    # worker): the metric is checked when the batch returns, still exit 2
    pytest.importorskip("joblib")
    spec = write_spec(
        tmp_path, "[sweep]\nx = [1, 2, 3, 4, 5, 6]\n", metric="los",
        extra='\n[launcher]\nkind = "joblib"\nn_jobs = 2\n',
    )  # fmt: skip
    code, _, err = run(capsys, "run", spec)
    assert code == 2 and "did you mean 'loss'?" in err.lower()
    assert len(records(tmp_path / "sweep")) == 6  # every job of the batch, recorded


def test_a_right_metric_runs_the_whole_grid(capsys, tmp_path):
    spec = write_spec(tmp_path, GRID)
    code, out, _ = run(capsys, "run", spec)
    assert code == 0 and "4 jobs: 4 completed" in out
    assert run(capsys, "results", "sweep", "--check")[0] == 0


def test_from_python_the_error_names_the_metric_and_keeps_the_trials(tmp_path):
    with pytest.raises(MetricError) as info:
        hydra_multirun(
            {"x": 0.0, "y": 0.0},
            __import__("examples.quadratic", fromlist=["task"]).task,
            [
                "hydra/sweeper=zenspec_random",
                "hydra.sweeper.metric=los",
                "hydra.sweeper.max_trials=4",
                "x=interval(0, 1)",
                "hydra.sweep.dir=sweep",
                "hydra/hydra_logging=disabled",
                "hydra/job_logging=disabled",
            ],
            with_log_configuration=False,
        )
    e = info.value
    assert e.exit_code == 2 and e.returned_keys == ("loss", "distance")
    assert "metric 'los' is not in what the task returned" in str(e)
    assert len(e.results.trials) == 1 and e.results.trials[0].status == "failed"


def test_a_study_stopped_by_max_failures_prints_its_trials_then_exits_1(capsys, tmp_path):
    spec = write_spec(tmp_path, RANDOM + "max_failures = 1\n")
    code, out, err = run(capsys, "run", spec, "+fail_above=0")
    assert code == 1
    assert "best: none, no trial completed (2 trial(s), 2 failed)" in out
    assert out.count("ValueError: loss") == 2  # the table, one row per trial
    assert "the study stopped: 2 trial(s) failed, more than max_failures=1" in err
    assert manifest_status(tmp_path / "sweep") == "failed"
