"""The error catalogue (docs/errors.md): every user-facing error, produced for real.

Each :class:`~zenspec.errors.ZenspecError` subclass gets its exit code, what
raises it, and examples: a small input, the exact message zenspec prints for it
(the example is run, in a scratch directory, when the catalogue is generated)
and the fix. ``tests/test_errors_catalogue.py`` fails when the checked-in file
differs from what this module renders, or when a subclass has no example.

Regenerate::

    python docs/errors_catalogue.py > docs/errors.md

Not part of the installed package: a docs generator, run from a checkout.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import io
import os
import pkgutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import zenspec
from zenspec.errors import ZenspecError

__all__ = ["EXAMPLES", "error_classes", "render"]


@dataclass(frozen=True)
class Example:
    """One way to get an error: what the user wrote and did, and the fix."""

    title: str
    files: Dict[str, str]  # written into the scratch directory first
    action: str  # what the user ran, shown in the docs
    trigger: Callable[[], object]  # does it (in the scratch directory); must raise
    fix: str


def _cli(*argv: str) -> Callable[[], object]:
    """Run ``zenspec ARGV`` the way ``main`` does, but let the error propagate."""

    def run() -> object:
        from zenspec.cli import execute, parse_args

        return execute(parse_args(list(argv)), io.StringIO(), io.StringIO())

    return run


def _load(path: str, imports: bool = False) -> Callable[[], object]:
    def run() -> object:
        from zenspec.spec import load_spec

        return load_spec(path, imports=imports)

    return run


def _validate(path: str) -> Callable[[], object]:
    """What ``zenspec validate`` reports, as the one error it amounts to."""

    def run() -> object:
        from zenspec.errors import SpecError
        from zenspec.spec import validate

        problems = validate(path)
        if problems:
            raise SpecError(problems[0].message, problems=problems)
        return None

    return run


def _dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


_DICT_SPEC = _dedent(
    """
    [experiment]
    target = "builtins:dict"

    [config]
    bar = "world"
    """
)

_GROUPS_SPEC = _dedent(
    """
    [experiment]
    target = "builtins:dict"

    [groups.optim.sgd]
    lr = 0.1

    [groups.optim.adam]
    lr = 0.01

    [defaults]
    optim = "sgd"
    """
)

EXAMPLES: Dict[str, List[Example]] = {
    "ZenspecError": [
        Example(
            "Records asked of a directory that has none",
            {},
            "zenspec results outputs/typo",
            _cli("results", "outputs/typo"),
            "Pass the run or sweep directory zenspec printed (`outputs: ...`).",
        )
    ],
    "SpecError": [
        Example(
            "TOML syntax error (line and column from the parser)",
            {"spec.toml": "[experiment]\ntarget = builtins:dict\n"},
            "zenspec validate spec.toml",
            _load("spec.toml"),
            'Quote strings: `target = "builtins:dict"`.',
        ),
        Example(
            "YAML tag that would build a Python object",
            {
                "spec.yaml": 'experiment:\n  target: builtins:dict\nconfig:\n  x: !!python/object/apply:os.system ["echo hi"]\n'
            },
            "zenspec validate spec.yaml",
            _load("spec.yaml"),
            "YAML is read with a safe loader; name callables with `_target_` (called) or "
            "`_ref_` (the object), which run only when a job does.",
        ),
        Example(
            "Unknown key (did you mean)",
            {"spec.toml": _DICT_SPEC + '\n[sweeps]\nbar = ["a", "b"]\n'},
            "zenspec validate spec.toml",
            _load("spec.toml"),
            "Rename the key; `zenspec schema --markdown` lists every key.",
        ),
        Example(
            "Wrong type (for alternatives, the branch the value was meant for)",
            {"spec.toml": _DICT_SPEC + '\n[launcher]\nkind = "joblib"\nn_jobs = "two"\n'},
            "zenspec validate spec.toml",
            _load("spec.toml"),
            "Give the type the message names: `n_jobs = 2`.",
        ),
        Example(
            "Two keys that exclude each other",
            {"spec.toml": '[experiment]\ntarget = "builtins:dict"\ntask = "builtins:print"\n'},
            "zenspec validate spec.toml",
            _load("spec.toml"),
            "Keep `target` (a callable built from [config]) or `task` (a function that "
            "receives the config), not both.",
        ),
        Example(
            "Swept key that is not in the config",
            {"spec.toml": _DICT_SPEC + '\n[sweep]\nbaz = ["a", "b"]\n'},
            "zenspec validate spec.toml",
            _load("spec.toml"),
            "Sweep a key of [config] (or a group), or write `+baz` to add a new key.",
        ),
        Example(
            "Unknown group option",
            {
                "spec.toml": _DICT_SPEC
                + "\n[groups.optim.sgd]\nlr = 0.1\n\n[groups.optim.adam]\nlr = 0.01\n"
                + '\n[defaults]\noptim = "sgdd"\n'
            },
            "zenspec validate spec.toml",
            _load("spec.toml"),
            "Select an option that [groups.optim.<option>] defines.",
        ),
        Example(
            "Argument a target does not take (seen with --imports)",
            {
                "spec.toml": '[experiment]\ntarget = "difflib:get_close_matches"\n\n[config]\n'
                'word = "apple"\npossibilities = ["ape", "apply"]\ncutof = 0.5\n'
            },
            "zenspec validate --imports spec.toml",
            _load("spec.toml", imports=True),
            "Use the parameter name the signature shows. Without `--imports` nothing is "
            "imported, so only `--imports` (and `run`/`plan`) see this.",
        ),
        Example(
            "A value of the wrong type for an annotated parameter (seen with --imports)",
            {
                "train.py": "def train(epochs: int = 1, lr: float = 0.1):\n    return lr\n",
                "spec.toml": '[experiment]\ntarget = "train:train"\n\n[config]\n'
                'epochs = "one"\nlr = 0.1\n',
            },
            "zenspec validate --imports spec.toml",
            _load("spec.toml", imports=True),
            "Give a value of the annotated type (`epochs = 1`: in TOML and YAML, quotes "
            "make a string). `run` checks the command line's values the same way "
            "(`zenspec run spec.toml epochs=one` exits 2, nothing launched).",
        ),
        Example(
            "A required value ('???') nobody sets (seen with --imports)",
            {
                "spec.toml": '[experiment]\ntarget = "builtins:dict"\n\n[config]\n'
                'data_dir = "???"\n',
            },
            "zenspec validate --imports spec.toml",
            _load("spec.toml", imports=True),
            "Give it a value in the spec, or on the command line: "
            "`zenspec run spec.toml data_dir=/data`.",
        ),
        Example(
            "A task that cannot take the job's config (seen with --imports)",
            {
                "steps.py": "def train(*, epochs=1):\n    return epochs\n",
                "spec.toml": '[experiment]\ntask = "steps:train"\n',
            },
            "zenspec validate --imports spec.toml",
            _load("spec.toml", imports=True),
            "A `task` is called with the config (`def train(cfg)`); a function that takes "
            "the config's keys as arguments is a `target`.",
        ),
        Example(
            "A key Hydra's own config does not have",
            {"spec.toml": _DICT_SPEC + '\n[hydra]\njob.nmae = "x"\n'},
            "zenspec validate spec.toml",
            _validate("spec.toml"),
            "Use the key Hydra's config has (the message lists them).",
        ),
        Example(
            "Target refused by Hydra's instantiate policy",
            {"spec.toml": '[experiment]\ntarget = "os:system"\n\n[config]\ncommand = "ls"\n'},
            "zenspec validate spec.toml",
            _load("spec.toml"),
            "A spec may not make a job run shell commands or evaluate strings; do that in "
            "a task function you wrote.",
        ),
        Example(
            "Grid larger than max_jobs",
            {
                "spec.toml": _DICT_SPEC
                + '\n[sweep]\n"+a" = "range(0, 1000)"\n"+b" = "range(0, 1000)"\n'
            },
            "zenspec validate spec.toml",
            _validate("spec.toml"),
            'Narrow the sweep, sample it (`[sweeper] kind = "random"`), or raise the '
            "limit: `zenspec run --max-jobs N`, `validate(path, max_jobs=N)`.",
        ),
        Example(
            "Input nested too deeply",
            {
                "spec.toml": '[experiment]\ntarget = "builtins:dict"\n[config]\nx = '
                + "[" * 70
                + "]" * 70
                + "\n"
            },
            "zenspec validate spec.toml",
            _load("spec.toml"),
            "Flatten the data; the limits (`zenspec.spec.parse.MAX_DEPTH`, `MAX_SPEC_BYTES`, "
            "`MAX_YAML_VALUES`) stop runaway inputs, not real specs.",
        ),
        Example(
            "File that is not a spec",
            {"spec.json": "{}"},
            "zenspec validate spec.json",
            _load("spec.json"),
            "Name the spec `*.toml`, `*.yaml` or `*.yml`.",
        ),
    ],
    "OverrideError": [
        Example(
            "Override with bad grammar",
            {"spec.toml": _DICT_SPEC},
            "zenspec run spec.toml 'bar=['",
            _cli("run", "spec.toml", "bar=["),
            "Close the bracket, or quote the value: `bar='['`.",
        ),
        Example(
            "Override of a key the config does not have",
            {"spec.toml": _DICT_SPEC},
            "zenspec run spec.toml baz=mom",
            _cli("run", "spec.toml", "baz=mom"),
            "Check the spelling, or add the key with `+baz=mom`.",
        ),
        Example(
            "A sweep in a single run",
            {"spec.toml": _DICT_SPEC},
            "zenspec run spec.toml bar=mom,dad",
            _cli("run", "spec.toml", "bar=mom,dad"),
            "Add `-m` to sweep, or quote a string that contains a comma: `bar='mom,dad'`.",
        ),
        Example(
            "A config-group option that does not exist (did you mean)",
            {"spec.toml": _GROUPS_SPEC},
            "zenspec run spec.toml optim=adamw",
            _cli("run", "spec.toml", "optim=adamw"),
            "Use an option the message lists (`optim=adam`), or add `[groups.optim.adamw]`. "
            "A launcher or sweeper that is not installed (`--launcher jobib`) is reported "
            "the same way, with the installed ones.",
        ),
        Example(
            "An output directory whose interpolation cannot be resolved (no job runs)",
            {"spec.toml": _DICT_SPEC},
            "zenspec run spec.toml 'hydra.run.dir=out/${nosuch}'",
            _cli("run", "spec.toml", "hydra.run.dir=out/${nosuch}"),
            "Interpolate keys that exist: `out/${hydra:job.name}`, `out/${now:%H-%M-%S}`.",
        ),
    ],
    "BuildsError": [
        Example(
            "builds() given an argument its target does not take",
            {},
            'builds(difflib.get_close_matches, word="apple", cutof=0.5)',
            lambda: zenspec.builds(difflib.get_close_matches, word="apple", cutof=0.5),
            "Use the parameter name the signature shows (or `zen_partial=True` to leave "
            "required ones for later).",
        ),
    ],
    "LaunchError": [
        Example(
            "Planning a job the sweep does not have",
            {"spec.toml": _DICT_SPEC + '\n[sweep]\nbar = ["a", "b"]\n'},
            "zenspec plan spec.toml --job 5",
            _cli("plan", "spec.toml", "--job", "5"),
            "Pick a job number `zenspec plan spec.toml` lists.",
        ),
        Example(
            "A logging config that logging.config refuses (no job runs)",
            {"spec.toml": _DICT_SPEC},
            "zenspec run spec.toml hydra.job_logging.handlers.file.class=nosuch.Handler",
            _cli("run", "spec.toml", "hydra.job_logging.handlers.file.class=nosuch.Handler"),
            "Name a handler class that exists (`logging.FileHandler`), with the arguments it "
            "takes.",
        ),
    ],
    "StorageError": [
        Example(
            "An output directory that cannot be created (exit code 74)",
            {
                "spec.toml": _DICT_SPEC + '\n[hydra]\nrun.dir = "outputs/run"\n',
                "outputs": "a file, not a directory\n",
            },
            "zenspec run spec.toml    # ./outputs is a file",
            _cli("run", "spec.toml"),
            "Write elsewhere (`hydra.run.dir=...`, `[hydra] run.dir`), or make room: the same "
            "error names a full disk (`No space left on device`) or a directory without "
            "write permission.",
        ),
    ],
    "SweepLockedError": [
        Example(
            "Resuming a sweep that another zenspec process is still running",
            {
                "spec.toml": _DICT_SPEC
                + '\n[sweep]\nbar = ["a", "b"]\n\n[hydra]\nsweep.dir = "sweep"\n'
            },
            "zenspec resume sweep    # while `zenspec run spec.toml` still runs it",
            lambda: _while_locked("sweep", _cli("run", "spec.toml"), _cli("resume", "sweep")),
            "Wait for the other run to end (or stop it), then resume. To start a separate "
            "sweep, give it its own `hydra.sweep.dir`.",
        ),
    ],
    "MetricError": [
        Example(
            "A metric the task does not return (exit code 2, after the first job)",
            {
                "spec.toml": '[experiment]\ntarget = "builtins:dict"\nmetric = "los"\n\n'
                "[config]\nloss = 0.5\n\n[sweep]\nloss = [0.5, 0.25, 0.125]\n\n"
                '[hydra]\nsweep.dir = "multirun/los"\n'
            },
            "zenspec run spec.toml",
            _cli("run", "spec.toml"),
            'Name a key the task returns (`metric = "loss"`). The jobs that finished '
            "are kept: `zenspec results multirun/los --metric loss` reads them.",
        ),
    ],
    "JobFailedError": [
        Example(
            "Some jobs of a sweep failed (the others ran; exit code 1)",
            {
                "spec.toml": '[experiment]\ntarget = "fractions:Fraction"\n\n[config]\n'
                'numerator = 1\n\n[sweep]\nnumerator = ["1/2", "one half"]\n\n'
                '[hydra]\nsweep.dir = "multirun/fractions"\n'
            },
            "zenspec run spec.toml",
            _cli("run", "spec.toml"),
            "Read the failed job's log in its output directory; the other jobs' results "
            "are on disk. Rerun only the failures with `zenspec resume --retry-failed`.",
        ),
    ],
}


def _while_locked(root: str, before: Callable[[], object], then: Callable[[], object]) -> None:
    """Run *before*, then *then* while a (pretend) other process holds *root*'s lock."""
    import fcntl
    import json

    from zenspec.records.lock import lock_path

    before()
    fd = os.open(lock_path(root), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder = {"pid": 4242, "host": "login1", "command": "zenspec run", "since": 1.8e9}
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        then()
    finally:
        os.close(fd)


def _import_all() -> None:
    """Import zenspec's modules, so subclasses defined anywhere in it are found."""
    for info in pkgutil.walk_packages(zenspec.__path__, "zenspec."):
        if info.name.endswith("__main__"):
            continue
        with contextlib.suppress(Exception):  # an optional dependency missing
            importlib.import_module(info.name)


def error_classes() -> List[type]:
    """ZenspecError and every subclass defined in zenspec, root first, then by name."""
    _import_all()
    found: List[type] = []
    todo = [ZenspecError]
    while todo:
        cls = todo.pop()
        if cls not in found and cls.__module__.startswith("zenspec"):
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return [ZenspecError, *sorted(set(found) - {ZenspecError}, key=lambda c: c.__name__)]


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    cwd = os.getcwd()
    saved_path = list(sys.path)
    modules = set(sys.modules)
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(cwd)
            sys.path[:] = saved_path
            # an example's own modules (train.py) are not the next example's
            for name in set(sys.modules) - modules:
                if (getattr(sys.modules[name], "__file__", None) or "").startswith(tmp):
                    del sys.modules[name]


def _message(example: Example) -> str:
    with _scratch() as tmp:
        for name, text in example.files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                example.trigger()
            except ZenspecError as e:
                return e.format_message().replace(str(tmp) + os.sep, "").replace(str(tmp), ".")
    raise AssertionError(f"the example {example.title!r} raised no ZenspecError")


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split())


def _fence(text: str, lang: str = "") -> List[str]:
    return [f"```{lang}", text.rstrip("\n"), "```"]


def render(classes: Optional[List[type]] = None) -> str:
    """The catalogue as Markdown (runs every example)."""
    classes = classes or error_classes()
    out = [
        "# Error catalogue",
        "",
        "<!-- Generated by `python docs/errors_catalogue.py > docs/errors.md`; every "
        "message below was produced by running its example. Do not edit by hand. -->",
        "",
        "Every mistake zenspec can see is reported as one `ZenspecError` (or a subclass), "
        "printed by the `zenspec` command as `error: file::$.key.path (line L, column C): "
        "message` followed by the fix, without a traceback (`--traceback` adds it). "
        "`zenspec validate` prints every problem of every file, one per line. From Python, "
        "the exception carries the same fields: `file`, `path`, `line`, `column`, `hint` and "
        "`problems` (every problem found, when there are several).",
        "",
        "## Exit codes",
        "",
        "| code | meaning |",
        "|---|---|",
        "| 0 | success |",
        "| 1 | a job failed, or a trial of a random/Optuna study did (also when no trial "
        "completed, or `max_failures` stopped the study); the other jobs ran and their "
        "results are kept. `zenspec results --check`: some job has no successful result, "
        "or the sweep stopped early |",
        "| 2 | bad input: spec, overrides, command-line usage; nothing was run. Also a "
        "metric the task does not return (`$.experiment.metric`, [`MetricError`]"
        "(#metricerror)): checked on the first job that completes, no job is launched "
        "after its batch, the finished ones are recorded |",
        "| 74 | the machine refused a write zenspec needs (disk full, permission denied, "
        "read-only file system; [`StorageError`](#storageerror)): the message names the path "
        "and the OS error; no job ran, or the jobs that finished before it are recorded "
        "(`EX_IOERR` of sysexits.h) |",
        "| 130 | interrupted (Ctrl-C): running jobs recorded `interrupted`, `zenspec resume` runs them |",
        "| 143 | terminated (SIGTERM: `scancel`, preemption, `docker stop`, `timeout`), as Ctrl-C |",
        "| other | a job crashed the in-process launcher and zenspec with it: the job's own exit "
        "status (`os._exit(3)`: 3; a segfault: 139 in a shell); `zenspec resume` records the "
        "job as failed with its cause and runs the rest |",
        "",
        "## Classes",
        "",
        "| class | exit code | raised when |",
        "|---|---|---|",
    ]
    for cls in classes:
        bases = ", ".join(b.__name__ for b in cls.__bases__)
        out.append(
            f"| [`{cls.__name__}`](#{cls.__name__.lower()}) ({bases}) | {cls.exit_code} | "
            f"{_summary(cls)} |"
        )
    for cls in classes:
        out += ["", f"## {cls.__name__}", ""]
        out += [f"Exit code {cls.exit_code}. {_summary(cls)}", ""]
        examples = EXAMPLES.get(cls.__name__, [])
        if not examples:
            out += ["(no example yet)", ""]
        for ex in examples:
            out += [f"### {ex.title}", ""]
            for name, text in ex.files.items():
                lang = {"toml": "toml", "yaml": "yaml"}.get(name.rpartition(".")[2], "")
                out += [f"`{name}`:", "", *_fence(text, lang), ""]
            if ex.action.startswith("zenspec"):
                out += [*_fence("$ " + ex.action, "console"), ""]
            else:
                out += [*_fence(ex.action, "python"), ""]
            out += ["Message:", "", *_fence(_message(ex), "text"), ""]
            out += [f"**Fix.** {ex.fix}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
