"""Fuzz the readers of a sweep's records: damage ends in a report or a ZenspecError, never a crash.

A real sweep directory is made once (``zenspec run`` of a 4-job grid, one job of
which fails), then every example copies it and damages the copy: job records
(``.zenspec/jobs/N.json``) and the manifest get values of the wrong type at any
key path, keys deleted or renamed, bytes truncated, flipped or replaced, huge
nesting, non-UTF-8, symlinks (to other files, devices, loops, nowhere),
directories or FIFOs in their place; ``.N.running`` markers, engine files
(``.zenspec/engine/N.json``), faulthandler crash logs and the lock file get
garbage (a lock of a sweep whose manifest says ``running`` is asked who holds
it). The property:

* ``zenspec.load_results`` returns or raises a :class:`~zenspec.errors.ZenspecError`,
  and its results render in every format; ``read_job_records`` returns only
  records that pass the shape checks, ``read_manifest`` raises only a
  ZenspecError, the live progress line polls without crashing;
* ``zenspec results DIR`` (every ``--format``, and ``--check``) and
  ``zenspec resume DIR`` exit 0, 1, 2 or 74, print no traceback and no non-zenspec
  exception, and never hang;
* a record that cannot be read is reported by its file name; a manifest that
  cannot be read is an error that names the manifest.

CI runs 120 + 60 examples (a few seconds). A long fuzz::

    ZENSPEC_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz_records.py -p no:randomly

Each crash the fuzz found is kept as a plain test (``FOUND``, at the end).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from tests.test_fuzz_spec import fuzz
from zenspec import load_results
from zenspec.cli import main
from zenspec.cli.progress import Progress
from zenspec.errors import ZenspecError
from zenspec.records import read_job_records, read_manifest
from zenspec.records.checks import record_problem
from zenspec.records.render import FORMATS, render

REPO = Path(__file__).resolve().parents[1]

SPEC = """
[experiment]
task = "tests.helpers.sweep_tasks:every_third_fails"
metric = "loss"
search_path = ["{repo}"]

[config]
a = 1

[sweep]
a = "range(1, 5)"
"""

NUMS = range(4)  # the sweep's jobs; job 2 (a=3) fails
DEEP = 100_000


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A real sweep directory, recorded by ``zenspec run`` (in a child: no shared state)."""
    base = tmp_path_factory.mktemp("records-fuzz")
    spec = base / "sweep.toml"
    spec.write_text(textwrap.dedent(SPEC.format(repo=REPO)))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [sys.executable, "-m", "zenspec", "run", str(spec), "-q", "hydra.sweep.dir=sweep"],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # job 2 fails, on purpose
    root = base / "sweep"
    assert sorted(p.name for p in (root / ".zenspec" / "jobs").glob("*.json")) == [
        f"{n}.json" for n in NUMS
    ]
    return root


class Hang(BaseException):
    """One input took too long (a BaseException: no reader's ``except OSError`` swallows it)."""


@contextlib.contextmanager
def no_hang(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when one input takes longer than *seconds*."""

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"one input took more than {seconds} s: a hang (a FIFO opened blocking?)")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- strategies ---------------------------------------------------------------------------------

HUGE = [10**400, -(10**400), 2**63, 2**64, -(2**63) - 1, 10**30]
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(HUGE)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["", "completed", "failed", "interrupted", "running", "a=1", "\x00", "../.."])
)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)

# what a JSON file's text can be changed into (applied to its parsed object or its bytes)
FILE_OPS = st.sampled_from(
    [
        "set",
        "set",
        "set",
        "delete",
        "rename",
        "truncate",
        "flip",
        "bytes",
        "deep",
        "non_utf8",
        "symlink",
        "directory",
        "fifo",
        "empty",
        "remove",
        "replace",
    ]
)
#: ops after which a record can no longer be a usable record
UNREADABLE = {"truncate", "bytes", "non_utf8", "symlink", "directory", "fifo", "empty"}
LINK_TARGETS = ["other", "/dev/zero", "/dev/null", "nowhere", "dir", "fifo", "self"]
DEPTHS = [99, 100, 101, 150, 1_000, DEEP]


@st.composite
def file_damage(draw: Any, target: str) -> Dict[str, Any]:
    op = draw(FILE_OPS)
    damage: Dict[str, Any] = {"target": target, "op": op}
    if op in ("set", "delete", "rename", "deep"):
        damage["pick"] = draw(st.integers(0, 10**6))  # which key path (of those the file has)
    if op == "set":
        damage["value"] = draw(json_values)
    elif op == "rename":
        damage["to"] = draw(st.text(max_size=6))
    elif op == "deep":
        damage["depth"] = draw(st.sampled_from(DEPTHS))
    elif op == "truncate":
        damage["at"] = draw(st.integers(0, 10**6))
    elif op == "flip":
        damage["flips"] = draw(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4))  # fmt: skip
    elif op == "bytes":
        damage["bytes"] = draw(st.binary(max_size=80))
    elif op == "non_utf8":
        damage["at"] = draw(st.integers(0, 10**6))
        damage["bytes"] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
    elif op == "symlink":
        damage["to"] = draw(st.sampled_from(LINK_TARGETS))
    elif op == "replace":
        damage["value"] = draw(json_values)
    return damage


record_names = st.sampled_from([*(str(n) for n in NUMS), "7", "-1", "x", "01", "1.5"])
marker_names = st.sampled_from(
    [*(str(n) for n in NUMS), "9", "-1", "x", "", str(10**30), "1.json", "0x1"]
)
#: "LAUNCHER" is replaced by the pid of the (dead) process that ran the template's sweep
pids = (
    st.sampled_from(["LAUNCHER", os.getpid(), 1, 0, -1, 2**31, 2**63, 10**30, 99999999]) | json_leaf
)
hosts = st.sampled_from([socket.gethostname(), "elsewhere"]) | json_leaf


@st.composite
def marker_damage(draw: Any) -> Dict[str, Any]:
    name = draw(marker_names)
    how = draw(st.sampled_from(["json", "json", "text", "bytes", "fifo", "directory", "symlink"]))
    damage: Dict[str, Any] = {"target": "marker", "name": name, "op": how}
    if how == "json":
        info = {
            "pid": draw(pids),
            "host": draw(hosts),
            "start": draw(json_leaf),
            "ppid": draw(pids),
        }
        for key in draw(st.lists(st.sampled_from(sorted(info)), max_size=2)):
            info.pop(key, None)
        damage["text"] = json.dumps(info) if draw(st.booleans()) else json.dumps(draw(json_values))
    elif how == "text":
        damage["text"] = draw(st.text(max_size=40))
    elif how == "bytes":
        damage["bytes"] = draw(st.binary(max_size=40))
    elif how == "symlink":
        damage["to"] = draw(st.sampled_from(LINK_TARGETS))
    return damage


@st.composite
def engine_damage(draw: Any) -> Dict[str, Any]:
    name = draw(st.sampled_from([*(str(n) for n in NUMS), "-1", "x", str(10**30)]))
    how = draw(st.sampled_from(["json", "json", "json", "bytes", "fifo", "directory", "symlink", "dir_is_file"]))  # fmt: skip
    damage: Dict[str, Any] = {"target": "engine", "name": name, "op": how}
    if how == "json":
        info: Dict[str, Any] = {
            "kind": draw(st.sampled_from(["local", "slurm", "ray", ""]) | json_leaf),
            "job_id": draw(
                st.sampled_from(["123", "1_2", str(os.getpid()), str(10**30), "-5", "", "x"])
                | json_leaf
            ),
        }
        if draw(st.booleans()):
            info["host"] = draw(hosts)
        if draw(st.booleans()):
            info["num"] = draw(json_leaf)
        damage["text"] = json.dumps(info) if draw(st.booleans()) else json.dumps(draw(json_values))
    elif how == "bytes":
        damage["bytes"] = draw(st.binary(max_size=40))
    elif how == "symlink":
        damage["to"] = draw(st.sampled_from(LINK_TARGETS))
    return damage


@st.composite
def lock_damage(draw: Any) -> Dict[str, Any]:
    how = draw(st.sampled_from(["bytes", "json", "fifo", "directory", "symlink", "remove"]))
    damage: Dict[str, Any] = {"target": "lock", "op": how}
    if how == "bytes":
        damage["bytes"] = draw(st.binary(max_size=60))
    elif how == "json":
        damage["text"] = json.dumps(draw(json_values))
    elif how == "symlink":
        damage["to"] = draw(st.sampled_from(LINK_TARGETS))
    # a manifest that says "running" makes the readers ask the lock who writes
    damage["running"] = draw(st.booleans())
    return damage


@st.composite
def crash_damage(draw: Any) -> Dict[str, Any]:
    """A faulthandler log of a dead in-process sweep (``.zenspec/crash-<pid>.log``)."""
    name = draw(st.sampled_from(["LAUNCHER", "1", "x", str(10**30), ""]))
    how = draw(st.sampled_from(["text", "text", "bytes", "fifo", "directory", "symlink"]))
    damage: Dict[str, Any] = {"target": "crash", "name": name, "op": how}
    if how == "text":
        head = draw(st.sampled_from(["Fatal Python error: Segmentation fault", "Fatal Python error: ", "", "\n\n", "Aborted"]))  # fmt: skip
        damage["text"] = head + "\n" + draw(st.text(max_size=40))
    elif how == "bytes":
        damage["bytes"] = draw(st.binary(max_size=40))
    elif how == "symlink":
        damage["to"] = draw(st.sampled_from(LINK_TARGETS))
    return damage


one_damage = st.one_of(
    record_names.flatmap(lambda n: file_damage(f"jobs/{n}.json")),
    file_damage("manifest"),
    marker_damage(),
    engine_damage(),
    lock_damage(),
    crash_damage(),
)
damages = st.lists(one_damage, min_size=1, max_size=4)


# -- applying damage ---------------------------------------------------------------------------


def _paths(data: Any, path: Tuple = ()) -> List[Tuple]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*path, i))
    return out


def _nest(value: Any, depth: int) -> str:
    return "[" * depth + json.dumps(value) + "]" * depth


def _link_target(root: Path, to: str, path: Path) -> str:
    scratch = root.parent / "scratch"
    scratch.mkdir(exist_ok=True)
    if to == "other":
        return str(root / ".zenspec" / "jobs" / "0.json")
    if to == "nowhere":
        return str(scratch / "nowhere")
    if to == "dir":
        return str(scratch)
    if to == "fifo":
        fifo = scratch / "fifo"
        if not fifo.exists():
            os.mkfifo(fifo)
        return str(fifo)
    if to == "self":
        return str(path)
    return to  # /dev/zero, /dev/null


def _clear(path: Path) -> None:
    if path.is_symlink() or path.is_file() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _place(root: Path, path: Path, damage: Dict[str, Any]) -> bool:
    """The ops that put something other than text at *path*; True if it was one."""
    op = damage["op"]
    if op not in ("symlink", "directory", "fifo", "remove", "bytes", "text", "json"):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    _clear(path)
    if op == "symlink":
        os.symlink(_link_target(root, damage["to"], path), path)
    elif op == "directory":
        path.mkdir()
        (path / "0.json").write_text("{}")
    elif op == "fifo":
        os.mkfifo(path)
    elif op == "bytes":
        path.write_bytes(damage["bytes"])
    elif op in ("text", "json"):
        path.write_text(damage["text"])
    return True


def _write(path: Path, data: bytes) -> None:
    _clear(path)
    path.write_bytes(data)


def damage_file(root: Path, path: Path, damage: Dict[str, Any]) -> None:
    """Apply one of FILE_OPS to the JSON file at *path* (which may not exist yet)."""
    op = damage["op"]
    if _place(root, path, damage):
        return
    if op == "empty":
        _write(path, b"")
        return
    try:
        raw = path.read_bytes() if path.is_file() and not path.is_symlink() else b"{}"
    except OSError:
        raw = b"{}"
    if op == "truncate":
        body = raw.rstrip()
        _write(path, body[: damage["at"] % max(len(body), 1)])
        return
    if op == "flip":
        data = bytearray(raw)
        for i, b in damage["flips"]:
            if data:
                data[i % len(data)] = b
        _write(path, bytes(data))
        return
    if op == "non_utf8":
        i = damage["at"] % (len(raw) + 1)
        _write(path, raw[:i] + damage["bytes"] + raw[i:])
        return
    if op == "replace":
        _write(path, json.dumps(damage["value"]).encode())
        return
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # damaged before: anything goes now
        data = {}
    paths = _paths(data)[1:]
    if not paths:
        _write(path, json.dumps(damage.get("value", {})).encode())
        return
    where = tuple(damage["key"]) if "key" in damage else paths[damage["pick"] % len(paths)]
    parent: Any = data
    for p in where[:-1]:
        parent = parent[p]
    last = where[-1]
    if op == "set":
        parent[last] = damage["value"]
        text = json.dumps(data)
    elif op == "delete":
        del parent[last]
        text = json.dumps(data)
    elif op == "rename":
        if isinstance(parent, dict):
            parent[damage["to"]] = parent.pop(last)
        text = json.dumps(data)
    else:  # deep: the value at that path nested `depth` lists deep
        parent[last] = "@@deep@@"
        text = json.dumps(data).replace('"@@deep@@"', _nest(None, damage["depth"]))
    _write(path, text.encode())


def _launcher_pid(root: Path) -> int:
    return json.loads((root.parent / "launcher.pid").read_text())


def apply_damage(root: Path, damage: Dict[str, Any]) -> None:
    records = root / ".zenspec"
    target = damage["target"]
    if target == "manifest":
        damage_file(root, records / "manifest.json", damage)
    elif target.startswith("jobs/"):
        damage_file(root, records / target, damage)
    elif target == "marker":
        launcher = str(_launcher_pid(root))
        if "text" in damage:
            damage = dict(damage, text=damage["text"].replace('"LAUNCHER"', launcher))
        _place(root, records / "jobs" / f".{damage['name']}.running", damage)
    elif target == "crash":
        name = damage["name"].replace("LAUNCHER", str(_launcher_pid(root)))
        _place(root, records / f"crash-{name}.log", damage)
    elif target == "engine":
        engine = records / "engine"
        if damage["op"] == "dir_is_file":
            _clear(engine)
            engine.write_text("not a directory")
            return
        if engine.exists() and not engine.is_dir():
            _clear(engine)
        _place(root, engine / f"{damage['name']}.json", damage)
    elif target == "lock":
        _place(root, records / "lock", damage)
        if damage["running"]:
            path = records / "manifest.json"
            if path.is_symlink() or not path.is_file():  # (a FIFO would block this test)
                return
            try:
                manifest = json.loads(path.read_text())
                manifest["status"] = "running"
                path.write_text(json.dumps(manifest))
            except (OSError, ValueError, TypeError, RecursionError, UnicodeDecodeError):
                pass


def unreadable_records(damage_list: List[Dict[str, Any]]) -> Set[str]:
    """The record files the damage left unusable for sure (the readers must name them)."""
    out: Set[str] = set()
    for d in damage_list:
        if not d["target"].startswith("jobs/"):
            continue
        name = d["target"]
        if d["op"] in UNREADABLE or (d["op"] == "deep" and d["depth"] > 100):
            out.add(name)
        else:
            out.discard(name)
    return out


def manifest_unreadable(damage_list: List[Dict[str, Any]]) -> bool:
    ops = [d for d in damage_list if d["target"] == "manifest"]
    if not ops:
        return False
    last = ops[-1]
    return last["op"] in UNREADABLE | {"remove"} or (last["op"] == "deep" and last["depth"] > 100)


# -- the property ------------------------------------------------------------------------------


def fresh_copy(template: Path, tmp_path: Path) -> Path:
    where = Path(tempfile.mkdtemp(dir=tmp_path))
    root = where / "sweep"
    shutil.copytree(template, root, symlinks=True)
    manifest = json.loads((root / ".zenspec" / "manifest.json").read_text())
    (where / "launcher.pid").write_text(json.dumps(manifest["provenance"]["pid"]))
    return root


def cli(capsys: Any, *argv: Any) -> Tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    text = out + err
    # (the json format shows the failed job's recorded traceback: that one is data)
    assert "Traceback" not in (err if "json" in argv else text), text
    # a non-zenspec exception that reached the CLI's last resort (or resume's wrapper)
    assert "run with --traceback for the traceback" not in text, text
    assert "the resumed sweep failed" not in text, text
    # 0, 1 (a job failed), 2 (bad input, damaged manifest), 74 (the disk refused a write)
    assert code in (0, 1, 2, 74), (code, text)
    return code, out, err


def check_readers(root: Path, capsys: Any, damage_list: List[Dict[str, Any]]) -> None:
    expect_damaged = unreadable_records(damage_list)
    # the lower readers, public in zenspec.records, and the live progress line
    damaged: List[Tuple[str, str]] = []
    for record in read_job_records(root, damaged):
        assert record_problem(record, f"{record['num']}.json") is None
    assert expect_damaged <= {name for name, _ in damaged}, (expect_damaged, damaged)
    with contextlib.suppress(ZenspecError):
        read_manifest(root)
    progress = Progress(io.StringIO(), tty=False)
    progress.root, progress.total = root, len(NUMS)
    progress.poll()
    progress.status_line()
    try:
        results = load_results(root)
    except ZenspecError as e:
        message = e.format_message()
        assert message.strip() and "Traceback" not in message
        if manifest_unreadable(damage_list):
            assert "manifest" in message, message
        results = None
    else:
        assert not manifest_unreadable(damage_list), "an unreadable manifest was read"
        named = {name for name, _ in results.damaged}
        assert expect_damaged <= named, (expect_damaged, results.damaged)
        for fmt in FORMATS:
            render(results, fmt)
            render(results, fmt, sort="metric", maximize=True, outcome=True)
            render(results, fmt, sort="a")
        for row in results.rows:
            assert isinstance(row.status, str)
        assert isinstance(results.status, str)
        results.best()
    for fmt in FORMATS:
        code, out, err = cli(capsys, "results", root, "--format", fmt)
        assert (code == 2) == (results is None), (code, out, err)
        if code == 2:
            assert "manifest" in err or "records" in err, err
        elif fmt == "json":
            data = json.loads(out)
            assert {d["file"] for d in data["damaged"]} >= expect_damaged
        for name in expect_damaged if code == 0 and fmt in ("table", "markdown") else ():
            assert name in out, (name, out)
    code, _, _ = cli(capsys, "results", root, "--check")
    if results is not None:
        assert code == 1  # job 2 failed (or more damage): never "all fine"


def check_resume(root: Path, capsys: Any) -> None:
    code, _, err = cli(capsys, "resume", root, "-q")
    if currently_in_test_context():  # (statistics of the fuzz; not in the plain tests)
        event(
            f"resume exit {code}: {(err.splitlines() or [''])[-1].replace(str(root), 'ROOT')[:70]}"
        )
    if code == 0:
        results = load_results(root)
        assert all(r.status == "completed" for r in results.rows)


def show(damage_list: List[Dict[str, Any]]) -> str:
    return json.dumps(damage_list, default=repr)[:4000]


@fuzz(120)
@given(damage_list=damages)
def test_damaged_records_are_reported_never_crash(template, tmp_path, capsys, damage_list):
    note(show(damage_list))
    root = fresh_copy(template, tmp_path)
    try:
        for d in damage_list:
            apply_damage(root, d)
        with no_hang(20):
            check_readers(root, capsys, damage_list)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


@fuzz(60)
@pytest.mark.filterwarnings("ignore:zenspec could not write the record")
@given(damage_list=damages)
def test_resume_of_damaged_records_never_crashes(template, tmp_path, capsys, damage_list):
    note(show(damage_list))
    root = fresh_copy(template, tmp_path)
    try:
        for d in damage_list:
            apply_damage(root, d)
        with no_hang(30):
            check_resume(root, capsys)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_the_template_is_read_cleanly(template, tmp_path, capsys):
    """The undamaged copy: 4 jobs, job 2 failed, nothing damaged (the fuzz's baseline)."""
    root = fresh_copy(template, tmp_path)
    results = load_results(root)
    assert [r.status for r in results.rows] == ["completed", "completed", "failed", "completed"]
    assert results.damaged == []
    assert cli(capsys, "results", root)[0] == 0


# -- what the fuzz found, kept: each crashed (or hung) a reader before it was fixed ------------

HOST = socket.gethostname()
FOUND = {
    # a FIFO as the lock of a "running" sweep: results blocked forever in lock.holder (open)
    "lock-fifo-running": [{"target": "lock", "op": "fifo", "running": True}],
    # the same for the writer: resume failed with a raw OSError ("the resumed sweep failed")
    "lock-directory": [{"target": "lock", "op": "directory", "running": False}],
    "lock-symlink": [{"target": "lock", "op": "symlink", "to": "/dev/null", "running": False}],
    # a metric no float holds: OverflowError in SweepResults.best (math.isnan)
    "huge-metric": [{"target": "jobs/0.json", "op": "set", "key": ["metric"], "value": 10**400}],
    # an engine id no pid can be: OverflowError in os.kill (engine.live_states)
    "huge-engine-pid": [
        {
            "target": "jobs/3.json",
            "op": "remove",
        },
        {
            "target": "engine",
            "name": "3",
            "op": "json",
            "text": json.dumps({"kind": "local", "job_id": str(10**30)}),
        },
    ],
    # a marker naming a pid no process can have: OverflowError in lost.reap_dead_markers
    "huge-marker-pid": [
        {
            "target": "marker",
            "name": "1",
            "op": "json",
            "text": json.dumps({"pid": 10**30, "host": HOST}),
        }
    ],
    # a marker that is not UTF-8: UnicodeDecodeError in lost.read_marker
    "marker-not-utf8": [{"target": "marker", "name": "0", "op": "bytes", "bytes": b"\x80"}],
    # a marker of no planned job: resume recorded a failed job 10**30 out of nothing
    "marker-out-of-plan": [
        {"target": "marker", "name": str(10**30), "op": "json", "text": "{}"},
        {"target": "marker", "name": "-1", "op": "json", "text": "{}"},
    ],
}


@pytest.mark.filterwarnings("ignore:zenspec could not write the record")
@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_the_fuzz_found(template, tmp_path, capsys, name):
    damage_list = FOUND[name]
    for step in ("results", "resume"):
        root = fresh_copy(template, tmp_path)
        for d in damage_list:
            apply_damage(root, d)
        with no_hang(20):
            if step == "results":
                check_readers(root, capsys, damage_list)
            else:
                check_resume(root, capsys)
        if name == "marker-out-of-plan":  # no record for a job that is not in the plan
            assert sorted(p.name for p in (root / ".zenspec" / "jobs").glob("*.json")) == [
                f"{n}.json" for n in NUMS
            ]
        shutil.rmtree(root.parent)


def test_a_manifest_json_cannot_read_is_not_called_a_non_object(template, tmp_path):
    """A 5000-digit number is valid JSON that Python refuses to read: said so, not "not an object"."""
    root = fresh_copy(template, tmp_path)
    path = root / ".zenspec" / "manifest.json"
    path.write_text(
        path.read_text().replace('"format_version": 1', '"format_version": ' + "9" * 5000)
    )
    with pytest.raises(ZenspecError, match=r"the manifest cannot be read: .*digits") as info:
        load_results(root)
    assert "not a JSON object" not in str(info.value)
