"""A config loader that composes each distinct defaults tree once per sweep.

Stock :class:`~hydra._internal.config_loader_impl.ConfigLoaderImpl` rebuilds the
whole defaults tree (Hydra's own ~10 config groups included), re-reads every
config and merges them for *every* call to ``load_sweep_config``, which a
multirun makes twice per job (``Sweeper.validate_batch_is_legal`` and the
launcher). :class:`FastConfigLoader` splits that work the way Hydra itself
orders it in ``_load_configuration_impl``:

1. the *defaults part* -- parse the overrides, build the defaults list from the
   config-group overrides, load and merge the configs, set struct mode -- depends
   only on the group choices, so its result (the "base") is composed once per
   distinct set of group overrides with Hydra's own functions and cached;
2. the *per-job part* -- apply the value overrides (``key=``, ``+key=``,
   ``++key=``, ``~key``) with Hydra's own ``_apply_overrides_to_config``, then
   fill ``hydra.overrides.*``, ``hydra.runtime.*`` and ``hydra.job.*`` -- is
   run for every call on a fresh copy of the base, with the same code, in the
   same order, as Hydra's.

Anything this path cannot vouch for goes to stock composition for that call:
any exception on the fast path (stock then raises its own error, or returns its
config if the fast path was the one at fault), a base whose composition emitted
warnings, a classification of the overrides that disagrees with Hydra's
defaults list, a ConfigStore that changed or a config file that was modified
since the base was composed. ``tests/differential/`` proves the rest against
stock Hydra, job by job. An exception on the fast path where stock then
composes the config is the cache's fault: it is switched off for the rest of
the process (:mod:`zenspec.accelerate.switches`, piece ``composition``), as it is
by ``ZENSPEC_FAST=0`` or ``ZENSPEC_FAST_OFF=composition``.

Memory: the cache holds at most ``max_bases`` bases (LRU), each a pickled
snapshot of one composed config (~10-20 KiB), plus a bounded cache of parsed
override strings; nothing is kept per finished job.
"""

from __future__ import annotations

import itertools
import os
import threading
import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hydra import version as hydra_version
from hydra.conf import ConfigSourceInfo
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobRuntime
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from zenspec._compatibility import (
    LOAD_HOOK_14,
    SETS_OVERRIDE_DIRNAME,
    CachingConfigRepository,
    ConfigLoaderImpl,
    apply_overrides_to_config,
    create_defaults_list,
    get_overrides_dirname,
    is_interpolation_node,
    node_of,
)
from zenspec.accelerate.hydra_yaml import RenderHint
from zenspec.accelerate.job_snapshots import SourceWatch, Template, copy_without_hydra
from zenspec.accelerate.switches import disable, enabled
from zenspec.launch.overrides import ParseCache

__all__ = ["FastConfigLoader", "FastLoaderStats"]

_SEARCHPATH = "hydra.searchpath"


class _Unproven(Exception):
    """The fast path cannot vouch for this call: use stock composition."""


@dataclass
class FastLoaderStats:
    """How ``load_sweep_config`` calls were served (for tests and the benchmark)."""

    hits: int = 0  # derived from a cached base
    misses: int = 0  # composed a new base, then derived
    fallbacks: int = 0  # served by stock composition
    invalidations: int = 0  # caches dropped because a config source changed
    reasons: Dict[str, int] = field(default_factory=dict)

    def fell_back(self, reason: str) -> None:
        self.fallbacks += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass
class _Base:
    """One composed defaults tree and what the per-job part needs from it.

    ``preset`` is the same tree with the job-independent ``hydra.runtime``
    fields (choices, config_sources, version) already filled in. Hydra fills
    them *after* the value overrides; doing it before is the same only when no
    value override touches ``hydra.runtime``, which ``_finish`` checks per job.
    """

    template: Template
    preset: Template
    known_choices: Dict[str, Optional[str]]
    config_sources: List[Tuple[str, str, str]]  # (path, scheme, provider)
    task: Optional[Template] = None  # the tree without ``hydra`` (batch validation)
    serial: int = field(default_factory=lambda: _new_serial())  # never reused
    # ``preset`` with what every job of a sweep shares filled in too: see _job_preset
    jobs: OrderedDict[Tuple[Any, ...], Tuple[Template, int]] = field(default_factory=OrderedDict)
    once: OrderedDict[Tuple[Any, ...], None] = field(default_factory=OrderedDict)  # seen once


_serials = itertools.count()


def _new_serial() -> int:
    # unique across processes too: a worker is handed the serials of its parent's bases
    return (os.getpid() << 40) | next(_serials)


def _touches_hydra(key: str) -> bool:
    return key == "hydra" or key.startswith("hydra.")


def _touches_aliases(key: str) -> bool:
    return key in ("hydra", "hydra.aliases") or key.startswith("hydra.aliases.")


def _touches_runtime(key: str) -> bool:
    return key in ("hydra", "hydra.runtime") or key.startswith("hydra.runtime.")


@dataclass
class _Context:
    """What classifying overrides needs: Hydra's repository for a search path."""

    repo: CachingConfigRepository
    is_group: Dict[str, bool] = field(default_factory=dict)


class FastConfigLoader(ConfigLoaderImpl):
    """Drop-in ``ConfigLoaderImpl`` whose RUN-mode compositions reuse cached bases.

    Those are every job of a sweep (stock ``load_sweep_config`` calls
    ``load_configuration`` in RUN mode) and every single run.

    Parameters
    ----------
    config_search_path : ConfigSearchPath
        As for ``ConfigLoaderImpl``.
    max_bases : int, default 64
        Distinct sets of group choices kept composed (least recently used out).
    max_parsed : int, default 1024
        Parsed override strings kept (a sweep's values repeat across jobs).

    Notes
    -----
    Config sources are snapshotted when a base is composed. A ConfigStore change
    or a modification of a loaded config file (mtime/size) is detected on every
    call and drops the caches; a *new* file that would shadow or add to a
    composed config (a new ``optional`` default, a higher-priority search path
    entry) is not looked for mid-sweep.
    """

    def __init__(
        self,
        config_search_path: ConfigSearchPath,
        *,
        max_bases: int = 64,
        max_parsed: int = 1024,
    ) -> None:
        super().__init__(config_search_path=config_search_path)
        self.max_bases = max_bases
        self.max_parsed = max_parsed
        self.stats = FastLoaderStats()
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._last_hint: Optional[Tuple[Any, Optional[RenderHint]]] = None
        self._lock = threading.RLock()
        self._parsed = ParseCache(self.max_parsed)  # override strings, read only here
        self._contexts: Dict[Tuple[Optional[str], Optional[str]], _Context] = {}
        self._bases: OrderedDict[Tuple[Any, ...], _Base] = OrderedDict()
        self._sources = SourceWatch()

    # Launchers that run jobs elsewhere (submitit, joblib/loky) pickle the
    # HydraContext and with it this loader: ship no caches, rebuild them there.
    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        for name in (
            "_lock",
            "_parsed",
            "_contexts",
            "_bases",
            "_sources",
            "_last_hint",
        ):
            state.pop(name, None)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_caches()

    def clear_cache(self) -> None:
        """Forget every composed base (the next call composes afresh)."""
        with self._lock:
            self._contexts.clear()
            self._bases.clear()
            self._sources.forget_files()

    # ------------------------------------------------------------------ hot path
    def load_configuration(
        self,
        config_name: Optional[str],
        overrides: List[str],
        run_mode: RunMode,
        from_shell: bool = True,
        validate_sweep_overrides: bool = True,
        **kwargs: Any,
    ) -> DictConfig:
        """Hydra's ``load_configuration``, from a cached base where proven equal.

        Stock ``load_sweep_config`` composes each job of a sweep with this call
        in RUN mode (then copies the primary config's resolver cache, so
        ``${now:...}`` agrees with it), and so does a single run. A sweep's
        primary config (MULTIRUN) is the same composition with its sweep
        overrides left out (Hydra's ``Overrides`` and
        ``_apply_overrides_to_config`` skip them) but listed in
        ``hydra.overrides``: it shares the jobs' cached base when their group
        choices agree, so its defaults tree is not built twice.
        """
        if LOAD_HOOK_14 or kwargs:
            # hydra-core 1.4: the primary config is stock's (it expands override
            # aliases); jobs come through _load_configuration, below
            return super().load_configuration(
                config_name, overrides, run_mode, from_shell, validate_sweep_overrides, **kwargs
            )
        error = None
        if from_shell and validate_sweep_overrides and run_mode in (RunMode.RUN, RunMode.MULTIRUN):
            derived, error = self._try_derive(config_name, overrides, run_mode)
            if derived is not None:
                return derived
        cfg = super().load_configuration(
            config_name, overrides, run_mode, from_shell, validate_sweep_overrides
        )
        if error is not None:  # stock composed what the fast path could not
            disable("composition", error)
        return cfg

    def _try_derive(
        self, config_name: Optional[str], overrides: List[str], run_mode: RunMode
    ) -> Tuple[Optional[DictConfig], Optional[Exception]]:
        """The config from a cached base, or None: stock composition decides (its
        error or its config), and the reason is counted. Also the exception the
        fast path raised, if any (not its own "cannot vouch")."""
        if not enabled("composition"):
            self._last_hint = None
            return None, None
        try:
            with self._lock:
                return self._derive(config_name, list(overrides), run_mode), None
        except Exception as e:
            self._last_hint = None
            why = type(e).__name__ if not isinstance(e, _Unproven) else str(e)
            self.stats.fell_back(why)
            # a sweep's primary config (MULTIRUN) falls back by design where a group
            # is left ??? (see _plan): only a job's fallback can be the cache's fault
            expected = isinstance(e, _Unproven) or run_mode is not RunMode.RUN
            return None, None if expected else e

    def _load_configuration(
        self,
        config_name: Optional[str],
        overrides: List[str],
        run_mode: RunMode,
        from_shell: bool,
        validate_sweep_overrides: bool,
        skip_missing_defaults: bool,
        activate_config_repository: bool,
        parsed_overrides: Optional[List[Override]] = None,
    ) -> DictConfig:
        """hydra-core 1.4's hook (``load_sweep_config`` calls it): a job's config,
        from a cached base where proven equal; anything else is stock's."""
        if (
            LOAD_HOOK_14
            and parsed_overrides is not None  # load_sweep_config's call: no alias expansion
            # what the cache parses is what the caller parsed (no alias expanded)
            and [o.input_line for o in parsed_overrides] == list(overrides)
            and from_shell
            and validate_sweep_overrides
            and not skip_missing_defaults
            and not activate_config_repository
            and run_mode is RunMode.RUN
        ):
            derived, error = self._try_derive(config_name, overrides, run_mode)
            if derived is not None:
                return derived
        else:
            error = None
        cfg = super()._load_configuration(
            config_name,
            overrides,
            run_mode,
            from_shell,
            validate_sweep_overrides,
            skip_missing_defaults,
            activate_config_repository,
            parsed_overrides,
        )
        if error is not None:  # stock composed what the fast path could not
            disable("composition", error)
        return cfg

    def validate_batch(self, master_config: DictConfig, batch: Sequence[Sequence[str]]) -> None:
        """Raise what ``load_sweep_config`` would raise for a job of *batch*, if any.

        What ``Sweeper.validate_batch_is_legal`` checks, without composing every
        job in full: see :func:`zenspec.accelerate.batch_check.validate_batch`.
        """
        # 1.4 also checks the launcher/sweeper choice per job: stock's loop; so does a
        # switched-off check (or cache: the check plans from it)
        if not enabled("composition") or not enabled("validate"):
            for overrides in batch:
                self.load_sweep_config(master_config, list(overrides))
            return
        from zenspec.accelerate.batch_check import validate_batch

        validate_batch(self, master_config, batch)

    def _parse(self, overrides: Sequence[str]) -> List[Override]:
        return [self._parsed.parse(line) for line in overrides]

    def _derive(
        self, config_name: Optional[str], overrides: List[str], run_mode: RunMode = RunMode.RUN
    ) -> DictConfig:
        self._check_sources()
        base, config_name, parsed, config_overrides = self._plan(config_name, overrides, run_mode)
        cfg, shared = self._finish(base, config_name, parsed, config_overrides)
        on_hydra = [o.key_or_group for o in config_overrides if _touches_hydra(o.key_or_group)]
        hint = RenderHint.for_overrides(base.serial, on_hydra, shared)
        self._last_hint = (weakref.ref(cfg), hint)
        return cfg

    def render_hint(self, cfg: DictConfig) -> Optional[RenderHint]:
        """How to render the ``hydra.yaml`` of *cfg*, the config this loader just returned.

        None for any other config (one served by stock composition included).
        """
        last = self._last_hint
        return last[1] if last is not None and last[0]() is cfg else None

    def _check_sources(self) -> None:
        if self._sources.changed():
            self.stats.invalidations += 1
            self.clear_cache()

    def _plan(
        self, config_name: Optional[str], overrides: List[str], run_mode: RunMode = RunMode.RUN
    ) -> Tuple[_Base, Optional[str], List[Override], List[Override]]:
        """The call's parsed overrides, its value overrides and its (cached) base.

        In MULTIRUN mode the value overrides leave out the sweeps, and the
        base, composed as in RUN mode (``skip_missing=False``), is the same
        tree: ``skip_missing`` only matters for a group left ``???``, where the
        RUN composition raises and stock composes the primary config instead.
        """
        parsed = self._parse(overrides)
        # an illegal sweep (any, in RUN mode) is an error, raised by stock on the fallback
        self.validate_sweep_overrides_legal(overrides=parsed, run_mode=run_mode, from_shell=True)

        searchpath = next((o for o in parsed if o.get_key_element() == _SEARCHPATH), None)
        context = self._context(config_name, searchpath)
        group_lines: List[str] = []
        config_overrides: List[Override] = []
        for o in parsed:
            if o.is_sweep_override():  # MULTIRUN: skipped by composition, as stock
                continue
            # Hydra's own rule (defaults_list.Overrides): dict values and keys
            # that are not config groups are value overrides.
            is_group = context.is_group.get(o.key_or_group)
            if is_group is None:
                if len(context.is_group) >= self.max_parsed:  # e.g. +new_key_<i> per job
                    context.is_group.clear()
                is_group = context.is_group[o.key_or_group] = context.repo.group_exists(
                    o.key_or_group
                )
            if isinstance(o.value(), dict) or not is_group:
                config_overrides.append(o)
            else:
                group_lines.append(o.input_line or "")
        key = (
            config_name,
            searchpath.input_line if searchpath else None,
            tuple(group_lines),
            # a loader outlives one call (hydra_run reuses it): the version base
            # is process-global, can change between calls and shapes composition
            str(hydra_version.getbase()),
        )
        base = self._bases.get(key)
        if base is None:
            base = self._compose_base(config_name, parsed, config_overrides)
            self.stats.misses += 1
            self._bases[key] = base
            if len(self._bases) > self.max_bases:
                self._bases.popitem(last=False)
        else:
            self.stats.hits += 1
            self._bases.move_to_end(key)
        return base, config_name, parsed, config_overrides

    def _context(self, config_name: Optional[str], searchpath: Optional[Override]) -> _Context:
        key = (config_name, searchpath.input_line if searchpath else None)
        context = self._contexts.get(key)
        if context is None:
            repo = CachingConfigRepository(self.repository)
            self._process_config_searchpath(config_name, [searchpath] if searchpath else [], repo)
            context = self._contexts[key] = _Context(repo=repo)
        return context

    def _compose_base(
        self,
        config_name: Optional[str],
        parsed: List[Override],
        config_overrides: List[Override],
    ) -> _Base:
        """Steps 1-5 of Hydra's ``_load_configuration_impl``, with its own functions.

        Composed from *all* of the call's overrides, exactly as stock, which also
        checks the classification made in ``_derive`` against Hydra's own.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.ensure_main_config_source_available()
            repo = CachingConfigRepository(self.repository)
            self._process_config_searchpath(config_name, parsed, repo)
            defaults_list = create_defaults_list(
                repo=repo,
                config_name=config_name,
                overrides_list=parsed,
                prepend_hydra=True,
                skip_missing=False,
            )
            cfg = self._compose_config_from_defaults_list(
                defaults=defaults_list.defaults, repo=repo
            )
        if [id(o) for o in defaults_list.config_overrides] != [id(o) for o in config_overrides]:
            # The value overrides are applied per job, so the split must be Hydra's.
            raise _Unproven("classification")
        if caught:
            # Stock warns on every composition (deprecated schema matching, an
            # unavailable search path); a cached base would warn once. Stock it is.
            raise _Unproven("warnings")
        OmegaConf.set_struct(cfg, True)
        OmegaConf.set_readonly(cfg.hydra, False)
        self._sources.track(repo)
        known_choices = dict(defaults_list.overrides.known_choices)
        config_sources = [(s.path, s.scheme(), s.provider) for s in repo.get_sources()]
        template = Template(cfg)
        task = Template(copy_without_hydra(cfg)) if "hydra" in cfg else None
        _fill_runtime(cfg, known_choices, config_sources)
        return _Base(
            template=template,
            preset=Template(cfg),
            known_choices=known_choices,
            config_sources=config_sources,
            task=task,
        )

    @staticmethod
    def _finish(
        base: _Base,
        config_name: Optional[str],
        parsed: List[Override],
        config_overrides: List[Override],
    ) -> Tuple[DictConfig, Optional[int]]:
        """Steps 6-12 of Hydra's ``_load_configuration_impl``, in its order.

        Also the serial of the job preset the config was copied from, if any.
        """
        from hydra import __version__

        if LOAD_HOOK_14 and any(_touches_aliases(o.key_or_group) for o in config_overrides):
            raise _Unproven("hydra.aliases")  # 1.4 keeps them read-only: stock words the error
        on_hydra = [o for o in config_overrides if _touches_hydra(o.key_or_group)]
        if not any(_touches_runtime(o.key_or_group) for o in on_hydra):
            shared = _job_preset(base, config_name, parsed, on_hydra)
            if shared is not None:
                own = [o for o in config_overrides if not _touches_hydra(o.key_or_group)]
                return _finish_from_job_preset(shared[0], parsed, own), shared[1]
        preset = not any(_touches_runtime(o.key_or_group) for o in config_overrides)
        cfg = (base.preset if preset else base.template).new()
        apply_overrides_to_config(config_overrides, cfg)
        hydra = cfg.hydra
        hydra_list, task_list = hydra.overrides.hydra, hydra.overrides.task
        app_overrides = []
        for override in parsed:
            if override.is_hydra_override():
                hydra_list.append(override.input_line)
            else:
                task_list.append(override.input_line)
                app_overrides.append(override)

        job, runtime = hydra.job, hydra.runtime
        with open_dict(hydra):
            if not preset:
                runtime.choices.update(base.known_choices)
            for key in job.env_copy:
                job.env_set[key] = os.environ[key]

        if not preset:
            runtime.version = __version__
        # setbase() is process-global and may change between calls
        runtime.version_base = hydra_version.getbase()
        runtime.cwd = os.getcwd()
        if not preset:
            runtime.config_sources = [
                ConfigSourceInfo(path=p, schema=s, provider=pr) for p, s, pr in base.config_sources
            ]
        if "name" not in job:
            job.name = JobRuntime().get("name")
        _set_override_dirname(job, app_overrides)
        job.config_name = config_name
        return cfg, None


_MAX_JOB_PRESETS = 8


def _job_preset(
    base: _Base, config_name: Optional[str], parsed: List[Override], on_hydra: List[Override]
) -> Optional[Tuple[Template, int]]:
    """``base.preset`` with what every job of a sweep gets alike already written.

    Hydra's steps 6-12 write, besides a job's own task overrides and
    ``override_dirname``, only what is the same for every job of a sweep: the
    value overrides of ``hydra`` (*on_hydra*: the primary config's
    ``hydra.sweep.dir=...`` and the like), the ``hydra`` override lines, the
    version base, the cwd, the job and config names. Stock applies every value
    override first, then the rest; the ``hydra`` ones and the task's write
    disjoint subtrees and read nothing else, so they commute, and the shared
    part can be written once, in stock's order, and copied with the tree. The
    key holds every input. None (the general path) for overrides of
    ``hydra.runtime`` (the preset has filled it already), a failing override
    (stock raises), ``hydra.job.env_copy`` set (the environment is read per
    job), or an interpolation where a list is appended to.
    """
    job_name = JobRuntime().get("name")
    hydra_lines = tuple(o.input_line for o in parsed if o.is_hydra_override())
    key = (hydra_lines, config_name, os.getcwd(), str(hydra_version.getbase()), job_name)
    found = base.jobs.get(key)
    if found is not None:
        base.jobs.move_to_end(key)
        return found
    if key not in base.once:
        # Built on a key's second job: a preset costs a copy and a proof, which
        # a sweep repays from its third job on, and a run with its own
        # hydra.run.dir (every call of a script looping over hydra_run) never.
        base.once[key] = None
        if len(base.once) > _MAX_JOB_PRESETS:
            base.once.popitem(last=False)
        return None
    cfg = base.preset.new()
    try:
        apply_overrides_to_config(on_hydra, cfg)
    except Exception:
        return None
    hydra = cfg.hydra
    job, overrides = node_of(hydra, "job"), node_of(hydra, "overrides")
    if not isinstance(job, DictConfig) or not isinstance(overrides, DictConfig):
        return None
    env_copy = node_of(job, "env_copy")
    if not isinstance(env_copy, ListConfig) or is_interpolation_node(env_copy) or len(env_copy):
        return None
    for k in ("hydra", "task"):
        node = node_of(overrides, k)
        if not isinstance(node, ListConfig) or is_interpolation_node(node):
            return None
    for line in hydra_lines:
        overrides.hydra.append(line)
    runtime = hydra.runtime
    runtime.version_base = hydra_version.getbase()
    runtime.cwd = os.getcwd()
    if "name" not in job:
        job.name = job_name
    job.config_name = config_name
    found = base.jobs[key] = (Template(cfg), _new_serial())
    if len(base.jobs) > _MAX_JOB_PRESETS:
        base.jobs.popitem(last=False)
    return found


def _finish_from_job_preset(
    shared: Template, parsed: List[Override], config_overrides: List[Override]
) -> DictConfig:
    """Steps 6-12 from the sweep's shared part: the task's value overrides and lines."""
    cfg = shared.new()
    apply_overrides_to_config(config_overrides, cfg)
    job = cfg.hydra.job
    task_list = cfg.hydra.overrides.task
    app_overrides = []
    for override in parsed:
        if not override.is_hydra_override():
            task_list.append(override.input_line)
            app_overrides.append(override)
    _set_override_dirname(job, app_overrides)
    return cfg


def _set_override_dirname(job: DictConfig, app_overrides: List[Override]) -> None:
    """``hydra.job.override_dirname`` from the task's overrides, as Hydra writes it.

    Hydra 1.4 leaves it an interpolation (``${hydra_override_dirname:}``): nothing to write.
    """
    if not SETS_OVERRIDE_DIRNAME:
        return
    dirname_conf = job.config.override_dirname
    job.override_dirname = get_overrides_dirname(
        overrides=app_overrides,
        kv_sep=dirname_conf.kv_sep,
        item_sep=dirname_conf.item_sep,
        exclude_keys=dirname_conf.exclude_keys,
    )


def _fill_runtime(
    cfg: DictConfig,
    known_choices: Dict[str, Optional[str]],
    config_sources: List[Tuple[str, str, str]],
) -> None:
    """The job-independent ``hydra.runtime`` fields, set as Hydra sets them."""
    from hydra import __version__

    with open_dict(cfg.hydra):
        cfg.hydra.runtime.choices.update(known_choices)
    cfg.hydra.runtime.version = __version__
    cfg.hydra.runtime.config_sources = [
        ConfigSourceInfo(path=p, schema=s, provider=pr) for p, s, pr in config_sources
    ]
