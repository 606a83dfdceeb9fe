"""Sweeps lose nothing: per-job records, failure isolation, resume, results tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.sweep_tasks import dies_at, every_third_fails
from hypothesis import given, settings
from hypothesis import strategies as st

from zenspec import hydra_multirun, hydra_run
from zenspec.records import load_results, read_job_records, read_manifest, render

REPO = Path(__file__).resolve().parents[1]


def sweep_dir(tmp_path: Path) -> Path:
    (d,) = [p.parent.parent for p in tmp_path.glob("multirun/**/.zenspec/manifest.json")]
    return d


def test_fifty_jobs_every_third_fails_then_retry_failed_completes(tmp_path):
    jobs = hydra_multirun(
        dict(a=0), every_third_fails, ["a=range(0,50)"], metric="loss", on_error="continue"
    )
    batch = jobs[0]
    assert len(batch) == 50
    failed = [j for j in batch if j.status.name == "FAILED"]
    assert len(failed) == 17 and all(j.cfg.a % 3 == 0 for j in failed)
    assert [j.return_value["a"] for j in batch if j.status.name == "COMPLETED"] == [
        a for a in range(50) if a % 3
    ]
    root = sweep_dir(tmp_path)
    records = read_job_records(root)
    assert [r["num"] for r in records] == list(range(50))
    bad = [r for r in records if r["status"] == "failed"]
    assert len(bad) == 17
    assert "multiple of three" in bad[0]["error"]["message"]
    assert "Traceback" in bad[0]["error"]["traceback"] and "ValueError" in bad[0]["error"]["type"]
    manifest = read_manifest(root)
    assert manifest["status"] == "failed"
    assert manifest["summary"]["completed"] == 33 and manifest["summary"]["failed"] == 17
    assert len(manifest["planned_jobs"]) == 50

    Path("FIXED").touch()  # fix the cause, then re-run only the failed jobs
    again = hydra_multirun(
        dict(a=0),
        every_third_fails,
        ["a=range(0,50)"],
        metric="loss",
        resume=root,
        retry_failed=True,
    )
    rerun = [j for b in again for j in b]
    assert sorted(j.cfg.a for j in rerun) == [a for a in range(50) if a % 3 == 0]
    assert all(j.output_dir == root / str(j.cfg.a) for j in rerun)  # same numbers, same dirs
    results = load_results(root)
    assert results.counts == {"completed": 50}
    assert results.best().params == {"a": 20}  # typed, as the override reads
    assert read_manifest(root)["status"] == "completed"
    assert read_manifest(root)["history"][0]["jobs"] == [a for a in range(50) if a % 3 == 0]


def test_default_on_error_raises_like_hydra_but_keeps_every_result(tmp_path):
    with pytest.raises(ValueError, match="a=0 is a multiple of three") as info:
        hydra_multirun(dict(a=0), every_third_fails, ["a=range(0,7)"])
    results = info.value.zenspec_results
    assert len(results[0]) == 7  # every job ran, not just up to the failure
    assert [j.return_value["a"] for j in results[0] if j.status.name == "COMPLETED"] == [1, 2, 4, 5]
    assert any("zenspec_results" in n for n in info.value.__notes__)


def test_fail_fast_stops_launching_after_the_first_failure(tmp_path):
    jobs = hydra_multirun(
        dict(a=0), every_third_fails, ["a=range(1,10)"], on_error="continue", fail_fast=True
    )
    ran = [j.cfg.a for b in jobs for j in b]
    assert ran == [1, 2, 3]
    results = load_results(sweep_dir(tmp_path))
    assert [r.status for r in results.rows] == ["completed", "completed", "failed"] + [
        "missing"
    ] * 6


def _child(code: str, env_extra: dict, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}", **env_extra)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


SWEEP = (
    "from zenspec import hydra_multirun\n"
    "from helpers.sweep_tasks import dies_at\n"
    "hydra_multirun(dict(a=0), dies_at, ['a=range(0,12)', 'hydra.sweep.dir=sweep'], metric='loss')\n"
)


def _comparable(root: Path):
    return [
        {k: r[k] for k in ("num", "overrides", "status", "return_value", "metric")}
        for r in read_job_records(root)
    ]


def test_a_job_that_kills_zenspec_is_recorded_by_resume_and_the_rest_run(tmp_path):
    killed = _child(SWEEP, {"DIE_AT": "5", "DIE_SIGNAL": "SIGKILL"}, tmp_path)
    assert killed.returncode == -9, killed.stderr
    root = tmp_path / "sweep"
    assert [r["num"] for r in read_job_records(root)] == [0, 1, 2, 3, 4]
    assert read_manifest(root)["status"] == "running"  # killed: no chance to say otherwise

    resume = SWEEP.replace("metric='loss')", "metric='loss', resume='sweep')")
    done = _child(resume, {}, tmp_path)
    assert done.returncode == 0, done.stderr
    records = read_job_records(root)
    assert [r["num"] for r in records] == list(range(12))  # every job exactly once
    crashed = records[5]
    assert crashed["status"] == "failed"
    assert "the zenspec process running it died" in crashed["cause"]
    assert [r["num"] for r in records if r["status"] == "completed"] == [
        n for n in range(12) if n != 5
    ]

    # the job that took zenspec down runs again only when asked
    retry = resume.replace("resume='sweep')", "resume='sweep', retry_failed=True)")
    assert _child(retry, {}, tmp_path).returncode == 0
    clean = tmp_path / "clean"
    clean.mkdir()
    assert _child(SWEEP, {}, clean).returncode == 0
    assert _comparable(root) == _comparable(clean / "sweep")
    assert read_manifest(root)["status"] == "completed"


def test_sigint_leaves_a_consistent_manifest(tmp_path):
    run = _child(SWEEP, {"DIE_AT": "3", "DIE_SIGNAL": "SIGINT"}, tmp_path)
    assert run.returncode != 0 and "KeyboardInterrupt" in run.stderr
    manifest = read_manifest(tmp_path / "sweep")
    assert manifest["status"] == "interrupted"
    statuses = [r["status"] for r in read_job_records(tmp_path / "sweep")]
    assert statuses == ["completed"] * 3 + ["interrupted"]
    assert manifest["summary"]["completed"] == 3 and manifest["summary"]["interrupted"] == 1


def test_two_runs_in_the_same_second_never_share_a_dir(tmp_path):
    template = ["hydra.sweep.dir=multirun/${now:%Y-%m-%d}", "a=1,2"]
    first = hydra_multirun(dict(a=0), dies_at, template)
    second = hydra_multirun(dict(a=0), dies_at, template)
    d1, d2 = first[0][0].output_dir.parent, second[0][0].output_dir.parent
    assert d1 != d2 and d2.name == d1.name + "_1"
    assert read_manifest(d1)["run_id"] != read_manifest(d2)["run_id"]
    r1 = hydra_run(dict(a=1), dies_at, ["hydra.run.dir=out/${now:%Y}"])
    r2 = hydra_run(dict(a=1), dies_at, ["hydra.run.dir=out/${now:%Y}"])
    assert r1.output_dir != r2.output_dir


def test_a_literal_dir_is_reused_and_old_records_kept_aside(tmp_path):
    hydra_multirun(dict(a=0), dies_at, ["hydra.sweep.dir=fixed", "a=1,2"])
    hydra_multirun(dict(a=0), dies_at, ["hydra.sweep.dir=fixed", "a=3"])
    assert [r["overrides"] for r in read_job_records(tmp_path / "fixed")] == [["a=3"]]
    (old,) = (tmp_path / "fixed").glob(".zenspec-*")
    assert len(list((old / "jobs").glob("*.json"))) == 2


def test_single_run_has_a_manifest_and_a_record(tmp_path):
    job = hydra_run(dict(a=4), dies_at, metric="loss")
    manifest = read_manifest(job.output_dir)
    assert manifest["mode"] == "RUN" and manifest["status"] == "completed"
    assert manifest["task"] == "helpers.sweep_tasks:dies_at"
    assert manifest["format_version"] == 1
    from importlib.metadata import version

    # the versions are read from the imported modules: they must be the installed ones
    got = manifest["provenance"]
    assert got["hydra_core"] == version("hydra-core")
    assert got["omegaconf"] == version("omegaconf")
    assert got["zenspec"] == version("zenspec")
    (record,) = read_job_records(job.output_dir)
    assert record["metric"] == 2.0 and record["return_value"] == {"loss": 2.0, "sq": 16}


def test_records_are_written_by_the_worker_process_under_joblib(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    hydra_multirun(
        dict(a=0), dies_at, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "a=range(0,4)"]
    )
    records = read_job_records(sweep_dir(tmp_path))
    assert [r["num"] for r in records] == [0, 1, 2, 3]
    assert all(r["pid"] != os.getpid() for r in records)


def test_workers_started_elsewhere_write_where_this_sweep_claimed(tmp_path, monkeypatch):
    """loky keeps its workers (and their cwd) across calls; a claimed `_1` dir is absolute."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "a=range(0,4)"]
    first, second = tmp_path / "first", tmp_path / "second"
    for d in (first, second):
        d.mkdir()
    monkeypatch.chdir(first)
    hydra_multirun(dict(a=0), dies_at, [*joblib, "hydra.sweep.dir=out/${now:%Y}"])
    monkeypatch.chdir(second)
    year = sorted(p.name for p in (first / "out").iterdir())[0]
    (second / "out" / year).mkdir(parents=True)  # taken: this sweep must claim out/<year>_1
    jobs = hydra_multirun(dict(a=0), dies_at, [*joblib, "hydra.sweep.dir=out/${now:%Y}"])
    claimed = second / "out" / f"{year}_1"
    assert jobs[0][0].output_dir.parent == claimed
    assert [r["num"] for r in read_job_records(claimed)] == [0, 1, 2, 3]
    assert len(read_job_records(first / "out" / year)) == 4  # the first sweep's, untouched


def test_resume_refuses_a_changed_sweep_unless_forced(tmp_path):
    from zenspec import LaunchError

    hydra_multirun(dict(a=0), dies_at, ["hydra.sweep.dir=s", "a=1,2"])
    with pytest.raises(LaunchError, match="cannot resume: the planned jobs differ"):
        hydra_multirun(dict(a=0), dies_at, ["a=1,2,3"], resume="s")
    with pytest.raises(LaunchError, match="config differs"):
        hydra_multirun(dict(a=0, b=1), dies_at, ["a=1,2"], resume="s")
    jobs = hydra_multirun(dict(a=0), dies_at, ["a=1,2,3"], resume="s", force=True)
    assert [j.cfg.a for b in jobs for j in b] == [3]


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_results_render_in_every_format(tmp_path, fmt):
    hydra_multirun(dict(a=0), every_third_fails, ["a=1,2,3"], metric="loss", on_error="continue")
    text = render(load_results(sweep_dir(tmp_path)), fmt, sort="metric")
    if fmt == "json":
        data = json.loads(text)
        assert data["counts"] == {"completed": 2, "failed": 1} and data["best"] == 1
    elif fmt == "csv":
        # every returned scalar a column: "a" is a param too, so its column is return:a
        assert text.splitlines()[0] == "job,a,status,metric,return:a,duration_s"
        assert text.splitlines()[1].startswith("1,2,completed,324.0,2,")
    else:
        assert "best: job 1 (*)" in text and "failed" in text


def test_a_huge_grid_is_refused_before_anything_runs(tmp_path):
    from zenspec import LaunchError

    with pytest.raises(
        LaunchError, match=r"expands to 1,000,000,000 jobs, more than max_jobs=100,000"
    ):
        hydra_multirun(dict(a=0, b=0), dies_at, ["a=range(0,1000000)", "b=range(0,1000)"])
    assert not (tmp_path / "multirun").exists()


@pytest.mark.parametrize(
    "overrides, count",
    [
        (["a=1,2,3", "b=range(0,10)"], 30),
        (["a=range(0,1,0.25)"], 4),
        (["a=choice(1,2)", "b=x", "c=[1,2]"], 2),
        (["a=1,2", "a=1,2,3"], 3),
    ],
)
def test_grid_count_matches_the_enumeration(overrides, count):
    from zenspec.launch.grid import count_grid, plan_grid

    assert count_grid(overrides) == count == len(plan_grid(overrides))


@pytest.mark.parametrize("mode", ["run", "multirun"])
def test_a_claimed_dir_gives_the_files_an_explicit_override_would(tmp_path, mode):
    """The `_1` dir of a collision is set in place; the files are as if composed with it."""
    import yaml

    key = "hydra.run.dir" if mode == "run" else "hydra.sweep.dir"
    launch = hydra_run if mode == "run" else hydra_multirun
    template = [f"{key}=out/${{now:%Y}}", "+b=${hydra:job.name}"]
    extra = [] if mode == "run" else ["a=5"]
    launch(dict(a=1), dies_at, [*template, *extra])
    claimed = launch(dict(a=1), dies_at, [*template, *extra])
    job = claimed if mode == "run" else claimed[0][0]
    moved = os.path.relpath(job.output_dir if mode == "run" else job.output_dir.parent)
    assert moved.endswith("_1")
    # the same launch, told the dir outright, composes everything from scratch
    told = launch(dict(a=1), dies_at, [*template, f"{key}={moved}-told", *extra])
    told_job = told if mode == "run" else told[0][0]

    def files(j):
        d = j.output_dir / ".hydra"
        out = {n: yaml.safe_load((d / n).read_text()) for n in ("config.yaml", "overrides.yaml")}
        hydra = yaml.safe_load((d / "hydra.yaml").read_text().replace(f"{moved}-told", moved))
        hydra = hydra["hydra"]
        hydra.pop("runtime")  # cwd, output_dir: where each ran
        hydra["overrides"]["hydra"] = sorted(hydra["overrides"]["hydra"])  # hydra.mode's place
        return out, hydra

    assert files(job) == files(told_job)
    hydra_yaml = yaml.safe_load((job.output_dir / ".hydra" / "hydra.yaml").read_text())
    assert f"{key}={moved}" in hydra_yaml["hydra"]["overrides"]["hydra"]


def test_records_land_in_the_sweep_dir_when_jobs_change_directory(tmp_path):
    # version_base 1.1's default, and the reference documentation's Hydra
    hydra_multirun(dict(a=0), dies_at, ["a=1,2", "hydra.job.chdir=True", "hydra.sweep.dir=out"])
    assert [r["overrides"] for r in read_job_records(tmp_path / "out")] == [["a=1"], ["a=2"]]
    assert not list((tmp_path / "out").glob("*/out"))  # nothing under the job dirs


def _sees_its_marker(cfg):
    from hydra.core.hydra_config import HydraConfig

    from zenspec.records.jobs import running_jobs

    hc = HydraConfig.get()
    return running_jobs(Path(hc.runtime.cwd, hc.sweep.dir))


def test_the_same_relative_sweep_dir_in_two_working_dirs_gets_markers_in_each(tmp_path):
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        os.chdir(tmp_path / name)
        jobs = hydra_multirun(dict(a=0), _sees_its_marker, ["a=1,2", "hydra.sweep.dir=same"])
        assert [j.return_value for j in jobs[0]] == [[0], [1]]
        assert len(read_job_records(tmp_path / name / "same")) == 2


class _Odd:
    def __str__(self):
        return "odd \u00e9"


_json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.just(_Odd())
_json_key = st.text() | st.integers() | st.booleans() | st.none() | st.floats()


@settings(max_examples=500, deadline=None)
@given(
    st.recursive(
        _json_leaf,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.tuples(inner, inner)
            | st.dictionaries(_json_key, inner, max_size=4)
        ),
        max_leaves=25,
    )
)
def test_record_json_is_the_json_modules_text(value):
    from zenspec.records.store import dumps_indented

    assert dumps_indented(value) == json.dumps(value, indent=2, sort_keys=False, default=str)
