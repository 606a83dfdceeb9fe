"""Targets Hydra's instantiate would refuse (``os.system``, ``builtins.eval``...),
refused before anything runs, by name: nothing is imported.

A mixin of :class:`zenspec.spec.semantic._Checker`, plus :func:`policy_refusal`.
"""

from __future__ import annotations

from typing import Any, List, Optional

from zenspec.spec.parse import KeyPath

__all__ = ["PolicyChecks", "policy_refusal"]


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

    def refused(self, path: KeyPath, target: Optional[str]) -> None:
        reason = policy_refusal(target) if target else None
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
    """
    from hydra.errors import InstantiationException

    from zenspec._compatibility import authorize_target_name, has_target_policy
    from zenspec.spec.imports import hydra_path

    if not has_target_policy():  # hydra-core < 1.3.6 has no policy
        return None
    name = hydra_path(target)
    try:
        authorize_target_name(name, name, "")
    except InstantiationException as e:
        # one word across Hydra versions: 1.3.6-1.3.8 say "blocklisted", 1.4 "blacklisted"
        return " ".join(str(e).split()).replace("blacklisted", "blocklisted")
    except Exception:  # a policy internals change: leave the decision to the job
        return None
    return None
