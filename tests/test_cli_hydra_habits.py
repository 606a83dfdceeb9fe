"""Hydra's show-and-exit flags on ``zenspec run``: --cfg, --resolve, --package, --info.

A Hydra user types ``--cfg job`` out of habit; zenspec prints what Hydra would
(the composed config of the run, or of a sweep's job #0, saying so), runs
nothing and exits 0. Flags zenspec has no use for get a one-line pointer.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
import yaml
from helpers.cli import run_cli as run

import examples.my_app  # noqa: F401  (stores "config" in the ConfigStore on import)
from zenspec.cli import main

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"


# the graddesc spec's targets are torch.optim classes: `run` imports them first
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="needs torch (the examples extra): the graddesc spec's targets are torch.optim classes",
)


def ran_nothing(tmp_path: Path) -> bool:
    return not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


@pytest.mark.parametrize("flag", ["--cfg", "-c"])
def test_cfg_job_prints_the_job_config_and_runs_nothing(capsys, tmp_path, flag):
    code, out, err = run(capsys, "run", SPECS / "hello.toml", flag, "job", "bar=mom")
    assert code == 0, err
    assert yaml.safe_load(out) == {"foo": "hello", "bar": "mom"}
    assert "hello mom" not in out  # the task did not run
    assert ran_nothing(tmp_path)


def test_cfg_hydra_is_the_hydra_node_only(capsys, tmp_path):
    code, out, _ = run(capsys, "run", SPECS / "hello.toml", "--cfg", "hydra")
    assert code == 0
    doc = yaml.safe_load(out)
    assert list(doc) == ["hydra"]
    assert doc["hydra"]["job"]["name"] == "hello"
    assert "help" not in doc["hydra"] and "hydra_help" not in doc["hydra"]  # as Hydra shows it
    assert ran_nothing(tmp_path)


def test_cfg_all_has_both(capsys):
    code, out, _ = run(capsys, "run", SPECS / "hello.toml", "--cfg", "all")
    assert code == 0
    doc = yaml.safe_load(out)
    assert doc["foo"] == "hello" and doc["hydra"]["job"]["name"] == "hello"


@needs_torch
def test_cfg_of_a_grid_sweep_is_job_0_and_says_so(capsys, tmp_path):
    code, out, _ = run(capsys, "run", SPECS / "graddesc.toml", "--cfg", "job")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("# job #0 of the sweep's 2 (optim=sgd)")
    assert "--job N" in first
    doc = yaml.safe_load(out)
    assert doc["optim"]["_target_"] == "torch.optim.SGD" and "hydra" not in doc
    # an override choosing the other option makes it job #0
    code, out, _ = run(capsys, "run", SPECS / "graddesc.toml", "-c", "job", "optim=adam")
    assert yaml.safe_load(out)["optim"]["_target_"] == "torch.optim.Adam"
    assert ran_nothing(tmp_path)


def test_cfg_of_a_sampling_sweep_is_the_config_before_the_sweeper(capsys, tmp_path):
    code, out, _ = run(capsys, "run", SPECS / "random_search.toml", "--cfg", "job")
    assert code == 0
    first = out.splitlines()[0]
    assert "chooses each job's values as it runs" in first and "x, y" in first
    assert yaml.safe_load(out) == {"x": 1, "y": 12}
    assert ran_nothing(tmp_path)


def interp_spec(tmp_path: Path, bar: str) -> Path:
    spec = tmp_path / "s.toml"
    spec.write_text(
        textwrap.dedent(
            f"""
            [experiment]
            name = "interp"
            task = "examples.my_app:task_function"
            [config]
            foo = "a"
            bar = "{bar}"
            """
        )
    )
    return spec


def test_resolve_resolves_interpolations_as_hydra_does(capsys, tmp_path):
    import datetime

    spec = interp_spec(tmp_path, "${foo}-${now:%Y}")
    code, out, _ = run(capsys, "run", spec, "--cfg", "job")
    assert code == 0 and yaml.safe_load(out)["bar"] == "${foo}-${now:%Y}"
    code, out, err = run(capsys, "run", spec, "--cfg", "job", "--resolve")
    assert code == 0, err
    assert yaml.safe_load(out)["bar"] == f"a-{datetime.date.today().year}"
    # a sweep's job #0: the hydra node is that job's, as its launcher composes it
    code, out, err = run(capsys, "run", spec, "-m", "foo=x,y", "--cfg", "hydra", "--resolve")
    assert code == 0, err
    hydra = yaml.safe_load(out.split("\n", 1)[1])["hydra"]
    assert hydra["sweep"]["subdir"] == "0" or hydra["sweep"]["subdir"] == 0
    assert hydra["job"]["override_dirname"] == "foo=x"
    code, out, _ = run(capsys, "run", spec, "-m", "foo=x,y", "--cfg", "hydra")
    assert "subdir: ${hydra.job.num}" in out  # unresolved without --resolve


def test_resolve_of_an_unresolvable_interpolation_is_one_clean_error(capsys, tmp_path):
    spec = interp_spec(tmp_path, "${foo}")
    code, out, err = run(capsys, "run", spec, "--cfg", "job", "--resolve", "bar=${nope}")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "nope" in err and "Fix:" in err


def test_resolve_uses_the_jobs_hydra_node_for_the_hydra_resolver(capsys, tmp_path):
    spec = interp_spec(tmp_path, "${foo}-${hydra:job.name}")
    code, out, err = run(capsys, "run", spec, "--cfg", "job", "--resolve")
    assert code == 0, err
    assert yaml.safe_load(out)["bar"] == "a-interp"


@needs_torch
def test_package_selects_a_node(capsys):
    code, out, _ = run(capsys, "run", SPECS / "graddesc.toml", "--cfg", "job", "-p", "optim")
    assert code == 0
    assert "# @package optim" in out
    assert yaml.safe_load(out) == {
        "_target_": "torch.optim.SGD",
        "_partial_": True,
        "lr": 0.3,
        "momentum": 0.0,
    }
    code, out, err = run(capsys, "run", SPECS / "graddesc.toml", "-c", "job", "-p", "optim.lr")
    assert code == 0 and out == "0.3\n"  # a bare value, as Hydra prints it
    assert err.startswith("note: job #0 of the sweep's 2")
    code, _, err = run(capsys, "run", SPECS / "graddesc.toml", "-c", "job", "-p", "optm")
    assert code == 2
    assert err.startswith("error: --package optm: there is no such node")
    assert "Did you mean 'optim'?" in err and "Fix:" in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--cfg", "jbo"], "--cfg 'jbo' is not one of job, hydra, all. Did you mean 'job'?"),
        (["--info", "plugin"], "Did you mean 'plugins'?"),
        (["--resolve"], "--resolve changes what --cfg prints, and --cfg is not given."),
        (["-p", "optim"], "Fix: zenspec run"),
        (["--cfg", "job", "--info"], "give one of them"),
        (["--cfg", "job", "--no-imports"], "Fix: drop --no-imports"),
    ],
)
def test_bad_show_options_are_one_clean_error(capsys, tmp_path, argv, expected):
    code, out, err = run(capsys, "run", SPECS / "hello.toml", *argv)
    assert code == 2
    assert err.startswith("error: ") and "usage:" not in err
    assert expected in err and "Fix:" in err
    assert out == "" and ran_nothing(tmp_path)


@needs_torch
def test_info_defaults_lists_the_group_choices(capsys, tmp_path):
    code, out, _ = run(capsys, "run", SPECS / "graddesc.toml", "--info", "defaults", "optim=adam")
    assert code == 0
    assert "  optim: adam\n" in out and "  hydra/launcher: basic\n" in out
    assert ran_nothing(tmp_path)


def test_info_without_a_value_is_all_and_takes_no_override_for_one(capsys, tmp_path):
    # `--info bar=mom`: the override is an override, as with Hydra's optional value
    code, out, _ = run(capsys, "run", SPECS / "hello.toml", "--info", "bar=mom")
    assert code == 0
    assert "Installed Hydra plugins:" in out and "BasicLauncher" in out
    assert "Python import path added for the spec's targets" in out
    assert f"Plan (zenspec plan {SPECS / 'hello.toml'} --job 0):" in out
    assert "config of job #0:\nfoo: hello\nbar: mom\n" in out
    assert "hello mom\n" not in out.replace("bar: mom", "")
    assert ran_nothing(tmp_path)


def test_info_searchpath_and_plugins(capsys):
    code, out, _ = run(capsys, "run", SPECS / "hello.toml", "--info", "searchpath")
    assert code == 0
    assert f"  {SPECS / '..'}\n" in out  # the spec's search_path, as zenspec reads it
    assert "pkg://hydra.conf" in out and "Installed Hydra plugins" not in out
    code, out, _ = run(capsys, "run", SPECS / "hello.toml", "-i", "plugins", "--no-imports")
    assert code == 0
    assert "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher" in out
    assert "[sweeper] kind = 'optuna'" in out


@pytest.mark.parametrize(
    "flag, expected",
    [
        ("--config-name=other", "zenspec takes the config from the spec file"),
        ("-cn", "zenspec takes the config from the spec file"),
        ("--hydra-help", "zenspec run --help"),
        ("-sc", "zenspec completion bash"),
        ("-r", "drop it"),
    ],
)
def test_hydra_only_flags_get_a_pointer(capsys, tmp_path, flag, expected):
    with pytest.raises(SystemExit) as info:
        main(["run", str(SPECS / "hello.toml"), flag, "x"])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {flag.split('=')[0]}: ") and "usage:" not in err
    assert expected in err and "Fix:" in err
    assert ran_nothing(tmp_path)


def test_run_help_documents_the_show_options(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "-c {job,hydra,all}, --cfg {job,hydra,all}" in out
    assert "--resolve" in out and "--package KEY" in out
    assert "zenspec plan SPEC --job 0" in out and "job #0" in out


def test_plan_help_says_what_it_imports(capsys):
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Nothing is run" not in out
    assert "imported to compose the configs, so their modules' top-level code runs" in out
    assert "--no-imports imports nothing" in out
