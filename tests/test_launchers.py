"""Launchers for real: the same sweep under basic, joblib, submitit and Ray.

Real engines, no mocks -- except the SLURM submission itself (there is no
cluster here): the submitit_slurm path runs up to the sbatch script submitit
would hand to ``sbatch``, and the test reads that script.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest

from examples.sleepy import task as sleepy
from zenspec import LaunchError, hydra_multirun
from zenspec.cli import main
from zenspec.records.jobs import read_job_records
from zenspec.spec.parse import parse_text
from zenspec.spec.schema import schema_problems

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "specs" / "launchers_joblib.toml"

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
pytest.importorskip("hydra_plugins.hydra_submitit_launcher")

LAUNCHERS = {
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5"],
    "ray": ["hydra/launcher=ray"],
}
SWEEP = ["x=range(0,6)", "y=0,1"]  # 12 jobs, as specs/launchers_joblib.toml
CONFIG = dict(x=0, y=0, sleep=0.0, fail_at=-1)


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray (2 CPUs) for the module; the launcher uses it and leaves it running."""
    ray = pytest.importorskip("ray")
    # workers start from the raylet's environment: let them import `examples`
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _needs(kind, request):
    if kind == "ray":
        request.getfixturevalue("ray_cluster")


def _comparable(record, root):
    """A job record without what legitimately differs between launchers."""
    # where and how a job ran differs by launcher: its process, GPUs and engine id
    skip = ("started_at", "duration_s", "pid", "cuda_visible_devices", "engine")
    out = {k: v for k, v in record.items() if k not in skip}
    out["job_dir"] = os.path.relpath(out["job_dir"], root)
    value = dict(out.get("return_value") or {})
    value.pop("pid", None)
    out["return_value"] = value
    return out


_basic = {}


def _sweep(kind, tmp_path):
    sweep_dir = tmp_path / kind
    jobs = hydra_multirun(
        CONFIG, sleepy, [*LAUNCHERS[kind], *SWEEP, f"hydra.sweep.dir={sweep_dir}"]
    )
    values = [j.return_value for j in jobs[0]]
    records = [_comparable(r, sweep_dir) for r in read_job_records(sweep_dir)]
    return values, records


@pytest.mark.parametrize("kind", ["joblib", "submitit_local", "ray"])
def test_same_sweep_same_results_and_records_under_every_launcher(kind, tmp_path, request):
    _needs(kind, request)
    if not _basic:
        _basic["values"], _basic["records"] = _sweep("basic", tmp_path)
        assert {v["pid"] for v in _basic["values"]} == {os.getpid()}
    values, records = _sweep(kind, tmp_path)

    assert [v["value"] for v in values] == [v["value"] for v in _basic["values"]]
    assert [v["value"] for v in values] == [x * x + y for x in range(6) for y in (0, 1)]
    assert records == _basic["records"]
    assert len(records) == 12 and all(r["status"] == "completed" for r in records)
    # the jobs really ran elsewhere, and each record was written by its job's process
    pids = {v["pid"] for v in values}
    assert os.getpid() not in pids
    raw = read_job_records(tmp_path / kind)
    assert [r["pid"] for r in raw] == [v["pid"] for v in values]


def _spec(tmp_path, launcher: str, sweep: str = 'x = "range(0, 6)"\ny = [0, 1]') -> Path:
    text = SPEC.read_text()
    text = text.replace('search_path = [".."]', f'search_path = ["{REPO}"]')
    text = re.sub(r"\[sweep\].*", "", text, flags=re.S)
    text += f"[sweep]\n{sweep}\n\n[launcher]\n{launcher}\n"
    path = tmp_path / "spec.toml"
    path.write_text(text)
    assert schema_problems(parse_text(text, "toml", file=str(path))) == []
    return path


def test_the_shipped_joblib_spec_runs_in_worker_processes(capsys, tmp_path):
    code = main(["run", str(SPEC), f"hydra.sweep.dir={tmp_path / 's'}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    records = read_job_records(tmp_path / "s")
    assert [r["status"] for r in records] == ["completed"] * 12
    assert [r["return_value"]["value"] for r in records] == [
        x * x + y for x in range(6) for y in (0, 1)
    ]
    assert len({r["pid"] for r in records}) == 2 and os.getpid() not in {r["pid"] for r in records}
    assert "12 jobs: 12 completed" in out


@pytest.mark.parametrize(
    "kind, launcher, sweep",
    [
        ("joblib", 'kind = "joblib"\nn_jobs = 2', 'x = "range(0, 6)"\ny = [0, 1]'),
        ("submitit_local", 'kind = "submitit_local"\ntimeout_min = 5', "x = [2, 3]\ny = [0]"),
        ("ray", 'kind = "ray"', 'x = "range(0, 6)"\ny = [0, 1]'),
    ],
)
def test_a_failing_job_is_recorded_and_the_others_complete(
    kind, launcher, sweep, tmp_path, capsys, request
):
    _needs(kind, request)
    spec = _spec(tmp_path, launcher, sweep)
    code = main(["run", str(spec), "fail_at=3", f"hydra.sweep.dir={tmp_path / 's'}"])
    _, err = capsys.readouterr()
    assert code == 1, err
    records = read_job_records(tmp_path / "s")
    assert records, err
    failed = [r for r in records if r["status"] == "failed"]
    assert {r["overrides"][0] for r in failed} == {"x=3"}
    for r in failed:
        assert r["error"]["type"] == "builtins.ValueError"
        assert "x=3 is the job told to fail" in r["error"]["message"]
        assert r["pid"] != os.getpid()
    completed = [r for r in records if r["status"] == "completed"]
    assert len(completed) + len(failed) == len(records) == (2 if kind == "submitit_local" else 12)


@pytest.mark.parametrize("kind", ["joblib", "submitit_local", "ray"])
def test_resume_runs_only_the_missing_jobs_under_the_launcher(kind, tmp_path, request):
    _needs(kind, request)
    sweep_dir = tmp_path / "s"
    overrides = [*LAUNCHERS[kind], "x=1,2,3", f"hydra.sweep.dir={sweep_dir}"]
    hydra_multirun(CONFIG, sleepy, overrides)
    first = {r["num"]: r for r in read_job_records(sweep_dir)}
    (sweep_dir / ".zenspec" / "jobs" / "1.json").unlink()  # as if killed before job 1 ended

    jobs = hydra_multirun(CONFIG, sleepy, overrides[:-1], resume=sweep_dir)
    assert [j.cfg.x for batch in jobs for j in batch] == [2]  # only the missing job ran
    again = {r["num"]: r for r in read_job_records(sweep_dir)}
    assert sorted(again) == [0, 1, 2]
    assert again[0] == first[0] and again[2] == first[2]  # the others were not re-run
    assert again[1]["return_value"]["value"] == 4 and again[1]["pid"] != os.getpid()


# -- a task that only this test module defines (workers cannot import it by name) --------

_OFFSET = 100  # a module global the task reads: it travels with the task, by value


def task_defined_here(cfg):
    return {"pid": os.getpid(), "value": cfg.a + _OFFSET}


@pytest.mark.parametrize("kind", ["submitit_local", "ray"])
def test_a_task_from_the_test_module_runs_in_workers(kind, tmp_path, request):
    import cloudpickle

    _needs(kind, request)
    sweep_dir = tmp_path / "s"
    jobs = hydra_multirun(
        dict(a=0), task_defined_here, [*LAUNCHERS[kind], "a=1,2", f"hydra.sweep.dir={sweep_dir}"]
    )
    assert [j.return_value["value"] for j in jobs[0]] == [101, 102]
    assert os.getpid() not in {j.return_value["pid"] for j in jobs[0]}
    assert [r["return_value"]["value"] for r in read_job_records(sweep_dir)] == [101, 102]
    # registered for the launch only
    assert __name__ not in cloudpickle.list_registry_pickle_by_value()


def test_an_unpicklable_task_is_a_clear_error_naming_what(tmp_path, monkeypatch):
    # loky's workers need the task pickled (forked ones inherit it: tests/test_fork_workers.py)
    monkeypatch.setenv("ZENSPEC_JOBLIB_START", "loky")
    lock = threading.Lock()

    def locked(cfg):
        with lock:
            return cfg.a

    with pytest.raises(LaunchError) as e:
        hydra_multirun(dict(a=0), locked, [*LAUNCHERS["joblib"], "a=1,2"])
    message = str(e.value)
    assert e.value.exit_code == 2
    assert "the task function cannot be sent to the JoblibLauncher's worker processes" in message
    assert "__closure__[lock]" in message and "_thread.lock" in message
    assert "Traceback" not in message


def _leaves_a_mark(cfg):
    """Store a ConfigStore entry, report what earlier jobs of this worker left, and
    which Plugins singleton (the plugin scan) this job saw."""
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    cs = ConfigStore.instance()
    seen = sorted(k for k in cs.repo.get("marks", {}))
    cs.store(group="marks", name=f"job{cfg.a}", node={"a": cfg.a})
    return {"pid": os.getpid(), "seen": seen, "plugins": id(Plugins.instance())}


def test_joblib_jobs_get_fresh_singletons_but_one_plugin_scan_per_worker(tmp_path):
    jobs = hydra_multirun(
        dict(a=0),
        _leaves_a_mark,
        [*LAUNCHERS["joblib"], "a=range(0,6)", f"hydra.sweep.dir={tmp_path}"],
    )
    values = [j.return_value for j in jobs[0]]
    assert len({v["pid"] for v in values}) >= 1 and os.getpid() not in {v["pid"] for v in values}
    # as stock: every job starts from the parent's ConfigStore, not the last job's
    assert all(v["seen"] == [] for v in values)
    # unlike stock, Hydra's plugins are scanned once per worker, not once per job
    by_pid = {}
    for v in values:
        by_pid.setdefault(v["pid"], set()).add(v["plugins"])
    assert all(len(ids) == 1 for ids in by_pid.values())
    # and the returned Hydra configs are still whole, independent copies
    assert [j.hydra_cfg.hydra.job.num for j in jobs[0]] == list(range(6))
    assert jobs[0][0].hydra_cfg is not jobs[0][1].hydra_cfg


def test_the_shipped_singleton_state_is_stocks_without_the_deep_copies(store):
    """What joblib/Ray workers unpickle: the same state as Singleton.get_state(), and a copy."""
    import cloudpickle
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins
    from hydra.core.singleton import Singleton
    from omegaconf import OmegaConf
    from omegaconf.basecontainer import BaseContainer

    from zenspec.launchers import singleton_state

    store.store(group="probe", name="p", node={"x": 1})
    Plugins.instance()
    ours = cloudpickle.loads(cloudpickle.dumps(singleton_state()))
    theirs = cloudpickle.loads(cloudpickle.dumps(Singleton.get_state()))
    assert Plugins not in ours["instances"]
    assert [c.__name__ for c in ours["instances"]] == [c.__name__ for c in theirs["instances"]]
    assert set(ours["omegaconf_resolvers"]) == set(BaseContainer._resolvers)
    copied = ours["instances"][ConfigStore].repo["probe"]["p.yaml"].node
    assert OmegaConf.to_container(copied) == {"x": 1}
    copied.x = 2  # the workers' copy, not the caller's store
    assert ConfigStore.instance().repo["probe"]["p.yaml"].node.x == 1


# -- SLURM: everything up to the sbatch script ---------------------------------------------


class _Submitted(Exception):
    """Raised at the boundary: submitit was about to run sbatch."""


def test_submitit_slurm_spec_produces_the_sbatch_array(tmp_path, monkeypatch):
    from submitit.slurm.slurm import SlurmExecutor

    seen = {}

    def submit(self, command):  # the boundary: submitit would now run `sbatch <file>`
        seen["sbatch"] = self._make_submission_file_text(command, "uid")
        seen["pickles"] = sorted(Path(self.folder).parent.rglob("*.pkl"))
        raise _Submitted

    monkeypatch.setattr(SlurmExecutor, "_submit_command", submit)
    # and the login node's `srun` check (submitit looks for the binary)
    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 2))
    spec = _spec(
        tmp_path,
        'kind = "submitit_slurm"\npartition = "gpu"\ntimeout_min = 30\ngpus_per_node = 2\n'
        "cpus_per_task = 8\nmem_gb = 32\narray_parallelism = 2\n"
        'setup = ["module load cuda"]\nadditional_parameters = { mail-type = "END" }',
        "x = [1, 2, 3]\ny = [0]",
    )
    with pytest.raises(_Submitted):
        from zenspec.spec.api import load_spec, run_spec

        run_spec(load_spec(spec), [f"hydra.sweep.dir={tmp_path / 's'}"])
    sbatch = seen["sbatch"]
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=30",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
        "#SBATCH --array=0-2%2",
        "#SBATCH --job-name=launchers_joblib",
        "#SBATCH --mail-type=END",
        "module load cuda",
    ):
        assert line in sbatch, (line, sbatch)
    assert "-m submitit.core._submit" in sbatch
    # one pickled job per array task, in the sweep dir the records go to
    assert len(seen["pickles"]) == 3
    assert all(str(tmp_path / "s") in str(p) for p in seen["pickles"])
    manifest = json.loads((tmp_path / "s" / ".zenspec" / "manifest.json").read_text())
    assert manifest["launcher"].endswith("SlurmLauncher")


def test_a_typo_in_a_launcher_key_is_caught_by_the_schema():
    text = '[experiment]\ntarget = "a.b"\n[launcher]\nkind = "submitit_slurm"\ntimeout_mins = 5\n'
    (p,) = schema_problems(parse_text(text, "toml", file="s.toml"))
    assert p.format() == (
        "s.toml::$.launcher.timeout_mins (line 5, column 1): unknown key 'timeout_mins' for "
        "launcher kind 'submitit_slurm'. Did you mean 'timeout_min'?"
    )
    text = '[experiment]\ntarget = "a.b"\n[launcher]\nkind = "ray"\nremote = { num_cpu = 1 }\n'
    (p,) = schema_problems(parse_text(text, "toml", file="s.toml"))
    assert p.path == "$.launcher.remote.num_cpu"
    assert "unknown key 'num_cpu'" in p.format() and "'num_cpus'" in p.format()


def test_ray_launcher_option_exists_only_during_a_launch():
    from hydra.core.config_store import ConfigStore

    from zenspec.launchers import launcher_scope

    options = ConfigStore.instance().repo.get("hydra", {}).get("launcher", {})
    assert "ray.yaml" not in options
    with launcher_scope():
        assert "ray.yaml" in ConfigStore.instance().repo["hydra"]["launcher"]
    assert "ray.yaml" not in ConfigStore.instance().repo["hydra"]["launcher"]
