"""Targets Hydra's instantiate would refuse (``os.system``, ``builtins.eval``...),
refused before anything runs, by name: nothing is imported.

A mixin of :class:`zenspec.spec.semantic._Checker`, plus :func:`policy_refusal`.

The policy is Hydra's (asked, never copied), and importing it imports most of
Hydra. So Hydra is asked only about the names its policy can refuse at all
(:func:`may_be_refused`): those in the standard library (``os``, ``builtins``,
``subprocess``...), Hydra or OmegaConf, in any module the installed policy's
source names (``dill``, ``cloudpickle``...: read as text, not run), and names
with a private or dunder part; ``tests/test_layers.py`` checks every name on
the installed Hydra's lists passes that filter. A user's own ``pkg.mod:fn`` or ``torch.optim:SGD`` costs
no import. If the policy cannot be imported (Hydra's internals moved), the
check is skipped with a note; Hydra still applies its policy when a job runs.

Hydra's verdicts on the other names (``builtins:dict``...) are kept in
``~/.cache/zenspec/target-policy.json`` (:mod:`zenspec.spec.facts`), under a
fingerprint of what they depend on: the installed Hydra's policy files (path,
size, mtime), ``HYDRA_INSTANTIATE_ALLOWLIST_OVERRIDE`` and this module. An
upgrade of Hydra changes the fingerprint, and the verdicts are asked again.
``ZENSPEC_NO_CACHE=1`` turns the cache off.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from zenspec.spec import facts
from zenspec.spec.parse import KeyPath

__all__ = ["PolicyChecks", "PolicyUnavailable", "may_be_refused", "policy_refusal"]

#: top-level modules whose names Hydra's policy may list, besides the standard library
_POLICY_MODULES = frozenset({"hydra", "omegaconf", "builtins", "posix", "nt", "_sitebuiltins"})
_STDLIB: Optional[FrozenSet[str]] = getattr(sys, "stdlib_module_names", None)  # 3.10+


class PolicyUnavailable(Exception):
    """Hydra's target policy cannot be imported: the names are not checked."""


def may_be_refused(name: str) -> bool:
    """Whether Hydra's policy could refuse the dotted *name* at all (else: no need to ask).

    True for names in the standard library, Hydra or OmegaConf, in a module the
    installed policy's source mentions, and for any name with a private or
    dunder part; for everything when the policy's source is not where Hydra
    keeps it, and on Python 3.9 (no list of the standard library's modules).
    """
    parts = name.split(".")
    named = _named_modules()
    if _STDLIB is None or named is None:
        return True
    if parts[0] in _STDLIB or parts[0] in _POLICY_MODULES or parts[0] in named:
        return True
    return any(p.startswith("_") for p in parts)


#: a quoted dotted name in the policy's source: "dill.loads", 'yaml.load'
_QUOTED_NAME = re.compile(r"""["']([A-Za-z_][A-Za-z0-9_]*)\.[A-Za-z_][A-Za-z0-9_.]*["']""")


def _policy_files() -> List[str]:
    """Hydra's policy modules' files, found without importing Hydra."""
    return facts.package_files(
        "hydra", [os.path.join("_internal", n) for n in ("execution_policy.py", "target_policy.py")]
    )


@functools.cache  # read once per process
def _named_modules() -> Optional[FrozenSet[str]]:
    """The top-level modules of the names quoted in the policy's source; None if unread."""
    names = set()
    files = _policy_files()
    try:
        for path in files:
            with open(path, encoding="utf-8") as f:
                names.update(_QUOTED_NAME.findall(f.read()))
    except (OSError, UnicodeDecodeError):
        return None
    return frozenset(names) if files else None


class PolicyChecks:
    spec: Any

    def add(self, path: KeyPath, message: str, hint: Any = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def policy(self) -> None:
        """Targets Hydra's instantiate would refuse, refused now, by name (nothing imported)."""
        exp = self.spec.experiment
        for key in ("target", "task"):
            self.refused(("experiment", key), getattr(exp, key))
        roots: List[tuple] = [(("config",), self.spec.config)]
        roots += [(("groups", g, o), n) for g, opts in self.spec.groups.items() for o, n in opts.items()]  # fmt: skip
        roots.append((("hydra", "callbacks"), self.spec.hydra.get("callbacks", {})))
        for key, value in self.spec.sweeper.params.items():
            roots.append((("sweeper", key), value))
        for path, value in roots:
            stack = [(path, value)]
            while stack:
                where, node = stack.pop()
                if isinstance(node, list):
                    stack.extend(((*where, i), v) for i, v in enumerate(node))
                elif isinstance(node, dict):
                    for key in ("_target_", "_ref_"):
                        if isinstance(node.get(key), str):
                            self.refused((*where, key), node[key])
                    stack.extend(((*where, k), v) for k, v in node.items())

    def note(self, message: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def refused(self, path: KeyPath, target: Optional[str]) -> None:
        try:
            reason = _refusal(target) if target else None
        except PolicyUnavailable as e:
            self.note(f"{self.spec.file}: target {target!r} not checked against {e}")
            return
        if reason:
            self.add(
                path,
                f"'{target}' is refused by Hydra's instantiate target policy: {reason}",
                "Fix: call it from your own task function (code you wrote), not from a spec.",
            )


def policy_refusal(target: str) -> Optional[str]:
    """Why Hydra's instantiate would refuse *target* (a spec import path), or None.

    hydra-core >= 1.3.8 blocklists targets such as ``os.system``,
    ``subprocess.run``, ``builtins.eval`` and ``shutil.rmtree``, and references
    into ``hydra._internal``. A spec naming one would only fail once a job
    runs; this asks the same policy, by name, before anything starts. (The
    policy is still applied when the job instantiates: this is the early word.)
    None too when the policy cannot be imported.
    """
    try:
        return _refusal(target)
    except PolicyUnavailable:
        return None


def _refusal(target: str) -> Optional[str]:
    """:func:`policy_refusal`, raising :class:`PolicyUnavailable` if Hydra's cannot be asked."""
    from zenspec.spec.imports import hydra_path

    name = hydra_path(target)
    if not may_be_refused(name):
        return None
    cache = _Verdicts.load()
    if cache is not None and name in cache.verdicts:
        return cache.verdicts[name]
    reason, sure = _ask_hydra(name)
    if cache is not None and sure:
        cache.save(name, reason)
    return reason


def _ask_hydra(name: str) -> Tuple[Optional[str], bool]:
    """Hydra's verdict on *name*, and whether it is Hydra's (False: it could not say)."""
    try:
        from hydra.errors import InstantiationException

        from zenspec._compatibility import authorize_target_name, has_target_policy

        if not has_target_policy():  # hydra-core < 1.3.6 has no policy
            return None, True
    except Exception as e:  # Hydra's internals moved: say so, do not guess
        raise PolicyUnavailable(
            f"Hydra's target policy, which cannot be imported ({type(e).__name__}: {e})."
        ) from e
    try:
        authorize_target_name(name, name, "")
    except InstantiationException as e:
        # one word across Hydra versions: 1.3.6-1.3.8 say "blocklisted", 1.4 "blacklisted"
        return " ".join(str(e).split()).replace("blacklisted", "blocklisted"), True
    except Exception:  # a policy internals change: leave the decision to the job
        return None, False
    return None, True


def _fingerprint() -> Optional[str]:
    """What Hydra's verdicts depend on, found without importing Hydra; None if unknown."""
    files = _policy_files()
    if not files:
        return None  # no policy file where Hydra keeps it: ask Hydra, every time
    files.append(os.path.join(os.path.dirname(files[0]), "utils.py"))  # _locate
    allowlist = os.environ.get("HYDRA_INSTANTIATE_ALLOWLIST_OVERRIDE", "")
    return facts.fingerprint([*files, __file__], "allowlist=" + allowlist)


class _Verdicts:
    """Hydra's verdicts by name, for one fingerprint, kept between runs (:mod:`.facts`)."""

    _loaded: Optional[_Verdicts] = None

    def __init__(self, fingerprint: str, verdicts: Dict[str, Optional[str]]) -> None:
        self.fingerprint = fingerprint
        self.verdicts = verdicts

    @classmethod
    def load(cls) -> Optional[_Verdicts]:
        if facts.disabled():
            return None
        fingerprint = _fingerprint()
        if fingerprint is None:
            return None
        loaded = cls._loaded
        if loaded is not None and loaded.fingerprint == fingerprint:
            return loaded
        data = facts.read("target-policy", fingerprint)
        verdicts: Dict[str, Optional[str]] = {}
        if isinstance(data, dict):
            verdicts = {str(k): v if isinstance(v, str) else None for k, v in data.items()}
        cls._loaded = cls(fingerprint, verdicts)
        return cls._loaded

    def save(self, name: str, reason: Optional[str]) -> None:
        self.verdicts[name] = reason
        if len(self.verdicts) > 10_000:  # names are few; a runaway list starts over
            self.verdicts = {name: reason}
        facts.write("target-policy", self.fingerprint, self.verdicts)
