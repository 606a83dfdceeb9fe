"""The checks :mod:`zenspec.spec.preflight` runs on each composed job config.

:class:`JobChecks` walks a composed config (Hydra's own node left out) and
collects :class:`~zenspec.errors.Problem`\\ s placed at the spec key each value
came from (a group option's file position, ``[config]``, ``[sweep]``), or
naming the command-line override that set it:

- ``"???"`` values nobody set (``OmegaConf.is_missing``);
- interpolations that do not resolve (cycles, unknown keys or resolvers),
  resolved with OmegaConf itself, ``HydraConfig`` set for the job;
- every node with a ``_target_`` (and the experiment's ``target``) against the
  callable's signature: keys it does not take, values against its annotations
  (:mod:`zenspec.spec.annotations`);
- swept values and sampled bounds against the annotation of the key they set.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Tuple

from zenspec.errors import Problem, ZenspecError
from zenspec.launch.overrides import override_key
from zenspec.spec.annotations import (
    hint_text,
    keyword_names,
    not_a_parameter,
    param_hints,
    takes_any_keyword,
    type_problem,
)
from zenspec.spec.imports import ImportFailure, resolve
from zenspec.spec.model import Spec
from zenspec.spec.parse import KeyPath

__all__ = ["JobChecks"]

_Params = Tuple[inspect.Signature, Dict[str, Any]]  # a target's signature and annotations


class JobChecks:
    """Problems found in composed job configs of one spec (with its CLI overrides)."""

    def __init__(self, spec: Spec, cli: List[str]) -> None:
        self.spec = spec
        self.cli = cli
        self.problems: List[Problem] = []
        self.first: Any = None  # job 0's composed config, for swept values
        self._targets: Dict[str, Optional[_Params]] = {}
        self.sampled: List[Tuple[str, Any]] = []  # (key, interval) a sampler draws from
        self.swept: List[Tuple[str, Any]] = []  # (key, value) of the grid, not composed

    # -- where a key came from ---------------------------------------------------------
    def _cli_line(self, key: str) -> Optional[str]:
        key = key.replace("/", ".")
        for line in reversed(self.cli):
            k = override_key(line).replace("/", ".")
            if key == k or key.startswith(k + "."):
                return line
        return None

    def place(self, parts: Tuple[Any, ...], cfg: Any = None) -> Tuple[KeyPath, Optional[str]]:
        """The spec key path a composed key came from, and the CLI override that set it.

        A key the command line set is the command line's: its path is ``()``.
        """
        from omegaconf import OmegaConf

        key = ".".join(str(p) for p in parts)
        line = self._cli_line(key)
        swept = self.spec.sweep_paths.get(key) or self.spec.sweep_paths.get("+" + key)
        if line:
            return (), line
        if parts and parts[0] == "hydra":
            return ("hydra", *parts[1:]), None
        if swept:
            return swept, None
        choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None) if cfg else None
        for group in sorted(self.spec.groups, key=len, reverse=True):
            gparts = tuple(group.split("/"))
            option = (choices or {}).get(group) or self.spec.defaults.get(group)
            if (
                tuple(map(str, parts[: len(gparts)])) == gparts
                and option in self.spec.groups[group]
            ):
                return ("groups", group, option, *parts[len(gparts) :]), None
        if (
            self.spec.experiment.config_class
            and ("config", parts[0]) not in self.spec.source.positions
        ):
            return ("experiment", "config_class"), None  # a default of the config class
        return ("config", *parts), None

    def problem(self, path: KeyPath, line: Optional[str], message: str, hint: Any) -> Problem:
        if line:  # the command line's, not the file's
            return Problem(f"override '{line}': {message}", hint=hint)
        return self.spec.problem(path, message, hint)

    def add(
        self, parts: Tuple[Any, ...], cfg: Any, message: str, hint: Optional[str] = None
    ) -> None:
        self.problems.append(self.problem(*self.place(parts, cfg), message, hint))

    def from_error(self, error: ZenspecError) -> List[Problem]:
        """A composition error as problems, placed in the spec when its key is there."""
        out = []
        # ``problems`` is empty only for an error raised with no message: its own fields
        fallback = Problem(
            error.message, error.file, error.path, error.line, error.column, error.hint
        )
        for p in error.problems or (fallback,):
            key = (p.path or "")[2:] if (p.path or "").startswith("$.") else (p.path or "")
            if p.file is None and key and not self._cli_line(key.replace("/", ".")):
                path = self._spec_path(key)
                if path is not None:
                    p = self.spec.problem(path, p.message, p.hint)
            out.append(p)
        return out

    def _spec_path(self, key: str) -> Optional[KeyPath]:
        parts = tuple(key.replace("/", ".").split("."))
        if parts[0] == "hydra" and len(parts) > 1:
            if parts[1] == "launcher":
                return ("launcher", *parts[2:]) if len(parts) > 2 else ("launcher", "kind")
            if parts[1] == "sweeper":
                return ("sweeper", *parts[2:]) if len(parts) > 2 else ("sweeper", "kind")
            return ("hydra", *parts[1:])
        if key in self.spec.sweep_paths:
            return self.spec.sweep_paths[key]
        if parts[0] in self.spec.groups:
            return ("groups", parts[0])
        return ("config", *parts)

    def _swept_from(self, key: str) -> Tuple[KeyPath, Optional[str]]:
        """Where the sweep of *key* was written: the spec's ``[sweep]`` or an override."""
        line = self._cli_line(key.lstrip("+~"))
        return (() if line else self.spec.sweep_paths.get(key, ("sweep",))), line

    def job_error(self, error: ZenspecError, key: Optional[str]) -> List[Problem]:
        """A job that does not compose, placed at the swept *key* whose value made it."""
        if key is None or error.file is not None:
            return self.from_error(error)
        return [self.problem(*self._swept_from(key), error.message, error.hint)]

    def sweep_problem(self, key: str, what: str) -> None:
        """A sweep of *key* (the spec's or the command line's) that gives no jobs."""
        path, line = self._swept_from(key)
        value = (line or "").partition("=")[2] or "the sweep"
        self.problems.append(self.problem(path, line, f"'{value}' {what}", None))

    def from_exception(self, e: BaseException, doing: str) -> List[Problem]:
        text = " ".join(str(e).split())
        return [
            Problem(f"{doing} failed: {type(e).__name__}: {text}", file=self.spec.file, path="$")
        ]

    def dedupe(self) -> List[Problem]:
        seen = set()
        out = []
        for p in self.problems:
            if (p.path, p.message) not in seen:
                seen.add((p.path, p.message))
                out.append(p)
        return out

    # -- one composed job --------------------------------------------------------------
    def job(self, cfg: Any, label: str, multirun: bool = False) -> None:
        if self.first is None:
            self.first = cfg
        self._walk(cfg, cfg, (), label)
        self._hydra_values(cfg, label, multirun)
        if self.spec.experiment.target:
            self._call(cfg, cfg, (), self.spec.experiment.target, label)

    def _hydra_values(self, cfg: Any, label: str, multirun: bool) -> None:
        """The values of Hydra's own config a job resolves before it runs."""
        from omegaconf import DictConfig, OmegaConf

        where = ("sweep.dir", "sweep.subdir") if multirun else ("run.dir",)
        for key in (*where, "output_subdir", "job.name"):
            parent, _, leaf = f"hydra.{key}".rpartition(".")
            node = OmegaConf.select(cfg, parent, default=None)
            # not `leaf in node`: that is False for a value that does not resolve
            if isinstance(node, DictConfig) and leaf in list(node):
                self._leaf(cfg, node, tuple(parent.split(".")), leaf, label)
        env = OmegaConf.select(cfg, "hydra.job.env_set", default=None)
        if isinstance(env, DictConfig):
            self._walk(cfg, env, ("hydra", "job", "env_set"), label)

    def _walk(self, cfg: Any, node: Any, parts: Tuple[Any, ...], label: str) -> None:
        from omegaconf import DictConfig

        keys = list(node.keys()) if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            if not parts and key == "hydra":
                continue
            self._leaf(cfg, node, parts, key, label)

    def _leaf(self, cfg: Any, node: Any, parts: Tuple[Any, ...], key: Any, label: str) -> None:
        """One value: set, resolvable; a container is walked, a target's call checked."""
        from omegaconf import DictConfig, ListConfig, OmegaConf

        here = (*parts, key)
        if OmegaConf.is_missing(node, key):
            name = ".".join(map(str, here))
            self.add(
                here,
                cfg,
                f"'{name}' is '???', a required value, and {label} does not set it.",
                f"Fix: give it a value in the spec, or on the command line: zenspec run SPEC {name}=...",
            )
            return
        if OmegaConf.is_interpolation(node, key):
            try:
                node[key]
            except Exception as e:  # cycles, missing keys, unknown resolvers
                text = " ".join(str(e).split("\n")[0].split())
                self.add(
                    here,
                    cfg,
                    f"the interpolation does not resolve in {label}: {type(e).__name__}: {text}",
                    "Fix: use keys of the config and Hydra's (${hydra:job.name}, "
                    "${now:%H-%M-%S}, ${oc.env:VAR})."
                    if here[0] == "hydra"
                    else "Fix: point it at a key of the config, or register the resolver "
                    "(OmegaConf.register_new_resolver) in a module the spec imports.",
                )
            return
        child = node[key]
        if isinstance(child, (DictConfig, ListConfig)):
            self._walk(cfg, child, here, label)
            if isinstance(child, DictConfig) and isinstance(child.get("_target_"), str):
                self._call(cfg, child, here, child["_target_"], label)

    def _params(self, target: str) -> Optional[_Params]:
        if target not in self._targets:
            try:
                obj = resolve(target)
                self._targets[target] = (inspect.signature(obj), param_hints(obj))
            except (ImportFailure, TypeError, ValueError):  # imports are the static checks'
                self._targets[target] = None
        return self._targets[target]

    def _call(self, cfg: Any, node: Any, parts: Tuple[Any, ...], target: str, label: str) -> None:
        """The keys of *node* against *target*'s parameters and their annotations."""
        from omegaconf import DictConfig, ListConfig, OmegaConf

        got = self._params(target)
        if got is None:
            return
        sig, hints = got
        open_kwargs = takes_any_keyword(sig)
        names = keyword_names(sig)
        for key in node:
            key = str(key)
            if (not parts and key == "hydra") or (key.startswith("_") and key.endswith("_")):
                continue
            if key not in names:
                if not open_kwargs:
                    self.add((*parts, key), cfg, not_a_parameter(key, target, sig))
                continue
            if key not in hints or OmegaConf.is_missing(node, key):
                continue
            try:
                value = node[key]
                if isinstance(value, (DictConfig, ListConfig)):
                    value = OmegaConf.to_container(value, resolve=True)
            except Exception:  # reported by the walk
                continue
            self._judge((*parts, key), cfg, value, target, sig.parameters[key], hints[key])

    def _judge(
        self,
        here: Tuple[Any, ...],
        cfg: Any,
        value: Any,
        target: str,
        param: inspect.Parameter,
        hint: Any,
        swept: bool = False,
    ) -> None:
        """*value* for *target*'s parameter against its annotation *hint*."""
        if value is None and param.default is None:
            return  # ``x: int = None``: None is the documented "not given"
        why = type_problem(value, hint)
        if why:
            prefix = f"the swept value {value!r}: " if swept else ""
            self.add(
                here,
                cfg,
                f"{prefix}{why}, but {target}'s parameter '{param.name}' is annotated "
                f"{hint_text(hint)}.",
                "Fix: sweep values of that type, or correct the annotation."
                if swept
                else "Fix: give a value of that type (TOML/YAML: quotes make a string), "
                "or correct the annotation.",
            )

    # -- values not composed ---------------------------------------------------------------
    def _hint_for(self, key: str) -> Optional[Tuple[str, str, Any, Any]]:
        """(target, parameter, inspect.Parameter, annotation) a swept key sets, if known."""
        from omegaconf import DictConfig, OmegaConf

        parts = key.lstrip("+~").split(".")
        if len(parts) == 1:
            target = self.spec.experiment.target
        else:
            parent = OmegaConf.select(self.first, ".".join(parts[:-1]), default=None)
            target = parent.get("_target_") if isinstance(parent, DictConfig) else None
        if not isinstance(target, str):
            return None
        got = self._params(target)
        if got is None or parts[-1] not in got[1] or parts[-1] not in got[0].parameters:
            return None
        return target, parts[-1], got[0].parameters[parts[-1]], got[1][parts[-1]]

    def swept_values(self) -> None:
        """Swept values of plain keys (not composed) against their parameters' annotations."""
        if self.first is None:
            return
        swept, self.swept = self.swept, []
        for key, value in swept:
            self._swept_value(key, value)

    def _swept_value(self, key: str, value: Any) -> None:
        found = self._hint_for(key)
        if found is not None:
            target, _, param, hint = found
            here = tuple(key.lstrip("+~").split("."))
            self._judge(here, self.first, value, target, param, hint, swept=True)

    def intervals(self) -> None:
        """Sampled keys (``interval``) whose parameter cannot take a number."""
        for key, interval in self.sampled:
            found = self._hint_for(key) if self.first is not None else None
            if found is None:
                continue
            target, name, _, hint = found
            if type_problem(1.5, hint) and type_problem(1, hint):
                self.problems.append(
                    self.spec.problem(
                        self.spec.sweep_paths.get(key) or ("sweep",),
                        f"'{interval}' samples numbers, but {target}'s parameter '{name}' is "
                        f"annotated {hint_text(hint)}.",
                        "Fix: sweep a choice(...) of values of that type instead.",
                    )
                )
        self.sampled = []
