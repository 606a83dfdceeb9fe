"""``zenspec plan``: the jobs a spec would launch, and any one job's config, running nothing.

Hydra has no multirun dry run. This composes the primary config exactly as a
launch does (same isolated session: ConfigStore entries, GlobalHydra and the
rest are restored afterwards), expands the grid with Hydra's own
``BasicSweeper.split_arguments``, and for ``job=N`` composes that job's config
the way the launcher would (``load_sweep_config`` with ``hydra.job.num``).
Times in directory names (``${now:...}``) are those of the plan, not of a
later run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, cast

from zenspec.errors import LaunchError, OverrideError, SpecError, ZenspecError
from zenspec.spec.compile import compile_spec, job_config, spec_session
from zenspec.spec.imports import search_path
from zenspec.spec.model import Spec

if TYPE_CHECKING:
    from omegaconf import DictConfig

# Hydra and OmegaConf are imported where a config is composed or shown:
# plan_without_imports (`zenspec plan --no-imports`) imports neither for the common specs

__all__ = ["Plan", "PlannedJob", "plan_spec", "plan_without_imports"]


@dataclass
class PlannedJob:
    """One job: its number, its overrides and where its outputs would go."""

    num: int
    overrides: List[str]
    output_dir: Optional[str] = None


@dataclass
class Plan:
    """What ``zenspec run`` would do with the same spec and overrides."""

    spec_file: Optional[str]
    mode: str  # "run" or "multirun"
    sweeper: str
    launcher: str
    arguments: List[str]
    jobs: Optional[List[PlannedJob]]  # None: the sweeper decides as it runs
    output_dir: Optional[str] = None
    job: Optional[int] = None
    config: Optional[DictConfig] = None
    notes: List[str] = field(default_factory=list)
    description: Optional[str] = None  # experiment.description

    def config_yaml(self) -> Optional[str]:
        """The composed config of the selected job, without Hydra's own node."""
        if self.config is None:
            return None
        from omegaconf import OmegaConf

        return OmegaConf.to_yaml(_without_hydra(self.config))

    def as_dict(self) -> Dict[str, Any]:
        if self.config is not None:
            from omegaconf import OmegaConf
        return {
            "spec": self.spec_file,
            "description": self.description,
            "mode": self.mode,
            "sweeper": self.sweeper,
            "launcher": self.launcher,
            "arguments": self.arguments,
            "output_dir": self.output_dir,
            "jobs": None
            if self.jobs is None
            else [
                {"num": j.num, "overrides": j.overrides, "output_dir": j.output_dir}
                for j in self.jobs
            ],
            "job": self.job,
            "config": None
            if self.config is None
            else OmegaConf.to_container(_without_hydra(self.config)),
            "notes": self.notes,
        }

    def format(self) -> str:
        """Human-readable text, as ``zenspec plan`` prints it."""
        lines = [f"spec:     {self.spec_file}"]
        if self.description:
            text = " ".join(self.description.split())  # one line, however it was written
            lines.append(f"description: {text}")
        lines += [
            f"mode:     {self.mode}",
            f"sweeper:  {self.sweeper}",
            f"launcher: {self.launcher}",
            f"output:   {self.output_dir or '(needs imports)'}",
        ]
        if self.jobs is None:
            lines.append(
                f"jobs:     decided by the sweeper as it runs; arguments: {self.arguments}"
            )
        else:
            lines.append(f"jobs:     {len(self.jobs)}")
            width = len(str(len(self.jobs) - 1)) if self.jobs else 1
            for j in self.jobs:
                shown = " ".join(j.overrides) or "(no overrides)"
                where = f"  -> {j.output_dir}" if j.output_dir else ""
                lines.append(f"  #{j.num:<{width}}  {shown}{where}")
        lines.extend(f"note: {n}" for n in self.notes)
        if self.config is not None:
            lines.append(f"\nconfig of job #{self.job}:")
            lines.append((self.config_yaml() or "").rstrip())
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str)


def _without_hydra(cfg: DictConfig) -> DictConfig:
    """A copy of *cfg* without Hydra's own node."""
    from omegaconf import OmegaConf

    # masked_copy keeps the keys found ``in`` the list, of any type; it is annotated List[str]
    keys = cast(List[str], [k for k in cfg if k != "hydra"])
    return OmegaConf.masked_copy(cfg, keys)


def _task_arguments(cfg: DictConfig) -> List[str]:
    """The job's command-line overrides, unresolved (as Hydra hands them to the sweeper)."""
    from omegaconf import OmegaConf

    task = OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False)
    assert isinstance(task, list)  # hydra.overrides.task is a ListConfig
    return [str(a) for a in task]


def _subdir_is_num(cfg: DictConfig) -> bool:
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(cfg.hydra.sweep, resolve=False)
    return isinstance(raw, dict) and raw.get("subdir") == "${hydra.job.num}"


def _refuse_large(spec: Spec, count: int, max_jobs: Optional[int]) -> None:
    if max_jobs is not None and count > max_jobs:
        raise LaunchError(
            f"the sweep expands to {count:,} jobs, more than max_jobs={max_jobs:,}.",
            file=spec.file,
            path="$.sweep",
            hint='Fix: narrow the sweep, or sample it ([sweeper] kind = "random").',
        )


def plan_spec(
    spec: Spec,
    overrides: Optional[Sequence[str]] = None,
    multirun: bool = False,
    job: Optional[int] = None,
    max_jobs: Optional[int] = 100_000,
) -> Plan:
    """Plan *spec* with *overrides*: the jobs and output dirs, and job *job*'s config.

    Raises
    ------
    LaunchError
        ``job`` is out of range, or the sweeper does not enumerate its jobs ahead.
    ZenspecError
        Whatever ``zenspec run`` would refuse (bad overrides, bad spec).
    """
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from zenspec.launch.grid import count_grid, plan_grid
    from zenspec.spec.paths import override_problems
    from zenspec.spec.semantic import check_spec

    problems = override_problems(overrides)
    if problems:  # a job name or output path that leaves its directory: nothing runs
        raise SpecError(problems[0].message, problems=problems)

    with search_path(spec.experiment.search_path):
        # what run would refuse, plan refuses (the same checks, the same overrides)
        problems = check_spec(spec, True, None, overrides, multirun).problems
        if problems:
            raise SpecError(problems[0].message, problems=problems)
        compiled = compile_spec(spec, overrides, multirun)
        mode = RunMode.MULTIRUN if compiled.multirun else RunMode.RUN
        with spec_session(compiled, fast=False) as session:
            try:
                cfg = session.compose()
            except ValueError as e:  # Hydra's group overrides: "must be a string or a list"
                if isinstance(e, ZenspecError):
                    raise
                raise OverrideError(
                    f"the overrides {list(overrides or [])} could not be applied to the config: "
                    f"{e}",
                    hint="Fix: a config group takes an option name (group=option).",
                ) from e
            sweeper = str(OmegaConf.select(cfg, "hydra.sweeper._target_"))
            launcher = str(OmegaConf.select(cfg, "hydra.launcher._target_"))
            plan = Plan(
                spec_file=spec.file,
                description=spec.experiment.description,
                mode="multirun" if compiled.multirun else "run",
                sweeper=sweeper if compiled.multirun else "(none: a single run)",
                launcher=launcher,
                arguments=[],
                jobs=None,
            )
            if mode is RunMode.RUN:
                plan.output_dir = session.resolve_output_dir("hydra.run.dir")
                plan.jobs = [PlannedJob(0, _task_arguments(cfg), plan.output_dir)]
                if job not in (None, 0):
                    raise LaunchError(f"a single run has one job, #0; there is no job #{job}.")
                if job is not None:
                    plan.job, plan.config = 0, cfg
                return plan

            arguments = _task_arguments(cfg)
            plan.arguments = arguments
            plan.output_dir = session.resolve_output_dir("hydra.sweep.dir")
            if not spec.sweeper.is_grid or not sweeper.endswith("BasicSweeper"):
                if job is not None:
                    raise LaunchError(
                        f"the sweeper {sweeper} chooses its jobs while it runs, so job #{job} "
                        "cannot be planned ahead.",
                        hint="Fix: plan without --job to see the sweep's arguments.",
                    )
                return plan
            params = cfg.hydra.sweeper.get("params")
            _refuse_large(
                spec, count_grid(arguments, params, session.hydra.config_loader), max_jobs
            )
            jobs = plan_grid(arguments, params, session.hydra.config_loader)
            simple = _subdir_is_num(cfg)
            plan.jobs = []
            for num, job_overrides in enumerate(jobs):
                if simple:
                    out = f"{plan.output_dir}/{num}"
                else:  # a templated subdir (e.g. ${hydra.job.override_dirname}): compose it
                    jc = job_config(session, cfg, job_overrides, num)
                    out = f"{jc.hydra.sweep.dir}/{jc.hydra.sweep.subdir}"
                plan.jobs.append(PlannedJob(num, list(job_overrides), out))
            if job is not None:
                if not 0 <= job < len(jobs):
                    raise LaunchError(
                        f"there is no job #{job}: the sweep has {len(jobs)} job(s), "
                        f"#0 to #{len(jobs) - 1}."
                    )
                plan.job = job
                plan.config = job_config(session, cfg, jobs[job], job)
                # resolve now, inside the session, where HydraConfig is set for the job
                container = OmegaConf.to_container(plan.config, resolve=False)
                assert isinstance(container, dict)  # a DictConfig's container
                plan.config = OmegaConf.create(container)
            return plan


def plan_without_imports(
    spec: Spec,
    overrides: Optional[Sequence[str]] = None,
    multirun: bool = False,
    max_jobs: Optional[int] = 100_000,
) -> Plan:
    """The jobs of *spec* from its text alone: nothing imported, nothing composed.

    Each job's overrides are those ``zenspec run`` would give it (the grid is
    expanded as Hydra's BasicSweeper does: by :mod:`zenspec.spec.sweep_text`,
    without Hydra, when every line is of the common forms, else with Hydra's own
    sweeper logic); output directories and configs need the composed config, so
    they are left out (``plan_spec`` has them).
    """
    from zenspec.spec.compile import merge_overrides, spec_overrides
    from zenspec.spec.paths import override_problems
    from zenspec.spec.sweep_checks import SpecGroupOptions
    from zenspec.spec.sweep_text import count_lines, expand_lines, read_lines

    problems = override_problems(overrides)
    if problems:  # a job name or output path that leaves its directory: nothing runs
        raise SpecError(problems[0].message, problems=problems)

    arguments = merge_overrides(spec_overrides(spec), overrides or ())
    is_multirun = bool(multirun or spec.sweep or not spec.sweeper.is_grid)
    sweeper = spec.sweeper.kind if spec.sweeper.target is None else spec.sweeper.target
    plan = Plan(
        spec_file=spec.file,
        description=spec.experiment.description,
        mode="multirun" if is_multirun else "run",
        sweeper=sweeper if is_multirun else "(none: a single run)",
        launcher=spec.launcher.kind,
        arguments=arguments,
        jobs=None,
        notes=["planned without imports: output directories and configs are not shown"],
    )
    if not is_multirun:
        plan.jobs = [PlannedJob(0, arguments)]
    elif spec.sweeper.is_grid:
        simple = read_lines(arguments)
        if simple is not None and not any(o.kind == "interval" for o in simple):
            _refuse_large(spec, count_lines(simple), max_jobs)
            jobs = expand_lines(simple)
        else:
            from zenspec.launch.grid import count_grid, plan_grid

            options = SpecGroupOptions(spec)  # glob() lists a group's options from the spec
            _refuse_large(spec, count_grid(arguments, None, options), max_jobs)
            jobs = plan_grid(arguments, None, options)
        plan.jobs = [PlannedJob(n, list(o)) for n, o in enumerate(jobs)]
    return plan
