"""Hydra's BasicLauncher with a cheaper ``run_job``: same jobs, same outputs.

With composition cached (:mod:`zenspec.accelerate.composition_cache`), ~80% of what is
left of a trivial job's cost is ``hydra.core.utils.run_job``. Two of its steps
copy Hydra's whole config tree (~300 nodes) for nothing:

* ``HydraConfig.set_config`` runs twice per job (before and after
  ``hydra.runtime.output_dir`` is known), each a ``masked_copy`` that
  deep-copies the ``hydra`` node. :func:`run_job` sets it once and then sets
  ``output_dir`` on that copy too, exactly as the second call would have had it;
* the job's ``cfg`` is ``copy.deepcopy(config)`` with ``hydra`` then deleted.
  :func:`run_job` deep-copies the config without its ``hydra`` node, which
  yields the same tree (same keys, order, flags and metadata);
* with no callback registered (nothing but the job then sees ``config``), the
  masked copy does not copy at all: its ``hydra`` child is ``config.hydra``
  itself, with the parent, flags and content stock's copy has;
* ``hydra.yaml`` reuses the YAML blocks of the ``hydra`` keys that no job of
  the same cached base writes (:mod:`zenspec.accelerate.hydra_yaml`, verified
  against ``OmegaConf.to_yaml`` on the first job of each layout).

Each of these is a shortcut (:mod:`zenspec.accelerate.switches`): an unexpected
error before the task starts sends the job to stock ``run_job`` (the shortcut
switched off for the process, unless stock raises too: then stock's error is
the job's), and ``ZENSPEC_FAST=0`` or ``ZENSPEC_FAST_OFF=run_job`` gives stock's
``run_job`` throughout.

Everything else is stock ``run_job``, line for line, in the same order: the
output dir, chdir, logging, ``.hydra/*.yaml``, callbacks, env, the returned
``JobReturn`` (its ``hydra_cfg`` is an independent copy, pickled until read:
:mod:`zenspec.launch.job_return`).
``tests/differential`` runs the whole corpus through it against stock.

:class:`FastLauncher` is a ``BasicLauncher`` (same config node, same log
lines on the same logger) that uses this ``run_job``. Use
:func:`instantiate_launcher` where a sweeper instantiates its launcher: it
returns a FastLauncher where the config names Hydra's BasicLauncher, and
leaves every other launcher to Hydra. ``hydra.launcher`` in the config (and so
in hydra.yaml and multirun.yaml) is unchanged.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
from pathlib import Path
from textwrap import dedent
from typing import Any, List, Optional, Sequence

from hydra.conf import HydraConf
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import (
    JobReturn,
    JobRuntime,
    JobStatus,
    env_override,
    filter_overrides,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from zenspec._compatibility import (
    BASIC_LAUNCHER,
    BasicLauncher,
    Callbacks,
    base_at_least,
    check_hydra_context,
    container_content,
    deprecation_warning,
    flush_loggers,
    is_interpolation_node,
    node_of,
)
from zenspec._compatibility import job_id as job_id_value
from zenspec.accelerate import interpolation_cache, yaml_text
from zenspec.accelerate.hydra_yaml import RenderHint, render_hydra_yaml
from zenspec.accelerate.job_snapshots import copy_without_hydra
from zenspec.accelerate.logging_setup import configure_log
from zenspec.accelerate.switches import disable, enabled, shortcut
from zenspec.errors import LaunchError, ZenspecError
from zenspec.launch.job_dirs import JOB_DIR_HINT, job_dir_refusal
from zenspec.launch.job_return import SnapshotJobReturn, snapshot
from zenspec.records.store import write_in_place_nofollow

__all__ = ["FastLauncher", "instantiate_launcher", "run_job"]

# BasicLauncher's own logger: the "Launching N jobs" lines must look the same
log = logging.getLogger("hydra._internal.core_plugins.basic_launcher")


_launches = itertools.count()


def _callbacks_see_config(callbacks: Any) -> bool:
    """Whether a callback may be handed the job's config (then it is copied as stock)."""
    return type(callbacks) is not Callbacks or bool(callbacks.callbacks)


def _share_hydra_node(config: DictConfig) -> None:
    """``HydraConfig.set_config(config)``, with the ``hydra`` node shared, not copied.

    Stock deep-copies ``config.hydra`` into a new root (``masked_copy``) whose
    ``hydra`` child keeps ``config`` as its parent. Nothing but this job reads
    ``config`` when no callback is registered (the launcher drops it after the
    job), so the node itself can be that child: same flags (read-only), same
    parent, same content; the output dir set on ``config`` afterwards is then
    seen there too, as stock's second ``set_config`` makes it.
    """
    OmegaConf.set_readonly(config.hydra, True)
    hydra_node_type = OmegaConf.get_type(config, "hydra")
    assert hydra_node_type is not None and issubclass(hydra_node_type, HydraConf)
    masked = DictConfig(content={})  # as masked_copy's root: a fresh, flagless dict
    container_content(masked)["hydra"] = node_of(config, "hydra")
    HydraConfig.instance().cfg = masked  # type: ignore[assignment]


def _job_fields_interpolate(hydra_cfg: DictConfig) -> bool:
    """Whether ``hydra.job.chdir`` or ``hydra.job.env_set`` holds an interpolation."""
    job = node_of(hydra_cfg.hydra, "job")
    if not isinstance(job, DictConfig) or is_interpolation_node(job):
        return True
    chdir, env_set = node_of(job, "chdir"), node_of(job, "env_set")
    if chdir is None or is_interpolation_node(chdir):
        return True
    if not isinstance(env_set, DictConfig) or is_interpolation_node(env_set):
        return True
    return any(is_interpolation_node(node) for node in container_content(env_set).values())


def run_job(
    task_function: TaskFunction,
    config: DictConfig,
    job_dir_key: str,
    job_subdir_key: Optional[str],
    hydra_context: HydraContext,
    configure_logging: bool = True,
    render_hint: Optional[RenderHint] = None,
) -> JobReturn:
    """``hydra.core.utils.run_job`` with one ``set_config`` and a lighter copy.

    *render_hint*: from the fast loader, for the config it returned
    (:mod:`zenspec.accelerate.hydra_yaml`); None renders ``hydra.yaml`` as stock.

    Where this copy is not proven for the installed Hydra (``FAST_RUN_JOB``
    false: 1.4's ``run_job`` adds the execution whitelist and job-error
    logging), or the ``run_job`` shortcut is off (:mod:`zenspec.accelerate.switches`),
    stock's ``run_job`` runs instead. So it does when this one raises before
    the task starts (no callback or task ran yet), unless the error is
    zenspec's own refusal or the machine's (an ``OSError``): where stock raises
    too, stock's error is the job's; where it does not, the shortcut was at
    fault and is switched off.
    """
    from hydra.core.utils import run_job as stock_run_job

    def stock() -> JobReturn:
        return stock_run_job(
            task_function=task_function,
            config=config,
            job_dir_key=job_dir_key,
            job_subdir_key=job_subdir_key,
            hydra_context=hydra_context,
            configure_logging=configure_logging,
        )

    if not enabled("run_job"):
        return stock()
    started = [False]
    try:
        return _run_job(
            task_function,
            config,
            job_dir_key,
            job_subdir_key,
            hydra_context,
            configure_logging,
            render_hint,
            started,
        )
    except Exception as e:
        # the task or a callback ran: stock would run the same lines; a refusal of
        # zenspec's own, or the machine's (disk full): not the shortcut's doing
        if started[0] or isinstance(e, (ZenspecError, OSError)):
            raise
        error: Optional[Exception] = e
    ret = stock()  # raises stock's own error if the input is at fault
    assert error is not None
    disable("run_job", error)
    return ret


def _run_job(
    task_function: TaskFunction,
    config: DictConfig,
    job_dir_key: str,
    job_subdir_key: Optional[str],
    hydra_context: HydraContext,
    configure_logging: bool,
    render_hint: Optional[RenderHint],
    started: List[bool],
) -> JobReturn:
    """:func:`run_job`'s shortcut; ``started[0]`` is set before any callback or task runs."""
    check_hydra_context(hydra_context)
    callbacks = hydra_context.callbacks

    old_cwd = os.getcwd()
    orig_hydra_cfg = HydraConfig.instance().cfg

    # init Hydra config for config evaluation
    if _callbacks_see_config(callbacks):
        HydraConfig.instance().set_config(config)
    else:
        _share_hydra_node(config)
    masked = HydraConfig.instance().cfg
    assert isinstance(masked, DictConfig)  # (typed HydraConf; the instance holds a DictConfig)
    assert masked is not None

    # OmegaConf.select, the interpolation's parse tree kept (interpolation_cache)
    output_dir = str(interpolation_cache.select(config, job_dir_key))
    if job_subdir_key is not None:
        subdir = str(interpolation_cache.select(config, job_subdir_key))
        refusal = job_dir_refusal(output_dir, subdir, config.hydra.job.name)
        if refusal is not None:  # before the job makes or writes anything
            HydraConfig.instance().cfg = orig_hydra_cfg
            raise LaunchError(refusal, hint=JOB_DIR_HINT)
        output_dir = os.path.join(output_dir, subdir)

    absolute = os.path.abspath(output_dir)
    hydra = config.hydra  # the node itself: read once, not per field
    runtime = hydra.runtime
    with read_write(runtime), open_dict(runtime):
        runtime.output_dir = absolute
    # Stock calls set_config(config) again here: a fresh masked copy that differs
    # from the first one in this field only. Set it on the first one instead
    # (a shared node has it already).
    masked_runtime = masked.hydra.runtime
    if masked_runtime is not runtime:
        with read_write(masked_runtime), open_dict(masked_runtime):
            masked_runtime.output_dir = absolute

    _chdir = None
    try:
        ret = SnapshotJobReturn()
        task_cfg = copy_without_hydra(config)

        ret.cfg = task_cfg
        # stock: a deepcopy kept live in every JobReturn; here an equal snapshot,
        # unpickled when read. Below, the job reads the (identical) masked config.
        ret.hydra_cfg = shortcut(
            "snapshot",
            lambda: snapshot(
                masked,
                render_hint.base if render_hint else None,
                render_hint.per_job if render_hint else None,
                render_hint.shared if render_hint else None,
            ),
            lambda: copy.deepcopy(masked),
        )
        # Stock reads chdir and env_set from its copy, a root holding only
        # ``hydra``: an interpolation there must resolve (or fail) as in it.
        hydra_cfg = ret.hydra_cfg if _job_fields_interpolate(masked) else masked
        assert isinstance(hydra_cfg, DictConfig)
        task_overrides = hydra.overrides.task
        overrides = OmegaConf.to_container(task_overrides)
        assert isinstance(overrides, list)
        ret.overrides = overrides
        # handle output directories here
        Path(str(output_dir)).mkdir(parents=True, exist_ok=True)

        job = hydra_cfg.hydra.job
        _chdir = job.chdir

        if _chdir is None and base_at_least("1.2"):
            _chdir = False

        if _chdir is None:
            url = "https://hydra.cc/docs/1.2/upgrades/1.1_to_1.2/changes_to_job_working_dir/"
            deprecation_warning(
                message=dedent(
                    f"""\
                    Future Hydra versions will no longer change working directory at job runtime by default.
                    See {url} for more information."""
                ),
                stacklevel=3,  # the caller of run_job, as stock (through run_job)
            )
            _chdir = True

        if _chdir:
            os.chdir(output_dir)
            ret.working_dir = output_dir
        else:
            ret.working_dir = os.getcwd()

        if configure_logging:
            # the same node in every job of the base, unless the job's overrides touch it
            same = render_hint is not None and "job_logging" not in render_hint.per_job
            key = (render_hint.base, "job_logging") if same else None
            configure_log(hydra.job_logging, hydra.verbose, key=key)

        output_subdir = hydra.output_subdir
        if output_subdir is not None:
            hydra_output = Path(runtime.output_dir) / Path(output_subdir)
            # stock's three _save_config calls: the dir (made once), then each
            # file with OmegaConf.to_yaml's text (yaml_text)
            hydra_output.mkdir(parents=True, exist_ok=True)
            _write_text(yaml_text.to_yaml(task_cfg), hydra_output / "config.yaml")
            _write_text(render_hydra_yaml(hydra_cfg, render_hint), hydra_output / "hydra.yaml")
            overrides_yaml = yaml_text.to_yaml(task_overrides)
            _write_text(overrides_yaml, hydra_output / "overrides.yaml")

        with env_override(job.env_set):
            started[0] = True  # from here on, stock would run the same lines
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as e:
                ret.return_value = e
                ret.status = JobStatus.FAILED

        ret.task_name = JobRuntime.instance().get("name")

        flush_loggers()

        callbacks.on_job_end(config=config, job_return=ret)

        return ret
    finally:
        HydraConfig.instance().cfg = orig_hydra_cfg
        if _chdir:
            os.chdir(old_cwd)


def number_job(sweep_config: DictConfig, job_id: Any, num: int) -> None:
    """``hydra.job.id`` and ``hydra.job.num``, as the launchers set them."""
    job = sweep_config.hydra.job
    with open_dict(job):  # stock opens the whole tree: the same writes
        job.id = job_id_value(job_id)
        job.num = num


def _write_text(text: str, path: Path) -> None:
    """The write of ``hydra.core.utils._save_config``, for text already rendered.

    Never through a symlink planted at *path* (a sweep dir on shared scratch
    may be writable by others): such a link is replaced.
    """
    write_in_place_nofollow(path, text)


class FastLauncher(BasicLauncher):
    """``BasicLauncher.launch``, line for line, with :func:`run_job`."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        setup_globals()
        assert self.hydra_context is not None
        assert self.config is not None
        assert self.task_function is not None

        # one node (the primary config's, set up once) for every launch of this
        # launcher: a study launches a batch at a time, often of one job
        hydra_logging = self.__dict__.get("_hydra_logging_key")
        if hydra_logging is None:
            hydra_logging = self._hydra_logging_key = ("hydra_logging", next(_launches))
        primary = self.config.hydra
        configure_log(primary.hydra_logging, primary.verbose, key=hydra_logging)
        sweep_dir = primary.sweep.dir
        Path(str(sweep_dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs locally")
        runs: List[JobReturn] = []
        for idx, overrides in enumerate(job_overrides):
            idx = initial_job_idx + idx
            lst = " ".join(filter_overrides(overrides))
            log.info(f"\t#{idx} : {lst}")
            loader = self.hydra_context.config_loader
            sweep_config = loader.load_sweep_config(self.config, list(overrides))
            hint_for = getattr(loader, "render_hint", None)
            hint = hint_for(sweep_config) if hint_for is not None else None
            number_job(sweep_config, idx, idx)
            ret = run_job(
                hydra_context=self.hydra_context,
                task_function=self.task_function,
                config=sweep_config,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
                render_hint=hint,
            )
            runs.append(ret)
            configure_log(primary.hydra_logging, primary.verbose, key=hydra_logging)
        return runs


def instantiate_launcher(
    *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
) -> Launcher:
    """The sweep's launcher: a FastLauncher where Hydra's BasicLauncher is named.

    Any other launcher (joblib, submitit, a user's) comes from Hydra's plugin
    machinery unchanged, or, outside ``hydra_plugins`` (zenspec's Ray launcher),
    from :func:`zenspec.launch.plugins.instantiate_launcher`.
    """
    target = OmegaConf.select(config, "hydra.launcher._target_", default=None)
    if target != BASIC_LAUNCHER or set(config.hydra.launcher) != {"_target_"}:
        from zenspec.launch.plugins import instantiate_launcher as any_launcher

        return any_launcher(hydra_context=hydra_context, task_function=task_function, config=config)
    launcher = FastLauncher()
    launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
    return launcher
