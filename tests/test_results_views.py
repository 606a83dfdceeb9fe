"""``zenspec results``: every returned scalar a column, typed params, --columns, --sort checked.

Real sweeps (in-process), then the command as a user types it, in every format.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from helpers import sweep_tasks
from helpers.cli import run_cli as run

from zenspec import hydra_multirun, load_results

QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled", "hydra.output_subdir=null"]
GROUPS = {"optim": {"sgd": {"name": "sgd"}, "adam": {"name": "adam"}}}


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    hydra_multirun(
        {"x": 0.0, "n": 0, "flag": False, "name": "a", "defaults": ["_self_", {"optim": "sgd"}]},
        sweep_tasks.many_values,
        [
            "x=1.5,2.25",
            "n=1,2",
            "flag=true",
            "name=run",
            "optim=sgd,adam",
            f"hydra.sweep.dir={root}",
            *QUIET,
        ],
        groups=GROUPS,
        metric="val_loss",
        with_log_configuration=False,
    )
    return root


def test_every_returned_scalar_is_a_column_in_every_format(sweep, capsys):
    code, out, _ = run(capsys, "results", sweep, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "job", "x", "n", "flag", "name", "optim", "status", "metric",
        "acc", "train_loss", "ok", "note", "nested.depth", "nested.deeper.leaf", "return:x",
        "duration_s",
    ]  # fmt: skip
    first = rows[0]
    assert first["x"] == "1.5" and first["acc"] == repr(1 / (1 + 0.25))
    assert first["note"] == "run-sgd" and first["nested.deeper.leaf"] == "1.5"
    code, out, _ = run(capsys, "results", sweep)  # the aligned table: the same columns
    assert out.splitlines()[0].split() == list(rows[0])
    code, out, _ = run(capsys, "results", sweep, "--format", "markdown")
    assert out.startswith("| job | x | n | flag | name | optim | status | metric | acc |")
    doc = json.loads(run(capsys, "results", sweep, "--format", "json")[1])
    assert doc["columns"][:8] == ["job", "x", "n", "flag", "name", "optim", "status", "metric"]
    job = doc["jobs"][0]
    assert job["values"]["nested.deeper.leaf"] == 1.5 and "curve" not in job["values"]
    assert job["return_value"]["curve"] == [1.0, 0.5]  # json stays the complete form


def test_params_are_typed_and_group_choices_stay_names(sweep, capsys):
    results = load_results(sweep)
    params = results.rows[0].params
    assert params == {"x": 1.5, "n": 1, "flag": True, "name": "run", "optim": "sgd"}
    assert [type(v) for v in params.values()] == [float, int, bool, str, str]
    best = results.best()
    assert best is not None and best.params["x"] == 2.25 and best.params["n"] == 1
    doc = json.loads(run(capsys, "results", sweep, "--format", "json")[1])
    assert doc["jobs"][0]["params"] == {
        "x": 1.5, "n": 1, "flag": True, "name": "run", "optim": "sgd"
    }  # fmt: skip


def test_sort_by_any_column_and_refuse_an_unknown_one(sweep, capsys):
    code, out, _ = run(capsys, "results", sweep, "--sort", "acc", "--maximize", "--format", "csv")
    accs = [float(r["acc"]) for r in csv.DictReader(io.StringIO(out))]
    assert code == 0 and accs == sorted(accs, reverse=True)
    code, out, _ = run(capsys, "results", sweep, "--sort", "val_loss", "--format", "csv")
    metrics = [float(r["metric"]) for r in csv.DictReader(io.StringIO(out))]
    assert metrics == sorted(metrics)  # the metric's own name sorts by the metric column
    code, out, err = run(capsys, "results", sweep, "--sort", "accc")
    assert code == 2 and out == ""
    assert "--sort 'accc': there is no such column" in err and "Did you mean 'acc'?" in err


def test_columns_pick_and_order_and_refuse_unknown_names(sweep, capsys):
    code, out, _ = run(capsys, "results", sweep, "--columns", "job,acc,x,result", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["job", "acc", "x", "result"]
    assert rows[0]["result"].startswith("{'val_loss'")
    code, _, err = run(capsys, "results", sweep, "--columns", "job,train_los")
    assert code == 2 and "Did you mean one of 'train_loss'" in err


def test_to_pandas_gives_the_typed_table(sweep):
    pandas = pytest.importorskip("pandas", reason="pandas is optional (pip install pandas)")
    df = load_results(sweep).to_pandas()
    assert list(df.columns)[:6] == ["job", "x", "n", "flag", "name", "optim"]
    assert df["x"].dtype.kind == "f" and df["n"].dtype.kind == "i" and df["flag"].dtype == bool
    assert isinstance(df, pandas.DataFrame) and len(df) == 8
    assert df.sort_values("acc", ascending=False)["x"].iloc[0] == 2.25


def test_to_pandas_without_pandas_says_how_to_get_it(sweep, monkeypatch):
    from zenspec.errors import ZenspecError

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ZenspecError, match="needs pandas") as info:
        load_results(Path(sweep)).to_pandas()
    assert "pip install pandas" in str(info.value)


# -- one job ----------------------------------------------------------------------------------


def test_one_job_shows_its_config_result_and_log(sweep, capsys):
    (num,) = [
        r.num for r in load_results(sweep).rows if r.params["x"] == 2.25 and r.params["n"] == 2
        and r.params["optim"] == "adam"
    ]  # fmt: skip
    record = json.loads((sweep / ".zenspec" / "jobs" / f"{num}.json").read_text())
    code, out, _ = run(capsys, "results", sweep, "--job", num)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"job {num}: completed"
    assert f"  overrides: {' '.join(record['overrides'])}" in lines
    assert "  choices:   optim=adam" in lines
    assert any(line.startswith("  returned:  {'val_loss': 2.0") for line in lines)
    assert "  config (.hydra/config.yaml):" not in lines  # output_subdir=null: none written
    doc = json.loads(run(capsys, "results", sweep, "--job", num, "--format", "json")[1])
    assert doc["params"] == {"x": 2.25, "n": 2, "flag": True, "name": "run", "optim": "adam"}
    assert doc["return_value"]["nested"] == {"depth": 2, "deeper": {"leaf": 2.25}}
    code, _, err = run(capsys, "results", sweep, "--job", "8")
    assert code == 2 and "there is no job 8 in this sweep (jobs: 0..7)" in err


def test_one_failed_job_shows_its_error_with_the_traceback(tmp_path, capsys):
    root = tmp_path / "failing"
    hydra_multirun(
        {"a": 0},
        sweep_tasks.every_third_fails,
        ["a=2,3", f"hydra.sweep.dir={root}"],
        metric="loss",
        on_error="continue",
    )
    capsys.readouterr()  # the sweep's own log lines
    code, out, _ = run(capsys, "results", root, "--job", "1")
    assert code == 0
    assert out.startswith("job 1: failed\n")
    assert "  error:     builtins.ValueError: a=3 is a multiple of three" in out
    assert "Traceback (most recent call last)" in out and "every_third_fails" in out
    assert f"  log:       {root / '1'}" in out  # the job's own log, where its traceback is too
    assert "  config (.hydra/config.yaml):\n    a: 3" in out


# -- many sweeps, and a job's own directory ----------------------------------------------------


def test_a_directory_of_sweeps_is_listed_newest_first(tmp_path, capsys):
    for name, values in (("first", "1,2"), ("second", "3,4,5")):
        hydra_multirun(
            {"a": 0},
            sweep_tasks.every_third_fails,
            [f"a={values}", f"hydra.sweep.dir={tmp_path / 'multirun' / name}", *QUIET],
            metric="loss",
            job_name=name,
            on_error="continue",
            with_log_configuration=False,
        )
    capsys.readouterr()
    code, out, _ = run(capsys, "results", tmp_path / "multirun")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["started", "name", "status", "jobs", "best", "dir"]
    assert " second " in lines[2] and " first " in lines[3]  # newest first
    assert "2 completed, 1 failed" in lines[2] and "loss=225 (job 2)" in lines[2]
    assert lines[-1] == f"2 run(s) under {tmp_path / 'multirun'}"
    doc = json.loads(run(capsys, "results", tmp_path / "multirun", "--format", "json")[1])
    assert [r["name"] for r in doc["runs"]] == ["second", "first"]
    assert doc["runs"][1]["counts"] == {"completed": 2}
    # a job's own directory: that job of its sweep
    code, out, _ = run(capsys, "results", tmp_path / "multirun" / "second" / "0")
    assert code == 0 and out.startswith("job 0: failed\n")
    code, _, err = run(capsys, "results", tmp_path / "nothing-here")
    assert code == 2 and "no zenspec records here" in err
