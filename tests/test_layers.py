"""The spec layer imports no Hydra runtime (issue 17, item 4).

``zenspec validate`` (without ``--imports``), ``schema``, ``plan --no-imports``
and shell completion run in a fresh process here, which reports the modules it
imported: none of Hydra (so none of ``hydra._internal``) and none of the launch
layer (``zenspec.launch``) for the common specs. With Hydra's internals made
unimportable, they still work: same exit codes, same messages, and a one-line
note for each check that needed Hydra and was skipped.

The Hydra-free reader of the common override forms
(:mod:`zenspec.spec.sweep_text`) is held equal to Hydra's parser and
BasicSweeper on such lines, and the policy filter to the installed Hydra's lists.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specs"

# The child runs the CLI's main() in-process and reports sys.modules on stderr.
# BREAK_HYDRA=1 makes every `hydra._internal` import fail, as a Hydra whose
# internals were renamed would (and with them `import hydra` itself).
_CHILD = r"""
import json, os, sys
if os.environ.get("BREAK_HYDRA"):
    class _Broken:
        def find_spec(self, name, path=None, target=None):
            if name == "hydra._internal" or name.startswith("hydra._internal."):
                raise ImportError(f"simulated: no module {name!r} in this Hydra")
            return None
    sys.meta_path.insert(0, _Broken())
from zenspec.cli import main
code = main(json.loads(sys.argv[1]))
sys.stdout.flush()
mods = sorted(m for m in sys.modules if m.split(".")[0] in ("hydra", "omegaconf", "zenspec", "jsonschema"))
sys.stderr.write("\n@@modules " + json.dumps(mods) + "\n")
sys.exit(code)
"""


def zenspec(
    *argv: str, broken: bool = False, env: Optional[Dict[str, str]] = None
) -> Tuple[int, str, str, List[str]]:
    """Run ``zenspec ARGV`` in a fresh process: (exit code, stdout, stderr, modules)."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([str(REPO), environ.get("PYTHONPATH", "")])
    environ.pop("BREAK_HYDRA", None)
    if broken:
        environ["BREAK_HYDRA"] = "1"
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps([str(a) for a in argv])],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    err, _, tail = proc.stderr.rpartition("\n@@modules ")
    assert tail, f"the child did not report its modules:\n{proc.stderr}"
    return proc.returncode, proc.stdout, err, json.loads(tail)


def hydra_modules(modules: List[str]) -> List[str]:
    return [m for m in modules if m == "hydra" or m.startswith("hydra.")]


def launch_modules(modules: List[str]) -> List[str]:
    return [m for m in modules if m.startswith(("zenspec.launch", "zenspec.launchers"))]


@pytest.fixture
def cache(tmp_path):
    """A fresh cache directory for the target policy's verdicts."""
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


# -- the layering -----------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["graddesc.toml", "hello.toml", "launchers_joblib.toml", "random_search.toml"]
)
def test_validate_imports_neither_hydra_nor_the_launch_layer(spec, cache):
    code, out, err, modules = zenspec("validate", SPECS / spec, env=cache)
    assert code == 0, out + err
    assert f"{SPECS / spec}: ok" in out
    assert "all valid" in out
    assert hydra_modules(modules) == []
    assert launch_modules(modules) == []
    assert "zenspec.builds" not in modules and "zenspec.instantiate" not in modules


def test_validate_reports_the_grid_size_without_hydra(cache):
    code, out, _, modules = zenspec("validate", SPECS / "launchers_joblib.toml", env=cache)
    assert code == 0
    assert "(12 job(s))" in out  # range(0, 6) x [0, 1], counted without Hydra
    assert hydra_modules(modules) == []


def test_schema_imports_neither_hydra_nor_omegaconf_nor_jsonschema():
    code, out, _, modules = zenspec("schema")
    assert code == 0
    assert json.loads(out)["title"]
    assert hydra_modules(modules) == []
    assert [m for m in modules if m.startswith(("omegaconf", "jsonschema"))] == []
    assert launch_modules(modules) == []


def test_plan_without_imports_lists_the_jobs_without_hydra(cache):
    code, out, err, modules = zenspec(
        "plan", "--no-imports", SPECS / "launchers_joblib.toml", "fail_at=3", env=cache
    )
    assert code == 0, out + err
    assert "jobs:     12" in out
    assert "hydra/launcher=joblib hydra.launcher.n_jobs=2 x=5 y=1 fail_at=3" in out
    assert hydra_modules(modules) == []
    assert launch_modules(modules) == []


def test_completion_of_config_keys_imports_no_hydra_and_no_schema():
    code, out, _, modules = zenspec("completion", "keys", SPECS / "graddesc.toml")
    assert code == 0
    assert out.split() == ["starting_xy=", "num_steps=", "landscape_fn=", "optim="]
    assert hydra_modules(modules) == []
    assert [m for m in modules if m.startswith(("omegaconf", "jsonschema"))] == []
    assert launch_modules(modules) == []


def test_completion_script_imports_no_hydra():
    code, out, _, modules = zenspec("completion", "bash")
    assert code == 0 and "complete -o filenames -F _zenspec_complete zenspec" in out
    assert hydra_modules(modules) == []


def test_validate_imports_still_imports_what_it_checks(cache):
    # the other side of the line: --imports composes with Hydra, as before
    code, out, err, modules = zenspec("validate", "--imports", SPECS / "hello.toml", env=cache)
    assert code == 0, out + err
    assert "hydra._internal.hydra" in modules or "hydra.core.global_hydra" in modules


def test_the_policy_verdicts_are_kept_between_runs(cache):
    # builtins:pow is a name Hydra's policy could refuse: the first run asks Hydra,
    # the second reads the verdict Hydra gave
    spec = SPECS / "pow_partial.toml"
    code, _, _, first = zenspec("validate", spec, env=cache)
    assert code == 0
    assert any(m.startswith("hydra._internal.") and m.endswith("_policy") for m in first)
    code, out, _, second = zenspec("validate", spec, env=cache)
    assert code == 0 and "ok (5 job(s))" in out
    assert hydra_modules(second) == []


def test_a_kept_refusal_is_still_a_refusal(tmp_path, cache):
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntarget = "os:system"\n\n[config]\ncommand = "true"\n')
    for _ in range(2):  # asked, then read from the cache
        code, out, _, _ = zenspec("validate", spec, env=cache)
        assert code == 2
        assert "Target 'os.system'" in out and "blocklisted" in out


def test_the_package_names_stay_the_same(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import zenspec
        assert not [m for m in sys.modules if m.startswith(("hydra", "omegaconf"))]
        import zenspec.builds, zenspec.instantiate
        from zenspec import builds, just, instantiate, hydra_run, load_spec, Spec
        assert callable(builds) and builds.__name__ == "builds"
        assert zenspec.builds is builds and zenspec.instantiate is instantiate
        assert instantiate.__module__ == "zenspec.instantiate"
        assert set(zenspec.__all__) <= set(dir(zenspec))
        for name in zenspec.__all__:
            getattr(zenspec, name)
        from zenspec.spec import validate, Plan
        from zenspec.launch.overrides import value_to_override, multirun, hydra_list
        from zenspec.spec.override_text import value_to_override as moved
        assert value_to_override is moved
        from zenspec.builds import get_target_path
        from zenspec.funcs import get_obj
        from zenspec.spec.compile import _GET_OBJ
        assert _GET_OBJ == get_target_path(get_obj)
        print("same")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "same"


# -- with Hydra's internals gone ----------------------------------------------------


def test_the_simulation_breaks_hydra():
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.split("from zenspec.cli")[0] + "import hydra\n"],
        capture_output=True,
        text=True,
        env={**os.environ, "BREAK_HYDRA": "1"},
    )
    assert proc.returncode != 0 and "simulated: no module 'hydra._internal" in proc.stderr


@pytest.mark.parametrize("spec", ["graddesc.toml", "hello.yaml", "launchers_joblib.toml"])
def test_validate_works_when_hydra_internals_are_gone(spec, cache):
    code, out, err, _ = zenspec("validate", SPECS / spec, broken=True, env=cache)
    assert code == 0, out + err
    assert f"{SPECS / spec}: ok" in out and "all valid" in out
    assert "Traceback" not in err


def test_validate_still_refuses_a_bad_spec_when_hydra_internals_are_gone(tmp_path, cache):
    spec = tmp_path / "bad.toml"
    spec.write_text(
        textwrap.dedent(
            """
            [experiment]
            target = "examples.graddesc:gradient_descent"

            [config]
            num_steps = 20

            [groups.optim.sgd]
            lr = 0.3

            [defaults]
            optim = "adma"

            [sweep]
            num_stpes = [1, 2]
            """
        )
    )
    for broken in (False, True):  # the same answer with or without Hydra
        code, out, err, _ = zenspec("validate", spec, broken=broken, env=cache)
        assert code == 2, out + err
        assert "group 'optim' has no option 'adma' (it has: sgd)." in out
        assert "swept key 'num_stpes' is not in the config. Did you mean 'num_steps'?" in out
        assert "1 file(s) checked" in out and "2 problem(s)" in out
        assert "Traceback" not in err


def test_a_schema_error_is_the_same_when_hydra_internals_are_gone(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('[experiment]\ntarget = "m:f"\nnmae = "x"\n')
    outs = []
    for broken in (False, True):
        code, out, _, _ = zenspec("validate", spec, broken=broken)
        assert code == 2
        outs.append(out)
    assert outs[0] == outs[1] and "nmae" in outs[0]


def test_checks_that_need_hydra_are_skipped_with_a_note(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(
        textwrap.dedent(
            """
            [experiment]
            target = "builtins:dict"

            [config]
            a = "x"

            [sweep]
            a = "choice('p q', r)"

            [hydra]
            job.name = "n"
            """
        )
    )
    env = {"ZENSPEC_NO_CACHE": "1"}
    code, out, err, modules = zenspec("validate", spec, env=env)
    assert code == 0 and "note:" not in err
    assert f"{spec}: ok (2 job(s))" in out
    assert "hydra.conf" in modules  # with Hydra: each check asked it
    code, out, err, _ = zenspec("validate", spec, broken=True, env=env)
    assert code == 0, out + err
    assert f"{spec}: ok\n" in out  # the axis Hydra did not read: no grid size
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 3, err
    assert any("[hydra] keys not checked" in n for n in notes)
    assert any("target 'builtins:dict' not checked" in n for n in notes)
    assert any("sweep value \"choice('p q', r)\" not checked" in n for n in notes)
    assert all("ImportError" in n for n in notes)


def test_schema_and_plan_work_when_hydra_internals_are_gone(cache):
    code, out, _, _ = zenspec("schema", broken=True)
    assert code == 0 and json.loads(out)["title"]
    code, out, err, _ = zenspec(
        "plan", "--no-imports", SPECS / "graddesc.toml", broken=True, env=cache
    )
    assert code == 0, out + err
    assert "#0  optim=sgd" in out and "#1  optim=adam" in out
    code, out, _, _ = zenspec("completion", "keys", SPECS / "graddesc.toml", broken=True)
    assert code == 0 and "optim=" in out.split()


# -- the Hydra-free reader is Hydra's parser on its lines ---------------------------

_LINES = [
    "a=1",
    "a=-3",
    "a=1_000",
    "a=1.5",
    "a=1e-3",
    "a=.5",
    "a=1.",
    "a=-inf",
    "a=nan",
    "a=true",
    "a=False",
    "a=NULL",
    "a=null",
    "a=",
    "a=sgd",
    "a=a:b",
    "a=path/to/x.txt",
    "a=a-b_c.d+e%f*g@h?i|j",
    "+new=1",
    "++force.key=2",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
    "a.0=x",
    "a=1,2,3",
    "a=sgd,adam",
    "a=1,x:y,2.50,true,null",
    "a=range(5)",
    "a=range(0,6)",
    "a=range(-2, 3)",
    "a=range(10, 0, -3)",
    "a=range(1,1)",
    "a=choice(sgd, adam, 0.5)",
    "a=choice(x)",
    "a=choice(1e-3,TRUE)",
    "a=interval(0, 1)",
    "a=interval(-12, 12)",
    "a=interval(1e-4,1.5)",
    "a=tag(log, interval(0.0001, 1))",
    "a=int(interval(1, 10))",
    "a=tag(log, int(interval(1, 10)))",
    "a=tag(log,lr,interval(1,2))",
]


def _hydra(line):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    (o,) = OverridesParser.create().parse_overrides([line])
    return o


@pytest.mark.parametrize("line", _LINES)
def test_the_reader_reads_each_line_as_hydra_does(line):
    from zenspec.spec.sweep_text import read_line

    mine = read_line(line)
    assert mine is not None, f"{line!r} is one of the common forms"
    theirs = _hydra(line)
    assert mine.key == theirs.key_or_group
    assert mine.key_element == theirs.get_key_element()
    assert mine.is_sweep == theirs.is_sweep_override()
    assert mine.is_discrete == theirs.is_discrete_sweep()
    if theirs.is_interval_sweep():
        iv = theirs.value()
        assert (mine.start, mine.stop, set(mine.tags)) == (iv.start, iv.end, set(iv.tags))
        assert type(mine.start) is type(iv.start) and type(mine.stop) is type(iv.end)
    elif theirs.is_discrete_sweep():
        assert mine.strings() == list(theirs.sweep_string_iterator())
        assert mine.count() == len(list(theirs.sweep_string_iterator()))
    else:
        assert mine.strings() == [theirs.get_value_element_as_str()]
        value, expected = mine.values[0], theirs.value()
        assert type(value) is type(expected)
        assert value == expected or (math.isnan(value) and math.isnan(expected))


@pytest.mark.parametrize(
    "line",
    [
        "a='quoted'",
        "a=${x}",
        "a=[1,2]",
        "a={b:1}",
        "a=glob(*)",
        "a=range(0,5,0)",
        "a=interval(0, inf)",
        "a=choice()",
        "a=1,",
        "~a",
        "a@pkg=1",
        "a=sort(3,1)",
        "a=x y",
    ],
)
def test_the_reader_leaves_other_lines_to_hydra(line):
    from zenspec.spec.sweep_text import read_line

    assert read_line(line) is None


@pytest.mark.parametrize(
    "lines",
    [
        ["a=1,2", "b=range(3)", "c=x"],
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "x=range(0, 6)", "y=0,1"],
        ["a=1,2", "b=3", "a=4,5,6"],  # a later line of a key replaces it, in its place
        ["+n=choice(1, 2)", "n=3"],
        ["a=range(1,1)", "b=1,2"],
    ],
)
def test_the_reader_expands_a_grid_as_basic_sweeper_does(lines):
    from zenspec.launch.grid import count_grid, plan_grid
    from zenspec.spec.sweep_text import count_lines, expand_lines, read_lines

    simple = read_lines(lines)
    assert simple is not None
    assert expand_lines(simple) == plan_grid(lines)
    assert count_lines(simple) == count_grid(lines)


def test_the_reader_counts_an_interval_as_the_grid_count_does():
    from zenspec.launch.grid import count_grid
    from zenspec.spec.sweep_text import count_lines, read_lines

    lines = ["a=1,2,3", "b=interval(0, 1)"]
    simple = read_lines(lines)
    assert simple is not None and count_lines(simple) == count_grid(lines) == 3


def test_every_name_on_hydras_policy_lists_is_asked_of_hydra():
    from zenspec._compatibility import _policy_module
    from zenspec.spec.policy import may_be_refused

    module = _policy_module()
    if module is None:
        pytest.skip("this Hydra has no target policy")
    names = set()
    for value in vars(module).values():
        if isinstance(value, (frozenset, set, tuple)) and all(isinstance(v, str) for v in value):
            names |= {v for v in value if "." in v}
        elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            names |= {v for v in value.values() if "." in v}
    assert len(names) > 20  # the lists were found
    assert [n for n in sorted(names) if not may_be_refused(n)] == []
    # third-party modules on the lists are read from the policy's source (1.3.8: dill)
    third_party = {n.split(".")[0] for n in names} - set(getattr(sys, "stdlib_module_names", ()))
    assert all(may_be_refused(f"{m}.anything") for m in third_party)
    assert not may_be_refused("examples.graddesc.gradient_descent")
    assert not may_be_refused("torch.optim.SGD")
    assert may_be_refused("builtins.dict") and may_be_refused("mypkg.__dict__")


@pytest.mark.parametrize("name", ["zenspec.spec.override_text", "zenspec.spec.sweep_text"])
def test_the_moved_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"


_INVALID = sorted((REPO / "tests" / "specs" / "invalid").glob("*.*ml"))


@pytest.mark.parametrize("path", _INVALID + sorted(SPECS.glob("*.*ml")), ids=lambda p: p.name)
def test_the_checks_say_the_same_with_hydras_parser(path, monkeypatch):
    # every sweep axis read by Hydra's parser instead (the reader turned off): the
    # same problems, word for word, and the same grid size
    from zenspec.spec import sweep_checks
    from zenspec.spec.api import validate_paths

    def reports():
        return [(r.as_dict()["problems"], r.grid_size) for r in validate_paths([str(path)])]

    ours = reports()
    monkeypatch.setattr(sweep_checks, "read_line", lambda text: None)
    assert reports() == ours


def test_the_kept_yaml_resolvers_are_omegaconfs(tmp_path, monkeypatch):
    from zenspec._compatibility import get_yaml_loader
    from zenspec.spec import yamlload

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("ZENSPEC_NO_CACHE", raising=False)
    theirs = {k: list(v) for k, v in get_yaml_loader().yaml_implicit_resolvers.items()}
    assert yamlload._omegaconf_resolvers() == theirs  # read from OmegaConf, and kept
    assert (tmp_path / "zenspec" / "yaml-resolvers.json").is_file()
    assert yamlload._omegaconf_resolvers() == theirs  # read back from the cache


def test_a_yaml_spec_is_read_without_omegaconf_once_its_resolvers_are_kept(cache):
    spec = SPECS / "graddesc.yaml"
    code, out, _, first = zenspec("validate", spec, env=cache)
    assert code == 0 and "omegaconf" in first  # asked once
    code, out, _, second = zenspec("validate", spec, env=cache)
    assert code == 0 and f"{spec}: ok (2 job(s))" in out
    assert [m for m in second if m.startswith("omegaconf")] == []
    assert hydra_modules(second) == []


def test_valid_spec_data_is_not_validated_again_until_it_changes(tmp_path, cache):
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntarget = "m:f"\n\n[config]\nx = 1\n')
    code, _, _, first = zenspec("validate", spec, env=cache)
    assert code == 0 and "jsonschema" in first
    code, out, _, second = zenspec("validate", spec, env=cache)
    assert code == 0 and "all valid" in out
    assert [m for m in second if m.startswith("jsonschema")] == []
    spec.write_text('[experiment]\ntarget = "m:f"\nnmae = "x"\n\n[config]\nx = 1\n')
    for _ in range(2):  # a spec with problems is validated every time
        code, out, _, modules = zenspec("validate", spec, env=cache)
        assert code == 2 and "unknown key 'nmae'" in out and "jsonschema" in modules


def test_the_digest_of_spec_data_tells_types_apart():
    import datetime

    from zenspec.spec.schema import _digest

    values = [1, 1.0, True, "1", None, [1], {"1": 1}, datetime.date(2024, 1, 1), "2024-01-01"]
    digests = {_digest({"a": v}) for v in values}
    assert len(digests) == len(values)
    assert _digest({"a": {"b": [1, 2]}}) == _digest({"a": {"b": [1, 2]}})
