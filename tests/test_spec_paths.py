"""Hydra's path settings may not write outside the directory they belong in (issue 15).

``hydra.job.name`` is one name, ``hydra.sweep.subdir``/``hydra.output_subdir`` stay
inside their directory, ``hydra.run.dir``/``hydra.sweep.dir`` are the user's choice
but neither empty nor ``/``. A spec's ``[hydra]`` table and the command line's
overrides are both refused with exit 2, file, key path and line, before anything
runs: no sweep directory, no records, nothing outside.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from helpers.cli import run_cli

from zenspec.spec import validate

SWEEP = """\
[experiment]
name = "demo"
target = "builtins:dict"

[config]
lr = 0.1
seed = 0

[sweep]
lr = [0.1, 0.01]

[hydra]
sweep.dir = "multirun/demo"
{line}
"""
LINE = 14  # the line {line} is on


run = functools.partial(run_cli, traceback_free=True)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory two levels down, so a climbing path stays inside tmp_path."""
    here = tmp_path / "home" / "work"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    return here


def nothing_written(tmp_path: Path, work: Path) -> None:
    """Only the spec exists: no sweep dir, no records, no log, nothing outside *work*."""
    everything = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert everything == ["home", "home/work", "home/work/s.toml"], everything


BAD = [
    (
        'job.name = "../../escaped"',
        "$.hydra.job.name",
        "hydra.job.name '../../escaped' is a path, not a name",
    ),
    ('job.name = "../${experiment}"', "$.hydra.job.name", "is a path, not a name (it has a '/')"),
    ('job.name = "a\\\\b"', "$.hydra.job.name", "is a path, not a name (it has a '\\\\')"),
    (
        'job.name = ".."',
        "$.hydra.job.name",
        "hydra.job.name '..' is not a name but the parent directory",
    ),
    ('job.name = "."', "$.hydra.job.name", "is not a name but the current directory"),
    ('job.name = ""', "$.hydra.job.name", "hydra.job.name is empty"),
    (
        'sweep.subdir = "../../up_${hydra.job.num}"',
        "$.hydra.sweep.subdir",
        "climbs out of the sweep directory (hydra.sweep.dir) with '..'",
    ),
    (
        'sweep.subdir = "lr=${lr}/../../x"',
        "$.hydra.sweep.subdir",
        "climbs out of the sweep directory",
    ),
    (
        'sweep.subdir = "/tmp/elsewhere"',
        "$.hydra.sweep.subdir",
        "'/tmp/elsewhere' is an absolute path",
    ),
    (
        'sweep.subdir = ""',
        "$.hydra.sweep.subdir",
        "names the sweep directory (hydra.sweep.dir) itself",
    ),
    (
        'output_subdir = "../../.hydra"',
        "$.hydra.output_subdir",
        "climbs out of the job's directory",
    ),
    ('run.dir = ""', "$.hydra.run.dir", "hydra.run.dir is empty"),
    ('run.dir = "/"', "$.hydra.run.dir", "hydra.run.dir '/' is the filesystem root"),
]


@pytest.mark.parametrize("line, path, message", BAD, ids=[b[0] for b in BAD])
def test_a_path_that_leaves_its_directory_is_refused_before_anything_runs(
    tmp_path, work, capsys, line, path, message
):
    spec = work / "s.toml"
    spec.write_text(SWEEP.format(line=line))
    where = f"{spec}::{path} (line {LINE}"
    code, out, _ = run(capsys, "validate", spec)
    assert code == 2, out
    assert where in out and message in out and "Fix: " in out
    code, _, err = run(capsys, "run", spec)
    assert code == 2
    assert err.startswith("error: ") and where in err and message in err
    code, _, err = run(capsys, "plan", "--no-imports", spec)
    assert code == 2 and where in err
    nothing_written(tmp_path, work)


def test_sweep_dir_root_is_refused_in_yaml_with_its_line(tmp_path, work, capsys):
    spec = work / "s.yaml"
    spec.write_text(
        "experiment:\n  target: builtins:dict\nconfig:\n  a: 1\nsweep:\n  a: [1, 2]\n"
        "hydra:\n  sweep:\n    dir: //\n"
    )
    (problem,) = validate(spec)
    assert (problem.file, problem.path, problem.line) == (str(spec), "$.hydra.sweep.dir", 9)
    assert "is the filesystem root" in problem.message
    code, _, err = run(capsys, "run", spec)
    assert code == 2 and f"{spec}::$.hydra.sweep.dir (line 9" in err


def test_every_problem_is_reported_at_once_in_json(work, capsys):
    spec = work / "s.toml"
    spec.write_text(SWEEP.format(line='job.name = "a/b"\nsweep.subdir = "../x"'))
    code, out, _ = run(capsys, "validate", spec, "--format", "json")
    assert code == 2
    problems = json.loads(out)["files"][0]["problems"]
    assert [(p["path"], p["line"]) for p in problems] == [
        ("$.hydra.job.name", LINE),
        ("$.hydra.sweep.subdir", LINE + 1),
    ]


GOOD = [
    'job.name = "${experiment}_x"',
    'job.name = "demo.v2"',
    'job.name = "a..b"',
    'sweep.subdir = "${hydra.job.num}"',
    'sweep.subdir = "${hydra.job.override_dirname}"',
    'sweep.subdir = "lr=${lr}/seed_${seed}"',
    'sweep.subdir = "${now:%Y/%m}/${hydra.job.num}"',
    'run.dir = "../outputs"',
    'run.dir = "/shared/scratch/me/${now:%H-%M-%S}"',
    'run.dir = "."',
    'output_subdir = "logs/.hydra"',
]


@pytest.mark.parametrize("line", GOOD)
def test_paths_inside_their_directory_and_interpolations_are_fine(work, line):
    spec = work / "s.toml"
    spec.write_text(SWEEP.format(line=line))
    assert validate(spec) == []


def test_a_templated_subdir_runs_and_stays_inside_the_sweep_dir(tmp_path, work, capsys):
    spec = work / "s.toml"
    subdir = 'sweep.subdir = "${hydra.job.override_dirname}/n_${hydra.job.num}"'
    spec.write_text(SWEEP.format(line=f'{subdir}\njob.name = "x_1"'))
    code, out, _ = run(capsys, "run", "-q", spec)
    assert code == 0, out
    sweep = work / "multirun" / "demo"
    assert (sweep / "lr=0.1" / "n_0" / "x_1.log").exists()
    assert (sweep / "lr=0.01" / "n_1" / ".hydra" / "config.yaml").exists()
    outside = [p for p in tmp_path.rglob("*") if sweep not in p.parents and p != sweep]
    assert sorted(str(p.relative_to(tmp_path)) for p in outside) == [
        "home",
        "home/work",
        "home/work/multirun",
        "home/work/s.toml",
    ]


# -- command-line overrides ------------------------------------------------------------------

OVERRIDES = [
    ("hydra.job.name=../../escaped", "hydra.job.name", "is a path, not a name"),
    ("+hydra.job.name='a/b'", "hydra.job.name", "is a path, not a name"),
    (
        "hydra.sweep.subdir=../../up_${hydra.job.num}",
        "hydra.sweep.subdir",
        "climbs out of the sweep directory",
    ),
    ("hydra.sweep.subdir=a,../b", "hydra.sweep.subdir", "'../b' climbs out"),
    ("hydra.sweep={dir:out,subdir:/tmp/x}", "hydra.sweep.subdir", "is an absolute path"),
    ("hydra.run.dir=/", "hydra.run.dir", "is the filesystem root"),
    ("hydra.sweep.dir=", "hydra.sweep.dir", "hydra.sweep.dir is empty"),
]


@pytest.mark.parametrize("override, key, message", OVERRIDES, ids=[o[0] for o in OVERRIDES])
def test_a_command_line_override_that_leaves_its_directory_exits_2_before_anything_runs(
    tmp_path, work, capsys, override, key, message
):
    spec = work / "s.toml"
    spec.write_text(SWEEP.format(line=""))
    for argv in (["run", spec, override], ["plan", spec, override], ["plan", "--no-imports", spec, override]):  # fmt: skip
        code, out, err = run(capsys, *argv)
        assert code == 2, out + err
        assert f"<command line>::{key}: the override {override!r}" in err, err
        assert message in err and "Fix: " in err
    nothing_written(tmp_path, work)


def test_override_problems_name_the_command_line_and_the_key():
    from zenspec.spec.paths import override_problems

    for override, key, message in OVERRIDES:
        (problem,) = override_problems([override])
        assert (problem.file, problem.path) == ("<command line>", key)
        assert problem.format().startswith(f"<command line>::{key}: the override {override!r}: ")
        assert message in problem.message and problem.hint.startswith("Fix: ")
    fine = [
        "lr=0.1",
        "hydra.job.name=x",
        "hydra.sweep.subdir=${hydra.job.override_dirname}",
        "hydra.run.dir=../outputs",
        "~hydra.job.name",
        "hydra/launcher=joblib",
        "hydra.job.name=[",  # does not parse: the override checks say why, later
        "hydra.sweep.subdir=glob(*)",
    ]
    assert override_problems(fine) == []
