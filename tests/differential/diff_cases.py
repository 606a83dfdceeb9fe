"""The differential corpus: sweeps that must come out the same with either loader.

Each :class:`Case` is a ConfigStore primary config, its groups and a Hydra
command line. Together they cover: config groups (nested, ``@pkg`` packages in
defaults, overrides and node headers, Hydra's own groups), ``+``/``++``/``~``
overrides on keys and groups, ``glob``/``range``/``choice``/``sort`` sweeps,
lists and dicts as values, interpolations into other keys, ``${hydra:...}`` and
``${now:...}``, ``hydra.sweep.subdir`` templates, ``hydra.job.override_dirname``
settings, structured configs (picklable and local dataclasses) with type
errors, failing overrides and failing tasks, config files and ConfigStore
entries that change in the middle of a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

from diff_harness import Case, default_task
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# ---------------------------------------------------------------- plain configs
P = {
    "defaults": ["_self_", {"optim": "sgd"}],
    "a": 1,
    "b": 2,
    "name": "exp",
    "c": "${a}",
    "lst": [1, 2, 3],
}
OPTIM = [
    ("optim", "sgd", {"name": "sgd", "lr": 0.1, "momentum": 0.0}, None),
    ("optim", "adam", {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]}, None),
    ("optim", "rms", {"name": "rms", "lr": 0.001}, None),
]
NO_DEFAULT = {k: v for k, v in P.items() if k != "defaults"}
ENCODER = [
    ("model/encoder", "small", {"width": 8, "depth": 2}, None),
    ("model/encoder", "big", {"width": 64, "depth": 12}, None),
]
DB = [
    ("db", "mysql", {"driver": "mysql", "port": 3306}, None),
    ("db", "pg", {"driver": "postgresql", "port": 5432}, None),
]
DB_HEADER = [(g, n, node, "storage") for g, n, node, _ in DB]


# ----------------------------------------------------------- structured configs
@dataclass
class PrimaryConf:
    a: int = 1
    lr: float = 0.1
    name: str = "x"
    tags: List[str] = field(default_factory=lambda: ["t1"])
    m: Any = MISSING


@dataclass
class OptimConf:
    lr: float = 0.1


@dataclass
class SGDConf(OptimConf):
    momentum: float = 0.0


@dataclass
class AdamConf(OptimConf):
    beta: float = 0.9


@dataclass
class WithOptim:
    defaults: List[Any] = field(default_factory=lambda: ["_self_", {"optim": "sgd"}])
    optim: Any = MISSING
    a: int = 1


STRUCT_OPTIM = [("optim", "sgd", SGDConf, None), ("optim", "adam", AdamConf, None)]


def local_dataclasses():
    """Defined in a function: unpicklable by reference, so copies are deepcopies."""

    @dataclass
    class LocalConf:
        a: int = 1
        b: float = 0.5
        label: str = "l"

    return LocalConf


JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
CALLBACK = "+hydra.callbacks.rec._target_=diff_harness.RecordingCallback"


# ------------------------------------------------------------------------ tasks
def fails_on_two(cfg: Any) -> Any:
    if cfg.a == 2:
        raise ValueError("a is two")
    return default_task(cfg)


def yaml_setup(root: Path) -> None:
    conf = root / "conf" / "optim"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "yamlopt.yaml").write_text("name: yamlopt\nlr: 0.5\n")
    (conf / "pkgopt.yaml").write_text("# @package _global_\nglobal_lr: 0.7\n")


def edits_yaml_after_first_job(cfg: Any) -> Any:
    """Change the group file mid-sweep: later jobs must see the new content."""
    view = default_task(cfg)
    path = Path(cfg.conf_dir) / "optim" / "yamlopt.yaml"
    path.write_text(f"name: yamlopt\nlr: 0.{cfg.a}5\nedited_by: {cfg.a}\n")
    return view


def restores_after_first_job(cfg: Any) -> Any:
    """Replace a ConfigStore option mid-sweep: later jobs must see it."""
    view = default_task(cfg)
    ConfigStore.instance().store(
        group="optim", name="sgd", node={"name": "sgd", "lr": cfg.a * 10, "new": True}
    )
    return view


def _case_list() -> List[Case]:
    local = local_dataclasses()
    cases = [
        # --- value sweeps and sweep functions
        Case("value_sweep", P, ["a=1,2,3"], OPTIM),
        Case("group_sweep", P, ["optim=sgd,adam"], OPTIM),
        Case("group_x_value", P, ["optim=sgd,adam", "a=1,2"], OPTIM),
        Case("glob_all", P, ["optim=glob(*)"], OPTIM),
        Case("glob_exclude", P, ["optim=glob(*,exclude=rms)", "b=3"], OPTIM),
        Case("range_int", P, ["a=range(0,4)"], OPTIM),
        Case("range_float", P, ["a=range(0,1,0.5)"], OPTIM),
        Case("choice", P, ["a=choice(3,1)"], OPTIM),
        Case("sort", P, ["a=sort(3,1,2)"], OPTIM),
        Case("sort_reverse_groups", P, ["optim=sort(sgd,adam,reverse=true)"], OPTIM),
        Case("list_values", P, ["b=[1,2],[3,[4,5]]"], OPTIM),
        Case("dict_values", P, ["b={x:1},{x:2,y:[3]}"], OPTIM),
        Case("mixed_types", P, ["b='x y',null,true,3.5,'1,2'"], OPTIM),
        Case("list_element", P, ["lst.1=5,6"], OPTIM),
        Case("missing_set", {**P, "m": "???"}, ["m=1,2"], OPTIM),
        Case("many_jobs", P, ["a=range(0,6)", "optim=sgd,adam"], OPTIM),
        # --- +, ++, ~
        Case("add_key", P, ["+extra=1,2"], OPTIM),
        Case("add_nested_key", P, ["+optim.extra.deep=1,2", "optim=sgd,adam"], OPTIM),
        Case("force_add_existing", P, ["++a=5,6"], OPTIM),
        Case("force_add_new", P, ["++newkey=hello,world", "++optim.lr=0.3"], OPTIM),
        Case("delete_key", P, ["~b", "a=1,2"], OPTIM),
        Case("delete_with_value", P, ["~b=2", "a=1,2"], OPTIM),
        Case("delete_group", P, ["~optim", "a=1,2"], OPTIM),
        Case("add_group", NO_DEFAULT, ["+optim=sgd,adam", "a=4"], OPTIM),
        Case("group_then_value_same_group", P, ["optim=adam,rms", "optim.lr=1,2"], OPTIM),
        # --- nested groups and packages
        Case(
            "nested_groups",
            {"defaults": ["_self_", {"model/encoder": "small"}], "a": 1},
            ["model/encoder=small,big", "a=1,2"],
            ENCODER,
        ),
        Case(
            "package_in_defaults",
            {"defaults": ["_self_", {"db@backend.db": "mysql"}], "a": 1},
            ["db@backend.db=mysql,pg"],
            DB,
        ),
        Case(
            "package_header",
            {"defaults": ["_self_", {"db": "mysql"}], "a": 1},
            ["db=mysql,pg", "storage.port=1,2"],
            DB_HEADER,
        ),
        Case("add_group_with_package", {"a": 1}, ["+db@extra=mysql,pg", "a=1,2"], DB),
        Case(
            "two_packages_same_group",
            {"defaults": ["_self_", {"db@src": "mysql"}, {"db@dst": "pg"}], "a": 1},
            ["db@src=mysql,pg", "db@dst=pg"],
            DB,
        ),
        # --- interpolations, ${hydra:...}, ${now:...}
        Case(
            "interpolation_into_keys",
            {**P, "path": "run_${a}_${optim.name}", "lr_copy": "${optim.lr}"},
            ["a=1,2", "optim=sgd,adam", "optim.lr=0.3"],
            OPTIM,
        ),
        Case("override_with_interpolation", P, ["b=${a},3", "a=7"], OPTIM),
        Case(
            "hydra_job_num",
            {**P, "num": "${hydra:job.num}", "id": "${hydra:job.id}", "nm": "${hydra:job.name}"},
            ["a=1,2,3"],
            OPTIM,
        ),
        Case(
            "runtime_choices",
            {**P, "opt_choice": "${hydra:runtime.choices.optim}"},
            ["optim=sgd,adam,rms"],
            OPTIM,
        ),
        Case(
            "hydra_overrides_visible",
            {**P, "task_ov": "${hydra:overrides.task}", "od": "${hydra:job.override_dirname}"},
            ["optim=sgd,adam", "a=1,2"],
            OPTIM,
        ),
        Case(
            "now_interpolation",
            {**P, "stamp": "${now:%Y-%m-%d}"},
            ["a=1,2", "hydra.sweep.subdir=${now:%Y}_${hydra.job.num}"],
            OPTIM,
        ),
        Case(
            "now_in_sweep_dir",
            P,
            ["a=1,2", "hydra.sweep.dir=multirun/${now:%Y-%m}"],
            OPTIM,
        ),
        Case(
            "now_fine_grained_shared_by_jobs",
            {**P, "stamp": "${now:%H-%M-%S-%f}"},
            ["a=1,2,3", "hydra.sweep.dir=multirun/${now:%H-%M-%S-%f}"],
            OPTIM,
        ),
        # --- output dirs
        Case(
            "subdir_override_dirname",
            P,
            ["a=1,2", "optim=sgd,adam", "hydra.sweep.subdir=${hydra.job.override_dirname}"],
            OPTIM,
        ),
        Case(
            "subdir_template",
            P,
            ["a=1,2", "hydra.sweep.subdir=${optim.name}_${hydra.job.num}"],
            OPTIM,
        ),
        Case(
            "override_dirname_config",
            P,
            [
                "a=1,2",
                "b=5",
                "hydra.job.config.override_dirname.exclude_keys=[b]",
                "hydra.job.config.override_dirname.kv_sep=:",
                "hydra.job.config.override_dirname.item_sep=__",
                "hydra.sweep.subdir=${hydra.job.override_dirname}",
            ],
            OPTIM,
        ),
        # --- structured configs
        Case("structured_primary", PrimaryConf, ["a=1,2", "lr=0.5,1e-3", "m=3"]),
        Case("structured_list_value", PrimaryConf, ["tags=[a,b],[]", "m=1"]),
        Case("structured_type_error", PrimaryConf, ["a=1,x", "m=1"], expect_error=True),
        Case(
            "structured_type_error_later_batch",
            PrimaryConf,
            ["a=1,2,x", "m=1", "hydra.sweeper.max_batch_size=2"],
            expect_error=True,
        ),
        Case("structured_missing_unset", PrimaryConf, ["a=1,2"]),  # ??? stays ???
        Case("structured_groups", WithOptim, ["optim=sgd,adam", "optim.lr=0.2,0.3"], STRUCT_OPTIM),
        Case(
            "structured_group_type_error",
            WithOptim,
            ["optim=sgd,adam", "optim.lr=abc"],
            STRUCT_OPTIM,
            expect_error=True,
        ),
        Case(
            "structured_group_unknown_field",
            WithOptim,
            ["optim=sgd,adam", "optim.beta=0.5"],  # sgd has no beta: that job fails
            STRUCT_OPTIM,
            expect_error=True,
        ),
        Case("local_dataclass", local, ["a=1,2,3", "b=0.25"]),
        Case("local_dataclass_type_error", local, ["a=1,2", "b=oops"], expect_error=True),
        # --- failures
        Case("unknown_key", P, ["nokey=1,2"], OPTIM, expect_error=True),
        Case("add_existing_key", P, ["+a=1,2"], OPTIM, expect_error=True),
        Case("unknown_group_option", P, ["optim=sgd,nope"], OPTIM, expect_error=True),
        Case("delete_missing_group", P, ["~nogroup", "a=1,2"], OPTIM, expect_error=True),
        Case(
            "delete_value_mismatch_later_batch",
            P,
            ["~b=2,3", "hydra.sweeper.max_batch_size=1"],
            OPTIM,
            expect_error=True,
        ),
        Case("task_failure", P, ["a=1,2,3"], OPTIM, task=fails_on_two, expect_error=True),
        Case(
            "hydra_group_sweep_refused",
            P,
            ["hydra/job_logging=default,disabled"],
            OPTIM,
            expect_error=True,
            expect_fast=False,
        ),
        # --- Hydra's own config, per job
        Case("hydra_group_override", P, ["a=1,2", "hydra/job_logging=disabled"], OPTIM),
        Case(
            "env_set_and_copy",
            P,
            ["a=1,2", "+hydra.job.env_set.MYVAR=foo", "hydra.job.env_copy=[HOME]"],
            OPTIM,
        ),
        Case("job_name_override", P, ["a=1,2", "hydra.job.name=custom"], OPTIM),
        Case("runtime_touched", P, ["a=1,2", "++hydra.runtime.choices.extra=x"], OPTIM),
        Case("chdir_jobs", P, ["a=1,2", "hydra.job.chdir=True"], OPTIM),
        Case("version_base_1_1", P, ["a=1,2"], OPTIM, version_base="1.1"),
        Case("callbacks_see_full_config", P, ["a=1,2", "optim=sgd,adam", CALLBACK], OPTIM),
        Case("callbacks_structured", PrimaryConf, ["a=1,2", "m=5", CALLBACK]),
        # --- per-job hydra settings (fast validation, hydra.yaml blocks, logging)
        Case(
            "job_logging_differs_per_job",
            P,
            ["+lvl=INFO,WARNING", "a=1,2", "hydra.job_logging.root.level=${lvl}"],
            OPTIM,
        ),
        Case(
            "job_logging_file_per_job",
            P,
            [
                "a=1,2",
                "hydra.job_logging.handlers.file.filename=${hydra.runtime.output_dir}/j${a}.log",
            ],
            OPTIM,
        ),
        Case(
            "sweep_subdir_per_job",
            P,
            ["a=1,2", "hydra.sweep.subdir=s${a}_${hydra.job.num}"],
            OPTIM,
        ),
        # resolved in the job's Hydra config, which has no user keys: stock fails
        Case(
            "chdir_per_job",
            P,
            ["+flag=true,false", "a=1,2", "hydra.job.chdir=${flag}"],
            OPTIM,
            expect_error=True,
        ),
        # joblib: stock composes in the workers, zenspec in the parent (FastJoblibLauncher)
        Case("joblib_group_x_value", P, [*JOBLIB, "optim=sgd,adam", "a=1,2"], OPTIM),
        Case(
            "joblib_chdir_subdir",
            P,
            [*JOBLIB, "a=1,2,3", "hydra.job.chdir=true", "hydra.sweep.subdir=${optim.name}/${a}"],
            OPTIM,
        ),
        # a hydra.job key naming a user key: the returned hydra_cfg cannot resolve it
        Case(
            "job_key_names_a_user_key",
            P,
            ["a=1,2", "hydra.job.config.override_dirname.item_sep=${name}"],
            OPTIM,
        ),
        Case(
            "chdir_custom_subdir",
            P,
            ["a=1,2,3", "hydra.job.chdir=true", "hydra.sweep.subdir=${optim.name}/${a}"],
            OPTIM,
        ),
        Case(
            "env_set_added_per_job",
            P,
            ["a=1,2", "+hydra.job.env_set.V=v${a}"],
            OPTIM,
            expect_error=True,
        ),
        Case("env_set_added", P, ["a=1,2", "+hydra.job.env_set.V=v"], OPTIM),
        Case(
            "dirname_sep_from_task",
            {**P, "sep": "="},
            [
                "sep=_,-",
                "a=1,2",
                "hydra.job.config.override_dirname.kv_sep=${sep}",
                "hydra.sweep.subdir=${hydra.job.override_dirname}",
            ],
            OPTIM,
        ),
        Case(
            "dirname_sep_broken_for_one_job",
            {**P, "sep": "="},
            [
                "sep=_,${nokey}",
                "hydra.job.config.override_dirname.kv_sep=${sep}",
            ],
            OPTIM,
            expect_error=True,
        ),
        Case("type_error_late_in_batch", PrimaryConf, ["a=1,2,3,4,x", "m=1"], expect_error=True),
        Case(
            "add_existing_late_in_batch",
            {**P, "x": None},
            ["+x=1,2", "a=1,2"],
            OPTIM,
        ),
        Case(
            "interpolation_path_into_hydra",
            {**P, "h": "${hydra.job}"},
            ["h.name=a,b"],
            OPTIM,
            expect_error=True,
            expect_fast=False,
        ),
        Case("output_subdir_null", P, ["a=1,2", "hydra.output_subdir=null"], OPTIM),
        Case("output_subdir_custom", P, ["a=1,2", "hydra.output_subdir=meta"], OPTIM),
        # --- config files, and sources changing mid-sweep
        Case(
            "searchpath_yaml_groups",
            P,
            ["hydra.searchpath=[file://{conf}]", "optim=sgd,yamlopt,pkgopt"],
            OPTIM,
            setup=yaml_setup,
        ),
        Case(
            "yaml_edited_mid_sweep",
            {**P, "conf_dir": "{conf}"},
            ["hydra.searchpath=[file://{conf}]", "optim=yamlopt", "a=1,2,3", "conf_dir={conf}"],
            OPTIM,
            task=edits_yaml_after_first_job,
            setup=yaml_setup,
        ),
        Case(
            "store_replaced_mid_sweep",
            P,
            ["a=1,2,3"],
            OPTIM,
            task=restores_after_first_job,
        ),
    ]
    return cases


CASES = _case_list()
