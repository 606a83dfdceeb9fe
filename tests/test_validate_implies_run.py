"""Property: a spec that ``zenspec validate --imports`` passes plans and runs (no-op task).

The one rule of zenspec's checks: whatever ``run`` would refuse as input,
``validate --imports`` refuses first. Here specs are generated with a task that
does nothing (``tests.helpers.noop_tasks``: a ``task(cfg)`` returning 0, one
that also resolves its whole config, or a ``target`` taking ``**kwargs``), so
that any failure of ``run`` is a failure to compose or launch the jobs, never
of the task's work. The specs have config values (numbers, strings, lists,
tables, interpolations between keys, resolvers, ``???``), config groups with
defaults, sweeps (lists, ``range``, ``choice``, comma lists, group options,
added keys), ``[hydra]`` settings, and at most 8 jobs. For each:

    validate --imports exits 0  ==>  plan exits 0, and run (basic launcher)
    exits 0 with every planned job recorded ``completed``.

A spec that ``validate`` refuses must be refused with exit 2 (and no traceback).
CI runs a few dozen examples; a long run collects counterexamples::

    ZENSPEC_FUZZ_EXAMPLES=1000 ZENSPEC_FUZZ_NO_SHRINK=1 \\
        python -m pytest tests/test_validate_implies_run.py -p no:randomly
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from hypothesis import assume, event, example, given, note
from hypothesis import strategies as st

from tests.test_fuzz_spec import fuzz, no_hang, to_toml, to_yaml
from zenspec.cli import main

REPO = Path(__file__).resolve().parents[1]
TASKS = "tests.helpers.noop_tasks"
MAX_JOBS = 8

# -- strategies ------------------------------------------------------------------------------

key_names = st.sampled_from(["a", "b", "lr", "name", "n", "seed", "x_1", "opt", "data", "low"])
#: names that may collide with something: a group, Hydra's node, the task's own names
odd_keys = st.sampled_from(
    ["optim", "hydra", "defaults", "cfg", "kwargs", "a-b", "with space", "ünï", "1", "_x_", "self"]
)
plain_text = st.sampled_from(
    ["abc", "hello world", "a,b", "a=b", "it's", 'say "hi"', "x:y", "[1]", "{k: v}", "",
     "café", "tab\there", "1e-4", "0x10", "true", "null", "~", "-", "${", "$", "a b,c", "#x",
     "back\\slash", "100%"]
)  # fmt: skip
scalars = (
    st.integers(-1000, 1000)
    | st.sampled_from([0.5, 1e-4, -2.5, 1e10, 3.0])
    | st.booleans()
    | plain_text
)


@st.composite
def interpolations(draw: Any, keys: List[str]) -> str:
    """An interpolation: to another key (maybe missing), a resolver, or in a string."""
    refs = [f"${{{k}}}" for k in keys] or ["${a}"]
    good = [
        *refs,
        "${oc.env:HOME}",
        "${oc.env:ZENSPEC_FUZZ_UNSET,fallback}",
        "${now:%Y}",
        "${hydra:job.name}",
        "${hydra:runtime.cwd}",
        "${oc.select:nope,1}",
        "${oc.decode:'[1, 2]'}",
        "\\${escaped}",
    ]
    risky = ["${oc.env:ZENSPEC_FUZZ_UNSET}", "${unknown_resolver:1}", "${nope}", "${.sibling}", "???"]  # fmt: skip
    ref = draw(st.sampled_from(good if draw(st.integers(0, 3)) else risky))
    if ref != "???" and draw(st.booleans()):
        ref = f"pre_{ref}_post"
    return ref


def values(keys: List[str]) -> Any:
    leaf = scalars | interpolations(keys)
    return st.recursive(
        leaf,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(key_names, c, max_size=3),
        max_leaves=6,
    )


@st.composite
def sweep_axis(draw: Any) -> Tuple[Any, int]:
    """A sweep axis for a plain key, and how many values it has."""
    kind = draw(st.sampled_from(["list", "list", "range", "choice", "commas", "glob", "float_range", "sampled"]))  # fmt: skip
    if kind == "sampled":  # meant for random/optuna; a grid cannot enumerate most of them
        return draw(
            st.sampled_from(
                [
                    ("interval(0, 1)", 1),
                    ("tag(log, interval(0.001, 1))", 1),
                    ("int(interval(1, 4))", 1),
                    ({"low": 0.1, "high": 1.0}, 1),
                    ({"low": 1, "high": 4, "int": True}, 1),
                    ({"choices": ["x", 1, 2.5]}, 3),
                    ("shuffle(1, 2)", 2),
                    ("sort(3, 1)", 2),
                    ("${a}", 1),
                    ("1,${a}", 2),
                ]
            )
        )
    if kind == "list":
        items = draw(
            st.lists(
                scalars
                | st.lists(st.integers(0, 3), max_size=2)
                | st.dictionaries(key_names, st.integers(0, 3), max_size=2),
                min_size=1,
                max_size=3,
            )
        )
        return items, len(items)
    if kind == "range":
        start = draw(st.integers(-3, 3))
        n = draw(st.integers(1, 3))
        step = draw(st.sampled_from([1, 2]))
        return f"range({start}, {start + n * step}, {step})", n
    if kind == "float_range":
        return draw(st.sampled_from([("range(0.0, 1.0, 0.5)", 2), ("range(1, 2, 0.25)", 4)]))
    if kind == "choice":
        items = draw(st.lists(st.sampled_from(["1", "2.5", "x", "'a b'", "null", "[1,2]"]), min_size=1, max_size=3))  # fmt: skip
        return f"choice({', '.join(items)})", len(items)
    if kind == "glob":
        return "glob(*)", 1  # on a plain key (not a group): what does it sweep?
    items = draw(st.lists(st.sampled_from(["1", "2", "x", "y z", "0.5"]), min_size=2, max_size=3))
    return ",".join(items), len(items)


HYDRA_SETTINGS = [
    {"job": {"chdir": True}},
    {"job": {"chdir": False, "env_set": {"ZENSPEC_FUZZ_VAR": "1"}}},
    {"job": {"name": "fuzzed"}},
    {"run": {"dir": "out/${now:%H-%M-%S}"}},
    {"sweep": {"dir": "sweeps/x", "subdir": "${hydra.job.num}"}},
    {"sweep": {"dir": "sweeps/${now:%H}", "subdir": "job_${hydra.job.num}"}},
    {"sweep": {"subdir": "${hydra.job.override_dirname}"}},
    {"sweep": {"dir": "sweeps/${hydra.job.name}"}},
    {"job_logging": "disabled"},
    {"job_logging": "none"},
    {"hydra_logging": "disabled"},
    {"verbose": True},
    {"output_subdir": ".cfg"},
    {"job": {"config": {"override_dirname": {"kv_sep": "-", "item_sep": "_"}}}},
    {"job": {"nmae": "typo"}},
    {"run": {"dir": "out/${hydra:runtime.version}"}},
    {"sweep": {"dir": "sweeps/${hydra:job.name}"}},
    {"job_logging": {"root": {"level": "WARNING"}}},
    {"mode": "RUN"},
    {"sweep": {"subdir": "${a}"}},
    {"run": {"dir": "out/${b}"}},
    {"job": {"env_set": {"ZENSPEC_FUZZ_VAR2": "${a}"}}},
    {"job": {"chdir": True}, "output_subdir": None},
    {"callbacks": {"c": {"_target_": "hydra.experimental.callback:Callback"}}},
]


@st.composite
def specs(draw: Any) -> Dict[str, Any]:
    """A spec of a no-op task (or target), at most MAX_JOBS jobs, valid more often than not."""
    kind = draw(st.sampled_from(["task", "task", "resolved", "target"]))
    exp: Dict[str, Any] = {"search_path": [str(REPO)]}
    if kind == "target":
        exp["target"] = f"{TASKS}:noop_kwargs"
    else:
        exp["task"] = f"{TASKS}:{'noop_resolved' if kind == 'resolved' else 'noop'}"
    if draw(st.booleans()):
        exp["name"] = draw(st.sampled_from(["fuzz", "my-exp", "e.1"]))
    data: Dict[str, Any] = {"experiment": exp}
    keys = draw(st.lists(key_names, max_size=4, unique=True))
    if draw(st.integers(0, 5)) == 0:
        keys.append(draw(odd_keys.filter(lambda k: k not in keys)))
    config: Dict[str, Any] = {}
    for k in keys:
        config[k] = draw(values([o for o in keys if o != k]))
    if draw(st.integers(0, 3)) == 0:
        config["nested"] = {"x": draw(scalars), "y": draw(values(keys))}
    data["config"] = config
    sweep: Dict[str, Any] = {}
    jobs = 1
    group = None
    if draw(st.booleans()):
        group = draw(st.sampled_from(["optim", "model"]))
        options = draw(st.lists(st.sampled_from(["sgd", "adam", "small", "big"]), min_size=1, max_size=3, unique=True))  # fmt: skip
        data["groups"] = {
            group: {
                o: {
                    "lr": draw(st.sampled_from([0.1, 0.01, 1])),
                    **draw(st.dictionaries(key_names, values(keys), max_size=2)),
                }
                for o in options
            }
        }
        if draw(st.integers(0, 3)):
            data["defaults"] = {group: draw(st.sampled_from([*options, "missing"]))}
        if draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(options), min_size=1, max_size=len(options), unique=True))  # fmt: skip
            sweep[group] = chosen if draw(st.integers(0, 3)) else draw(st.sampled_from(["glob(*)", ",".join(chosen)]))  # fmt: skip
            jobs *= len(chosen) if isinstance(sweep[group], list) or "," in sweep[group] else len(options)  # fmt: skip
        if data.get("defaults") and draw(st.integers(0, 3)) == 0:
            sweep[f"{group}.lr"] = [0.5, 0.25]
            jobs *= 2
    for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=2)) if keys else []:
        axis, n = draw(sweep_axis())
        sweep[k] = axis
        jobs *= n
    extra = draw(
        st.sampled_from(
            [
                None,
                None,
                None,
                "+added",
                "nested.x",
                "nested.y",
                "hydra.job.name",
                "+nested.z",
                "~b",
            ]
        )
    )
    if extra and (not extra.lstrip("+").startswith("nested") or "nested" in config):
        axis, n = draw(sweep_axis())
        sweep[extra] = axis
        jobs *= n
    assume(jobs <= MAX_JOBS)
    if sweep:
        data["sweep"] = sweep
    if draw(st.integers(0, 2)) == 0:
        settings: Dict[str, Any] = {}
        for s in draw(st.lists(st.sampled_from(HYDRA_SETTINGS), max_size=2)):
            for top, v in s.items():
                if isinstance(v, dict) and isinstance(settings.get(top), dict):
                    settings[top] = {**settings[top], **v}
                else:
                    settings[top] = v
        data["hydra"] = settings
    if sweep and draw(st.integers(0, 5)) == 0:
        data["sweeper"] = draw(st.sampled_from([{"max_batch_size": 2}, {"kind": "random", "max_trials": 2, "seed": 0}]))  # fmt: skip
    return data


# -- the property ------------------------------------------------------------------------------


@contextlib.contextmanager
def inside(directory: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(old)


def cli(capsys: Any, *argv: Any) -> Tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def records_of(directory: Path) -> Tuple[List[dict], List[dict]]:
    """``(manifests, job records)`` of every run/sweep zenspec wrote under *directory*."""
    manifests = [json.loads(p.read_text()) for p in directory.rglob(".zenspec/manifest.json")]
    jobs = [json.loads(p.read_text()) for p in directory.rglob(".zenspec/jobs/*.json")]
    return manifests, jobs


def check(capsys: Any, where: Path, text: str, fmt: str) -> str:
    """Validate, then (if it passed) plan and run; the outcome's name, for statistics."""
    path = where / f"spec.{fmt}"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli(capsys, "validate", "--imports", path)
    assert "Traceback" not in out + err, out + err
    assert code in (0, 2), (code, out + err)
    if code == 2:
        assert str(path) in out + err, out + err
        return "refused by validate"
    code, out, err = cli(capsys, "plan", path)
    assert code == 0, f"validate passed, plan exited {code}:\n{out}{err}"
    code, out, err = cli(capsys, "run", path, "-q", "--max-jobs", str(MAX_JOBS))
    assert code == 0, f"validate passed, run exited {code}:\n{out}{err}"
    manifests, jobs = records_of(where)
    assert len(manifests) == 1, manifests
    planned = manifests[0].get("planned_jobs")
    statuses = sorted((j["num"], j["status"], (j.get("error") or {}).get("message")) for j in jobs)
    assert all(s == "completed" for _, s, _ in statuses), statuses
    if planned is not None and str(manifests[0].get("sweeper")).endswith("BasicSweeper"):
        assert len(jobs) == len(planned), (planned, statuses)
    return f"ran {len(jobs)} job(s)"


# Counterexamples the long run found (validate passed, plan or run failed), kept as examples
# (they fail until validate refuses them):
NOOP = {"task": f"{TASKS}:noop", "search_path": [str(REPO)]}
TWO_OPTIMS = {"optim": {"sgd": {"lr": 0.1}, "adam": {"lr": 0.01}}}


@fuzz(40)
@given(data=specs(), fmt=st.sampled_from(["toml", "yaml"]))
@example(
    data={
        "experiment": {"task": f"{TASKS}:noop", "search_path": [str(REPO)]},
        "config": {"a": 1, "b": "${a}"},
        "sweep": {"a": [1, 2]},
    },
    fmt="toml",
)
# a table-valued key swept with a list as its 2nd value (validate composes job 0 only): run
# exits 2, "Cannot merge DictConfig with ListConfig"
@example(
    data={"experiment": NOOP, "config": {"b": {"x": 1}}, "sweep": {"b": [1, [1, 2]]}},
    fmt="toml",
)
# glob(*) over a group: plan exits 2, "HydraException: ConfigLoader is not set"
@example(
    data={
        "experiment": NOOP,
        "groups": TWO_OPTIMS,
        "defaults": {"optim": "sgd"},
        "sweep": {"optim": "glob(*)"},
    },
    fmt="toml",
)
# the same under the random sweeper: run exits 2, "'optim=glob(*)' cannot be sampled"
@example(
    data={
        "experiment": NOOP,
        "groups": TWO_OPTIMS,
        "defaults": {"optim": "sgd"},
        "sweep": {"optim": "glob(*)"},
        "sweeper": {"kind": "random", "max_trials": 2},
    },
    fmt="toml",
)
# an unknown key in hydra.sweep.subdir: plan exits 2 (a raw InterpolationKeyError), run exits 2
@example(
    data={
        "experiment": NOOP,
        "config": {"n": 1},
        "sweep": {"n": [1, 2]},
        "hydra": {"sweep": {"subdir": "${nope}"}},
    },
    fmt="toml",
)
# ${hydra:job.name} in hydra.sweep.dir: run works, plan exits 2 ("HydraConfig was not set")
@example(
    data={
        "experiment": NOOP,
        "config": {"n": 1},
        "sweep": {"n": [1, 2]},
        "hydra": {"sweep": {"dir": "sweeps/${hydra:job.name}"}},
    },
    fmt="toml",
)
# an unknown key in hydra.job.env_set: run exits 2 ("could not be resolved, so the job did not run")
@example(
    data={
        "experiment": NOOP,
        "config": {"n": 1},
        "hydra": {"job": {"env_set": {"ZENSPEC_FUZZ_VAR2": "${nope}"}}},
    },
    fmt="toml",
)
def test_validate_passing_means_plan_and_a_noop_run_compose(tmp_path, capsys, data, fmt):
    text = to_toml(data) if fmt == "toml" else to_yaml(data)
    note(text)
    where = Path(tempfile.mkdtemp(dir=tmp_path))
    env_before = {k: v for k, v in os.environ.items() if k.startswith("ZENSPEC_FUZZ_")}
    try:
        with no_hang(60), inside(where):
            event(check(capsys, where, text, fmt))
    finally:
        for k in [k for k in os.environ if k.startswith("ZENSPEC_FUZZ_")]:
            if k not in env_before:
                del os.environ[k]
