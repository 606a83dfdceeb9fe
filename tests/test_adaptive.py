"""Adaptive sweeps end to end: ``zenspec.report`` streams under every launcher (and through
SIGKILL), pruning that reaches the task (random search and Optuna), the async schedule,
per-job seeds, and the shipped ``specs/adaptive.toml`` through the ``zenspec`` command.

Real engines, no mocks; the tasks are in ``tests/helpers/adaptive_tasks.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import adaptive_tasks as tasks
from helpers.cli import run_cli

import zenspec
from zenspec import hydra_multirun, hydra_run
from zenspec.adaptive.report import job_metrics
from zenspec.errors import JobDiedError
from zenspec.records.jobs import read_job_records
from zenspec.sweepers import read_study

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
QUIET = ["hydra/job_logging=disabled", "hydra/hydra_logging=disabled", "hydra.output_subdir=null"]
LAUNCHERS = {
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"],
    "ray": ["hydra/launcher=ray"],
}
PLUGINS = {
    "joblib": "hydra_plugins.hydra_joblib_launcher",
    "submitit_local": "hydra_plugins.hydra_submitit_launcher",
}  # ray: zenspec's own launcher (zenspec.launchers.ray), which needs Ray only


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray (2 CPUs) for the module, as tests/test_launchers.py starts it."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(
            "PYTHONPATH", os.pathsep.join([str(REPO), str(TESTS), os.environ.get("PYTHONPATH", "")])
        )
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _needs(kind, request, monkeypatch):
    """Skip when *kind*'s Hydra plugin (or Ray) is missing; let its processes import helpers."""
    if kind in PLUGINS:
        pytest.importorskip(PLUGINS[kind], reason=f"the {kind} launcher plugin is not installed")
    if kind == "ray":
        request.getfixturevalue("ray_cluster")
    # submitit/ray start fresh interpreters: `helpers.adaptive_tasks` must import there too
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ["PYTHONPATH"]]))


def _needs_optuna():
    """Skip without Optuna, but do not import it here: zenspec imports it (and numpy) without
    starting a BLAS thread pool, which would stop joblib from forking its workers."""
    if importlib.util.find_spec("optuna") is None:
        pytest.skip("the pruners are Optuna's, which is not installed")


def _records(sweep_dir) -> dict:
    return {r["num"]: r for r in read_job_records(Path(sweep_dir))}


def _notes(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- 1. report outside a job, and under hydra_run ---------------------------------------------


def test_report_outside_a_job_is_a_no_op(tmp_path):
    assert zenspec.report(0, loss=1.0) is None
    assert zenspec.report(1, loss=float("nan"), note="text") is None
    assert list(tmp_path.rglob("*")) == []  # nothing written anywhere
    assert zenspec.job_seed() is None


def test_report_under_a_single_run_writes_the_stream_and_the_record(tmp_path):
    value = hydra_run(
        {"x": 10, "steps": 4},
        tasks.counting,
        ["hydra.run.dir=run", *QUIET],
        with_log_configuration=False,
    ).return_value
    assert value["loss"] == 13
    lines = (tmp_path / "run" / ".zenspec" / "metrics" / "0.jsonl").read_text().splitlines()
    stream = [json.loads(line) for line in lines]
    assert [s["step"] for s in stream] == [0, 1, 2, 3]
    assert [s["metrics"] for s in stream] == [
        {"loss": 10 + i, "twice": 2 * (10 + i)} for i in range(4)
    ]
    assert all(isinstance(s["time"], float) for s in stream)
    assert [s["time"] for s in stream] == sorted(s["time"] for s in stream)
    assert job_metrics(tmp_path / "run", 0) == stream
    record = json.loads((tmp_path / "run" / ".zenspec" / "jobs" / "0.json").read_text())
    assert record["status"] == "completed"
    assert record["reports"] == {"reports": 4, "step": 3, "metrics": {"loss": 13, "twice": 26}}
    # and report is a no-op again once the job is over
    assert zenspec.report(9, loss=0.0) is None
    assert len(job_metrics(tmp_path / "run", 0)) == 4


# -- 2. report under each launcher -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["basic", "joblib", "submitit_local", "ray"])
def test_every_job_streams_all_its_steps_in_order_under_each_launcher(
    kind, tmp_path, request, monkeypatch
):
    _needs(kind, request, monkeypatch)
    sweep_dir = tmp_path / kind
    steps = 25
    jobs = hydra_multirun(
        {"x": 0, "steps": steps},
        tasks.counting,
        [*LAUNCHERS[kind], "x=0,100,200,300", f"hydra.sweep.dir={sweep_dir}", *QUIET],
        with_log_configuration=False,
    )
    pids = {j.return_value["pid"] for j in jobs[0]}
    assert (pids == {os.getpid()}) == (kind == "basic")  # the jobs ran elsewhere but in basic
    records = _records(sweep_dir)
    assert sorted(records) == [0, 1, 2, 3]
    for num, x in enumerate([0, 100, 200, 300]):
        stream = job_metrics(sweep_dir, num)
        assert [s["step"] for s in stream] == list(range(steps)), (kind, num)
        assert [s["metrics"]["loss"] for s in stream] == [x + i for i in range(steps)]
        assert records[num]["status"] == "completed"
        assert records[num]["reports"] == {
            "reports": steps,
            "step": steps - 1,
            "metrics": {"loss": x + steps - 1, "twice": 2 * (x + steps - 1)},
        }


# -- 3. a stream survives kill -9 --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["joblib", "submitit_local"])
def test_a_stream_keeps_every_line_of_a_job_killed_with_sigkill(
    kind, tmp_path, request, monkeypatch
):
    _needs(kind, request, monkeypatch)
    sweep_dir = tmp_path / "sweep"
    steps = 60
    with pytest.raises(JobDiedError):
        hydra_multirun(
            {"steps": steps, "kill": False},
            tasks.reports_then_dies,
            [*LAUNCHERS[kind], "kill=false,true", f"hydra.sweep.dir={sweep_dir}", *QUIET],
            with_log_configuration=False,
        )
    records = _records(sweep_dir)
    assert records[0]["status"] == "completed" and records[1]["status"] == "failed"
    raw = (sweep_dir / ".zenspec" / "metrics" / "1.jsonl").read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == steps  # complete lines, none torn
    killed = job_metrics(sweep_dir, 1)
    assert [s["step"] for s in killed] == list(range(steps))
    assert all(s["metrics"] == {"loss": float(s["step"]), "pad": "x" * 40} for s in killed)
    assert [s["step"] for s in job_metrics(sweep_dir, 0)] == list(range(steps))


# -- 4. pruning reaches the task ---------------------------------------------------------------

STEPS = 12  # 0.04 s each: a decision at step 2 has ~0.3 s to reach a forked task
UPPER = 0.5


def _threshold_sweep(sweeper: str, tmp_path: Path, *overrides: str):
    log = tmp_path / "seen.jsonl"
    study = hydra_multirun(
        {"x": 0.0, "steps": STEPS, "step_s": 0.04, "log": str(log)},
        tasks.thresholded,
        [
            f"hydra/sweeper={sweeper}",
            "hydra.sweeper.metric=loss",
            f"hydra.sweeper.pruner={{kind:threshold,upper:{UPPER}}}",
            "x=interval(0, 1)",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            *QUIET,
            *overrides,
        ],
        with_log_configuration=False,
    )
    return study, _records(tmp_path / "sweep"), _notes(log)


def _check_threshold_pruning(study, records, notes):
    """Trials over UPPER end pruned (at or after step 2, before the end), the others complete."""
    assert len(study.trials) == len(records) >= 6
    over = [t for t in study.trials if t.params["x"] > UPPER]
    under = [t for t in study.trials if t.params["x"] <= UPPER]
    assert over and under, "the seed must draw trials on both sides of the threshold"
    seen = {}
    for note in notes:
        assert note["seen"] != "swallowed", f"except Exception caught zenspec.Pruned: {note}"
        seen.setdefault(note["num"], []).append(note["seen"])
    for t in over:
        record = records[t.job]
        assert t.status == "pruned" and record["status"] == "pruned", (t, record)
        assert 2 <= t.step < STEPS - 1 and record["pruned"]["step"] == t.step
        assert record["pruned"]["metrics"] == {"loss": t.params["x"]}
        assert t.value == t.params["x"]
        assert seen[t.job] == ["pruned"]  # the code after the loop never ran
        assert record["reports"]["step"] == t.step
        assert [s["step"] for s in job_metrics(Path(study.sweep_dir), t.job)] == list(
            range(t.step + 1)
        )
    for t in under:
        record = records[t.job]
        assert t.status == "completed" and record["status"] == "completed", (t, record)
        assert t.value == t.params["x"] == record["metric"]
        assert seen[t.job] == ["completed"]
        assert record["reports"]["step"] == STEPS - 1
    # the study on disk says the same; the best is a completed trial
    on_disk = read_study(Path(study.sweep_dir))
    assert [(t.number, t.status) for t in on_disk.trials] == [
        (t.number, t.status) for t in study.trials
    ]
    assert study.best_value == min(t.value for t in under)


@pytest.mark.parametrize(
    "kind, schedule", [("basic", "batch"), ("joblib", "batch"), ("joblib", "async")]
)
def test_a_threshold_pruner_stops_random_search_trials_in_the_task(
    kind, schedule, tmp_path, request, monkeypatch
):
    _needs_optuna()
    _needs(kind, request, monkeypatch)
    study, records, notes = _threshold_sweep(
        "zenspec_random",
        tmp_path,
        *LAUNCHERS[kind],
        "hydra.sweeper.max_trials=8",
        "hydra.sweeper.seed=0",
        f"hydra.sweeper.schedule={schedule}",
    )
    assert study.settings["pruner"] == {"kind": "threshold", "upper": UPPER}
    assert study.settings["schedule"] == schedule
    _check_threshold_pruning(study, records, notes)
    if kind == "basic":  # in the sweep's own process the decision comes at the step reported
        assert all(t.step == 2 for t in study.trials if t.status == "pruned")


def test_a_threshold_pruner_stops_optuna_trials_and_the_storage_says_pruned(
    tmp_path, request, monkeypatch
):
    _needs_optuna()
    _needs("joblib", request, monkeypatch)
    db = tmp_path / "study.db"
    study, records, notes = _threshold_sweep(
        "zenspec_optuna",
        tmp_path,
        *LAUNCHERS["joblib"],
        "hydra.sweeper.n_trials=8",
        "hydra.sweeper.seed=0",
        "hydra.sweeper.sampler=random",
        f"hydra.sweeper.storage={db}",
        "hydra.sweeper.study_name=pruning",
    )
    _check_threshold_pruning(study, records, notes)
    import optuna  # imported by the sweep already

    stored = optuna.load_study(study_name="pruning", storage=f"sqlite:///{db}").trials
    state = optuna.trial.TrialState
    by_number = {t.number: t for t in study.trials}
    assert sorted(by_number) == [t.number for t in stored]
    for t in stored:
        ours = by_number[t.number]
        if ours.status == "pruned":
            assert t.state == state.PRUNED
            assert max(t.intermediate_values) <= ours.step
            assert t.intermediate_values[max(t.intermediate_values)] > UPPER
        else:
            assert t.state == state.COMPLETE and t.value == ours.value


@pytest.mark.parametrize(
    "pruner, says",
    [
        ("{kind:medain}", "unknown pruner kind 'medain'"),
        ("{kind:median,bogus:1}", "the median pruner does not take these settings"),
        ("{upper:1}", "unknown pruner kind ''"),
    ],
)
def test_a_wrong_pruner_is_refused_before_any_job_runs(pruner, says, tmp_path):
    _needs_optuna()
    from zenspec import LaunchError

    with pytest.raises(LaunchError, match=says) as caught:
        hydra_multirun(
            {"x": 0.0, "steps": 3},
            tasks.counting,
            [
                "hydra/sweeper=zenspec_random",
                "hydra.sweeper.metric=loss",
                f"hydra.sweeper.pruner={pruner}",
                "x=interval(0, 1)",
                f"hydra.sweep.dir={tmp_path / 'sweep'}",
                *QUIET,
            ],
            with_log_configuration=False,
        )
    assert "hydra.sweeper.pruner" in str(caught.value)
    assert not (tmp_path / "sweep" / ".zenspec" / "jobs").exists()


# -- 5. a median pruner on learning curves -----------------------------------------------------


def test_a_median_pruner_prunes_bad_curves_and_the_best_stays_close(tmp_path):
    _needs_optuna()
    from examples.curves import train

    def run(pruner: str, where: str):
        return hydra_multirun(
            {"lr": 0.1, "width": 64, "epochs": 15, "step_s": 0.0},
            lambda cfg: train(**cfg),
            [
                "hydra/sweeper=zenspec_random",
                "hydra.sweeper.metric=val_loss",
                "hydra.sweeper.max_trials=16",
                "hydra.sweeper.seed=0",
                f"hydra.sweeper.pruner={pruner}",
                "lr=tag(log, interval(0.001, 1.0))",
                "width=16,32,64,128",
                f"hydra.sweep.dir={tmp_path / where}",
                *QUIET,
            ],
            with_log_configuration=False,
        )

    pruned_study = run("{kind:median,n_startup_trials:4,n_warmup_steps:3}", "median")
    full = run("{kind:none}", "none")
    assert [t.params for t in pruned_study.trials] == [t.params for t in full.trials]
    assert all(t.status == "completed" for t in full.trials)
    pruned = [t for t in pruned_study.trials if t.status == "pruned"]
    assert 0 < len(pruned) < len(pruned_study.trials)
    assert all(t.number >= 4 and 3 <= t.step < 14 for t in pruned)  # after startup and warmup
    # the trials that ran to the end have the same values as without a pruner
    values = {t.number: t.value for t in full.trials}
    for t in pruned_study.trials:
        if t.status == "completed":
            assert t.value == values[t.number]
    assert pruned_study.best_value <= full.best_value + 0.05
    epochs = sum(r["reports"]["reports"] for r in read_job_records(tmp_path / "median"))
    assert epochs < 15 * 16


# -- 6. the async schedule ---------------------------------------------------------------------

#: seed 3 draws d = 0.1, 0.8, 0.1, 0.8, 0.8, 0.1, 0.1, 0.8: 3.2 s in batches of 2, 2.0 s async
ASYNC_SEED = 3


def _timed_sweep(schedule: str, tmp_path: Path):
    """The sweep in a fresh interpreter (see ``adaptive_tasks.timed_sweep``): its study
    (params, settings, statuses) and each job's (start, end) from its record, by start."""
    sweep_dir = tmp_path / schedule
    code = (
        "from helpers.adaptive_tasks import timed_sweep; "
        f"timed_sweep({schedule!r}, {str(sweep_dir)!r}, {ASYNC_SEED})"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    study = json.loads(done.stdout.strip().splitlines()[-1])
    records = sorted(read_job_records(sweep_dir), key=lambda r: r["started_at"])
    spans = [(r["started_at"], r["started_at"] + r["duration_s"]) for r in records]
    return study, spans


def test_async_keeps_both_workers_busy_and_beats_batches(tmp_path, request, monkeypatch):
    _needs("joblib", request, monkeypatch)
    async_study, async_spans = _timed_sweep("async", tmp_path)
    batch_study, batch_spans = _timed_sweep("batch", tmp_path)
    # the same seeded trials either way
    assert async_study["params"] == batch_study["params"]
    assert [p["d"] for p in async_study["params"]] == [0.1, 0.8, 0.1, 0.8, 0.8, 0.1, 0.1, 0.8]
    assert async_study["settings"]["schedule"] == "async"
    assert batch_study["settings"]["schedule"] == "batch"
    assert async_study["statuses"] == batch_study["statuses"] == ["completed"] * 8
    assert len(async_spans) == len(batch_spans) == 8
    # async: no worker idles while trials remain -- each of the first 6 jobs to end is
    # followed within 0.3 s by the start of a new one (the last 2 have nothing left to free for)
    ends = sorted(e for _, e in async_spans)
    starts = [s for s, _ in async_spans]
    for end in ends[:6]:
        assert any(-0.05 <= s - end < 0.3 for s in starts[2:]), (end, async_spans)
    # ... and each job after the first two starts within 0.3 s of some job's end
    for start in starts[2:]:
        assert any(-0.05 <= start - e < 0.3 for e in ends), (start, async_spans)
    # never more than 2 jobs at a time
    for start in starts:
        assert sum(s <= start + 1e-3 < e for s, e in async_spans) <= 2
    wall_async = max(ends) - min(starts)
    wall_batch = max(e for _, e in batch_spans) - min(s for s, _ in batch_spans)
    assert wall_batch >= 3.0  # each batch of 2 waits for its slowest: 4 x 0.8 s
    assert wall_async < wall_batch - 0.7, (wall_async, wall_batch)  # about 2.0 s against 3.2 s
    # in batches, a fast job's worker does idle: the 0.1 s job of batch 1 ends ~0.7 s before
    # the next start
    batch_starts = sorted(s for s, _ in batch_spans)
    first_fast_end = min(e for _, e in batch_spans)
    assert min(s - first_fast_end for s in batch_starts if s > first_fast_end) > 0.5


@pytest.mark.parametrize("kind", ["submitit_local", "ray"])
def test_async_starts_a_trial_as_soon_as_a_slot_frees_on_every_engine(
    kind, tmp_path, request, monkeypatch
):
    """submitit and Ray pull trials natively too: while job 0 runs long, the other slot
    runs jobs 1, 2 and 3 one after another (batches of 2 would hold job 2 for job 0)."""
    _needs(kind, request, monkeypatch)
    study = hydra_multirun(
        {"x": 0, "slow": 4.0},
        tasks.first_is_slow,
        [
            "hydra/sweeper=zenspec_random",
            "hydra.sweeper.metric=loss",
            "hydra.sweeper.max_trials=4",
            "hydra.sweeper.batch_size=2",
            "hydra.sweeper.schedule=async",
            "x=0,1",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            *LAUNCHERS[kind],
            *QUIET,
        ],
        with_log_configuration=False,
    )
    assert [t.status for t in study.trials] == ["completed"] * 4
    records = _records(tmp_path / "sweep")
    end_of_0 = records[0]["started_at"] + records[0]["duration_s"]
    assert records[0]["duration_s"] >= 4.0
    for num in (2, 3):  # started while job 0 still ran: no batch boundary
        assert records[num]["started_at"] < end_of_0, (num, records)
    spans = [(r["started_at"], r["started_at"] + r["duration_s"]) for r in records.values()]
    for start, _ in spans:  # never more than batch_size at once
        assert sum(s <= start + 1e-3 < e for s, e in spans) <= 2


@pytest.mark.parametrize("dying", [None, 2])
def test_async_on_loky_workers_pulls_trials_and_loses_none(dying, tmp_path, request, monkeypatch):
    """Workers that cannot be forked (here: ZENSPEC_JOBLIB_START=loky; in life a task module
    that imports numpy) pull trials too; a worker that dies fails its own job only."""
    _needs("joblib", request, monkeypatch)
    monkeypatch.setenv("ZENSPEC_JOBLIB_START", "loky")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ["PYTHONPATH"]]))
    study = hydra_multirun(
        {"x": 0, "die": -1 if dying is None else dying},
        tasks.dies_at,
        [
            "hydra/sweeper=zenspec_random",
            "hydra.sweeper.metric=loss",
            "hydra.sweeper.max_trials=6",
            "hydra.sweeper.schedule=async",
            "x=0,1",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            *LAUNCHERS["joblib"],
            *QUIET,
        ],
        with_log_configuration=False,
    )
    records = _records(tmp_path / "sweep")
    assert sorted(records) == list(range(6))
    statuses = {n: r["status"] for n, r in records.items()}
    if dying is None:
        assert set(statuses.values()) == {"completed"}
    else:
        assert records[dying]["status"] == "failed" and records[dying]["cause"] == "exit code 3"
        assert [t.status for t in study.trials].count("failed") == 1
        assert all(s == "completed" for n, s in statuses.items() if n != dying)
    ran = [r for r in records.values() if r.get("started_at") is not None]  # not the dead one
    spans = [(r["started_at"], r["started_at"] + r["duration_s"]) for r in ran]
    for start, _ in spans:
        assert sum(s <= start + 1e-3 < e for s, e in spans) <= 2


# -- 7. per-job seeds ---------------------------------------------------------------------------


_seeded_basic: dict = {}


@pytest.mark.parametrize("kind", ["basic", "joblib"])
def test_each_job_gets_its_derived_seed_and_repeats_its_draws(kind, tmp_path, request, monkeypatch):
    _needs(kind, request, monkeypatch)

    def run(where: str):
        hydra_multirun(
            {"x": 0, "y": "a"},
            tasks.seeded,
            [*LAUNCHERS[kind], "x=1,2", "y=a,b", f"hydra.sweep.dir={tmp_path / where}", *QUIET],
            with_log_configuration=False,
            seed=7,
        )
        return read_job_records(tmp_path / where)

    first, second = run("first"), run("second")
    assert len(first) == 4
    seeds = set()
    for record in first:
        expected = zenspec.derive_seed(7, record["overrides"])
        assert record["seed"] == expected
        assert record["return_value"]["job_seed"] == expected
        seeds.add(expected)
    assert len(seeds) == 4  # different overrides, different seeds
    # the same job, the same draws; different jobs, different draws
    assert [r["return_value"] for r in first] == [r["return_value"] for r in second]
    assert len({r["return_value"]["random"] for r in first}) == 4
    rng = random.Random(first[0]["seed"])
    assert first[0]["return_value"]["random"] == rng.random()
    assert zenspec.job_seed() is None  # not leaked out of the jobs
    # the same seeds and draws in the sweep's process and in joblib's workers
    values = [(r["seed"], r["return_value"]) for r in first]
    assert _seeded_basic.setdefault("values", values) == values


# -- 8. the shipped spec ------------------------------------------------------------------------


def test_the_shipped_adaptive_spec_runs_through_the_command(capsys, tmp_path, request, monkeypatch):
    _needs_optuna()
    _needs("joblib", request, monkeypatch)
    spec = REPO / "specs" / "adaptive.toml"
    code, out, err = run_cli(
        capsys, "run", spec, f"hydra.sweep.dir={tmp_path / 's'}", traceback_free=True
    )
    assert code == 0, err
    study = read_study(tmp_path / "s")
    statuses = [t.status for t in study.trials]
    assert len(statuses) == 24 and set(statuses) <= {"completed", "pruned"}
    assert "pruned" in statuses  # curves that fall behind the median are stopped
    assert study.settings["schedule"] == "async"
    assert "best: trial #" in out and " pruned)" in out  # e.g. (24 trial(s), 0 failed, 12 pruned)
    records = _records(tmp_path / "s")
    assert len(records) == 24
    for num, record in records.items():
        assert record["seed"] == zenspec.derive_seed(0, record["overrides"])
        stream = [s["step"] for s in job_metrics(tmp_path / "s", num)]
        if record["status"] == "pruned":  # stopped at the step it last reported
            step = record["pruned"]["step"]
            assert 3 <= step <= 19 and stream == list(range(step + 1))  # after n_warmup_steps
            assert record["reports"]["step"] == step
        else:
            assert stream == list(range(20)) and record["reports"]["reports"] == 20


def test_resuming_a_finished_adaptive_sweep_runs_nothing_and_succeeds(
    capsys, tmp_path, request, monkeypatch
):
    _needs_optuna()
    _needs("joblib", request, monkeypatch)
    spec = REPO / "specs" / "adaptive.toml"
    sweep_dir = tmp_path / "s"
    code, _, err = run_cli(capsys, "run", spec, f"hydra.sweep.dir={sweep_dir}")
    assert code == 0, err
    before = _records(sweep_dir)
    assert "pruned" in {r["status"] for r in before.values()}
    code, out, err = run_cli(capsys, "resume", sweep_dir)
    assert _records(sweep_dir) == before  # nothing ran again: every trial had ended
    assert code == 0, err
    assert "--retry-failed" not in out + err


# -- 9. resumable random search, honest Optuna reruns -------------------------------------------


def _study_spec(tmp_path: Path, name: str, sweeper: str, config: str = "sleep = 0.0") -> Path:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            [experiment]
            name = "{name}"
            task = "examples.quadratic:task"
            search_path = ["{REPO}"]
            metric = "loss"

            [config]
            x = 0.0
            y = 0.0
            {config}

            [sweep]
            x = {{ low = -5, high = 5 }}
            y = {{ low = -5, high = 5 }}

            {sweeper}

            [hydra]
            sweep.dir = "{tmp_path / name}"
            """
        )
    )
    return spec


def _zenspec(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "zenspec", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_killed_random_search_resumes_to_the_study_an_uninterrupted_run_gives(tmp_path):
    """kill -9 mid-study, then `zenspec resume`: the same trials, values and best as a
    study that was never interrupted (the trials are a pure function of the seed)."""
    sweeper = '[sweeper]\nkind = "random"\nseed = 5\nmax_trials = 8'
    whole = _study_spec(tmp_path, "whole", sweeper)
    assert _zenspec("run", str(whole), cwd=tmp_path).returncode == 0
    cut = _study_spec(tmp_path, "cut", sweeper, config="sleep = 0.4")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zenspec", "run", str(cut), "-q"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jobs = tmp_path / "cut" / ".zenspec" / "jobs"
    deadline = time.monotonic() + 60
    while len(list(jobs.glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no chance to write anything more
    proc.wait()
    before = _records(tmp_path / "cut")
    assert 3 <= len(before) < 8
    # the job that was running died with zenspec (in-process): recorded failed, run again
    resumed = _zenspec("resume", str(tmp_path / "cut"), "--retry-failed", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    records = _records(tmp_path / "cut")
    assert sorted(records) == list(range(8))
    for num, record in before.items():  # what had finished was not run again
        assert records[num] == record
    a = json.loads((tmp_path / "whole" / ".zenspec" / "study.json").read_text())
    b = json.loads((tmp_path / "cut" / ".zenspec" / "study.json").read_text())
    assert [(t["number"], t["params"], t["value"]) for t in b["trials"]] == [
        (t["number"], t["params"], t["value"]) for t in a["trials"]
    ]
    assert (b["best_number"], b["best_value"]) == (a["best_number"], a["best_value"])


def test_rerunning_a_complete_optuna_storage_says_so_and_makes_no_sweep_dir(tmp_path):
    _needs_optuna()
    sweeper = '[sweeper]\nkind = "optuna"\nsampler = "random"\nn_trials = 4\nstorage = "s.db"'
    spec = _study_spec(tmp_path, "opt", sweeper)
    spec.write_text(spec.read_text().replace(f'sweep.dir = "{tmp_path / "opt"}"', ""))
    first = _zenspec("run", str(spec), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    dirs = sorted(p for p in (tmp_path / "multirun").glob("*/*"))
    assert len(dirs) == 1
    again = _zenspec("run", str(spec), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    said = [line for line in (again.stdout + again.stderr).splitlines() if "nothing to" in line]
    assert len(said) == 1 and "already has 4 finished trial(s) of n_trials=4" in said[0]
    assert sorted(p for p in (tmp_path / "multirun").glob("*/*")) == dirs  # no empty sweep dir
    assert "best: trial #" in again.stdout  # the stored study, as it is
    # more trials: the stored ones are counted and reported, only the rest run
    spec.write_text(spec.read_text().replace("n_trials = 4", "n_trials = 6"))
    more = _zenspec("run", str(spec), cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert "has 4 finished trial(s): 2 more to reach n_trials=6" in more.stdout + more.stderr
    assert "(6 trial(s), 0 failed)" in more.stdout
