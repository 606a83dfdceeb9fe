"""hydra_run in a loop composes once: the config loader outlives a call, its cache is
right after every kind of change between calls, and each run gives what stock
composition (``fast=False``) gives: values, configs, files."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from zenspec import hydra_run
from zenspec._compatibility import FAST_RUN_JOB, HYDRA_14, LOAD_HOOK_14
from zenspec.launch import context

# hydra-core 1.4: the composition cache serves jobs through 1.4's _load_configuration
# hook only (LOAD_HOOK_14); a single run's config is the primary config, which is
# stock's there (it expands override aliases): it is never served from the cache
SINGLE_RUN_CACHED = not LOAD_HOOK_14

GROUPS = {"optim": {"sgd": {"name": "sgd", "lr": 0.1}, "adam": {"name": "adam", "lr": 0.01}}}
CONFIG = {"a": 1, "b": "${a}", "optim": {"name": "none"}}


def view(cfg):
    return OmegaConf.to_container(cfg, resolve=True)


def _run(out: Path, overrides, fast: bool, **kw):
    job = hydra_run(
        kw.pop("config", CONFIG),
        view,
        [*overrides, f"hydra.run.dir={out}"],
        fast=fast,
        groups=kw.pop("groups", GROUPS),
        **kw,
    )
    files = {
        str(p.relative_to(out)): p.read_text().replace(str(out), "<RUN>")
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".zenspec" not in p.parts
    }
    hydra_yaml = OmegaConf.to_yaml(job.hydra_cfg).replace(str(out), "<RUN>")
    return job.return_value, OmegaConf.to_yaml(job.cfg), hydra_yaml, files


def _fast_stats():
    return [loader.stats for loader in context._loaders.values()]


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["a=2"],
        ["optim=adam", "+c=3"],
        ["optim=sgd", "optim.lr=0.5", "~b"],
        ["hydra.job.name=x"],
    ],
)
def test_each_run_is_what_stock_composition_gives_also_from_the_cache(tmp_path, overrides):
    stock = _run(tmp_path / "stock", overrides, fast=False)
    first = _run(tmp_path / "fast1", overrides, fast=True)
    hits = sum(s.hits for s in _fast_stats())
    again = _run(tmp_path / "fast2", overrides, fast=True)
    if SINGLE_RUN_CACHED:
        assert sum(s.hits for s in _fast_stats()) == hits + 1  # composed from the cache
    assert first == stock
    assert again == stock


def test_a_changed_config_or_group_between_calls_is_never_served_stale(tmp_path):
    assert _run(tmp_path / "1", [], True)[0]["a"] == 1
    assert _run(tmp_path / "2", [], True, config={**CONFIG, "a": 5})[0] == {
        "a": 5,
        "b": 5,
        "optim": {"name": "none"},
    }
    groups = {"optim": {"sgd": {"name": "sgd", "lr": 0.9}}}
    assert _run(tmp_path / "3", ["optim=sgd"], True, groups=groups)[0]["optim"]["lr"] == 0.9
    assert _run(tmp_path / "4", ["optim=sgd"], True)[0]["optim"]["lr"] == 0.1


# hydra-core 1.4 refuses a version base below 1.3: its other base is its own
OLD_BASE = "1.4" if HYDRA_14 else "1.1"


def _old_base_warning():
    # 1.1's base makes jobs chdir, with Hydra's warning about it; 1.4's base does not
    if HYDRA_14:
        return contextlib.nullcontext()
    return pytest.warns(UserWarning, match="working directory")


def test_the_version_base_is_part_of_what_is_cached(tmp_path):
    new = _run(tmp_path / "new", [], True, version_base="1.3")
    with _old_base_warning():
        old = _run(tmp_path / "old", [], True, version_base=OLD_BASE)
    with _old_base_warning():
        stock_old = _run(tmp_path / "stock", [], False, version_base=OLD_BASE)
    assert f"version_base: '{OLD_BASE}'" in old[2] and "version_base: '1.3'" in new[2]
    assert old == stock_old
    assert _run(tmp_path / "new2", [], True, version_base="1.3")[1:] == new[1:]


def test_a_config_file_created_between_calls_is_seen(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    cfg = {"defaults": [{"optional db": "mysql"}, "_self_"], "a": 1}
    overrides = [f"hydra.searchpath=[file://{conf}]"]
    for n in range(2):
        assert _run(tmp_path / f"before{n}", overrides, True, config=cfg)[0] == {"a": 1}
    (conf / "db").mkdir()
    (conf / "db" / "mysql.yaml").write_text("host: localhost\n")
    after = _run(tmp_path / "after", overrides, True, config=cfg)
    assert after[0] == {"db": {"host": "localhost"}, "a": 1}
    assert after == _run(tmp_path / "stock", overrides, False, config=cfg)


@pytest.mark.parametrize(
    "extra, kind",
    [
        ([], "_Holes"),  # a sweep's job preset: only the hole values are kept
        (["hydra.job.env_copy=[HOME]"], "_Delta"),  # no job preset: the job's own keys
    ],
)
@pytest.mark.skipif(
    not FAST_RUN_JOB,
    reason="job snapshots are made by zenspec's run_job, off on this Hydra "
    "(FAST_RUN_JOB=False: 1.4's run_job runs)",
)
def test_sweep_results_keep_small_snapshots_that_read_back_as_stock(tmp_path, extra, kind):
    from zenspec import hydra_multirun

    overrides = ["a=1,2,3", "optim=sgd,adam", *extra, f"hydra.sweep.dir={tmp_path}/fast"]
    fast = hydra_multirun(CONFIG, view, overrides, groups=GROUPS)[0]
    stock = hydra_multirun(
        CONFIG,
        view,
        [*overrides[:-1], f"hydra.sweep.dir={tmp_path}/stock"],
        groups=GROUPS,
        fast=False,
    )[0]
    kinds = [type(j.__dict__["_hydra_cfg"]).__name__ for j in fast]
    assert kinds.count(kind) >= 2  # the second or third job of each preset or base on
    for f, s in zip(fast, stock):
        ours = OmegaConf.to_yaml(f.hydra_cfg).replace(f"{tmp_path}/fast", "<SWEEP>")
        theirs = OmegaConf.to_yaml(s.hydra_cfg).replace(f"{tmp_path}/stock", "<SWEEP>")
        assert ours == theirs
        assert OmegaConf.to_container(
            f.hydra_cfg.hydra.job, resolve=True
        ) == OmegaConf.to_container(s.hydra_cfg.hydra.job, resolve=True)


def _presets():
    return [
        len(base.jobs) for loader in context._loaders.values() for base in loader._bases.values()
    ]


def test_runs_with_their_own_run_dir_build_no_job_preset(tmp_path):
    from zenspec import hydra_multirun

    for loader in context._loaders.values():  # what earlier tests cached
        loader.clear_cache()
    for i in range(4):  # a script calling hydra_run in a loop, each run its own dir
        hydra_run(CONFIG, view, [f"hydra.run.dir={tmp_path}/run{i}"], groups=GROUPS)
    assert sum(_presets()) == 0
    # a sweep's jobs share their hydra lines: one preset for the sweep
    hydra_multirun(CONFIG, view, ["a=1,2,3", f"hydra.sweep.dir={tmp_path}/s"], groups=GROUPS)
    assert sum(_presets()) == 1
