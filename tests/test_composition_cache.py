"""FastConfigLoader at the unit level: node-for-node equality, bounds, fallbacks.

The sweep-level proof (files, logs, dirs, failures) is tests/differential/;
here each ``load_sweep_config`` result is compared with stock's on the whole
OmegaConf tree -- node types, flags, ref/object types, values, parent links --
not just its YAML.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.core.config_store import ConfigStore
from hydra.core.utils import setup_globals
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf

from zenspec._compatibility import FAST_COMPOSITION, FAST_RUN_JOB, LOAD_HOOK_14
from zenspec.accelerate.composition_cache import FastConfigLoader
from zenspec.accelerate.job_snapshots import signature as _signature


@dataclass
class Typed:
    a: int = 1
    lr: float = 0.1


PRIMARY = {
    "defaults": ["_self_", {"optim": "sgd"}],
    "a": 1,
    "b": {"c": 2},
    "i": "${a}",
    "t": "${now:%Y}",
}


# zenspec uses the composition cache only where FAST_COMPOSITION proves it: on
# hydra-core 1.4 load_sweep_config goes through _load_configuration (report B9),
# the cache is bypassed, and zenspec runs stock composition instead
cache_in_use = pytest.mark.skipif(
    not FAST_COMPOSITION,
    reason="composition cache off on this Hydra (FAST_COMPOSITION=False): stock composition runs",
)


@pytest.fixture
def frozen_now():
    """``${now:...}`` at one fixed instant: two masters composed a second apart agree."""
    import datetime

    from omegaconf.basecontainer import BaseContainer

    saved = BaseContainer._resolvers.get("now")
    instant = datetime.datetime(2026, 1, 2, 3, 4, 5)
    OmegaConf.register_new_resolver(
        "now", lambda pattern: instant.strftime(pattern), use_cache=True, replace=True
    )
    yield instant
    if saved is None:
        BaseContainer._resolvers.pop("now", None)
    else:
        BaseContainer._resolvers["now"] = saved


@pytest.fixture
def configs(store, frozen_now):
    store.store(name="fl_primary", node=PRIMARY)
    store.store(name="fl_typed", node=Typed)
    store.store(group="optim", name="sgd", node={"lr": 0.1})
    store.store(group="optim", name="adam", node={"lr": 0.01, "betas": [0.9, 0.99]})
    store.store(group="optim", name="rms", node={"lr": 0.001})
    return store


def _loaders():
    sp = create_config_search_path(None)
    return ConfigLoaderImpl(config_search_path=sp), FastConfigLoader(config_search_path=sp)


def _master(loader, name="fl_primary", overrides=("a=1,2",)):
    return loader.load_configuration(
        config_name=name, overrides=[*overrides, "hydra.mode=MULTIRUN"], run_mode=RunMode.MULTIRUN
    )


def _same(stock_cfg, fast_cfg):
    assert OmegaConf.to_yaml(fast_cfg) == OmegaConf.to_yaml(stock_cfg)
    assert _signature(fast_cfg) == _signature(stock_cfg)
    assert OmegaConf.get_cache(fast_cfg) == OmegaConf.get_cache(stock_cfg), (
        OmegaConf.get_cache(fast_cfg),
        OmegaConf.get_cache(stock_cfg),
    )


JOBS = [
    ["a=3"],
    ["a=4", "optim=adam"],
    ["optim=rms", "optim.lr=5"],
    ["+x=[1,{y:2}]", "++b.c=7", "~i"],
    ["~optim", "a=5"],
    ["++b={c:9,d:1}", "optim=adam", "++optim.betas=[1,2]"],
    ["a=${b.c}", "hydra.job.config.override_dirname.kv_sep=:"],
    ["++hydra.runtime.choices.foo=bar", "a=6"],  # touches hydra.runtime: no preset
    ["optim=adam", "a=7"],  # same base as job 2, again
]


@cache_in_use
def test_each_sweep_config_equals_stock_node_for_node(configs):
    stock, fast = _loaders()
    setup_globals()  # the ${now:} resolver, as launchers register it
    master_s, master_f = _master(stock), _master(fast)
    OmegaConf.select(master_s, "t"), OmegaConf.select(master_f, "t")  # fill ${now:} caches
    OmegaConf.set_cache(master_f, OmegaConf.get_cache(master_s))
    _same(master_s, master_f)  # the primary (MULTIRUN) config comes from a cached base too
    for overrides in JOBS:
        _same(
            stock.load_sweep_config(master_s, overrides),
            fast.load_sweep_config(master_f, overrides),
        )
    stats = fast.stats
    assert stats.fallbacks == 0, stats.reasons
    assert stats.misses == 4  # sgd, adam, rms, no optim: one composition each
    # the primary config's base is a job's (hydra-core 1.4: the primary config is
    # stock's, which expands override aliases; only jobs come from the cache)
    primary = 0 if LOAD_HOOK_14 else 1
    assert stats.hits == len(JOBS) + primary - 4


def test_returned_configs_are_independent(configs):
    _, fast = _loaders()
    master = _master(fast)
    first = fast.load_sweep_config(master, ["a=3"])
    first.hydra.job.num = 99
    first.b.c = 100
    second = fast.load_sweep_config(master, ["a=3"])
    assert second.b.c == 2 and OmegaConf.is_missing(second.hydra.job, "num")


@cache_in_use
def test_structured_config_and_its_type_errors_match_stock(configs):
    stock, fast = _loaders()
    ms, mf = _master(stock, "fl_typed"), _master(fast, "fl_typed")
    _same(stock.load_sweep_config(ms, ["a=2", "lr=1"]), fast.load_sweep_config(mf, ["a=2", "lr=1"]))
    with pytest.raises(ConfigCompositionException) as s_err:
        stock.load_sweep_config(ms, ["a=oops"])
    with pytest.raises(ConfigCompositionException) as f_err:
        fast.load_sweep_config(mf, ["a=oops"])
    assert str(f_err.value) == str(s_err.value)
    assert type(f_err.value.__cause__) is type(s_err.value.__cause__)
    assert fast.stats.fallbacks == 1  # the failing call was answered by stock


@pytest.mark.parametrize(
    "bad", [["nokey=1"], ["+a=2"], ["optim=nope"], ["~b.c=5"], ["a=1,2"], ["a=[1"]]
)
def test_failing_overrides_raise_stocks_exception(configs, bad):
    stock, fast = _loaders()
    ms, mf = _master(stock), _master(fast)
    with pytest.raises(Exception) as s_err:
        stock.load_sweep_config(ms, bad)
    with pytest.raises(Exception) as f_err:
        fast.load_sweep_config(mf, bad)
    assert type(f_err.value) is type(s_err.value)
    assert str(f_err.value) == str(s_err.value)


def test_caches_are_bounded(configs):
    sp = create_config_search_path(None)
    fast = FastConfigLoader(config_search_path=sp, max_bases=2, max_parsed=8)
    master = _master(fast)
    for i in range(40):
        fast.load_sweep_config(master, [f"a={i}", f"optim={['sgd', 'adam', 'rms'][i % 3]}"])
    assert len(fast._bases) <= 2
    assert len(fast._parsed) <= 8


def test_shuffle_is_parsed_afresh_every_time(configs):
    _, fast = _loaders()
    master = _master(fast)
    fast.load_sweep_config(master, ["+s=shuffle([1,2,3,4,5,6,7,8])"])
    assert not any("shuffle" in k for k in fast._parsed)


def test_pickled_loader_ships_without_caches_and_still_works(configs):
    _, fast = _loaders()
    master = _master(fast)
    expected = fast.load_sweep_config(master, ["a=5"])
    clone = pickle.loads(pickle.dumps(fast))
    assert not clone._bases and not clone._parsed
    _same(expected, clone.load_sweep_config(master, ["a=5"]))


@cache_in_use
def test_store_change_drops_the_cache(configs):
    _, fast = _loaders()
    master = _master(fast)
    assert fast.load_sweep_config(master, ["a=1"]).optim.lr == 0.1
    configs.store(group="optim", name="sgd", node={"lr": 0.5})
    assert fast.load_sweep_config(master, ["a=1"]).optim.lr == 0.5
    assert fast.stats.invalidations == 1


@cache_in_use
def test_edited_config_file_drops_the_cache(configs, tmp_path):
    (tmp_path / "conf" / "optim").mkdir(parents=True)
    opt = tmp_path / "conf" / "optim" / "fileopt.yaml"
    opt.write_text("lr: 1\n")
    _, fast = _loaders()
    sp = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    master = _master(fast, overrides=(sp, "a=1,2"))
    assert fast.load_sweep_config(master, ["optim=fileopt"]).optim.lr == 1
    opt.write_text("lr: 22\n")
    assert fast.load_sweep_config(master, ["optim=fileopt"]).optim.lr == 22
    assert fast.stats.invalidations == 1


@cache_in_use
def test_compositions_that_warn_are_left_to_stock(configs):
    stock, fast = _loaders()
    missing = "hydra.searchpath=[file:///nonexistent/zenspec/conf]"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = _master(stock, overrides=(missing, "a=1,2"))
        mf = _master(fast, overrides=(missing, "a=1,2"))
    with pytest.warns(UserWarning, match="is not available"):
        fast_cfg = fast.load_sweep_config(mf, ["a=3"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(stock.load_sweep_config(ms, ["a=3"]), fast_cfg)
    _same(ms, mf)
    # the primary config (not on hydra-core 1.4: stock's), then the job
    assert fast.stats.reasons == {"warnings": 1 if LOAD_HOOK_14 else 2}


def test_fast_launcher_replaces_only_hydras_basic_launcher(configs):
    from hydra.types import HydraContext

    from zenspec.accelerate.job_runner import FastLauncher, instantiate_launcher

    _, fast = _loaders()
    context = HydraContext(config_loader=fast, callbacks=None)  # type: ignore[arg-type]
    basic = instantiate_launcher(hydra_context=context, task_function=len, config=_master(fast))
    assert type(basic) is FastLauncher
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    joblib_cfg = _master(fast, overrides=("hydra/launcher=joblib", "a=1,2"))
    other = instantiate_launcher(hydra_context=context, task_function=len, config=joblib_cfg)
    # Hydra's JoblibLauncher (zenspec may hand out its own subclass of it)
    assert "JoblibLauncher" in [c.__name__ for c in type(other).__mro__]
    assert not isinstance(other, FastLauncher)


def test_every_store_change_is_seen_also_right_after_an_invalidation(configs):
    _, fast = _loaders()
    master = _master(fast)
    for lr in (0.5, 0.6, 0.7):
        configs.store(group="optim", name="sgd", node={"lr": lr})
        assert fast.load_sweep_config(master, ["a=1"]).optim.lr == lr


# ------------------------------------------------- batch validation, hydra.yaml
def test_batch_validation_composes_one_job_in_full_per_key(configs):
    _, fast = _loaders()
    master = _master(fast)
    batch = [[f"a={i}"] for i in range(20)] + [["a=1", "optim=adam"]]
    fast.validate_batch(master, batch)
    # one reference job per base (sgd, adam); the other 19 applied their a=... only
    assert fast.stats.misses == 2 and fast.stats.fallbacks == 0


@pytest.mark.parametrize("where", [0, 5, 19])
def test_batch_validation_raises_stocks_error_wherever_the_bad_job_is(configs, where):
    stock, fast = _loaders()
    batch = [[f"a={i}"] for i in range(20)]
    batch[where] = ["+a=3"]  # a exists: Hydra refuses to add it
    errors = []
    for loader in (stock, fast):
        master = _master(loader)
        with pytest.raises(ConfigCompositionException) as e:
            if loader is fast:
                loader.validate_batch(master, batch)
            else:
                for job in batch:
                    loader.load_sweep_config(master, job)
        errors.append(str(e.value))
    assert errors[0] == errors[1]


def test_batch_validation_with_a_hydra_override_reading_user_keys(configs):
    _, fast = _loaders()
    master = _master(fast, overrides=("a=1,2", "hydra.job.config.override_dirname.kv_sep=${b.c}"))
    fast.validate_batch(master, [["a=1"], ["a=2"], ["a=3"]])  # composed in full, all pass
    assert fast.stats.fallbacks == 0


@cache_in_use
def test_hydra_yaml_blocks_render_as_omegaconf(configs):
    from hydra.core.hydra_config import HydraConfig

    from zenspec.accelerate.hydra_yaml import render_hydra_yaml
    from zenspec.accelerate.job_runner import _share_hydra_node

    _, fast = _loaders()
    master = _master(fast, overrides=("a=1,2", "hydra.sweep.dir=out"))
    saved = HydraConfig.instance().cfg
    try:
        for job in (["a=1"], ["a=2"], ["a=3", "optim=adam"], ["a=4", "optim=adam"]):
            cfg = fast.load_sweep_config(master, job)
            hint = fast.render_hint(cfg)
            assert hint is not None and "sweep" in hint.per_job
            _share_hydra_node(cfg)
            hydra_cfg = HydraConfig.instance().cfg
            assert render_hydra_yaml(hydra_cfg, hint) == OmegaConf.to_yaml(hydra_cfg)
            assert fast.render_hint(OmegaConf.create({})) is None
    finally:
        HydraConfig.instance().cfg = saved


def test_shared_hydra_node_is_what_set_config_makes(configs):
    from hydra.core.hydra_config import HydraConfig

    from zenspec.accelerate.job_runner import _share_hydra_node

    _, fast = _loaders()
    master = _master(fast)
    saved = HydraConfig.instance().cfg
    try:
        a = fast.load_sweep_config(master, ["a=1"])
        b = fast.load_sweep_config(master, ["a=1"])
        HydraConfig.instance().set_config(a)
        stock = HydraConfig.instance().cfg
        _share_hydra_node(b)
        ours = HydraConfig.instance().cfg
        assert ours.hydra is b.hydra and ours._get_node("hydra")._get_parent() is b
        assert stock._get_node("hydra")._get_parent() is a
        assert _signature(ours) == _signature(stock)
        assert OmegaConf.is_readonly(ours.hydra) and OmegaConf.is_readonly(stock.hydra)
    finally:
        HydraConfig.instance().cfg = saved


@pytest.mark.skipif(
    not FAST_RUN_JOB,
    reason="zenspec's FastLauncher/run_job off on this Hydra (FAST_RUN_JOB=False: 1.4's run_job)",
)
def test_public_multirun_uses_the_fast_launcher_and_validates_cheaply(tmp_path, monkeypatch):
    from zenspec import hydra_multirun
    from zenspec.accelerate import job_runner

    monkeypatch.chdir(tmp_path)
    seen = []
    original = job_runner.FastLauncher.launch

    def launch(self, job_overrides, initial_job_idx):
        stats = self.hydra_context.config_loader.stats  # the loader outlives one call
        before = (stats.misses, stats.hits, stats.fallbacks)
        try:
            return original(self, job_overrides, initial_job_idx)
        finally:
            seen.append(
                (stats.misses - before[0], stats.hits - before[1], stats.fallbacks - before[2])
            )

    monkeypatch.setattr(job_runner.FastLauncher, "launch", launch)
    jobs = hydra_multirun({"a": 0}, lambda c: c.a, ["a=range(0,5)"], with_log_configuration=False)
    assert [j.return_value for j in jobs[0]] == [0, 1, 2, 3, 4]
    # the base was composed before the launcher ran (batch validation): every job
    # of the launch came from the cache, none from stock composition
    assert seen == [(0, 5, 0)]


def test_the_store_watch_sees_new_entries_not_a_new_order():
    from zenspec.accelerate.job_snapshots import SourceWatch

    cs = ConfigStore.instance()
    watch = SourceWatch()
    try:
        cs.store(group="zz_watch", name="a", node={"x": 1})
        cs.store(group="zz_watch", name="b", node={"x": 2})
        assert not watch.changed()  # the first look
        group = cs.repo["zz_watch"]
        cs.repo["zz_watch"] = dict(reversed(list(group.items())))  # same entries, new order
        assert not watch.changed()
        cs.store(group="zz_watch", name="a", node={"x": 1})  # re-stored: a new node
        assert watch.changed()
        cs.store(group="zz_watch", name="c", node={"x": 3})
        assert watch.changed()
        del cs.repo["zz_watch"]["c.yaml"]
        assert watch.changed()
        assert not watch.changed()
    finally:
        cs.repo.pop("zz_watch", None)
