"""Semantic checks of the ``[hydra]`` table against Hydra's own config schema.

Every ``[hydra]`` key becomes a ``hydra.<key>=<value>`` override, which Hydra
applies to its structured ``HydraConf``: a misspelt key (``job.nmae``) or a
value of the wrong type (``job.chdir = "maybe"``) fails only when a job is
composed. Here the same ``HydraConf`` (imported from Hydra, not copied) is
walked key by key and each value is assigned to a copy with OmegaConf, so the
problem is reported with its line and a "did you mean" before anything runs.
Open tables (``job.env_set``, ``callbacks``, the logging configs) take any key.

``hydra.conf`` runs ``hydra/__init__.py``, which imports most of Hydra: it is
imported only for a spec that has a ``[hydra]`` table, and if it cannot be
(Hydra's internals moved), this one check is skipped with a note.

A mixin of :class:`zenspec.spec.semantic._Checker`, which provides ``spec``
and ``add``.
"""

from __future__ import annotations

from functools import cache
from typing import Any, FrozenSet, Tuple

from zenspec.errors import did_you_mean
from zenspec.spec.parse import KeyPath

__all__ = ["HydraChecks", "logging_options"]

_LOGGING_GROUPS = ("job_logging", "hydra_logging")


@cache
def logging_options(group: str) -> FrozenSet[str]:
    """The options of Hydra's ``hydra/<group>`` config group, as Hydra ships them."""
    from importlib.resources import files

    try:
        entries = files("hydra.conf").joinpath("hydra").joinpath(group).iterdir()
        return frozenset(e.name[: -len(".yaml")] for e in entries if e.name.endswith(".yaml"))
    except (OSError, ModuleNotFoundError, TypeError):  # an unusual install: do not guess
        return frozenset()


def _hydra_conf() -> Any:
    from hydra.conf import HydraConf
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(HydraConf)
    OmegaConf.set_struct(cfg, True)
    return cfg


class HydraChecks:
    spec: Any

    def add(self, path: KeyPath, message: str, hint: Any = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def note(self, message: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def hydra_keys(self) -> None:
        """Each ``[hydra]`` key exists in Hydra's config, and takes its value."""
        if not self.spec.hydra:
            return
        try:
            from omegaconf import OmegaConf
            from omegaconf.errors import OmegaConfBaseException

            conf = _hydra_conf()
        except Exception as e:  # Hydra's internals moved: skip this one check, say so
            self.note(
                f"{self.spec.file}: [hydra] keys not checked against Hydra's config, which "
                f"cannot be imported ({type(e).__name__}: {e})."
            )
            return
        from zenspec.spec.compile import _flatten, convert_value

        for key in _LOGGING_GROUPS:
            value = self.spec.hydra.get(key)
            options = logging_options(key)
            if isinstance(value, str) and options and value not in options:
                self.add(
                    ("hydra", key),
                    f"Hydra has no {key} option '{value}' (it has: {', '.join(sorted(options))})."
                    + did_you_mean(value, options),
                    f"Fix: name one of those options, or give a logging config as a table "
                    f"([hydra.{key}] with version = 1, formatters, handlers, root).",
                )
        # the leaves spec_overrides writes as hydra.<key>=<value>
        for dotted, value in _flatten(self.spec.hydra, ""):
            parts = tuple(dotted.split("."))
            if parts[0] in _LOGGING_GROUPS and isinstance(self.spec.hydra[parts[0]], str):
                continue
            if not self._known(conf, parts):
                continue  # unknown (reported), or free-form: any value goes
            try:
                OmegaConf.update(conf, ".".join(parts), convert_value(value), merge=True)
            except OmegaConfBaseException as e:
                reason = " ".join(str(e).split("\n")[0].split())
                self.add(
                    ("hydra", *parts),
                    f"hydra.{'.'.join(parts)} cannot be {value!r}: {reason}",
                )
            except Exception:  # a value OmegaConf cannot hold is the schema's to report
                continue

    def _known(self, conf: Any, parts: Tuple[str, ...]) -> bool:
        """Whether ``hydra.<parts>`` is a typed key of Hydra's config; adds the problem
        if it is not a key at all (a key of a free-form table is False, unreported)."""
        from omegaconf import DictConfig, OmegaConf

        node = conf
        for i, part in enumerate(parts):
            if not isinstance(node, DictConfig):
                where = "hydra." + ".".join(parts[:i])
                self.add(
                    ("hydra", *parts[: i + 1]),
                    f"{where} is a single value in Hydra's config, not a table: it has no "
                    f"key '{part}'.",
                )
                return False
            if OmegaConf.get_type(node) is dict:  # an open table: any key
                return False
            names = [str(k) for k in node]  # `part in node` is False for a "???" key
            if part not in names:
                where = "hydra" + "".join("." + p for p in parts[:i])
                self.add(
                    ("hydra", *parts[: i + 1]),
                    f"'{part}' is not a key of {where} in Hydra's config."
                    + did_you_mean(part, names),
                    f"Keys of {where}: {', '.join(names)}.",
                )
                return False
            if OmegaConf.is_missing(node, part):  # launcher, sweeper, logging: free-form
                return False
            node = OmegaConf.select(node, part, throw_on_resolution_failure=False)
        return True
