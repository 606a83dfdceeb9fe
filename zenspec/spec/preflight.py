"""Stage 5: what only the composed config shows, found before any job runs.

The static checks (:mod:`zenspec.spec.semantic`) read the spec; some mistakes
exist only once Hydra has composed a job's config: a required ``"???"`` value
nobody set, an interpolation cycle or an unregistered resolver, a value of the
wrong type for an annotated target parameter, a key a command-line override
adds that the target does not take, a group option that does not compose.
Here the jobs are composed with Hydra's own loader in an isolated session (as
``zenspec plan`` does; nothing is launched, global state is restored) and each
composed config is checked:

- job 0, and for every swept config group each of its swept options (a group
  option is a config of its own);
- every other swept value is checked against the parameter it fills (its
  annotation), without composing the whole product of the grid;
- values a sampling sweeper draws (``interval``) are checked by their bounds.

It runs only when the static checks found nothing (their problems are the
causes of most composition failures, and would be reported twice), and with
imports: ``validate --imports``, ``plan`` and ``run`` (with the command line's
overrides) all call it, so whatever ``run`` would refuse, ``validate --imports``
refused first. Problems point at the spec key the composed key came from, or
say which command-line override set it.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from zenspec.errors import Problem, ZenspecError
from zenspec.spec.model import Spec
from zenspec.spec.preflight_checks import JobChecks

__all__ = ["MAX_COMPOSED", "compose_problems"]

#: the most job configs composed per check (job 0 plus swept group options)
MAX_COMPOSED = 64


def compose_problems(
    spec: Spec, overrides: Optional[Sequence[str]] = None, multirun: bool = False
) -> List[Problem]:
    """Compose *spec*'s jobs (with CLI *overrides*) and return every problem found.

    Call it inside :func:`zenspec.spec.imports.search_path` for the spec.
    """
    from hydra.types import RunMode

    from zenspec.spec.compile import compile_spec, job_config, spec_session

    cli = list(overrides or ())
    checks = JobChecks(spec, cli)
    try:
        compiled = compile_spec(spec, cli, multirun)
    except ZenspecError as e:
        return checks.from_error(e)
    mode = RunMode.MULTIRUN if compiled.multirun else RunMode.RUN
    with spec_session(compiled, fast=True) as session:
        try:
            cfg = session.compose()
        except ZenspecError as e:
            return checks.from_error(e)
        except Exception as e:  # whatever Hydra raised: input the spec gave it
            return checks.from_exception(e, "composing the config")
        if mode is RunMode.RUN:
            from hydra.core.hydra_config import HydraConfig

            HydraConfig.instance().set_config(cfg)  # for ${hydra:...}; the session restores it
            _guarded(checks.job, cfg, "the run")
            return checks.dedupe()
        try:
            jobs = list(_jobs(session, cfg, checks))
        except Exception as e:  # a custom sweeper's params in a form not foreseen here
            _warn("_jobs", e)
            jobs = []
        for label, job_overrides, swept_key in jobs:
            try:
                job_cfg = job_config(session, cfg, job_overrides)
            except ZenspecError as e:
                checks.problems.extend(checks.job_error(e, swept_key))
                continue
            except Exception as e:
                checks.problems.extend(checks.from_exception(e, f"composing {label}"))
                continue
            _guarded(checks.job, job_cfg, label, True)
            if len(checks.problems) > 50:  # the first fifty say enough
                break
        # both compare with job 0's config, composed above
        _guarded(checks.intervals)
        _guarded(checks.swept_values)
    return checks.dedupe()


def _jobs(
    session: Any, cfg: Any, checks: JobChecks
) -> Iterator[Tuple[str, List[str], Optional[str]]]:
    """Job 0's overrides, then one job per other option of each swept group (and per
    other kind of value of a plain key): (label, overrides, the swept key that differs).

    Other swept values and sampled intervals are left on *checks* (``swept``,
    ``sampled``), compared with annotations once job 0 is composed.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    # unresolved, as Hydra hands them to the sweeper (an override may hold ${...})
    task = OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False)
    assert isinstance(task, list)  # hydra.overrides.task is a ListConfig
    arguments = [str(a) for a in task]
    params = cfg.hydra.sweeper.get("params") or {}
    lines = [f"{k}={v}" for k, v in params.items()] + arguments
    parser = OverridesParser.create(config_loader=session.hydra.config_loader)
    base: Dict[str, str] = {}
    axes: Dict[str, List[Any]] = {}
    for o in parser.parse_overrides(lines):
        key = o.get_key_element()
        base.pop(key, None)
        axes.pop(key, None)
        if not o.is_sweep_override():
            assert o.input_line is not None  # parse_overrides sets it on every override
            base[key] = o.input_line
            continue
        if o.is_interval_sweep():
            checks.sampled.append((key, str(o.input_line).partition("=")[2]))
            continue  # sampled at run time: the base config's value composes job 0
        # the strings Hydra's basic sweeper writes into each job's overrides, and
        # the typed values they stand for (glob() lists the group's options)
        try:
            values = list(zip(o.sweep_string_iterator(), o.sweep_iterator()))
        except Exception as e:  # range(1, 3, 0): Hydra refuses it only here
            checks.sweep_problem(key, f"cannot be expanded: {type(e).__name__}: {e}")
            continue
        if not values:
            checks.sweep_problem(key, "gives no values: the sweep would run no job.")
            continue
        axes[key] = values
        base[key] = f"{key}={values[0][0]}"
    yield "job 0", list(base.values()), None
    composed = 1
    for key, values in axes.items():
        group = _is_group(cfg, key, checks.spec.groups)
        kinds = {_kind(values[0][1])}
        for text, value in values[1:]:
            # every option of a group is a config of its own; a plain value is composed
            # when it is of a kind (table, list, scalar) the key has not had yet
            new_kind = _kind(value) not in kinds
            if (group and composed < MAX_COMPOSED) or (not group and new_kind):
                composed += 1
                kinds.add(_kind(value))
                line = f"{key}={text}"
                yield f"the job with {line}", [*{**base, key: line}.values()], key
            if not group:
                checks.swept.append((key, value))


def _kind(value: Any) -> str:
    return "table" if isinstance(value, dict) else "list" if isinstance(value, list) else "value"


def _guarded(check: Any, *args: Any) -> None:
    """Run one check; a failure of the check itself (not of the input) is a warning.

    The checks only add problems; one that breaks on a config it did not foresee
    must not stop a run that Hydra would compose and launch.
    """
    try:
        check(*args)
    except Exception as e:
        _warn(check.__name__, e)


def _warn(what: str, e: Exception) -> None:
    warnings.warn(
        f"zenspec could not finish a pre-run check ({what}: {type(e).__name__}: {e}); "
        "the run goes on without it.",
        RuntimeWarning,
        stacklevel=3,
    )


def _is_group(cfg: Any, key: str, groups: Any = ()) -> bool:
    from omegaconf import OmegaConf

    choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None) or {}
    return key.lstrip("+~") in choices or key.lstrip("+~") in groups
