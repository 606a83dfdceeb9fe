"""What ``hydra_run`` and ``hydra_multirun`` share: one isolated Hydra session.

A session converts the inputs, registers the config and groups for its
duration, starts Hydra with zenspec's config loader, composes the primary
config, and claims the output directory; on exit everything is put back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple, Union

from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException, HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from zenspec._compatibility import (
    BASIC_LAUNCHER,
    ConfigLoaderImpl,
    Hydra,
    create_config_search_path,
    set_version_base,
)
from zenspec.accelerate.switches import all_off, proven
from zenspec.errors import LaunchError, OverrideError, StorageError, ZenspecError, did_you_mean
from zenspec.launch.isolation import hydra_isolation, scoped_store
from zenspec.launch.overrides import (
    OverridesLike,
    override_key,
    parse_overrides,
    reject_sweeps,
    to_override_list,
    value_to_override,
)
from zenspec.launch.primary import add_group_defaults, make_primary, referenced_groups
from zenspec.launchers import launcher_scope
from zenspec.records.session import claim_output_dir

__all__ = ["Groups", "LaunchSession", "TaskFunction", "launch_session"]


Groups = Optional[Mapping[str, Mapping[str, Any]]]
TaskFunction = Callable[[Any], Any]


# Fast loaders by search path, kept across calls: a script calling hydra_run in a
# loop composes its config once, not every time (the loader's cache notices any
# change to the ConfigStore or to a config file, and the version base is part of
# its keys). Bounded: the least recently used search path is dropped.
_loaders: OrderedDict[Tuple[Tuple[str, str], ...], ConfigLoaderImpl] = OrderedDict()
_MAX_LOADERS = 8


def _make_loader(search_path: Any, fast: bool) -> ConfigLoaderImpl:
    # the composition cache only where it is proven for the installed Hydra, and
    # not where ZENSPEC_FAST=0 asks for stock's path as fast=False does (switches)
    if fast and proven("composition") and not all_off():
        try:
            from zenspec.accelerate.composition_cache import FastConfigLoader
        except ImportError:  # the fast path is optional: stock composition is always right
            pass
        else:
            key = tuple((e.provider or "", e.path or "") for e in search_path.get_path())
            loader = _loaders.get(key)
            if loader is None:
                loader = _loaders[key] = FastConfigLoader(config_search_path=search_path)
                if len(_loaders) > _MAX_LOADERS:
                    _loaders.popitem(last=False)
            else:
                _loaders.move_to_end(key)
            return loader
    return ConfigLoaderImpl(config_search_path=search_path)


@contextmanager
def storage_errors(doing: str = "", ran: bool = False) -> Iterator[None]:
    """An ``OSError`` (disk full, permission denied...) as a :class:`StorageError`.

    For zenspec's and Hydra's own writes (output dirs, records, ``.hydra/*``),
    never around a task: a task's ``OSError`` is the job's failure.
    """
    try:
        yield
    except (StorageError, HydraException):  # MissingConfigException is an IOError
        raise
    except OSError as e:
        raise StorageError.from_os_error(e, doing, ran=ran) from e


def explain_setup_error(e: BaseException, *, ran: bool = False) -> Optional[Exception]:
    """What escaped ``run_job`` before the task ran, as the ZenspecError it amounts to.

    ``run_job`` (stock's, and zenspec's, which ``tests/differential`` holds to
    stock's errors too) keeps the task's own errors in the ``JobReturn``; what it
    raises comes from the job's setup: an interpolation in ``hydra.*`` that does
    not resolve (the job's directory, ``hydra.job.env_set``), a
    ``hydra.job_logging`` that ``logging.config`` refuses, a write the machine
    refuses. Those are input (an :class:`OverrideError`/:class:`LaunchError`
    naming the key, exit 2) or the machine (:class:`StorageError`, exit 74), not
    a failed job. Anything else: None (left as it is).
    """
    from omegaconf.errors import OmegaConfBaseException

    from zenspec.accelerate.logging_setup import logging_config_error

    if isinstance(e, ZenspecError) or not isinstance(e, Exception):
        return None
    if isinstance(e, OSError) and not isinstance(e, HydraException):
        doing = "running the sweep" if ran else "setting up the job"
        return StorageError.from_os_error(e, doing, ran=ran)
    if isinstance(e, (ValueError, TypeError, AttributeError, ImportError)) and re.match(
        r"Unable to configure (handler|formatter|filter|logger|root logger)", str(e)
    ):
        return logging_config_error(e)
    if isinstance(e, OmegaConfBaseException):
        key = getattr(e, "full_key", None) or None
        reason = " ".join(re.split(r"\s+full_key:", str(e))[0].split())
        what = {
            "hydra.sweep.dir": "the job's directory",
            "hydra.sweep.subdir": "the job's directory",
            "hydra.run.dir": "the job's directory",
        }.get(str(key), "a value of the job's Hydra config")
        if str(key).startswith("hydra.job.env_set"):
            what = "an environment variable of the job (hydra.job.env_set)"
        return OverrideError(
            f"{what} could not be resolved, so the job did not run: {type(e).__name__}: {reason}",
            path=key,
            hint="Fix: an interpolation there names a key or resolver that does not exist "
            "(in a job's Hydra config, ${hydra.job.num}, ${hydra.job.override_dirname}, "
            "${hydra:job.name} and ${now:...} do).",
        )
    return None


def job_name_for(task_function: TaskFunction, job_name: Optional[str]) -> str:
    if job_name:
        return job_name
    name = getattr(task_function, "__name__", None) or type(task_function).__name__
    return "task" if name == "<lambda>" else name


def explain_composition_error(
    e: Exception, overrides: List[str], siblings: Optional[Callable[[str], List[str]]] = None
) -> Union[LaunchError, OverrideError]:
    """One paragraph naming the override Hydra refused, and the fix.

    *siblings* maps a key path to the keys beside it in the primary config, for
    a "did you mean" on a misspelt key.
    """
    missing = _missing_option(e, overrides)
    if missing is not None:
        return missing
    # Hydra appends its config search path to "not found" errors: noise for a user
    text = " ".join(str(e).split("\nConfig search path:")[0].split())
    # "Error merging override b=[]" names its key without quotes (a list into a table)
    named = re.search(r"Error merging override [+~]*([^=\s]+)=", text) or re.search(
        r"'([^']+)'", text
    )
    cause = e.__cause__
    # OmegaConf's reason (the field's type, the value it got) is in the cause;
    # its "full_key: ... object_type=..." trailer repeats what the message says
    reason = " ".join(re.split(r"\s+full_key:", str(cause or ""))[0].split())
    if reason and reason not in text:
        text = f"{text} ({reason})"
    user = [o for o in overrides if not o.startswith("hydra.mode=")]
    culprit = next((o for o in user if named and override_key(o) == named.group(1)), None)
    hint = None
    if "No match in the defaults list" in text:
        hint = (
            "Fix: no config group of that name is registered; register it (groups=...) "
            "or use +key=value to add a new key."
        )
    elif "is not in struct" in text or "Could not override" in text:
        close = (
            did_you_mean(named.group(1).rsplit(".", 1)[-1], siblings(named.group(1)))
            # omegaconf 2.4 makes its own suggestion: one is enough
            if (named and siblings and "did you mean" not in text.lower())
            else ""
        )
        hint = (
            close.strip() + " " if close else ""
        ) + "Fix: check the key's spelling; use +key=value to add a key the config lacks."
    what = f"override {culprit!r}" if culprit else f"the overrides {user}"
    err = OverrideError if isinstance(e, ConfigCompositionException) else LaunchError
    return err(
        f"{what} could not be applied to the config: {text}",
        path=named.group(1) if named else None,
        hint=hint,
    )


def _missing_option(e: BaseException, overrides: List[str]) -> Optional[OverrideError]:
    """A group option that does not exist (``optim=adamw``, ``hydra/launcher=jobib``), or None.

    One paragraph: the override, the group's options, a "did you mean"; its
    ``path`` is the group (``optim``, ``hydra/launcher``).
    """
    from hydra.errors import MissingConfigException

    found: Optional[BaseException] = e
    while found is not None and not isinstance(found, MissingConfigException):
        found = found.__cause__
    if found is None or not getattr(found, "missing_cfg_file", None):
        return None
    assert isinstance(found, MissingConfigException)
    if str(found).lstrip().startswith("Cannot find primary config"):
        return None
    missing = str(found.missing_cfg_file)
    options = [str(o) for o in (found.options or [])]
    user = [o for o in overrides if not o.startswith("hydra.mode=")]
    culprit = group = option = None
    for line in reversed(user):
        key, value = override_key(line), line.partition("=")[2]
        if "=" in line and missing == f"{key}/{value}":
            culprit, group, option = line, key, value
            break
    if group is None or option is None:
        group, _, option = missing.rpartition("/")
        # a sweep over the group (optim=sgd,adamx): the line that named it
        culprit = next(
            (o for o in reversed(user) if override_key(o) == group),
            None,
        )
    close = did_you_mean(option, options)
    if group.startswith("hydra/"):
        kind = group.rsplit("/", 1)[-1]
        listed = f"installed: {', '.join(options)}" if options else "none is installed"
        what = f"no {kind} {option!r} ({listed})."
        example = " (e.g. hydra-joblib-launcher)" if kind == "launcher" else ""
        hint = f"Fix: use one of the installed {kind}s; another needs its plugin package{example}."
    else:
        listed = f"it has: {', '.join(options)}" if options else "it has none"
        what = f"group {group!r} has no option {option!r} ({listed})."
        hint = f"Fix: use one of the options of {group!r}, or add it to the group."
    head = f"override {culprit!r}" if culprit else f"the defaults list selects {missing!r}"
    return OverrideError(f"{head}: {what}{close}", path=group, hint=hint)


@dataclass
class LaunchSession:
    """A started Hydra, the composed primary config and where outputs go."""

    hydra: Hydra
    job_name: str
    config_name: str
    overrides: List[str]
    parsed: List[Override]
    mode: RunMode
    with_log_configuration: bool
    cfg: Optional[DictConfig] = None
    output_dir: Optional[str] = None
    # HydraConfig set to cfg for the session (a ${hydra:...} in the output dir)
    sets_hydra_config: bool = False
    # what the session holds until it ends (the sweep dir's write lock)
    holds: contextlib.ExitStack = dataclasses.field(default_factory=contextlib.ExitStack)

    def compose(self) -> DictConfig:
        try:
            self.cfg = self.hydra.compose_config(
                config_name=self.config_name,
                overrides=self.overrides,
                run_mode=self.mode,
                with_log_configuration=self.with_log_configuration,
            )
        except (ConfigCompositionException, HydraException) as e:
            raise explain_composition_error(e, self.overrides, self._siblings) from e
        except ValueError as e:  # Hydra's override checks, e.g. "+=inf": bad input
            raise OverrideError(
                f"the overrides {self.user_overrides()} could not be applied: "
                + " ".join(str(e).split()),
                hint="Fix: write each override as key=value (Hydra's grammar), "
                "group=option for a config group.",
            ) from e
        return self.cfg

    def user_overrides(self) -> List[str]:
        return [o for o in self.overrides if not o.startswith("hydra.mode=")]

    def _siblings(self, key: str) -> List[str]:
        """Keys next to *key* in the primary config as stored (no composition)."""
        try:
            node = ConfigStore.instance().load(f"{self.config_name}.yaml").node
            parent = OmegaConf.select(node, key.rpartition(".")[0]) if "." in key else node
        except Exception:  # a "did you mean" is a courtesy; never fail the report on it
            return []
        return [str(k) for k in parent] if isinstance(parent, DictConfig) else []

    def claim_output_dir(self, resume: bool = False, lock: bool = True) -> str:
        """Resolve and claim the run/sweep dir; recompose if it had to move.

        With *lock*, the directory's records are locked for this session (one
        writer per sweep dir: :mod:`zenspec.records.lock`), and only then are an
        earlier run's records in a reused directory moved aside.
        """
        assert self.cfg is not None
        key = "hydra.run.dir" if self.mode is RunMode.RUN else "hydra.sweep.dir"
        # A literal path is the user's to reuse, as Hydra would; a template such
        # as multirun/${now:%H-%M-%S} is a generated name and must be unique.
        explicit = any(o.key_or_group == key and "${" not in str(o.value()) for o in self.parsed)
        directory = self.resolve_output_dir(key)  # caches ${now:...} in cfg
        what = "run" if self.mode is RunMode.RUN else "sweep"
        with storage_errors(f"creating the {what} directory"):
            moved = claim_output_dir(directory, explicit=explicit, resume=resume)
            if lock:
                from zenspec.records.lock import sweep_lock
                from zenspec.records.session import archive_old_records

                claimed = moved or directory
                self.holds.enter_context(sweep_lock(claimed))
                if explicit and not resume:
                    archive_old_records(claimed)
        launcher = OmegaConf.select(self.cfg, "hydra.launcher._target_", default=None)
        if launcher != BASIC_LAUNCHER and not os.path.isabs(moved or directory):
            # Worker processes are reused across calls (loky) and keep the cwd they
            # started in; an absolute dir makes every job write where this call said.
            moved = os.path.abspath(moved or directory)
        if moved is not None:
            # Claimed elsewhere this second (or made absolute): the config, and each
            # job composed from it, must say so. A plain value of Hydra's node changes
            # nothing else in composition, so it is set where a recomposition with the
            # override would have put it (the value, and the override in
            # hydra.overrides.hydra, from which launchers compose the jobs).
            override = f"{key}={value_to_override(moved)}"
            self.overrides.append(override)
            with read_write(self.cfg.hydra), open_dict(self.cfg.hydra):
                OmegaConf.update(self.cfg, key, moved, merge=False)
                self.cfg.hydra.overrides.hydra.append(override)
            directory = moved
            if self.sets_hydra_config:
                HydraConfig.instance().set_config(self.cfg)
        self.output_dir = directory
        return directory

    def resolve_output_dir(self, key: str) -> str:
        """``hydra.run.dir``/``hydra.sweep.dir`` resolved, ``${hydra:...}`` included.

        Stock ``run_job`` sets ``HydraConfig`` before it resolves the job's
        directory, so ``out/${hydra:runtime.version}`` works there. The session
        resolves (and claims) the directory before any job: when the value needs
        ``HydraConfig``, it is set to this session's config until the session
        ends (every reader of the sweep dir before the jobs, the sweeper's and
        the launcher's, then resolves it as a job would). An interpolation that
        cannot be resolved at all is an :class:`OverrideError` naming the key.
        """
        assert self.cfg is not None
        try:
            return str(OmegaConf.select(self.cfg, key))
        except Exception as e:
            if HydraConfig.initialized():
                raise self._unresolved(key, e) from e
        HydraConfig.instance().set_config(self.cfg)
        self.sets_hydra_config = True
        try:
            return str(OmegaConf.select(self.cfg, key))
        except Exception as e:
            raise self._unresolved(key, e) from e

    def _unresolved(self, key: str, error: Exception) -> OverrideError:
        culprit = next(
            (o for o in reversed(self.user_overrides()) if override_key(o) == key),
            None,
        )
        reason = " ".join(re.split(r"\s+full_key:", str(error))[0].split())
        what = f"override {culprit!r}" if culprit else key
        return OverrideError(
            f"{what}: the {'run' if key == 'hydra.run.dir' else 'sweep'} directory could not "
            f"be resolved, so no job ran: {type(error).__name__}: {reason}",
            path=key,
            hint="Fix: an interpolation in it names a key or resolver that does not exist; "
            "use keys of the config (${hydra:job.name}, ${now:%H-%M-%S}, ${oc.env:VAR}).",
        )


@contextmanager
def launch_session(
    *,
    config: Any,
    task_function: TaskFunction,
    overrides: OverridesLike,
    groups: Groups,
    config_name: str,
    job_name: Optional[str],
    version_base: Optional[str],
    with_log_configuration: bool,
    fast: bool,
    mode: RunMode,
    extra_overrides: Tuple[str, ...] = (),
) -> Iterator[LaunchSession]:
    """Convert inputs, register configs, start Hydra; undo all of it on exit."""
    name = job_name_for(task_function, job_name)
    override_list = to_override_list(overrides) + list(extra_overrides)
    parsed = parse_overrides(override_list)
    if mode is RunMode.RUN:
        reject_sweeps(parsed)
    given = [o for o in parsed if o.key_or_group == "hydra.mode"]
    if not given:
        # as hydra.main does, so jobs see hydra.mode (it lands in hydra.overrides.hydra)
        override_list.append(f"hydra.mode={mode.name}")
    elif mode is RunMode.MULTIRUN and str(given[-1].value()) == "RUN":
        # as hydra.main with --multirun: warned, and the sweep runs (and says) MULTIRUN
        warnings.warn(
            "\n\tRunning Hydra app with --multirun, overriding with `hydra.mode=MULTIRUN`.",
            UserWarning,
            stacklevel=3,
        )
        override_list.append("hydra.mode=MULTIRUN")
    primary = make_primary(config)
    from zenspec.sweepers import store_entries  # here: zenspec.sweepers imports the launch layer

    # hydra/sweeper=zenspec_random|zenspec_optuna, for this launch only (user groups win)
    entries: List[Tuple[Optional[str], str, Any]] = list(store_entries())
    for group, options in (groups or {}).items():
        if not isinstance(options, Mapping):
            raise LaunchError(
                f"groups[{group!r}] must map option names to configs, got {type(options).__name__}."
            )
        entries.extend((group, option, node) for option, node in options.items())

    # launcher_scope: hydra/launcher=ray for this call, and what launchers started, undone
    with hydra_isolation(), launcher_scope(), scoped_store(entries):
        add_group_defaults(primary, referenced_groups(primary, parsed))
        with scoped_store([(None, config_name, primary)]):
            set_version_base(version_base)
            loader = _make_loader(create_config_search_path(None), fast)
            hydra = Hydra(task_name=name, config_loader=loader)
            GlobalHydra.instance().initialize(hydra)
            session = LaunchSession(
                hydra=hydra,
                job_name=name,
                config_name=config_name,
                overrides=override_list,
                parsed=parsed,
                mode=mode,
                with_log_configuration=with_log_configuration,
            )
            with session.holds:
                yield session
