"""Run one sweep through stock Hydra with a given config loader, and record it.

The harness drives Hydra's own ``Hydra.multirun`` (BasicSweeper, BasicLauncher,
``run_job``) exactly as ``hydra.main`` would, with either stock
``ConfigLoaderImpl`` or zenspec's ``FastConfigLoader``; the loader is the only
difference. Each run happens in its own working directory with the same
relative sweep dir, and what it produced is recorded as plain data:

* per job: status, the task's fully resolved view of its config (so
  ``${hydra:...}`` and ``${now:...}`` are compared as the job saw them), the
  returned ``cfg`` and ``hydra_cfg`` (unresolved YAML), ``overrides``,
  ``working_dir``, ``task_name``; a failed job's exception type and message;
* the error the sweep raised, if any (type and message);
* every file under the run's cwd (``multirun.yaml``, ``.hydra/*.yaml``, job
  logs), with log timestamps blanked.

Everything legitimately run-specific is normalised: the run's cwd (which also
appears in ``hydra.runtime.output_dir``) becomes ``<CWD>`` and log line
timestamps become ``<TIME>``. Nothing else is filtered.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback
from hydra.version import VersionBase
from omegaconf import OmegaConf

from zenspec._compatibility import set_version_base

log = logging.getLogger("zenspec.difftask")

_LOG_TIME = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]", re.M)


# -------------------------------------------------------------------- callbacks
CALLBACK_EVENTS: List[Any] = []


class RecordingCallback(Callback):
    """What callbacks see of each job's full config (hydra node included)."""

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        CALLBACK_EVENTS.append(("start", list(config), OmegaConf.to_yaml(config)))

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        CALLBACK_EVENTS.append(("end", list(config), OmegaConf.to_yaml(config)))
        CALLBACK_EVENTS.append(("ret", list(job_return.cfg), list(job_return.hydra_cfg)))


@dataclass
class Case:
    """One sweep of the corpus.

    ``primary`` and the ``groups`` nodes go to the ConfigStore for the run;
    ``overrides`` are the command line (sweeps included). ``task`` runs per
    job (default: resolve the whole config and log a line). ``expect_fast``
    asserts that the fast loader served jobs from a cached base (so a test
    cannot pass by silently falling back to stock for everything).
    """

    id: str
    primary: Any
    overrides: List[str]
    groups: List[Tuple[str, str, Any, Optional[str]]] = field(default_factory=list)
    task: Optional[Callable[[Any], Any]] = None
    version_base: Optional[str] = "1.3"
    expect_error: bool = False
    expect_fast: bool = True
    allow_fallback: bool = False
    setup: Optional[Callable[[Path], None]] = None  # writes files under <dir>/conf before a run


@dataclass
class Outcome:
    error: Optional[Tuple[str, str]]
    jobs: List[Dict[str, Any]]
    task_views: List[Dict[str, Any]]
    files: Dict[str, str]
    callback_events: List[str]
    stats: Any = None


# Cases that need a fine clock use ${now:%H-%M-%S-%f}: each distinct instant is
# numbered in order of appearance, so "all jobs share the master's instant"
# (Hydra copies the master's resolver cache into each job) is still compared.
_NOW = re.compile(r"\d\d-\d\d-\d\d-\d{6}")


class _Normaliser:
    def __init__(self, cwd: str) -> None:
        self.cwd = cwd
        self.instants: Dict[str, str] = {}

    def _instant(self, m: re.Match[str]) -> str:
        return self.instants.setdefault(m.group(0), f"<NOW{len(self.instants)}>")

    def __call__(self, text: str) -> str:
        text = _LOG_TIME.sub("[<TIME>]", text.replace(self.cwd, "<CWD>"))
        return _NOW.sub(self._instant, text)


def default_task(cfg: Any) -> Any:
    """Resolve everything the job can see and log one line (for the job log)."""
    view = OmegaConf.to_container(cfg, resolve=True)
    log.info("job %s: %s", HydraConfig.get().job.num, view)
    return view


@contextmanager
def _restored_logging() -> Iterator[None]:
    """Hydra reconfigures the root logger per job; give the test its own back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    ours = logging.getLogger("zenspec.difftask")
    try:
        yield
    finally:
        for h in root.handlers:
            if h not in handlers:
                h.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        ours.handlers.clear()


@contextmanager
def _scoped_store(case: Case, config_name: str) -> Iterator[None]:
    cs = ConfigStore.instance()
    saved = _copy_tree(cs.repo)
    try:
        cs.store(name=config_name, node=case.primary)
        for group, name, node, package in case.groups:
            cs.store(group=group, name=name, node=node, package=package)
        yield
    finally:
        cs.repo.clear()
        cs.repo.update(saved)


def _copy_tree(node: Dict[str, Any]) -> Dict[str, Any]:
    return {k: _copy_tree(v) if isinstance(v, dict) else v for k, v in node.items()}


JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


@contextmanager
def _launcher(fast: bool) -> Iterator[None]:
    """With *fast*, sweepers get zenspec's FastLauncher where BasicLauncher is named,
    and validate batches with the fast loader's ``validate_batch``.

    ``Hydra.multirun`` instantiates the sweeper, which instantiates its launcher
    through ``Plugins``; that one call is redirected for the run (zenspec's own
    core calls ``job_runner.instantiate_launcher`` directly).
    """
    if not fast:
        yield
        return
    from zenspec.accelerate import job_runner

    original = Plugins.instantiate_launcher

    def instantiate(self: Any, hydra_context: Any, task_function: Any, config: Any) -> Any:
        target = OmegaConf.select(config, "hydra.launcher._target_", default=None)
        if target == JOBLIB_LAUNCHER:  # as zenspec's core: FastJoblibLauncher
            from hydra.utils import instantiate as hydra_instantiate

            from zenspec.launchers.joblib import FastJoblibLauncher

            launcher = hydra_instantiate(config.hydra.launcher, _target_=FastJoblibLauncher)
            launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
            return launcher
        if target != job_runner.BASIC_LAUNCHER:
            return original(self, hydra_context, task_function, config)
        launcher = job_runner.FastLauncher()
        launcher.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        return launcher

    from hydra.plugins.sweeper import Sweeper

    original_validate = Sweeper.validate_batch_is_legal

    def validate(self: Any, batch: Any) -> None:
        # as zenspec's GridSweeper: the fast loader's batch validation
        validate_batch = getattr(self.hydra_context.config_loader, "validate_batch", None)
        if validate_batch is None:
            original_validate(self, batch)
        else:
            validate_batch(self.config, batch)

    Plugins.instantiate_launcher = instantiate  # type: ignore[method-assign]
    Sweeper.validate_batch_is_legal = validate  # type: ignore[method-assign]
    try:
        yield
    finally:
        Plugins.instantiate_launcher = original  # type: ignore[method-assign]
        Sweeper.validate_batch_is_legal = original_validate  # type: ignore[method-assign]


def run_case(case: Case, loader_cls: type, workdir: Path, job_runner: bool = False) -> Outcome:
    """Run *case* with *loader_cls* (and FastLauncher) in *workdir*; record it all."""
    workdir.mkdir(parents=True)
    if case.setup is not None:
        case.setup(workdir.parent)  # shared by both runs: same absolute paths
    views: List[Dict[str, Any]] = []
    task = case.task or default_task

    def recording_task(cfg: Any) -> Any:
        entry: Dict[str, Any] = {"num": HydraConfig.get().job.num}
        views.append(entry)
        try:
            entry["value"] = task(cfg)
        except Exception as e:
            entry["raised"] = (type(e).__name__, str(e))
            raise
        return entry["value"]

    recording_task.__name__ = "difftask"
    config_name = "diff_primary"
    old_cwd = os.getcwd()
    old_base = VersionBase.instance().version_base
    error = None
    ret: Any = []
    loader = None
    CALLBACK_EVENTS.clear()
    os.chdir(workdir)
    if any(o.startswith("hydra/launcher=joblib") for o in case.overrides):
        # fresh workers, started from this workdir: a reused worker keeps the cwd
        # of the run that started it (stock composes there: hydra.runtime.cwd)
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    try:
        with _scoped_store(case, config_name), _restored_logging(), _launcher(job_runner):
            set_version_base(case.version_base)  # without 1.4's deprecation warning
            loader = loader_cls(config_search_path=create_config_search_path(None))
            hydra = Hydra(task_name="difftask", config_loader=loader)
            GlobalHydra.instance().initialize(hydra)
            try:
                overrides = [
                    o.replace("{conf}", str(workdir.parent / "conf")) for o in case.overrides
                ]
                if not any(o.startswith("hydra.sweep.dir=") for o in overrides):
                    overrides.append("hydra.sweep.dir=multirun")
                ret = hydra.multirun(
                    config_name=config_name,
                    task_function=recording_task,
                    overrides=overrides,
                    with_log_configuration=True,
                )
            except Exception as e:
                error = (type(e).__name__, str(e).replace(str(workdir), "<CWD>"))
    finally:
        GlobalHydra.instance().clear()
        os.chdir(old_cwd)
        VersionBase.instance().version_base = old_base  # as found, even unset

    norm = _Normaliser(str(workdir))
    # files first: the sweep dir (multirun.yaml) numbers the instants
    files = {
        norm(str(p.relative_to(workdir))): norm(p.read_text())
        for p in sorted(workdir.rglob("*"), key=lambda p: (len(p.parts), str(p)))
        if p.is_file()
    }
    jobs = []
    for batch in ret or []:
        for r in batch:
            job: Dict[str, Any] = {
                "status": r.status.name,
                "cfg": norm(OmegaConf.to_yaml(r.cfg)),
                "hydra_cfg": norm(OmegaConf.to_yaml(r.hydra_cfg)),
                # the copy is a tree of its own: its interpolations resolve in it
                "hydra_job_resolved": norm(_resolved(r.hydra_cfg.hydra.job)),
                "overrides": list(r.overrides),
                "working_dir": norm(str(r.working_dir)),
                "task_name": r.task_name,
            }
            if r.status is JobStatus.FAILED:
                job["error"] = (type(r._return_value).__name__, str(r._return_value))
            else:
                job["return_value"] = norm(repr(r.return_value))
            jobs.append(job)
    return Outcome(
        callback_events=[norm(repr(e)) for e in CALLBACK_EVENTS],
        error=error,
        jobs=jobs,
        task_views=[norm(repr(v)) for v in views],
        files=files,
        stats=getattr(loader, "stats", None),
    )


def _resolved(node: Any) -> str:
    """``node`` resolved, or the error resolving it raised (type and message)."""
    try:
        return repr(OmegaConf.to_container(node, resolve=True))
    except Exception as e:
        return f"{type(e).__name__}: {e}"
