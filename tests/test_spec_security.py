"""Loading a spec runs no user code; bad overrides and oversized inputs stop before any job.

* ``zenspec validate`` (without ``--imports``) and ``zenspec schema`` import
  nothing the spec names and evaluate no string; YAML goes through the safe
  loader only. ``validate --imports``, ``plan`` and ``run`` do import (they
  must: the targets' signatures are the checks, and ``plan`` composes the config).
* Hydra's ``_target_`` blocklist (hydra-core 1.3.8's target policy) stays in
  force; zenspec refuses a spec naming a blocklisted target before anything runs.
* ``${oc.env:...}`` is allowed, and never written resolved into zenspec's records.
* Bad CLI overrides exit 2 with a message, before any output directory exists.
* Grids over ``max_jobs`` are refused at validate/plan/run time with the count.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.cli import run_cli

import examples.my_app  # noqa: F401  (stores "config" in the ConfigStore on import, as the docs do)
from zenspec._compatibility import POLICY_WORD
from zenspec.errors import SpecError
from zenspec.spec import load_spec, validate

REPO = Path(__file__).resolve().parents[1]
HELLO = REPO / "specs" / "hello.toml"


run = functools.partial(run_cli, traceback_free=True)


@pytest.fixture
def noisy(tmp_path):
    """A module whose import writes IMPORTED, and specs that name it in every way a spec can."""
    (tmp_path / "noisy_mod.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            Path(__file__).with_name("IMPORTED").write_text("yes")


            def f(a=1, g=None, opt=None, b=0):
                return a


            def g():
                return 0
            """
        )
    )
    spec = tmp_path / "s.toml"
    spec.write_text(
        textwrap.dedent(
            """
            [experiment]
            target = "noisy_mod:f"
            search_path = ["."]

            [config]
            a = "__import__('os').system('touch EVALUATED')"
            g = { _ref_ = "noisy_mod:g" }

            [groups.opt.one]
            _target_ = "noisy_mod.g"

            [sweep]
            "+b" = "range(0, 3)"
            """
        )
    )
    yield spec
    sys.modules.pop("noisy_mod", None)


def test_validate_and_schema_run_no_user_code(noisy, tmp_path, capsys):
    code, out, _ = run(capsys, "validate", noisy)
    assert code == 0, out
    assert run(capsys, "schema")[0] == 0
    assert run(capsys, "schema", "--markdown")[0] == 0
    assert load_spec(noisy).experiment.target == "noisy_mod:f"
    assert validate(noisy) == []
    assert "noisy_mod" not in sys.modules
    assert not (tmp_path / "IMPORTED").exists()
    assert not (tmp_path / "EVALUATED").exists()  # strings are data, never evaluated
    # plan --no-imports lists the jobs from the spec's text alone
    code, out, _ = run(capsys, "plan", "--no-imports", noisy)
    assert code == 0, out
    assert "jobs:     3" in out and "#2  +b=2" in out
    assert run(capsys, "plan", "--no-imports", noisy, "--job", "1")[0] == 2
    assert "noisy_mod" not in sys.modules
    assert not (tmp_path / "IMPORTED").exists()


def test_imports_and_plan_do_import_the_targets(noisy, tmp_path, capsys):
    # what happens when asked: --imports imports the module (its side effect runs);
    # plan composes the config the way a run would, so it imports too
    assert run(capsys, "validate", "--imports", noisy)[0] == 0
    assert (tmp_path / "IMPORTED").exists()
    (tmp_path / "IMPORTED").unlink()
    sys.modules.pop("noisy_mod", None)
    code, out, _ = run(capsys, "plan", noisy)
    assert code == 0 and "jobs:     3" in out
    assert (tmp_path / "IMPORTED").exists()
    assert not (tmp_path / "EVALUATED").exists()
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "tag",
    [
        '!!python/object/apply:os.system ["touch PWNED"]',
        "!!python/name:os.system",
        '!!python/object/new:subprocess.Popen [["touch", "PWNED"]]',
        "!!python/module:os",
    ],
)
def test_yaml_python_tags_are_refused_with_file_and_line(tmp_path, capsys, tag):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"experiment:\n  target: builtins:dict\nconfig:\n  x: {tag}\n")
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    e = info.value
    assert (e.file, e.path, e.line) == (str(spec), "$.config.x", 4)
    assert "is refused" in e.message and "safe loader" in e.message
    for argv in (["validate", spec], ["validate", "--imports", spec], ["run", spec]):
        code, out, err = run(capsys, *argv)
        assert code == 2
        assert f"{spec}::$.config.x (line 4, column 6)" in out + err
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "target, path, refused",
    [
        ('target = "os:system"', "$.experiment.target", "os.system"),
        ('target = "posix:system"', "$.experiment.target", "os.system"),
        ('task = "builtins:eval"', "$.experiment.task", "builtins.eval"),
        ('target = "subprocess.run"', "$.experiment.target", "subprocess.run"),
        ('target = "shutil:rmtree"', "$.experiment.target", "shutil.rmtree"),
    ],
)
def test_hydra_blocklisted_targets_are_refused_before_anything_runs(
    tmp_path, capsys, target, path, refused
):
    spec = tmp_path / "s.toml"
    spec.write_text(f'[experiment]\n{target}\n\n[config]\ncommand = "touch PWNED"\n')
    code, out, _ = run(capsys, "validate", spec)
    assert code == 2
    assert f"{spec}::{path} (line 2, column 1)" in out
    # Hydra names the resolved callable (1.3: os.system) or the name written (1.4: posix.system)
    written = target.split('"')[1].replace(":", ".")
    assert any(f"Target '{name}'" in out for name in (refused, written))
    assert "blocklisted" in out  # zenspec's word on every Hydra
    code, _, err = run(capsys, "run", spec)
    assert code == 2 and "blocklisted" in err
    assert not (tmp_path / "outputs").exists()
    assert not (tmp_path / "PWNED").exists()


def test_the_blocklist_still_holds_for_targets_that_arrive_by_override(tmp_path, capsys):
    # a spec that passes validation, and an override that adds a blocklisted node:
    # Hydra's own policy refuses it when the job instantiates (the job fails, exit 1)
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntarget = "builtins:dict"\n\n[config]\na = 1\n')
    code, _, err = run(capsys, "run", spec, "+a2={_target_:os.system,command:'touch PWNED'}")
    assert code == 1
    # Hydra's own message at job time: its word ("blacklisted" from hydra-core 1.4)
    assert "Target 'os.system'" in err and POLICY_WORD in err
    assert not (tmp_path / "PWNED").exists()


def test_env_interpolations_are_not_written_resolved_into_the_records(
    tmp_path, capsys, monkeypatch
):
    secret = "s3cr3t-value-4711"
    monkeypatch.setenv("ZENSPEC_TEST_SECRET", secret)
    (tmp_path / "env_task.py").write_text("def task(cfg):\n    return len(cfg.token) + cfg.n\n")
    spec = tmp_path / "s.toml"
    spec.write_text(
        textwrap.dedent(
            """
            [experiment]
            task = "env_task:task"
            search_path = ["."]

            [config]
            token = "${oc.env:ZENSPEC_TEST_SECRET}"
            n = 0

            [sweep]
            n = [1, 2]

            [hydra]
            sweep.dir = "multirun/env"
            """
        )
    )
    try:
        code, out, _ = run(capsys, "run", spec)
    finally:
        sys.modules.pop("env_task", None)
    assert code == 0, out
    root = tmp_path / "multirun" / "env"
    manifests = list(root.rglob("manifest.json"))
    assert manifests, sorted(str(p) for p in root.rglob("*"))
    manifest = json.loads(manifests[0].read_text())
    assert "${oc.env:ZENSPEC_TEST_SECRET}" in json.dumps(manifest["spec"])  # as written
    written = [p for p in root.rglob("*") if p.is_file()]
    leaked = [str(p) for p in written if secret in p.read_text(errors="replace")]
    assert not leaked, f"the resolved secret was written to {leaked}"
    # the jobs did see the value: len(secret) + n
    assert f"{len(secret) + 1}" in out and f"{len(secret) + 2}" in out


# -- CLI overrides: a clear message, exit 2, before any job starts ------------------------------


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("bar=[", ["'bar=['", "not valid Hydra override syntax"]),
        ("bar=mom,dad", ["'bar=mom,dad' is a sweep", "--multirun"]),
        ("baz=mom", ["'baz=mom'", "+key=value"]),
        ("foo=[1,2]", ["foo=[1,2]"]),
        ("foo={a:1}", ["foo={a:1}"]),
        ("+bar=x", ["'+bar=x'", "already"]),
        ("hydra.run.dri=x", ["'hydra.run.dri=x'"]),
    ],
    ids=[
        "grammar",
        "sweep-without-m",
        "unknown-key",
        "type-list",
        "type-dict",
        "plus-exists",
        "hydra-typo",
    ],
)
def test_bad_cli_overrides_exit_2_before_any_job(tmp_path, capsys, override, fragments):
    code, out, err = run(capsys, "run", HELLO, override)
    assert code == 2, out + err
    assert err.startswith("error: ")
    for fragment in fragments:
        assert fragment in err
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()
    assert "hello" not in out  # the task never ran


def test_a_type_error_override_names_the_expected_type(capsys):
    code, _, err = run(capsys, "run", HELLO, "foo=[1,2]")
    assert code == 2
    assert "str" in err.lower() or "string" in err.lower()


def test_an_unknown_override_key_gets_did_you_mean(capsys):
    code, _, err = run(capsys, "run", HELLO, "bax=mom")
    # zenspec's suggestion, or omegaconf 2.4's own ("Did you mean: 'bar'?"): once
    assert code == 2 and len(re.findall(r"Did you mean:? 'bar'\?", err)) == 1, err


# -- resource limits -------------------------------------------------------------------------


def test_a_grid_over_max_jobs_is_refused_with_its_size(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[experiment]\ntarget = "builtins:dict"\n\n[config]\na = 0\nb = 0\n\n'
        '[sweep]\na = "range(0, 1000)"\nb = "range(0, 1000)"\n'
    )
    code, out, _ = run(capsys, "validate", spec)
    assert code == 2 and "the sweep expands to 1,000,000 jobs, more than max_jobs=100,000" in out
    assert f"{spec}::$.sweep" in out
    code, _, err = run(capsys, "plan", spec)
    assert code == 2 and "1,000,000 jobs" in err and f"{spec}::$.sweep" in err
    code, _, err = run(capsys, "run", spec)
    assert code == 2 and "1,000,000" in err
    code, _, err = run(capsys, "run", spec, "--max-jobs", "10")
    assert code == 2 and "max_jobs=10" in err
    assert not (tmp_path / "multirun").exists()
    # a smaller grid, and a limit from Python
    assert not validate(spec, max_jobs=None)
    assert validate(spec, max_jobs=10**6) == []


def test_a_group_override_with_a_number_is_bad_input_in_plan(tmp_path, capsys):
    # found by the fuzz: Hydra raises a bare ValueError for `+=inf` (a "group" override
    # whose value is a float); plan reports it as bad input, exit 2
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntarget = "builtins:dict"\n\n[config]\na = 1\n')
    code, _, err = run(capsys, "plan", spec, "+=inf")
    assert code == 2 and "could not be applied" in err


def test_a_group_override_with_a_number_is_bad_input_in_run(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntarget = "builtins:dict"\n\n[config]\na = 1\n')
    assert run(capsys, "run", spec, "+=inf")[0] == 2
