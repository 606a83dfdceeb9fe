"""Readers never crash on a record: damaged job records are named, skipped, counted.

A record or manifest with a wrong type (hand-edited, written by another program,
deeply nested...) must not turn ``zenspec results`` / ``zenspec resume`` into a
traceback: a damaged job record is listed and its job counted as missing (resume
runs it again); an unusable manifest is a ZenspecError (exit 2) naming the key path.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zenspec.cli import main
from zenspec.errors import ZenspecError
from zenspec.records.checks import record_problem
from zenspec.records.render import render
from zenspec.records.table import load_results

REPO = Path(__file__).resolve().parents[1]

SPEC = """
[experiment]
task = "tests.helpers.sweep_tasks:dies_at"
metric = "loss"
search_path = ["{repo}"]

[config]
a = 0

[sweep]
a = "range(0, 6)"
"""

DEEP = 100_000


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def make_sweep(tmp_path: Path, capsys) -> Path:
    spec = tmp_path / "sweep.toml"
    spec.write_text(textwrap.dedent(SPEC.format(repo=REPO)))
    code, _, err = run(capsys, "run", spec, "-q")
    assert code == 0, err
    (manifest,) = tmp_path.glob("multirun/**/.zenspec/manifest.json")
    return manifest.parent.parent


def jobs_path(root: Path) -> Path:
    return root / ".zenspec" / "jobs"


def edit(root: Path, which: int, **changes) -> None:
    path = jobs_path(root) / f"{which}.json"
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))


def deep_text(record: dict, depth: int = DEEP) -> str:
    """*record* with a return value nested *depth* lists deep (json.load: RecursionError)."""
    record = dict(record, return_value="@@")
    return json.dumps(record).replace('"@@"', "[" * depth + "]" * depth)


def damage_all_ways(root: Path) -> dict:
    """Damage jobs 1..5 (job 0 stays intact); ``{file: what its reason mentions}``."""
    edit(root, 1, metric="0.5")
    edit(root, 2, status=5)
    record = json.loads((jobs_path(root) / "3.json").read_text())
    (jobs_path(root) / "3.json").write_text(deep_text(record))
    edit(root, 4, overrides="a=4")
    edit(root, 5, num=4)
    return {
        "jobs/1.json": "metric",
        "jobs/2.json": "status is 5, expected a string",
        "jobs/3.json": "nested too deeply",
        "jobs/4.json": "overrides",
        "jobs/5.json": "num is 4",
    }


def test_results_lists_damaged_records_and_shows_the_others(tmp_path, capsys):
    root = make_sweep(tmp_path, capsys)
    expected = damage_all_ways(root)

    code, out, err = run(capsys, "results", root)
    assert code == 0, err
    assert "Traceback" not in out + err
    assert "5 damaged record(s) skipped: jobs/1.json (metric is '0.5'" in out
    for name, reason in expected.items():
        assert name in out and reason in out
    lines = out.splitlines()
    (row0,) = [line for line in lines if line.startswith("0")]
    assert "completed" in row0
    assert ["missing" in line for line in lines[2:8]] == [False] + [True] * 5  # the 6 rows
    assert "6 jobs: 1 completed, 5 missing" in out
    assert run(capsys, "results", root, "--check")[0] == 1

    code, out, _ = run(capsys, "results", root, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [d["file"] for d in data["damaged"]] == list(expected)
    for d in data["damaged"]:
        assert expected[d["file"]] in d["reason"]
    assert {j["num"]: j["status"] for j in data["jobs"]}[0] == "completed"

    code, out, err = run(capsys, "results", root, "--format", "csv")
    assert code == 0 and "damaged" not in out  # csv stays a table; the note goes to stderr
    assert "5 damaged record(s) skipped" in err

    code, out, _ = run(capsys, "results", root, "--format", "markdown")
    assert code == 0 and "5 damaged record(s) skipped" in out


def test_more_damage_foreign_files_links_and_bytes(tmp_path, capsys):
    root = make_sweep(tmp_path, capsys)
    jobs = jobs_path(root)
    (jobs / "0.json").write_bytes(b"\xff\xfe\x00garbage")
    (jobs / "1.json").write_text((jobs / "1.json").read_text()[:20])  # truncated
    (jobs / "2.json").write_text("[1, 2, 3]")
    edit(root, 3, error="boom", status="failed")
    os.unlink(jobs / "4.json")
    os.symlink(jobs / "5.json", jobs / "4.json")  # a planted link is not job 4's result
    (jobs / "notes.json").write_text("{}")
    os.mkfifo(jobs / "9.json")  # reading it must not block
    results = load_results(root)
    reasons = dict(results.damaged)
    assert reasons["jobs/0.json"] == "not UTF-8 text"
    assert reasons["jobs/1.json"].startswith("not valid JSON")
    assert reasons["jobs/2.json"] == "not a JSON object"
    assert reasons["jobs/3.json"].startswith("error is 'boom'")
    assert reasons["jobs/4.json"] == "a symbolic link (not followed)"
    assert reasons["jobs/9.json"] == "not a regular file"
    assert "jobs/notes.json" in reasons
    assert [r.status for r in results.rows] == ["missing"] * 5 + ["completed"]
    for fmt in ("table", "csv", "json", "markdown"):
        render(results, fmt)


def test_resume_runs_the_damaged_jobs_again(tmp_path, capsys):
    root = make_sweep(tmp_path, capsys)
    damage_all_ways(root)
    before = json.loads((jobs_path(root) / "0.json").read_text())
    code, out, err = run(capsys, "resume", root, "-q")
    assert code == 0, err
    assert "6 jobs: 6 completed" in out
    results = load_results(root)
    assert results.damaged == []
    assert [r.status for r in results.rows] == ["completed"] * 6
    for num in range(6):
        record = json.loads((jobs_path(root) / f"{num}.json").read_text())
        assert record_problem(record, f"{num}.json") is None
        assert record["overrides"] == [f"a={num}"]
    # the intact job was not run again
    assert json.loads((jobs_path(root) / "0.json").read_text()) == before
    assert run(capsys, "results", root, "--check")[0] == 0


@pytest.mark.parametrize(
    ("change", "key_path"),
    [
        (lambda m: m.update(planned_jobs={"0": ["a=0"]}), "$.planned_jobs"),
        (lambda m: m["planned_jobs"][1].update(overrides="a=1"), "$.planned_jobs[1].overrides"),
        (lambda m: m["planned_jobs"][2].update(num="2"), "$.planned_jobs[2].num"),
        (lambda m: m["planned_jobs"].append(7), "$.planned_jobs[6]"),
        (lambda m: m.update(spec="sweep.toml"), "$.spec"),
        (lambda m: m.update(provenance=[]), "$.provenance"),
        (lambda m: m.update(status=5), "$.status"),
        (lambda m: m.update(format_version="1"), "$.format_version"),
    ],
)
def test_a_damaged_manifest_is_exit_2_naming_the_key_path(tmp_path, capsys, change, key_path):
    root = make_sweep(tmp_path, capsys)
    path = root / ".zenspec" / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    for command in ("results", "resume"):
        code, _, err = run(capsys, command, root)
        assert code == 2, (command, err)
        assert f".zenspec/manifest.json::{key_path}:" in err
        assert "Traceback" not in err
    with pytest.raises(ZenspecError):
        load_results(root)


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ("[1, 2]", "$"),
        ("[" * DEEP + "]" * DEEP, "$"),
    ],
)
def test_an_unusable_manifest_is_exit_2(tmp_path, capsys, text, key_path):
    root = make_sweep(tmp_path, capsys)
    (root / ".zenspec" / "manifest.json").write_text(text)
    code, _, err = run(capsys, "results", root)
    assert code == 2
    assert f".zenspec/manifest.json::{key_path}:" in err


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)

KEYS = st.sampled_from(
    [
        "format_version",
        "num",
        "status",
        "overrides",
        "metric",
        "duration_s",
        "error",
        "return_value",
        "cause",
        "engine",
        "job_dir",
        "started_at",
        "pid",
        "choices",
    ]
)


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["value", "drop", "truncate", "bytes", "deep", "replace"]))
    num = draw(st.integers(0, 5))
    if kind == "value":
        return kind, num, (draw(KEYS), draw(JSON))
    if kind == "drop":
        return kind, num, draw(KEYS)
    if kind == "truncate":
        return kind, num, draw(st.integers(0, 400))
    if kind == "bytes":
        return kind, num, draw(st.binary(max_size=64))
    if kind == "deep":
        return kind, num, draw(st.sampled_from([50, 99, 150, 990, 5000, DEEP]))
    return kind, num, draw(JSON)


def apply(jobs: Path, originals: dict, kind: str, num: int, arg) -> None:
    path = jobs / f"{num}.json"
    record = json.loads(originals[num])
    if kind == "value":
        key, value = arg
        record[key] = value
        path.write_text(json.dumps(record))
    elif kind == "drop":
        record.pop(arg, None)
        path.write_text(json.dumps(record))
    elif kind == "truncate":
        path.write_text(originals[num][:arg])
    elif kind == "bytes":
        path.write_bytes(arg)
    elif kind == "deep":
        path.write_text(deep_text(record, arg))
    else:
        path.write_text(json.dumps(arg))


def test_fuzz_load_results_never_raises_but_zenspec_error(tmp_path, capsys):
    root = make_sweep(tmp_path, capsys)
    jobs = jobs_path(root)
    originals = {n: (jobs / f"{n}.json").read_text() for n in range(6)}
    manifest_path = root / ".zenspec" / "manifest.json"
    manifest_text = manifest_path.read_text()

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(mutation(), min_size=1, max_size=4), st.none() | JSON)
    def check(mutations, manifest_value):
        try:
            for kind, num, arg in mutations:
                apply(jobs, originals, kind, num, arg)
            if manifest_value is not None:  # a random key of the manifest, a random value
                manifest = json.loads(manifest_text)
                key = sorted(manifest)[hash(json.dumps(manifest_value)) % len(manifest)]
                manifest[key] = manifest_value
                manifest_path.write_text(json.dumps(manifest))
            try:
                results = load_results(root)
            except ZenspecError:
                return
            for fmt in ("table", "csv", "json", "markdown"):
                render(results, fmt, sort="metric")
            if manifest_value is None:  # every planned job is a row, damaged ones missing
                assert [r.num for r in results.rows] == list(range(6))
                missing = {r.num for r in results.rows if r.status == "missing"}
                assert {int(name[5:-5]) for name, _ in results.damaged} == missing
            for row in results.rows:
                assert row.status in ("completed", "failed", "interrupted", "missing")
        finally:
            for n, text in originals.items():
                (jobs / f"{n}.json").write_text(text)
            manifest_path.write_text(manifest_text)

    check()
    shutil.rmtree(root)


def test_the_progress_line_skips_damaged_records(tmp_path, capsys):
    import io

    from zenspec.cli.progress import Progress

    root = make_sweep(tmp_path, capsys)
    damage_all_ways(root)
    edit(root, 0, error={"type": None, "message": 3}, status="failed")  # damaged too
    stream = io.StringIO()
    progress = Progress(stream, tty=False)
    progress.root, progress.total = root, 6
    progress.poll()  # reads the records as they land: none is usable, none crashes it
    assert progress.seen == {}
    assert "0/6 jobs" in progress.status_line()
