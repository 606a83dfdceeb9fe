"""hydra-core 1.4's execution whitelist, as zenspec exposes it.

``hydra_run``/``hydra_multirun(execution_whitelist=...)`` take it as
``@hydra.main(execution_whitelist=...)`` does; a spec names it as
``[experiment] execution_whitelist``. On 1.4 Hydra enforces it (jobs, callbacks,
logging); on 1.3, which has none, it is checked for form and has no effect at run
time, while ``zenspec validate`` holds a spec's own targets to it on every version.
Plugin classes zenspec instantiates (launchers, sweepers) keep a trusted path.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import pytest
from helpers.cli import run_cli
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from zenspec import builds, hydra_multirun, hydra_run, instantiate, just
from zenspec._compatibility import BASIC_LAUNCHER, HAS_EXECUTION_WHITELIST
from zenspec.errors import LaunchError
from zenspec.instantiate import is_whitelisted, normalize_execution_whitelist
from zenspec.spec import load_spec

only_14 = pytest.mark.skipif(
    not HAS_EXECUTION_WHITELIST, reason="hydra-core 1.3 has no execution whitelist"
)
only_13 = pytest.mark.skipif(
    HAS_EXECUTION_WHITELIST, reason="the hydra-core 1.3 behaviour (1.4 enforces it)"
)
QUIET = {"with_log_configuration": False, "records": False}


@contextlib.contextmanager
def no_warnings():
    """Every warning raised inside is an error (Hydra's legacy-path warning included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def launcher_from_hydra_config(cfg: DictConfig):
    """The seed's user code: instantiate the configured launcher from inside a job."""
    from hydra.core.hydra_config import HydraConfig

    return type(instantiate(HydraConfig.get().launcher)).__name__


# -- the form: 1.4's rules, on every version ----------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("builtins.dict", ("builtins.dict",)),
        (["pkg.*", "builtins.pow", "pkg.*"], ("pkg.*", "builtins.pow")),
    ],
)
def test_a_whitelist_is_normalized_as_hydra_takes_it(value, expected):
    assert normalize_execution_whitelist(value) == expected


@pytest.mark.parametrize("bad", ["*", "", "pkg.*.mod", "pkg*", ".*", [3], ["a b"], 7])
def test_a_malformed_whitelist_is_an_input_error_before_anything_runs(bad, tmp_path):
    with pytest.raises(LaunchError) as info:
        hydra_run(builds(dict, a=1), instantiate, execution_whitelist=bad, **QUIET)
    assert info.value.exit_code == 2
    assert "execution whitelist" in str(info.value)
    assert not (tmp_path / "outputs").exists()


def test_matching_is_exact_or_under_a_package_prefix():
    allowed = ("builtins.dict", "examples.*")
    assert is_whitelisted("builtins.dict", allowed)
    assert is_whitelisted("examples.pow_task.task", allowed)
    assert not is_whitelisted("builtins.dict2", allowed)
    assert not is_whitelisted("examplesx.f", allowed)
    assert not is_whitelisted("examples", allowed)
    assert is_whitelisted("anything.at.all", None)


# -- hydra_run / hydra_multirun ----------------------------------------------------------


def test_a_run_naming_its_callables_runs_without_a_warning():
    with no_warnings():
        job = hydra_run(builds(dict, a=1), instantiate, execution_whitelist=["builtins.dict"])
    assert job.return_value == {"a": 1}


@only_14
def test_a_callable_outside_the_whitelist_is_refused_by_hydra_14():
    with pytest.raises(InstantiationException, match="not in the Hydra execution whitelist"):
        hydra_run(builds(dict, a=1), instantiate, execution_whitelist=["builtins.pow"], **QUIET)


@only_14
def test_hydra_14s_explicit_opt_out_is_taken_as_is():
    from hydra.utils import UNSAFE_DISABLE_EXECUTION_CHECKS

    assert normalize_execution_whitelist(UNSAFE_DISABLE_EXECUTION_CHECKS) is (
        UNSAFE_DISABLE_EXECUTION_CHECKS
    )
    with no_warnings():
        job = hydra_run(
            builds(dict, a=1), instantiate, execution_whitelist=UNSAFE_DISABLE_EXECUTION_CHECKS
        )
    assert job.return_value == {"a": 1}


@only_14
def test_the_callers_context_whitelist_reaches_the_jobs():
    from hydra.utils import execution_whitelist

    with no_warnings(), execution_whitelist(["builtins.dict"]):
        jobs = hydra_multirun(builds(dict, a=1), instantiate, ["a=1,2"], **QUIET)
    assert [j.return_value for j in jobs[0]] == [{"a": 1}, {"a": 2}]
    # the parameter adds to the context, as @hydra.main(execution_whitelist=) does
    with no_warnings(), execution_whitelist(["builtins.pow"]):
        job = hydra_run(builds(dict, a=1), instantiate, execution_whitelist="builtins.dict")
    assert job.return_value == {"a": 1}


@only_13
def test_on_hydra_13_a_whitelist_is_accepted_and_has_no_effect():
    # 1.3 has no whitelist: builtins.dict runs although only builtins.pow is listed
    job = hydra_run(builds(dict, a=1), instantiate, execution_whitelist=["builtins.pow"], **QUIET)
    assert job.return_value == {"a": 1}
    # zenspec's instantiate takes 1.4's argument on 1.3 too (checked, then dropped)
    assert instantiate(builds(dict, a=2), _execution_whitelist_="builtins.pow") == {"a": 2}
    with pytest.raises(ValueError, match="trailing"):
        instantiate(builds(dict, a=2), _execution_whitelist_="*")


def test_a_multirun_with_a_package_whitelist_sweeps_without_a_warning():
    with no_warnings():
        jobs = hydra_multirun(
            builds(dict, a=1), instantiate, ["a=1,2"], execution_whitelist="builtins.*", **QUIET
        )
    assert [j.return_value for j in jobs[0]] == [{"a": 1}, {"a": 2}]


# -- plugin classes keep their trusted path ----------------------------------------------


def test_instantiate_of_the_configured_launcher_works_inside_a_whitelisted_job():
    # BasicLauncher lives under hydra._internal and is not in the whitelist: zenspec
    # instantiates registered plugin classes as Hydra does its own
    with no_warnings():
        job = hydra_run({"a": 1}, launcher_from_hydra_config, execution_whitelist="builtins.dict")
    assert job.return_value == "BasicLauncher"


@only_14
def test_the_plugin_path_is_the_class_alone_not_its_nested_targets():
    cfg = {"_target_": BASIC_LAUNCHER, "extra": {"_target_": "builtins.dict"}}
    with pytest.raises(InstantiationException, match="not in the Hydra execution whitelist"):
        instantiate(cfg, _execution_whitelist_="builtins.pow")


def test_the_joblib_launcher_and_a_zenspec_sweeper_instantiate_under_a_whitelist():
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    with no_warnings():
        jobs = hydra_multirun(
            builds(dict, a=1),
            instantiate,
            ["a=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=1"],
            execution_whitelist=["builtins.dict"],
            **QUIET,
        )
    assert sorted(j.return_value["a"] for j in jobs[0]) == [1, 2]


# -- a spec's [experiment] execution_whitelist ---------------------------------------------

POW_SPEC = """\
[experiment]
name = "pow_partial"
task = "examples.pow_task:task"
execution_whitelist = [{allowed}]

[config]
x = 1
f = {{ _target_ = "builtins:pow", _partial_ = true, exp = 2 }}

[sweep]
x = "range(-2, 3)"
"""


def test_a_spec_target_outside_its_whitelist_is_an_input_error(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(POW_SPEC.format(allowed='"examples.*"'))
    code, out, _ = run_cli(capsys, "validate", spec)
    assert code == 2
    assert f"{spec}::$.config.f._target_ (line 8" in out
    assert "'builtins:pow' is not in the spec's execution_whitelist (examples.*)" in out
    assert "add 'builtins.pow'" in out
    code, _, err = run_cli(capsys, "run", spec)
    assert code == 2 and "execution_whitelist" in err
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "outputs").exists()


def test_a_spec_whitelist_entry_of_the_wrong_form_is_a_schema_error(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(POW_SPEC.format(allowed='"*"'))
    code, out, _ = run_cli(capsys, "validate", spec)
    assert code == 2
    assert "execution_whitelist" in out and "package prefix" in out


def test_a_spec_whitelist_covers_the_experiment_target_and_refs(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[experiment]\ntarget = "builtins:dict"\nexecution_whitelist = ["builtins.pow"]\n\n'
        '[config]\nf = { _ref_ = "math:sqrt" }\n'
    )
    code, out, _ = run_cli(capsys, "validate", spec)
    assert code == 2
    assert "$.experiment.target" in out and "'builtins:dict' is not in" in out
    assert "$.config.f._ref_" in out and "'math:sqrt' is not in" in out
    spec.write_text(spec.read_text().replace('"builtins.pow"', '"builtins.dict", "math.sqrt"'))
    code, out, _ = run_cli(capsys, "validate", spec)
    assert code == 0, out


def test_a_spec_whitelist_reaches_hydra_multirun_and_its_jobs_run(tmp_path):
    from zenspec.spec.compile import compile_spec
    from zenspec.spec.imports import search_path

    path = tmp_path / "s.toml"
    path.write_text(POW_SPEC.format(allowed='"examples.pow_task.*", "builtins:pow"'))
    spec = load_spec(path)
    assert spec.check() == []
    with search_path(spec.experiment.search_path):
        compiled = compile_spec(spec)
    assert compiled.execution_whitelist is not None
    assert compiled.execution_whitelist[:2] == ["examples.pow_task.*", "builtins.pow"]
    with no_warnings():
        jobs = hydra_multirun(
            compiled.config,
            compiled.task_function,
            compiled.overrides,
            groups=compiled.groups,
            job_name=compiled.job_name,
            execution_whitelist=compiled.execution_whitelist,
            with_log_configuration=False,
        )
    assert [j.return_value for j in jobs[0]] == [4, 1, 0, 1, 4]
    if HAS_EXECUTION_WHITELIST:  # and on 1.4 it is enforced: pow is not examples.*
        with pytest.raises(InstantiationException, match=r"builtins\.pow"):
            hydra_multirun(
                compiled.config,
                compiled.task_function,
                compiled.overrides,
                groups=compiled.groups,
                execution_whitelist=["examples.*"],
                **QUIET,
            )


def test_a_spec_without_a_whitelist_compiles_to_none(tmp_path):
    from zenspec.spec.compile import compile_spec

    path = tmp_path / "s.toml"
    path.write_text('[experiment]\ntarget = "builtins:dict"\n\n[config]\na = 1\n')
    assert compile_spec(load_spec(path)).execution_whitelist is None


def test_zenspec_run_of_a_whitelisted_spec_runs_without_a_warning(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(POW_SPEC.format(allowed='"examples.pow_task.*", "builtins:pow"'))
    with no_warnings():  # a warning inside a job would fail it: exit 1
        code, out, err = run_cli(capsys, "run", spec, "-q")
    assert code == 0, out + err
    assert "5 jobs: 5 completed" in out
    assert "execution_whitelist" not in err


def test_a_target_arriving_by_override_is_held_to_the_spec_whitelist_on_hydra_14(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[experiment]\ntarget = "builtins:dict"\nexecution_whitelist = ["builtins.dict"]\n\n'
        "[config]\na = 1\n"
    )
    code, out, err = run_cli(capsys, "run", spec, "+b={_target_:collections.OrderedDict}")
    if HAS_EXECUTION_WHITELIST:  # Hydra refuses it when the job instantiates: the job fails
        assert code == 1
        assert "Target 'collections.OrderedDict' is not in the Hydra execution whitelist" in err
    else:  # 1.3 has no whitelist: the job runs
        assert code == 0, out + err


@only_14
def test_a_ref_path_is_held_to_the_whitelist_as_a_target_is():
    """``just(f)`` / ``_ref_`` configs go through zenspec.funcs.get_obj, whose path comes
    from the config: hydra-core 1.4's whitelist holds it as it holds a ``_target_``."""
    allowed = ["builtins.dict", "zenspec.funcs.get_obj", "math.cos"]
    config = builds(dict, f=just(math.cos))
    with no_warnings():
        job = hydra_run(config, instantiate, execution_whitelist=allowed)
    assert job.return_value == {"f": math.cos}
    with pytest.raises(InstantiationException, match=r"math\.sin"):
        hydra_run(
            builds(dict, f=just(math.sin)),
            instantiate,
            execution_whitelist=allowed,
            **QUIET,
        )
    # not a callable (Hydra's check of a returned callable does not apply): the path
    # itself is held to the list
    environ = {"_target_": "zenspec.funcs.get_obj", "path": "os.environ"}
    with pytest.raises(InstantiationException, match=r"os\.environ"):
        hydra_run(builds(dict, env=environ), instantiate, execution_whitelist=allowed, **QUIET)
