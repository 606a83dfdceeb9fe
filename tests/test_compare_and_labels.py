"""``zenspec compare``, ``run --tag/--note``, and spec runs filed under their experiment's name.

Real spec runs through the CLI, then what a user reads: tables, JSON, listings, paths.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers.cli import run_cli as run

from zenspec import load_results
from zenspec.records.compare import compare_sweeps

SPEC = textwrap.dedent(
    """\
    [experiment]
    name = "quad"
    task = "examples.quadratic:task"
    search_path = ["{root}"]
    metric = "loss"

    [config]
    x = 0.0
    y = 0.0
    z = 0.0

    [sweep]
    x = [1, 2, 3]
    y = [0, -3]
    """
)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def spec(tmp_path, monkeypatch):
    path = tmp_path / "quad.toml"
    path.write_text(SPEC.format(root=ROOT))
    monkeypatch.chdir(tmp_path)
    return path


def _sweep(capsys, spec, name, *extra):
    code, _, err = run(capsys, "run", spec, "-q", f"hydra.sweep.dir={name}", *extra)
    assert code == 0, err
    return Path(name)


def test_compare_matches_jobs_by_params_and_shows_each_metric_and_the_difference(spec, capsys):
    a = _sweep(capsys, spec, "a")
    b = _sweep(capsys, spec, "b", "z=1", "x=2,3,4")  # one fixed setting more, one axis moved
    code, out, _ = run(capsys, "compare", a, b)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "A: a  quad" and lines[1] == "B: b  quad with z=1"
    # the param sets both ran: x in {2, 3}; loss = (x-2)^2 + (y+3)^2 + |z|
    assert "4 param set(s) in every sweep, metric of each (lower is better):" in out
    table = lines[lines.index("x  y   metric A  metric B  B-A") + 2 :][:4]
    assert [row.split() for row in table] == [
        ["2", "0", "9", "10", "+1"],
        ["2", "-3", "0", "1", "+1"],
        ["3", "0", "10", "11", "+1"],
        ["3", "-3", "1", "2", "+1"],
    ]
    best = {row.split()[0]: row.split() for row in lines[-2:]}
    assert best["A"][1:5] == ["completed", "6", "completed", "3"] and best["A"][5] == "0"
    assert best["B"][5] == "1" and "z=1" in lines[-1]
    doc = json.loads(run(capsys, "compare", a, b, "--format", "json")[1])
    # B's override moved its x axis after y: its jobs are y-major, its best is job 3 too
    assert [s["best"]["job"] for s in doc["sweeps"]] == [3, 3]
    assert doc["sweeps"][1]["settings"] == {"z": 1}
    assert doc["matched"][0] == {
        "params": {"x": 2, "y": 0},
        "metrics": {"A": 9.0, "B": 10.0},
        "differences": {"B": 1.0},
    }
    md = run(capsys, "compare", a, b, "--format", "markdown")[1]
    assert "| x | y | metric A | metric B | B-A |" in md


def test_compare_with_no_shared_params_shows_the_best_of_each(spec, capsys):
    a = _sweep(capsys, spec, "a", "x=1", "y=0,1")
    b = _sweep(capsys, spec, "b", "x=5", "y=0,1")
    out = run(capsys, "compare", a, b, "--maximize")[1]
    assert "no param set was run by every sweep; the best job of each:" in out
    assert "param set(s) in every sweep" not in out
    # maximize: the worse loss is "best"
    rows = {r.split()[0]: r.split() for r in out.splitlines()[-2:]}
    assert rows["A"][4:6] == ["1", "17"] and rows["B"][4:6] == ["1", "25"]


def test_compare_by_another_returned_key_and_refusals(spec, capsys):
    a = _sweep(capsys, spec, "a")
    b = _sweep(capsys, spec, "b", "z=2")
    by_loss = compare_sweeps([a, b])
    by_distance = compare_sweeps([a, b], metric="distance")  # |x-2| + |y+3|: z plays no part
    assert dict((json.dumps(p), m) for p, m in by_loss.matched)['{"x": 3, "y": 0}'] == [10, 12]
    assert dict((json.dumps(p), m) for p, m in by_distance.matched)['{"x": 3, "y": 0}'] == [4, 4]
    assert by_distance.as_dict()["sweeps"][0]["metric"] == "distance"
    code, _, err = run(capsys, "compare", a)
    assert code == 2 and "compare needs two or more sweep directories" in err
    code, _, err = run(capsys, "compare", a, "nowhere")
    assert code == 2 and "nowhere: not a recorded run or sweep" in err


def test_tags_and_note_are_kept_and_shown(spec, capsys):
    sweep = _sweep(capsys, spec, "multirun/tagged", "--tag", "data=v2", "--tag", "lr=cosine",
                   "--note", "cosine schedule, new data")  # fmt: skip
    manifest = load_results(sweep).manifest
    assert manifest["tags"] == {"data": "v2", "lr": "cosine"}
    assert manifest["note"] == "cosine schedule, new data"
    out = run(capsys, "results", sweep)[1]
    assert out.startswith("tags: data=v2, lr=cosine\nnote: cosine schedule, new data\n\n")
    _sweep(capsys, spec, "multirun/plain")
    listing = run(capsys, "results", "multirun")[1].splitlines()
    assert listing[0].split() == ["started", "name", "status", "jobs", "best", "tags", "dir"]
    tagged = next(line for line in listing if line.endswith(" tagged"))
    assert "data=v2, lr=cosine" in tagged
    assert "  tagged: cosine schedule, new data" in listing
    doc = json.loads(run(capsys, "results", "multirun", "--format", "json")[1])
    by_dir = {Path(r["dir"]).name: r for r in doc["runs"]}
    assert by_dir["tagged"]["tags"] == {"data": "v2", "lr": "cosine"}
    assert by_dir["plain"]["tags"] == {} and by_dir["plain"]["note"] is None


@pytest.mark.parametrize("bad", ["novalue", "=x"])
def test_a_malformed_tag_is_refused_before_anything_runs(spec, capsys, bad):
    code, _, err = run(capsys, "run", spec, "--tag", bad)
    assert code == 2 and f"--tag {bad!r}: a tag is KEY=VALUE" in err
    assert not Path("multirun").exists() and not Path("outputs").exists()


def test_spec_runs_are_filed_under_the_experiments_name(spec, capsys, tmp_path):
    code, out, _ = run(capsys, "run", spec, "-q")
    assert code == 0
    (sweep,) = tmp_path.glob("multirun/*/*/*")
    assert sweep.relative_to(tmp_path).parts[:2] == ("multirun", "quad")
    assert f"outputs: {sweep}" in out
    # a generated name, as Hydra's: a second run (in the same second or not) gets its own
    assert run(capsys, "run", spec, "-q")[0] == 0
    sweeps = sorted(tmp_path.glob("multirun/quad/*/*/.zenspec/manifest.json"))
    assert len(sweeps) == 2
    assert all(len(list(p.parent.glob("jobs/*.json"))) == 6 for p in sweeps)
    single = tmp_path / "single.toml"
    single.write_text(SPEC.format(root=ROOT).split("[sweep]")[0].replace('"quad"', '"one"'))
    code, out, _ = run(capsys, "run", single)
    assert code == 0
    (run_dir,) = tmp_path.glob("outputs/*/*/*")
    assert run_dir.relative_to(tmp_path).parts[:2] == ("outputs", "one")
    assert f"output: {run_dir}" in out


def test_the_specs_own_dirs_and_the_command_line_win(spec, capsys, tmp_path):
    spec.write_text(spec.read_text() + '\n[hydra]\nsweep.dir = "mine/${now:%H-%M-%S}"\n')
    assert run(capsys, "run", spec, "-q")[0] == 0
    assert len(list(tmp_path.glob("mine/*/.zenspec"))) == 1 and not Path("multirun").exists()
    assert run(capsys, "run", spec, "-q", "hydra.sweep.dir=there")[0] == 0
    assert Path("there/.zenspec/manifest.json").is_file()
