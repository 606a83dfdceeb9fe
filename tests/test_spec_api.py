"""The spec layer's Python API and its compile stage: what a spec turns into, and runs as."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

import examples.my_app  # noqa: F401  (stores "config" in the ConfigStore on import, as the docs do)
from zenspec.errors import SpecError
from zenspec.spec import Spec, load_spec, validate
from zenspec.spec.compile import compile_spec, convert_value, merge_overrides, spec_overrides

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_spec_overrides_cover_every_section(tmp_path):
    spec = load_spec(
        write(
            tmp_path,
            """
            [experiment]
            task = "examples.pow_task:task"
            [config]
            x = 1
            f = { _target_ = "builtins:pow", _partial_ = true, exp = 2 }
            [sweep]
            x = [1, "a,b", [1, 2]]
            f.exp = "range(1, 3)"
            "+extra" = [true]
            [launcher]
            kind = "joblib"
            n_jobs = 2
            [hydra]
            sweep.dir = "sweeps/${hydra.job.name}"
            job.env_set.SEED = "1"
            job_logging = "disabled"
            """,
        )
    )
    assert spec_overrides(spec) == [
        "hydra.sweep.dir='sweeps/${hydra.job.name}'",
        "++hydra.job.env_set.SEED='1'",
        "hydra/job_logging=disabled",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "x=1,'a,b',[1,2]",
        "f.exp=range(1, 3)",
        "+extra=true",
    ]


def test_cli_overrides_replace_the_spec_s_for_the_same_key():
    merged = merge_overrides(["a=1,2", "b=3", "hydra/launcher=joblib"], ["a=5", "+c=1"])
    assert merged == ["b=3", "hydra/launcher=joblib", "a=5", "+c=1"]


def test_convert_value():
    assert convert_value({"_ref_": "examples.graddesc:parabaloid"}) == {
        "_target_": "zenspec.funcs.get_obj",
        "path": "examples.graddesc.parabaloid",
    }
    assert convert_value([{"_target_": "torch.optim:SGD", "lr": "${lr}"}]) == [
        {"_target_": "torch.optim.SGD", "lr": "${lr}"}
    ]


def test_load_spec_reports_every_problem_at_once(tmp_path):
    path = write(
        tmp_path,
        """
        [experiment]
        target = "builtins:dict"
        [config]
        a = 1
        [sweep]
        b = [1, 2]
        c = "interval(0, 1)"
        """,
    )
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert [p.path for p in e.value.problems] == ["$.sweep.b", "$.sweep.c", "$.sweep.c"]
    assert str(e.value).startswith("3 problems found:\n  ")
    assert e.value.exit_code == 2


def test_shipped_specs_validate_from_python():
    assert validate(REPO / "specs") == []


def test_run_from_python_mirrors_the_cli():
    jobs = load_spec(REPO / "specs" / "pow_partial.toml").run(with_log_configuration=False)
    assert [j.return_value for j in jobs[0]] == [4, 1, 0, 1, 4]
    job = load_spec(REPO / "specs" / "hello.yaml").run(["bar=mom"], with_log_configuration=False)
    assert job.return_value == "hello mom"
    jobs = load_spec(REPO / "specs" / "hello.toml").run(["bar=mom,dad"], multirun=True)
    assert [j.return_value for j in jobs[0]] == ["hello mom", "hello dad"]


def test_plan_from_python():
    plan = load_spec(REPO / "specs" / "dict_builds.yaml").plan(["b=2"], job=1)
    assert [j.overrides for j in plan.jobs] == [["a=1", "b=2"], ["a=2", "b=2"]]
    assert plan.config.a == 2 and plan.config.b == 2


def test_groups_defaults_interpolations_and_hydra_settings(tmp_path):
    path = write(
        tmp_path,
        """
        [experiment]
        name = "scaled"
        task = "zenspec:instantiate"

        [config]
        base = 10
        scale = "${base}"
        out = { _target_ = "builtins:dict", v = "${scale}", opt = "${optim.lr}" }

        [groups.optim.sgd]
        lr = 0.1
        [groups.optim.adam]
        lr = 0.01

        [defaults]
        optim = "adam"

        [hydra]
        run.dir = "runs/${hydra.job.name}"
        """,
    )
    spec = load_spec(path)
    job = spec.run(with_log_configuration=False)
    assert job.return_value["out"] == {"v": 10, "opt": 0.01}
    assert job.output_dir == tmp_path / "runs" / "scaled"
    job = spec.run(["optim=sgd", "hydra.run.dir=elsewhere"], with_log_configuration=False)
    assert job.return_value["out"]["opt"] == 0.1
    assert job.output_dir == tmp_path / "elsewhere"


def test_compile_leaves_sys_path_and_environment_as_found(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "spec_api_mod.py").write_text("def f(a):\n    return a + 1\n")
    path = write(
        tmp_path,
        '[experiment]\ntarget = "spec_api_mod:f"\nsearch_path = ["lib"]\n[config]\na = 1\n',
    )
    before, env = list(sys.path), os.environ.get("PYTHONPATH")
    try:
        spec = load_spec(path)
        assert isinstance(spec, Spec) and spec.experiment.search_path == (lib,)
        assert spec.run(with_log_configuration=False).return_value == 2
    finally:
        sys.modules.pop("spec_api_mod", None)
    assert sys.path == before and os.environ.get("PYTHONPATH") == env


def test_compiled_config_is_builds_of_the_target():
    from zenspec import instantiate

    spec = load_spec(REPO / "specs" / "dict_builds.toml")
    compiled = compile_spec(spec, ["a=7"])
    assert instantiate(compiled.config) == {"a": 1, "b": 1}
    # spec runs are filed under their experiment's name (a generated, unique name)
    run_dir, sweep_dir, *rest = compiled.overrides
    assert run_dir == "hydra.run.dir=outputs/dict_builds/${now:%Y-%m-%d}/${now:%H-%M-%S}"
    assert sweep_dir == "hydra.sweep.dir=multirun/dict_builds/${now:%Y-%m-%d}/${now:%H-%M-%S}"
    assert rest == ["a=7"] and compiled.multirun
    assert compiled.job_name == "dict_builds"


def test_joblib_launcher_runs_the_spec_in_worker_processes(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    path = write(
        tmp_path,
        """
        [experiment]
        target = "builtins:dict"
        [config]
        a = 1
        [sweep]
        a = [1, 2, 3]
        [launcher]
        kind = "joblib"
        n_jobs = 2
        """,
    )
    jobs = load_spec(path).run(with_log_configuration=False)
    assert [j.return_value for j in jobs[0]] == [{"a": a} for a in (1, 2, 3)]
