"""The ``zenspec`` command end to end: every shipped spec runs through it, plus its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.cli import run_cli as run

import examples.my_app  # noqa: F401  (stores "config" in the ConfigStore on import, as the docs do)
from zenspec.cli import main, parse_args

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"


# -- the documentation's scenarios, each through the CLI -------------------------------


@pytest.mark.parametrize("name", ["hello.toml", "hello.yaml"])
def test_hello_run_and_multirun(name, capsys, tmp_path):
    code, out, _ = run(capsys, "run", SPECS / name, "bar=mom")
    assert code == 0
    assert "hello mom\n" in out
    assert "return value: 'hello mom'" in out
    assert (tmp_path / "outputs").is_dir()  # outputs go under the cwd, as Hydra's do

    code, out, _ = run(capsys, "run", SPECS / name, "bar=mom,dad", "-m")
    assert code == 0
    assert out.index("hello mom") < out.index("hello dad")
    assert "outputs: " in out


@pytest.mark.parametrize("name", ["dict_builds.toml", "dict_builds.yaml"])
def test_dict_builds_sweep(name, capsys):
    code, out, _ = run(capsys, "run", SPECS / name)
    assert code == 0
    assert "{'a': 1, 'b': 1}" in out and "{'a': 2, 'b': 1}" in out
    # the summary: one row per job with its swept params, status, metric, duration, result
    rows = [line.split() for line in out.splitlines() if line.startswith(("0 ", "1 "))]
    assert [r[:3] for r in rows] == [["0", "1", "completed"], ["1", "2", "completed"]]
    assert "2 jobs: 2 completed" in out


def test_pow_partial_sweep(capsys):
    code, out, _ = run(capsys, "run", SPECS / "pow_partial.toml")
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit() and "jobs:" not in line]
    assert [(r[1], r[2], int(r[-1])) for r in rows] == [
        ("-2", "completed", 4),
        ("-1", "completed", 1),
        ("0", "completed", 0),
        ("1", "completed", 1),
        ("2", "completed", 4),
    ]
    assert rows[2][0] == "2*"  # the best job: the task returns its metric


@pytest.mark.torch
@pytest.mark.parametrize("name", ["graddesc.toml", "graddesc.yaml"])
def test_gradient_descent_optimizer_group_sweep(name, capsys):
    pytest.importorskip("torch")
    code, out, _ = run(capsys, "run", SPECS / name)
    assert code == 0
    assert "optim=sgd" in out and "optim=adam" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("0 ", "1 "))]
    assert [r[1:3] for r in rows] == [["sgd", "completed"], ["adam", "completed"]]
    assert out.count("[[-1.5, 0.5], [") == 2  # each job's trajectory, starting at starting_xy


def test_user_random_search_sweeper(capsys):
    code, out, _ = run(capsys, "run", SPECS / "random_search.toml")
    assert code == 0
    assert "sweeper returned:" in out
    assert "best_evaluated_params" in out and "best_evaluated_result" in out
    assert out.count("Launching 1 jobs locally") == 10  # max_iter = 10 trials
    # its own return value says nothing of where it wrote: zenspec says it, -q too
    (where,) = [
        line[len("outputs: ") :] for line in out.splitlines() if line.startswith("outputs:")
    ]
    assert "/multirun/random_search/" in where and (Path(where) / ".zenspec").is_dir()
    code, out, _ = run(capsys, "run", SPECS / "random_search.toml", "-q")
    assert code == 0 and out.splitlines()[-1].startswith("outputs: ")
    assert out.splitlines()[-1] != f"outputs: {where}"  # a new sweep, a new dir


def test_validate_passes_on_every_shipped_spec(capsys):
    code, out, _ = run(capsys, "validate", SPECS)
    assert code == 0, out
    shipped = sorted(p.name for p in SPECS.iterdir())
    assert len(shipped) >= 7
    assert f"{len(shipped)} file(s) checked" in out and "all valid" in out
    assert "pow_partial.toml: ok (5 job(s))" in out


def test_validate_with_imports_passes_on_every_shipped_spec(capsys):
    if "torch" not in sys.modules:
        pytest.importorskip("torch")  # graddesc's target imports torch
    code, out, _ = run(capsys, "validate", "--imports", SPECS)
    assert code == 0, out


# -- run: overrides, failures, exit codes ------------------------------------------------


def test_cli_override_replaces_a_swept_axis(capsys):
    code, out, _ = run(capsys, "run", SPECS / "dict_builds.toml", "a=5")
    assert code == 0
    assert "{'a': 5, 'b': 1}" in out and "{'a': 1" not in out


def test_overrides_may_follow_options(capsys):
    args = parse_args(["run", "s.toml", "-m", "a=1,2", "+b=3"])
    assert args.overrides == ["a=1,2", "+b=3"] and args.multirun
    assert parse_args(["plan", "s.toml", "x=1", "--job", "2", "y=2"]).overrides == ["x=1", "y=2"]


def test_sweep_override_without_multirun_is_bad_input(capsys):
    code, _, err = run(capsys, "run", SPECS / "hello.toml", "bar=mom,dad")
    assert code == 2
    assert "is a sweep" in err and "--multirun" in err
    assert "Traceback" not in err


def test_unknown_key_override_is_bad_input(capsys):
    code, _, err = run(capsys, "run", SPECS / "hello.toml", "baz=mom")
    assert code == 2
    assert "'baz=mom'" in err and "+key=value" in err
    code, _, err = run(capsys, "run", SPECS / "hello.toml", "bar=[")
    assert code == 2 and "not valid Hydra override syntax" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["validate", "x.toml", "--no-such-flag"])
    assert e.value.code == 2


@pytest.fixture
def fragile(tmp_path):
    """A spec in specs/ whose task lives in lib/, found through search_path."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "fragile_tasks.py").write_text(
        textwrap.dedent(
            """
            def halve(x):
                if x < 0:
                    raise ValueError(f"cannot halve {x}")
                return x / 2
            """
        )
    )
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "fragile.toml"
    spec.write_text(
        textwrap.dedent(
            """
            [experiment]
            target = "fragile_tasks:halve"
            search_path = ["../lib"]

            [config]
            x = 4

            [sweep]
            x = [4, -2, 8]
            """
        )
    )
    single = spec.read_text().split("[sweep]")[0]
    (tmp_path / "specs" / "single.toml").write_text(single)
    os.chdir(tmp_path / "specs")  # lib/ is not on the path from here: only search_path finds it
    yield spec
    sys.modules.pop("fragile_tasks", None)


def test_a_failed_job_exits_1_and_keeps_the_others(fragile, capsys):
    path_before = list(sys.path)
    code, out, err = run(capsys, "run", fragile)
    assert code == 1
    assert "2.0" in out and "4.0" in out  # the other jobs ran and are reported
    assert "failed" in out and "ValueError: cannot halve -2" in out
    assert "1 of 3 job(s) failed (first: #1, ValueError: cannot halve -2)" in err
    assert sys.path == path_before


def test_a_failed_single_run_exits_1(fragile, capsys):
    single = fragile.with_name("single.toml")
    code, _, err = run(capsys, "run", single, "x=-4")
    assert code == 1
    assert "error: the job failed: ValueError: cannot halve -4" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "--traceback", "run", single, "x=-4")
    assert code == 1 and "Traceback" in err


def test_validate_runs_no_user_code_unless_asked(tmp_path, capsys):
    (tmp_path / "noisy_mod.py").write_text(
        "from pathlib import Path\nPath('IMPORTED').write_text('yes')\ndef f(a=1):\n    return a\n"
    )
    (tmp_path / "s.toml").write_text('[experiment]\ntarget = "noisy_mod:f"\n[config]\na = 2\n')
    try:
        assert run(capsys, "validate", tmp_path / "s.toml")[0] == 0
        assert not (tmp_path / "IMPORTED").exists()
        assert run(capsys, "validate", "--imports", tmp_path / "s.toml")[0] == 0
        assert (tmp_path / "IMPORTED").exists()
    finally:
        sys.modules.pop("noisy_mod", None)


def test_run_checks_imports_before_launching(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(
        '[experiment]\ntarget = "examples.random_search:square"\n[config]\nx = 1\ny = 2\nzz = 3\n'
    )
    code, _, err = run(capsys, "run", tmp_path / "s.toml")
    assert code == 2
    assert "s.toml::$.config.zz (line 6, column 1): 'zz' is not a parameter" in err
    assert "Did you mean 'z'?" in err
    assert not (tmp_path / "outputs").exists()  # nothing was launched


# -- plan ------------------------------------------------------------------------------------


def test_plan_lists_jobs_and_runs_nothing(tmp_path, capsys):
    code, out, _ = run(capsys, "plan", SPECS / "pow_partial.toml")
    assert code == 0
    assert "jobs:     5" in out
    for n, x in enumerate(range(-2, 3)):
        assert f"#{n}  x={x}  -> multirun/" in out
    assert list(tmp_path.iterdir()) == []  # no output directory, no records


def test_plan_job_config_and_json(capsys):
    code, out, _ = run(capsys, "plan", SPECS / "dict_builds.toml", "b=7", "--job", "1")
    assert code == 0
    assert "config of job #1:" in out
    assert "_target_: builtins.dict\na: 2\nb: 7\n" in out
    code, out, _ = run(capsys, "plan", SPECS / "dict_builds.toml", "--format", "json", "--job", "0")
    doc = json.loads(out)
    assert [j["overrides"] for j in doc["jobs"]] == [["a=1"], ["a=2"]]
    assert doc["config"] == {"_target_": "builtins.dict", "a": 1, "b": 1}
    assert doc["jobs"][1]["output_dir"].endswith("/1")


def test_plan_single_run_and_bad_job(capsys):
    code, out, _ = run(capsys, "plan", SPECS / "hello.toml", "bar=mom", "--job", "0")
    assert code == 0 and "mode:     run" in out and "bar: mom" in out
    code, _, err = run(capsys, "plan", SPECS / "dict_builds.toml", "--job", "9")
    assert code == 2 and "there is no job #9: the sweep has 2 job(s)" in err


def test_plan_of_a_sampling_sweeper_shows_its_arguments(capsys):
    code, out, _ = run(capsys, "plan", SPECS / "random_search.toml")
    assert code == 0
    assert "decided by the sweeper" in out and "x=interval(-12, 12)" in out
    code, _, err = run(capsys, "plan", SPECS / "random_search.toml", "--job", "0")
    assert code == 2 and "chooses its jobs while it runs" in err


# -- schema and the console script ------------------------------------------------------------


def test_schema_command_prints_the_schema_and_reference(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(out) == json.loads((REPO / "schemas" / "zenspec.schema.json").read_text())
    code, out, _ = run(capsys, "schema", "--markdown")
    assert code == 0 and out.startswith("# Spec reference")


def test_python_dash_m_zenspec(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "zenspec", "run", str(SPECS / "dict_builds.toml"), "a=3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "{'a': 3, 'b': 1}" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "zenspec", "validate", str(tmp_path / "missing.toml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "no such file" in proc.stdout


def test_launcher_flag_replaces_the_specs_launcher_and_its_settings(capsys, tmp_path):
    from zenspec.spec.compile import merge_overrides

    spec_list = [
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "x=1,2",
        "hydra.job.chdir=false",
    ]
    assert merge_overrides(spec_list, ["hydra/launcher=ray"]) == [
        "x=1,2",
        "hydra.job.chdir=false",
        "hydra/launcher=ray",
    ]
    assert merge_overrides(spec_list, ["hydra.launcher.n_jobs=1"]) == [
        "hydra/launcher=joblib",
        "x=1,2",
        "hydra.job.chdir=false",
        "hydra.launcher.n_jobs=1",
    ]
    # the shipped joblib spec, run in this process instead: every job has this pid
    code, out, err = run(
        capsys, "run", SPECS / "launchers_joblib.toml", "--launcher", "basic", "-q"
    )
    assert code == 0, err
    assert "12 jobs: 12 completed" in out
    root = Path(out.split("outputs: ")[1].strip())
    pids = {json.loads(p.read_text())["pid"] for p in (root / ".zenspec" / "jobs").glob("*.json")}
    assert pids == {os.getpid()}


def test_every_shipped_spec_is_run_by_some_test():
    """The house rule: a spec added to specs/ must also be run end to end somewhere here."""
    sources = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    unrun = [p.name for p in sorted(SPECS.iterdir()) if p.is_file() and p.name not in sources]
    assert unrun == []


# README's first command installs zenspec without extras: nothing on the basic
# path may import an engine's package (they are the extras' and the examples').
# The plugins are hidden from Hydra's plugin scan too, as when not installed (hydra-core
# 1.4's scan imports what it lists, from its namespace package and from the plugins'
# entry points, and would warn about the blocked import).
_NO_EXTRAS = """
import pkgutil, sys
PLUGINS = ("hydra_plugins.hydra_joblib_launcher", "hydra_plugins.hydra_submitit_launcher")
for name in ("cloudpickle", "joblib", "submitit", "ray", "optuna", "psutil", *PLUGINS):
    sys.modules[name] = None  # importing it raises ImportError, as when not installed
_walk = pkgutil.walk_packages
def walk_packages(*args, **kwargs):
    for info in _walk(*args, **kwargs):
        if not info.name.startswith(PLUGINS):
            yield info
pkgutil.walk_packages = walk_packages
import importlib.metadata as metadata  # and from the entry points Hydra 1.4 reads
_entry_points = metadata.entry_points
def entry_points(*args, **kwargs):
    found = _entry_points(*args, **kwargs)
    if kwargs.get("group") == "hydra.plugins":
        return [e for e in found if not e.value.startswith(PLUGINS)]
    return found
metadata.entry_points = entry_points
from zenspec.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("spec", ["pow_partial.toml", "hello.toml"])
def test_a_basic_spec_runs_without_the_optional_engines(spec, tmp_path):
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", _NO_EXTRAS, "run", str(SPECS / spec)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "error" not in (proc.stdout + proc.stderr).lower()
