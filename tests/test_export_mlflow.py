"""``zenspec export --mlflow``: sweeps logged to a real MLflow SQLite store and read back.

Real sweeps (the shipped adaptive spec, a sweep with odd values and a failure, a
sweep resumed after failures), exported with ``export_mlflow`` or the command, then
read back through ``MlflowClient``: parent and child runs, params, final and step
metrics, statuses, times, tags, artifacts; exporting again; errors. No mocks.

MLflow is imported by the exports themselves (after the sweeps have run): importing it
loads numpy, and zenspec does that without a BLAS thread pool so that joblib can fork.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.cli import run_cli

import zenspec
from zenspec import hydra_multirun, load_results
from zenspec.adaptive.report import job_metrics
from zenspec.cli import main
from zenspec.errors import ZenspecError
from zenspec.records.jobs import read_job_records

if importlib.util.find_spec("mlflow") is None:
    pytest.skip("MLflow is not installed (pip install 'zenspec[mlflow]')", allow_module_level=True)

from zenspec.export.mlflow import export_mlflow

# MLflow's SQL store asks SQLAlchemy for a loader strategy SQLAlchemy 2 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")

REPO = Path(__file__).resolve().parents[1]
QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]


def odd_task(cfg):
    """Odd names and non-finite values, reported and returned; x=2 fails."""
    zenspec.report(0, **{"val loss": 1.0, "a:b": 2.0})
    zenspec.report(1, **{"val loss": float("nan"), "a:b": float("inf")})
    if cfg.x == 2:
        raise ValueError("x=2 is refused")
    nan = float("nan") if cfg.x == 1 else 0.5
    return {"loss": nan, "big": float("inf"), "label": "hi", "ok": True, "bad/../key": 3.0}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """``<base>/adaptive`` (the shipped spec: 24 trials, pruned ones) and ``<base>/odd``."""
    base = tmp_path_factory.mktemp("sweeps")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        code = main(
            [
                "run",
                str(REPO / "specs" / "adaptive.toml"),
                f"hydra.sweep.dir={base / 'adaptive'}",
                "--tag",
                "team=vision",
                "--note",
                "first try",
                "-q",
            ]
        )
        assert code == 0
        hydra_multirun(
            {"x": 0},
            odd_task,
            ["x=0,1,2", f"hydra.sweep.dir={base / 'odd'}", *QUIET],
            job_name="odd",
            metric="loss",
            on_error="continue",
            with_log_configuration=False,
        )
    return base


@pytest.fixture(scope="module")
def exported(sweeps, tmp_path_factory):
    """The adaptive sweep exported once to a fresh SQLite store: ``(uri, summary, client)``."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    summary = export_mlflow([sweeps / "adaptive"], uri)
    return uri, summary, MlflowClient(tracking_uri=uri)


def _runs(client, experiment_id):
    return client.search_runs([experiment_id], max_results=1000)


def _by_job(runs):
    return {int(r.data.tags["zenspec.job"]): r for r in runs if "zenspec.job" in r.data.tags}


def test_round_trip_parent_jobs_params_metrics_steps_status_tags_artifacts(sweeps, exported):
    uri, summary, client = exported
    root = sweeps / "adaptive"
    results = load_results(root)
    (sweep,) = summary.sweeps
    assert (summary.new, summary.updated, summary.unchanged) == (24, 0, 0)
    experiment = client.get_experiment_by_name("adaptive")  # the spec's experiment.name
    assert experiment.experiment_id == sweep.experiment_id
    db_dir = Path(uri[len("sqlite:///") :]).parent
    assert experiment.artifact_location == (db_dir / "mlartifacts").as_uri()

    runs = _runs(client, experiment.experiment_id)
    (parent,) = [r for r in runs if r.data.tags.get("zenspec.kind") == "sweep"]
    assert parent.info.run_id == sweep.parent_run_id and parent.info.status == "FINISHED"
    assert parent.data.tags["zenspec.run_id"] == results.manifest["run_id"]
    assert parent.data.tags["team"] == "vision"
    assert parent.data.tags["mlflow.note.content"] == "first try"
    best = results.best()
    assert parent.data.metrics["best.val_loss"] == best.metric
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {
        "multirun.yaml",
        "spec",
        "zenspec",
    }
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "spec")] == [
        "spec/adaptive.toml"
    ]

    jobs = _by_job(runs)
    assert sorted(jobs) == list(range(24)) and len(runs) == 25
    records = {r["num"]: r for r in read_job_records(root)}
    planned = {j["num"]: j["id"] for j in results.manifest["planned_jobs"]}
    statuses = set()
    for row in results.rows:
        run = jobs[row.num]
        tags, record = run.data.tags, records[row.num]
        statuses.add(row.status)
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["zenspec.run_id"] == results.manifest["run_id"]
        assert tags["zenspec.job_id"] == planned[row.num]
        assert tags["zenspec.status"] == row.status and tags["team"] == "vision"
        assert tags["zenspec.seed"] == str(row.seed)
        assert run.data.params == {k: str(v) for k, v in row.params.items()}
        assert run.info.start_time == int(record["started_at"] * 1000)
        assert run.info.end_time == run.info.start_time + int(record["duration_s"] * 1000)
        stream = job_metrics(root, row.num)
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
            (s["step"], s["metrics"]["val_loss"]) for s in stream
        ]
        if row.status == "completed":
            assert run.info.status == "FINISHED"
            assert run.data.metrics["val_loss"] == row.values["val_loss"]
            assert run.data.metrics["best_val_loss"] == row.values["best_val_loss"]
            assert run.data.metrics["epochs"] == 20.0
        else:  # stopped by the pruner: not a failure
            assert row.status == "pruned" and run.info.status == "KILLED"
            assert tags["zenspec.pruned_step"] == str(record["pruned"]["step"])
            assert "epochs" not in run.data.metrics
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
            "hydra",
            "adaptive.log",
        }
        hydra_files = {a.path for a in client.list_artifacts(run.info.run_id, "hydra")}
        assert hydra_files == {"hydra/config.yaml", "hydra/hydra.yaml", "hydra/overrides.yaml"}
    assert statuses == {"completed", "pruned"}
    config = client.download_artifacts(jobs[0].info.run_id, "hydra/config.yaml", str(db_dir))
    assert Path(config).read_text() == (root / "0" / ".hydra" / "config.yaml").read_text()


def test_exporting_again_changes_nothing(sweeps, exported):
    uri, first, client = exported
    before = {r.info.run_id: r.data.tags["zenspec.fingerprint"] for r in _runs(client, "1")}
    summary = export_mlflow([sweeps / "adaptive", str(sweeps / "adaptive")], uri)
    assert len(summary.sweeps) == 1  # the same sweep, named twice: exported once
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 24)
    assert summary.sweeps[0].parent == "unchanged"
    assert summary.sweeps[0].parent_run_id == first.sweeps[0].parent_run_id
    after = {r.info.run_id: r.data.tags["zenspec.fingerprint"] for r in _runs(client, "1")}
    assert after == before
    assert "0 run(s) new, 0 updated, 24 already there" in summary.format()


def test_odd_values_failures_and_global_state(sweeps, tmp_path, capfd):
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'odd.db'}"  # a new store: its tables are made now
    tracking_uri, environ = mlflow.get_tracking_uri(), dict(os.environ)
    levels = {n: logging.getLogger(n).level for n in ("mlflow", "alembic")}
    capfd.readouterr()
    summary = export_mlflow([sweeps / "odd"], uri, experiment="odd values")
    out, err = capfd.readouterr()
    assert "INFO" not in out + err and "Creating initial" not in out + err  # quiet
    assert mlflow.get_tracking_uri() == tracking_uri and dict(os.environ) == environ
    assert {n: logging.getLogger(n).level for n in levels} == levels

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("odd values")
    runs = _runs(client, experiment.experiment_id)
    jobs = _by_job(runs)
    (parent,) = [r for r in runs if r.data.tags["zenspec.kind"] == "sweep"]
    assert parent.info.status == "FAILED"  # a job failed
    assert summary.new == 3 and [r.info.status for _, r in sorted(jobs.items())] == [
        "FINISHED",
        "FINISHED",
        "FAILED",
    ]
    ok, nan_job, failed = jobs[0], jobs[1], jobs[2]
    # NaN is logged as NaN; MLflow stores +-inf as the largest float
    assert ok.data.metrics["loss"] == 0.5 and math.isnan(nan_job.data.metrics["loss"])
    assert ok.data.metrics["big"] > 1e308
    # names MLflow refuses are made safe: other characters "_", no ".." path segments
    assert ok.data.metrics["bad/key"] == 3.0
    history = client.get_metric_history(ok.info.run_id, "val loss")
    assert [m.step for m in history] == [0, 1] and math.isnan(history[1].value)
    a_b = sorted(client.get_metric_history(ok.info.run_id, "a_b"), key=lambda m: m.step)
    assert a_b[0].value == 2.0 and a_b[1].value > 1e308
    # returned scalars that are not numbers are tags
    assert ok.data.tags["zenspec.return.label"] == "hi"
    assert ok.data.tags["zenspec.return.ok"] == "True"
    assert failed.data.tags["zenspec.error"] == "builtins.ValueError: x=2 is refused"
    assert "error.txt" in {a.path for a in client.list_artifacts(failed.info.run_id)}
    assert "loss" not in failed.data.metrics and "val loss" in failed.data.metrics


SPEC = """
[experiment]
name = "thirds"
task = "tests.helpers.sweep_tasks:every_third_fails"
metric = "loss"
search_path = ["{repo}"]

[config]
a = 0

[sweep]
a = "range(0, 4)"
"""


def test_a_resumed_sweep_is_updated_in_place_and_the_command_says_so(tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    spec = tmp_path / "thirds.toml"
    spec.write_text(textwrap.dedent(SPEC.format(repo=REPO)))
    root = tmp_path / "sweep"
    code, _, _ = run_cli(capsys, "run", spec, f"hydra.sweep.dir={root}", "-q")
    assert code == 1  # jobs 0 and 3 failed
    (root / ".zenspec" / "jobs" / "1.json").unlink()  # job 1: as if it never ran
    uri = "sqlite:///m.db"  # relative: to the cwd, as MLflow reads it
    code, out, err = run_cli(capsys, "export", tmp_path, "--mlflow", uri, traceback_free=True)
    assert code == 0, err
    assert out == (
        f"exported 1 sweep(s) to {uri}, experiment 'thirds' (id 1): 3 run(s) new, 0 updated, "
        "0 already there\n"
        f"  {root}: 1 job(s) without a record (missing, or still running: 1) not exported; "
        "export again once they ran\n"
        f"  open it: mlflow ui --backend-store-uri {uri}\n"
    )
    client = MlflowClient(tracking_uri=uri)
    before = _by_job(_runs(client, "1"))
    assert sorted(before) == [0, 2, 3] and before[0].info.status == "FAILED"
    assert "error.txt" in {a.path for a in client.list_artifacts(before[0].info.run_id)}
    assert (tmp_path / "mlartifacts" / before[0].info.run_id).is_dir()  # next to the db

    Path("FIXED").write_text("")  # the cause is fixed
    assert run_cli(capsys, "resume", root, "--retry-failed", "-q")[0] == 0
    code, out, _ = run_cli(capsys, "export", root, "--mlflow", uri)
    assert out.startswith(
        f"exported 1 sweep(s) to {uri}, experiment 'thirds' (id 1): 1 run(s) new, 2 updated, "
        "1 already there\n"
    )
    runs = _runs(client, "1")
    after = _by_job(runs)
    assert len(runs) == 5 and sorted(after) == [0, 1, 2, 3]  # no duplicate
    for num in (0, 2, 3):
        assert after[num].info.run_id == before[num].info.run_id  # in place
    fixed = after[0]
    assert fixed.info.status == "FINISHED" and fixed.data.metrics["loss"] == 400.0
    assert fixed.data.tags["zenspec.status"] == "completed"
    assert "zenspec.error" not in fixed.data.tags  # the error of the first attempt is gone
    assert "error.txt" not in {a.path for a in client.list_artifacts(fixed.info.run_id)}
    (parent,) = [r for r in runs if r.data.tags["zenspec.kind"] == "sweep"]
    assert parent.info.status == "FINISHED"  # the sweep completed since
    code, out, _ = run_cli(capsys, "export", root, "--mlflow", uri)
    assert "0 run(s) new, 0 updated, 4 already there" in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_errors_say_what_to_fix(sweeps, tmp_path, capsys, monkeypatch):
    sweep = sweeps / "odd"
    code, out, err = run_cli(capsys, "export", tmp_path, "--mlflow", "sqlite:///x.db")
    assert code == 2 and out == "" and "holds no zenspec sweep" in err
    code, _, err = run_cli(capsys, "export", tmp_path / "nope", "--mlflow", "sqlite:///x.db")
    assert code == 2 and "no such directory" in err
    code, _, err = run_cli(capsys, "export", sweep, "--mlflow", "x.db")
    assert code == 2 and "Fix: --mlflow sqlite:///x.db" in err
    port = _closed_port()
    code, _, err = run_cli(capsys, "export", sweep, "--mlflow", f"http://127.0.0.1:{port}")
    assert code == 2 and "cannot reach the MLflow tracking server" in err and "Fix:" in err
    code, _, err = run_cli(capsys, "export", sweep, "--mlflow", "nosuch://x", traceback_free=True)
    assert code == 2 and "MLflow at nosuch://x" in err and "Fix:" in err
    assert not (tmp_path / "x.db").exists()

    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ZenspecError, match="needs MLflow") as info:
        export_mlflow([sweep], "sqlite:///x.db")
    assert "pip install 'zenspec[mlflow]'" in str(info.value)


def test_import_zenspec_does_not_import_mlflow():
    code = (
        "import sys, zenspec, zenspec.export, zenspec.export.mlflow, zenspec.cli; "
        "assert 'mlflow' not in sys.modules, 'mlflow imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
