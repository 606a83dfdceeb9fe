"""Whatever ``run`` would refuse, ``validate --imports`` refuses first -- and ``run``
refuses it too before any job starts (exit 2, nothing written).

The invalid-spec corpus (tests/specs/invalid/) holds one file per mistake; here
every case that needs imports is also run, and mistakes only a command line can
make (overrides) are checked on ``run`` itself.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from zenspec.cli import main
from zenspec.spec import validate

CORPUS = Path(__file__).parent / "specs" / "invalid"
CASES = json.loads((CORPUS / "cases.json").read_text())["cases"]
# the mistakes found by composing the jobs (added with the preflight stage)
COMPOSED = [c for c in CASES if c["imports"] and "helpers.typed_targets" in (CORPUS / c["file"]).read_text()]  # fmt: skip


def _nothing_written(where: Path) -> None:
    left = [p.name for p in where.iterdir() if p.is_dir()]
    assert not {"outputs", "multirun"} & set(left), f"a run started: {left}"


@pytest.mark.parametrize("case", COMPOSED, ids=lambda c: c["file"])
def test_run_refuses_what_validate_refuses_before_any_job(case, tmp_path, monkeypatch, capsys):
    spec = tmp_path / case["file"]
    shutil.copy(CORPUS / case["file"], spec)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert case["message"] in err
    assert "the job failed" not in err and "Traceback" not in err
    _nothing_written(tmp_path)


def test_the_corpus_has_the_composed_cases():
    assert len(COMPOSED) >= 30


SPEC = """\
[experiment]
target = "helpers.typed_targets:train"

[config]
epochs = 1
lr = 0.1

[groups.model.small]
_target_ = "helpers.typed_targets:Model"
width = 4

[groups.model.big]
_target_ = "helpers.typed_targets:Model"
width = "???"

[defaults]
model = "small"
"""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+foo=1"], "override '+foo=1': 'foo' is not a parameter of helpers.typed_targets:train"),
        (["+epoch=1"], "Did you mean 'epochs'?"),
        (["epochs=one"], "override 'epochs=one': the string 'one' is not an int"),
        (["-m", "epochs=1,two"], "override 'epochs=1,two': the swept value 'two'"),
        (["model=big"], "'model.width' is '???', a required value"),
        (["-m", "model=small,big"], "the job with model=big does not set it"),
        (["model.width=wide"], "override 'model.width=wide': the string 'wide' is not an int"),
        (["+model.depth=3"], "'depth' is not a parameter of helpers.typed_targets.Model"),
        (["lr=${nosuch}"], "Interpolation key 'nosuch' not found"),
        (["model=smal"], "Did you mean 'small'?"),
        (["-m", "epochs=range(1,3,0)"], "must not be zero"),
        (["-m", "epochs=shuffle()"], "gives no values"),
    ],
)
def test_command_line_mistakes_are_refused_before_any_job(
    tmp_path, monkeypatch, capsys, overrides, message
):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(spec), *overrides]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "the job failed" not in err and "Traceback" not in err
    _nothing_written(tmp_path)


def test_good_overrides_still_run(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(spec), "-m", "epochs=1,2", "model.width=8", "+seed=null"]) == 0
    assert len(list((tmp_path / "multirun").glob("**/.zenspec/jobs/*.json"))) == 2


def test_every_problem_of_a_file_in_one_round(tmp_path, capsys):
    # schema problems ($.hydra.run.dirr, $.launcher.n_jbos) and semantic ones
    # ($.sweep.b, $.hydra.job.nmae) of one file, in one report
    spec = tmp_path / "spec.toml"
    spec.write_text(
        textwrap.dedent(
            """\
            [experiment]
            target = "helpers.typed_targets:train"
            [config]
            epochs = 1
            lr = 0.5
            [sweep]
            epochs = [1, 2]
            lr = "range(1, 5, 0.0)"
            [hydra]
            run.dirr = "x"
            job.nmae = "y"
            [launcher]
            kind = "joblib"
            n_jbos = 2
            """
        )
    )
    paths = [p.path for p in validate(spec, imports=True)]
    assert paths == ["$.sweep.lr", "$.hydra.run.dirr", "$.hydra.job.nmae", "$.launcher.n_jbos"]


def test_a_problem_caused_by_a_refused_key_is_not_repeated(tmp_path):
    # the schema refuses `config.a`'s value; "swept key 'a' is not in the config"
    # would only repeat it
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[experiment]\ntarget = "builtins:dict"\n[config]\na = 1\n[sweep]\na = [1, 2]\n'
        '[launcher]\nkind = "joblib"\nn_jobs = "two"\n'
    )
    problems = validate(spec)
    assert [p.path for p in problems] == ["$.launcher.n_jobs"]


def test_a_logging_config_with_a_factory_key_validates_and_runs(tmp_path, monkeypatch, capsys):
    # colorlog-style: a formatter made by a factory ("()"), which no override key can spell
    spec = tmp_path / "spec.toml"
    spec.write_text(
        textwrap.dedent(
            """\
            [experiment]
            task = "helpers.typed_targets:task"
            [hydra.job_logging]
            version = 1
            [hydra.job_logging.formatters.plain]
            "()" = "helpers.typed_targets.PlainFormatter"
            format = "PLAIN %(message)s"
            [hydra.job_logging.handlers.console]
            class = "logging.StreamHandler"
            formatter = "plain"
            [hydra.job_logging.root]
            handlers = ["console"]
            level = "INFO"
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--imports", str(spec)]) == 0
    assert main(["run", str(spec)]) == 0
    run_dirs = list((tmp_path / "outputs" / "spec").glob("*/*"))
    assert len(run_dirs) == 1
    saved = (run_dirs[0] / ".hydra" / "hydra.yaml").read_text()
    assert "helpers.typed_targets.PlainFormatter" in saved


def test_composing_for_checks_leaves_hydra_state_as_it_was(tmp_path):
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra

    spec = tmp_path / "spec.toml"
    spec.write_text(
        SPEC.replace('width = "???"', "width = 2") + '[sweep]\nmodel = ["small", "big"]\n'
    )
    before = json.dumps(sorted(ConfigStore.instance().repo), default=str)
    initialized = GlobalHydra.instance().is_initialized()
    assert validate(spec, imports=True) == []
    assert json.dumps(sorted(ConfigStore.instance().repo), default=str) == before
    assert GlobalHydra.instance().is_initialized() == initialized


def test_plan_refuses_what_run_refuses(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    assert main(["plan", str(spec), "+foo=1"]) == 2
    assert "override '+foo=1': 'foo' is not a parameter" in capsys.readouterr().err
    assert main(["plan", str(spec), "-m", "model=small,big"]) == 2
    assert "the job with model=big does not set it" in capsys.readouterr().err
    assert main(["plan", str(spec), "epochs=3"]) == 0


def test_hydra_resolvers_resolve_as_in_the_job(tmp_path, monkeypatch, capsys):
    # ${hydra:...} needs the job's Hydra config, set while the checks resolve values
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("lr = 0.1", 'lr = 0.1\nname = "${hydra:job.name}"'))
    assert validate(spec, imports=True) == []
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(spec), "name=${hydra:runtime.choices.model}"]) == 0
    assert main(["run", str(spec), "-m", "epochs=1,2", "name=run-${hydra:job.num}"]) == 0


GLOB_SPEC = """\
[experiment]
task = "helpers.typed_targets:task"
[groups.opt.sgd]
lr = 1
[groups.opt.adam]
lr = 2
[groups.opt.rms]
lr = 3
[defaults]
opt = "sgd"
[sweep]
opt = "glob([a*,r*])"
"""


@pytest.mark.parametrize("imports", [True, False])
def test_glob_over_a_group_is_counted_and_planned(tmp_path, capsys, imports):
    spec = tmp_path / "spec.toml"
    spec.write_text(GLOB_SPEC)
    assert main(["validate", str(spec)]) == 0
    assert "ok (2 job(s))" in capsys.readouterr().out
    assert main(["plan", str(spec), *([] if imports else ["--no-imports"])]) == 0
    out = capsys.readouterr().out
    assert "#0  opt=adam" in out and "#1  opt=rms" in out and "sgd" not in out


def test_a_failed_single_run_names_its_log(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('[experiment]\ntask = "helpers.typed_targets:failing"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(spec)]) == 1
    err = capsys.readouterr().err
    (log,) = tmp_path.glob("outputs/spec/*/*/*.log")
    assert "the job failed: ValueError: boom" in err
    assert f"see the job's log, {log} (it has the traceback)" in err
    assert "Traceback" in log.read_text() and "ValueError: boom" in log.read_text()


def test_results_show_the_experiments_description(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[experiment]\ntask = "helpers.typed_targets:task"\n'
        'description = "Does the loss stay at zero?"\n[config]\na = 1\n[sweep]\na = [1, 2]\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(spec), "-q"]) == 0
    (sweep,) = tmp_path.glob("multirun/spec/*/*")
    capsys.readouterr()
    assert main(["results", str(sweep)]) == 0
    assert capsys.readouterr().out.startswith("Does the loss stay at zero?\n")
    assert main(["results", str(sweep), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["description"] == "Does the loss stay at zero?"
    assert main(["plan", str(spec)]) == 0
    assert "Does the loss stay at zero?" in capsys.readouterr().out
