"""A speed piece that fails switches itself off; the command never fails for it.

Each piece is broken on purpose (an exception injected where it does its own
work); the sweep, or the single run, must still succeed with stock's outputs
(every file, every returned field), and the piece must be reported off.
``ZENSPEC_FAST=0`` must give stock's code path: with every piece broken,
nothing is switched off, because nothing of them runs.
"""

from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from zenspec import hydra_multirun, hydra_run
from zenspec._compatibility import LOAD_HOOK_14
from zenspec.accelerate import (
    batch_check,
    hydra_yaml,
    hydra_yaml_skeleton,
    interpolation_cache,
    job_runner,
    logging_setup,
    simple_overrides,
    switches,
    yaml_text,
)
from zenspec.accelerate.composition_cache import FastConfigLoader
from zenspec.launch import context
from zenspec.launch import overrides as overrides_module

log = logging.getLogger("zenspec.test_switches")

GROUPS = {"optim": {"sgd": {"name": "sgd", "lr": 0.1}, "adam": {"name": "adam", "lr": 0.01}}}
CONFIG = {"a": 0, "b": "${a}_x", "c": {"d": [1, "two"]}}

# where each piece does its own work (not stock's): an exception injected there
BREAK = {
    "composition": (FastConfigLoader, "_derive"),
    "validate": (batch_check, "_hydra_part_uniform"),
    "run_job": (job_runner, "_share_hydra_node"),
    "snapshot": (job_runner, "snapshot"),
    "skeleton": (hydra_yaml_skeleton, "_hole_values"),
    "render": (hydra_yaml, "_render"),
    "yaml": (yaml_text, "_dump"),
    "logging": (logging_setup, "_interpolating_leaves"),
    "overrides": (simple_overrides, "_value"),
    "grammar": (interpolation_cache, "_resolve"),
}
# pieces a sweep goes through: its jobs' hydra.yaml all come from job presets
# (the batch check composes each base's first job before the launcher does)
SWEEP = [p for p in BREAK if p != "render" and switches.proven(p)]
# pieces a single run goes through (no batch check, no job preset)
SINGLE = [p for p in BREAK if p not in ("validate", "skeleton") and switches.proven(p)]
if LOAD_HOOK_14:  # hydra-core 1.4: a single run's config is stock's own composition
    SINGLE = [p for p in SINGLE if p not in ("composition", "overrides")]
# (a piece not proven for the installed Hydra/OmegaConf never runs: _compatibility's flags)


def task(cfg):
    log.info("job %s says %s", HydraConfig.get().job.num, cfg.b)
    return OmegaConf.to_container(cfg, resolve=True)


def single_task(cfg):
    log.info("single says %s", cfg.b)
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """Every piece on, no cache of another test's (each piece must run here)."""
    monkeypatch.delenv("ZENSPEC_FAST", raising=False)
    monkeypatch.delenv("ZENSPEC_FAST_OFF", raising=False)
    monkeypatch.setattr(context, "_loaders", OrderedDict())
    monkeypatch.setattr(overrides_module, "_parsed", overrides_module.ParseCache(1024))
    switches.reset()
    yield
    switches.reset()


@pytest.fixture
def warnings_logged(monkeypatch):
    lines = []
    monkeypatch.setattr(switches.log, "warning", lambda msg, *args: lines.append(msg % args))
    return lines


def _break(monkeypatch, piece, calls):
    owner, name = BREAK[piece]
    assert callable(getattr(owner, name))

    def broken(*args, **kwargs):
        calls.append(piece)
        raise RuntimeError(f"injected failure in {piece}")

    monkeypatch.setattr(owner, name, broken)


_TIME = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]", re.M)


def _outcome(where: Path, results):
    """Every file written (records aside) and every returned field, run paths blanked."""
    cwd = str(where)

    def norm(text):
        return _TIME.sub("<TIME>", str(text).replace(cwd, "<CWD>"))

    files = {}
    for path in sorted(where.rglob("*")):
        rel = path.relative_to(where)
        if path.is_file() and ".zenspec" not in rel.parts:
            files[str(rel)] = norm(path.read_text())
    jobs = [
        (
            r.status.name,
            r.return_value,
            norm(OmegaConf.to_yaml(r.cfg)),
            norm(OmegaConf.to_yaml(r.hydra_cfg)),
            r.overrides,
            norm(r.working_dir),
            r.task_name,
        )
        for r in results
    ]
    return files, jobs


def _sweep(where: Path, fast: bool = True):
    where.mkdir()
    os.chdir(where)
    jobs = hydra_multirun(
        CONFIG,
        task,
        ["a=range(0,4)", "optim=sgd,adam", "hydra.sweep.dir=multirun"],
        groups=GROUPS,
        fast=fast,
    )
    return _outcome(where, jobs[0])


def _single(where: Path, fast: bool = True):
    where.mkdir()
    os.chdir(where)
    job = hydra_run(
        CONFIG, single_task, ["a=3", "optim=adam", "hydra.run.dir=out"], groups=GROUPS, fast=fast
    )
    return _outcome(where, [job])


def _stock(monkeypatch, run, where: Path):
    with monkeypatch.context() as m:
        m.setenv("ZENSPEC_FAST", "0")
        return run(where, fast=False)


@pytest.mark.parametrize("piece", SWEEP)
def test_a_failing_piece_switches_off_and_the_sweep_is_stocks(
    piece, tmp_path, monkeypatch, warnings_logged
):
    stock = _stock(monkeypatch, _sweep, tmp_path / "stock")
    calls = []
    _break(monkeypatch, piece, calls)
    got = _sweep(tmp_path / "fast")
    assert got == stock
    # failed once, then off: never called again (the cache also serves the sweep's
    # primary config, whose fallback is by design: only a job's switches it off)
    primary = piece == "composition" and not LOAD_HOOK_14  # 1.4: jobs only
    assert calls == [piece] * (2 if primary else 1)
    assert set(switches.disabled()) == {piece}
    assert f"injected failure in {piece}" in switches.disabled()[piece]
    assert len(warnings_logged) == 1 and repr(piece) in warnings_logged[0]
    before = len(calls)
    again = _sweep(tmp_path / "again")  # the rest of the process: still off, still right
    assert again == stock and len(calls) == before


@pytest.mark.parametrize("piece", SINGLE)
def test_a_failing_piece_switches_off_and_the_run_is_stocks(
    piece, tmp_path, monkeypatch, warnings_logged
):
    stock = _stock(monkeypatch, _single, tmp_path / "stock")
    calls = []
    _break(monkeypatch, piece, calls)
    assert _single(tmp_path / "fast") == stock
    assert calls == [piece]
    assert set(switches.disabled()) == {piece}
    assert len(warnings_logged) == 1


def _spy_on_every_piece(monkeypatch) -> set:
    """The names of the pieces reached from now on (each injection point wrapped)."""
    reached: set = set()
    for piece, (owner, name) in BREAK.items():
        original = getattr(owner, name)

        def spy(*args, _piece=piece, _original=original, **kwargs):
            reached.add(_piece)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    return reached


def test_every_piece_runs_when_nothing_fails(tmp_path, monkeypatch):
    """The injection points are live: without a failure, each is reached."""
    reached = _spy_on_every_piece(monkeypatch)
    stock = _stock(monkeypatch, _sweep, tmp_path / "stock")
    assert reached == set()  # ZENSPEC_FAST=0 and fast=False: none of them ran
    assert _sweep(tmp_path / "fast") == stock
    assert reached == set(SWEEP)
    stock = _stock(monkeypatch, _single, tmp_path / "stock_single")
    monkeypatch.setattr(context, "_loaders", OrderedDict())  # no base of the sweep's
    reached.clear()
    assert _single(tmp_path / "single") == stock
    assert reached == set(SINGLE)
    assert switches.disabled() == {}


@pytest.mark.parametrize("run", [_sweep, _single])
def test_zenspec_fast_0_is_stocks_path(run, tmp_path, monkeypatch):
    stock = _stock(monkeypatch, run, tmp_path / "stock")
    calls = []
    for piece in BREAK:
        _break(monkeypatch, piece, calls)
    monkeypatch.setenv("ZENSPEC_FAST", "0")
    assert run(tmp_path / "fast") == stock  # fast=True, but the environment says stock
    assert calls == [] and switches.disabled() == {}


# the switch's own tests use the pieces proven on every supported Hydra
# (an unproven piece is never enabled: test_an_unproven_piece_never_runs)
ALWAYS = ("composition", "overrides")
assert all(switches.proven(p) for p in ALWAYS)


def test_zenspec_fast_off_names_pieces(monkeypatch):
    monkeypatch.setenv("ZENSPEC_FAST_OFF", "render, overrides")
    assert not switches.enabled("render") and not switches.enabled("overrides")
    assert switches.enabled("composition")
    monkeypatch.setenv("ZENSPEC_FAST", "off")
    assert not switches.enabled("composition") and switches.all_off()
    monkeypatch.setenv("ZENSPEC_FAST", "1")
    assert not switches.all_off()


def test_an_unproven_piece_never_runs(monkeypatch):
    monkeypatch.delenv("ZENSPEC_FAST", raising=False)
    monkeypatch.delenv("ZENSPEC_FAST_OFF", raising=False)
    for piece in switches.PIECES:
        assert switches.enabled(piece) == switches.proven(piece), piece
        if not switches.proven(piece):
            assert switches.shortcut(piece, lambda: "fast", lambda: "stock") == "stock"


def test_shortcut_falls_back_and_switches_off(warnings_logged):
    def fast():
        raise KeyError("bug")

    assert switches.shortcut("overrides", fast, lambda: "stock") == "stock"
    assert set(switches.disabled()) == {"overrides"}
    assert switches.shortcut("overrides", lambda: "fast", lambda: "stock") == "stock"
    assert len(warnings_logged) == 1


def test_when_stock_fails_too_its_error_is_raised_and_the_piece_stays_on(warnings_logged):
    def fast():
        raise KeyError("the shortcut's")

    def stock():
        raise ValueError("stock's own")

    with pytest.raises(ValueError, match="stock's own") as raised:
        switches.shortcut("overrides", fast, stock)
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    assert switches.disabled() == {} and warnings_logged == []
    assert switches.shortcut("overrides", lambda: "fast", stock) == "fast"


@pytest.mark.skipif(
    not switches.proven("snapshot"),
    reason="zenspec's run_job is not proven on this Hydra (FAST_RUN_JOB): no piece runs "
    "inside a job",
)
def test_the_warning_stays_out_of_the_jobs_log(tmp_path, monkeypatch):
    _break(monkeypatch, "snapshot", [])  # fails inside the job, its log file open
    files, _ = _sweep(tmp_path / "fast")
    logs = [text for name, text in files.items() if name.endswith(".log")]
    assert logs and not any("shortcut failed" in text for text in logs)
    assert set(switches.disabled()) == {"snapshot"}


def test_the_machines_errors_are_not_the_pieces(warnings_logged):
    def fast():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        switches.shortcut("overrides", fast, lambda: "stock")
    assert switches.disabled() == {} and warnings_logged == []


def test_fast_false_alone_runs_no_piece_and_only_for_its_call(tmp_path, monkeypatch):
    """``fast=False`` without the environment variable: stock's path for that call only."""
    monkeypatch.delenv("ZENSPEC_FAST", raising=False)
    monkeypatch.delenv("ZENSPEC_FAST_OFF", raising=False)
    reached = _spy_on_every_piece(monkeypatch)
    stock = _sweep(tmp_path / "stock", fast=False)
    assert reached == set()
    assert not switches.all_off()  # the switch ended with the call
    assert _sweep(tmp_path / "fast") == stock
    assert reached == set(SWEEP)
