"""Fuzz the spec front half: bad input ends in success or a ZenspecError, never anything else.

Every stage a spec goes through before a job starts is driven with generated
input -- parse (TOML and YAML), the JSON Schema, the model, the semantic checks
(imports only of a few harmless modules), compilation and override parsing,
``zenspec validate``/``plan`` through :func:`zenspec.cli.main` -- with specs built
valid by a strategy, the same specs mutated (keys deleted or renamed, values of
the wrong type, random unicode, deep nesting), and raw bytes written as
``.toml``/``.yaml`` files. The property: the input is accepted, or a
:class:`~zenspec.errors.ZenspecError` with a message (naming the file) is
raised; no other exception, no hang, no traceback printed by the CLI, and the
CLI exits 0 or 2.

CI runs a few hundred examples per test (the file takes well under a minute).
A long fuzz::

    ZENSPEC_FUZZ_EXAMPLES=10000 python -m pytest tests/test_fuzz_spec.py -p no:randomly

runs that many examples per test (``ZENSPEC_FUZZ_SEED=N`` picks another
derandomized sequence; without it each run explores new inputs).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from zenspec.cli import main
from zenspec.errors import SpecError, ZenspecError
from zenspec.spec import load_spec, validate
from zenspec.spec.compile import compile_spec, merge_overrides, spec_overrides
from zenspec.spec.imports import search_path
from zenspec.spec.model import build_spec
from zenspec.spec.parse import MAX_DEPTH, parse_file, parse_text
from zenspec.spec.schema import schema_problems
from zenspec.spec.semantic import check_spec

EXAMPLES = int(os.environ.get("ZENSPEC_FUZZ_EXAMPLES", "0"))
HANG_SECONDS = 30


def fuzz(n: int) -> settings:
    """*n* examples in CI; ZENSPEC_FUZZ_EXAMPLES of them in a long fuzz."""
    return settings(
        max_examples=EXAMPLES or n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
        # shrinking a failure can take minutes; the long fuzz only reports it
        phases=[Phase.generate] if os.environ.get("ZENSPEC_FUZZ_NO_SHRINK") else list(Phase),
    )


@contextlib.contextmanager
def no_hang(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail (instead of hanging the suite) when one input takes longer than *seconds*."""

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"one input took more than {seconds} s: a hang")

    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows
        yield
        return
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- strategies ------------------------------------------------------------------------------

#: The only modules a fuzzed spec may make zenspec import: harmless to import.
SAFE_MODULES = {"builtins", "collections", "types", "fractions", "math", "operator", "os"}
SAFE_TARGETS = [
    "builtins:dict",
    "builtins.dict",
    "collections:OrderedDict",
    "types:SimpleNamespace",
]
SAFE_TASKS = ["builtins:print", "builtins:repr", "builtins:id"]
IMPORT_PATH = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*([:.][A-Za-z_][A-Za-z0-9_.]*)$"
)

ident = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
weird_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12
)  # any unicode but lone surrogates (TOML/YAML/UTF-8 cannot carry those)
grammarish = st.sampled_from(
    [
        "${a}",
        "${x.y}",
        "${oc.env:HOME}",
        "${oc.env:ZENSPEC_FUZZ_UNSET,default}",
        "${now:%H}",
        "${",
        "${a",
        "${}",
        "${hydra:job.name}",
        "$${a}",
        "range(1, 4)",
        "range(0, 10**12)",
        "range(5, 1)",
        "range(1, 5, 0)",
        "range(0.0, 1.0, 0.25)",
        "choice(1, 2)",
        "choice()",
        "interval(0, 1)",
        "interval(1, 0)",
        "glob(*)",
        "shuffle(a, b)",
        "sort(3, 1, 2)",
        "tag(log, interval(0.1, 1))",
        "a,b",
        "1,2,3",
        "[1, 2",
        "'unterminated",
        "key=value",
        "\\",
        "",
        " ",
        "null",
        "true",
        "nan",
        "inf",
        "1e400",
        "0x1F",
        "pkg.mod:attr",
        "os:system",
        "builtins:eval",
        "hydra._internal.utils._locate",
    ]
)
leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | weird_text
    | grammarish
)
values = st.recursive(
    leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(ident | weird_text, c, max_size=3),
    max_leaves=10,
)


@st.composite
def nodes(draw: Any) -> Dict[str, Any]:
    if draw(st.booleans()):
        return {"_ref_": draw(st.sampled_from([*SAFE_TARGETS, "math:pi", "os.path:join"]))}
    node: Dict[str, Any] = {"_target_": draw(st.sampled_from(SAFE_TARGETS))}
    if draw(st.booleans()):
        node["_partial_"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        node["_args_"] = draw(st.lists(leaf, max_size=2))
    if draw(st.integers(0, 4)) == 0:
        node["_convert_"] = draw(st.sampled_from(["none", "partial", "object", "all"]))
    node.update(draw(st.dictionaries(ident, values, max_size=3)))
    return node


config_values = values | nodes()
sweep_values = st.lists(leaf, min_size=1, max_size=4) | grammarish | weird_text


@st.composite
def specs(draw: Any) -> Dict[str, Any]:
    """A spec, valid by construction more often than not (so later stages are reached)."""
    data: Dict[str, Any] = {}
    kind = draw(st.sampled_from(["target", "task", "config_class"]))
    exp: Dict[str, Any] = {}
    if kind == "target":
        exp["target"] = draw(st.sampled_from(SAFE_TARGETS))
    else:
        exp["task"] = draw(st.sampled_from(SAFE_TASKS))
        if kind == "config_class":
            exp["config_class"] = draw(st.sampled_from(["types:SimpleNamespace", "fractions:Fraction"]))  # fmt: skip
    if draw(st.booleans()):
        exp["name"] = draw(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,8}", fullmatch=True))
    if draw(st.integers(0, 5)) == 0:
        exp["search_path"] = draw(st.lists(st.sampled_from([".", "..", "lib", "/nonexistent"]), max_size=2))  # fmt: skip
    data["experiment"] = exp
    keys = draw(st.lists(ident, max_size=4, unique=True))
    data["config"] = {k: draw(config_values) for k in keys}
    if draw(st.booleans()):
        group = draw(st.sampled_from(["optim", "model", "db/engine"]))
        options = draw(st.lists(ident, min_size=1, max_size=3, unique=True))
        data["groups"] = {group: {o: draw(nodes()) for o in options}}
        if draw(st.booleans()):
            data["defaults"] = {group: draw(st.sampled_from([*options, "missing"]))}
        if draw(st.booleans()):
            data.setdefault("sweep", {})[group] = draw(
                st.lists(st.sampled_from([*options, "missing"]), min_size=1, max_size=3)
            )
    swept = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    for key in swept + draw(st.lists(st.sampled_from(["+extra", "++extra2", "~gone", "nope"]), max_size=1)):  # fmt: skip
        data.setdefault("sweep", {})[key] = draw(sweep_values)
    sweeper = draw(st.integers(0, 4))
    if sweeper == 1:
        data["sweeper"] = {"max_batch_size": draw(st.integers(1, 4))}
    elif sweeper == 2:
        data["sweeper"] = {"kind": "random", "max_trials": draw(st.integers(1, 3)), "seed": 0}
    if draw(st.integers(0, 4)) == 0:
        data["launcher"] = draw(st.sampled_from([{"kind": "joblib", "n_jobs": 2}, {"kind": "basic"}]))  # fmt: skip
    if draw(st.integers(0, 3)) == 0:
        data["hydra"] = draw(
            st.sampled_from(
                [
                    {"run": {"dir": "out/${now:%H}"}},
                    {"sweep": {"dir": "multirun/x", "subdir": "${hydra.job.num}"}},
                    {"job": {"chdir": False, "env_set": {"A": "1"}}},
                    {"verbose": True},
                    {"job_logging": "disabled"},
                ]
            )
        )
    return data


def _paths(data: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*path, i))


def _get(data: Any, path: tuple) -> Any:
    for p in path:
        data = data[p]
    return data


@st.composite
def mutated_specs(draw: Any) -> Dict[str, Any]:
    """A valid-looking spec with 1-3 mistakes: deleted/renamed keys, wrong types, unicode, depth."""
    data = draw(specs())
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _get(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["delete", "rename", "retype", "unicode", "nest", "typo"]))
        if op == "delete":
            del parent[last]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(ident | weird_text)] = parent.pop(last)
        elif op == "typo" and isinstance(parent, dict) and isinstance(last, str) and last:
            i = draw(st.integers(0, len(last) - 1))
            parent[last[:i] + last[i + 1 :] + draw(st.sampled_from(["", "s", "_"]))] = parent.pop(last)  # fmt: skip
        elif op == "retype":
            parent[last] = draw(values)
        elif op == "unicode":
            parent[last] = draw(weird_text)
        elif op == "nest":
            depth = draw(st.integers(1, 3 * MAX_DEPTH))
            value: Any = parent[last]
            for _ in range(depth):
                value = [value] if draw(st.booleans()) else {"k": value}
            parent[last] = value
    return data


# -- writing specs -----------------------------------------------------------------------------


def _toml_key(key: Any) -> str:
    key = str(key)
    if key and re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return key
    return _toml_str(key)


def _toml_str(text: str) -> str:
    # JSON's escapes are TOML's, except that TOML also wants DEL escaped
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}"
    raise TypeError(type(value))


def to_toml(data: Dict[str, Any]) -> str:
    """A small TOML writer (no tomli_w here): tables for sections, inline tables below."""
    lines: List[str] = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{_toml_key(key)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]  # fmt: skip
        elif value is not None:
            lines.insert(0, f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def to_yaml(data: Dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _safe_to_import(data: Any) -> bool:
    """True when every import-path-like string of *data* names a harmless module."""
    for path in _paths(data):
        value = _get(data, path)
        for text in [value] + ([path[-1]] if path else []):
            if (
                isinstance(text, str)
                and IMPORT_PATH.match(text.strip())
                and text.strip().split(":")[0].split(".")[0] not in SAFE_MODULES
            ):
                return False
    return True


# -- the property ------------------------------------------------------------------------------


def _check_error(e: ZenspecError, file: Optional[str]) -> None:
    text = e.format_message()
    assert text.strip(), "an error without a message"
    assert "Traceback" not in text
    for p in e.problems:
        assert p.message.strip()
        if file is not None:
            assert p.file == file, p.format()


def front_half(path: Path, *, imports: bool = False, overrides: List[str] = ()) -> str:
    """Parse, schema, model, semantic checks, overrides, compile: 'ok' or the error's message.

    Any exception other than a ZenspecError propagates and fails the test.
    """
    file = str(path)
    try:
        parsed = parse_file(path)
        problems = schema_problems(parsed)
        if problems:
            raise SpecError(problems[0].message, problems=problems)
        spec = build_spec(parsed)
        imports = imports and _safe_to_import(parsed.data)
        with search_path(spec.experiment.search_path) if imports else contextlib.nullcontext():
            report = check_spec(spec, imports=imports, max_jobs=100_000)
        if report.problems:
            raise SpecError(report.problems[0].message, problems=report.problems)
    except ZenspecError as e:
        _check_error(e, file)
        event(f"refused: {type(e).__name__}")
        return e.format_message()
    try:
        merged = merge_overrides(spec_overrides(spec), list(overrides))
        assert all(isinstance(o, str) for o in merged)
        if imports:  # compile imports the experiment's target/task: only harmless ones
            with search_path(spec.experiment.search_path):
                compile_spec(spec, list(overrides), multirun=bool(spec.sweep))
    except ZenspecError as e:
        _check_error(e, None)
        event(f"refused by compile: {type(e).__name__}")
        return e.format_message()
    event("accepted" + (" and compiled" if imports else ""))
    return "ok"


def _write(tmp: Path, name: str, content: Any) -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _validate_api(path: Path) -> None:
    """``validate`` returns problems (never raises); ``load_spec`` raises SpecError or loads."""
    for p in validate(path):
        assert p.message.strip() and p.file == str(path)
    try:
        load_spec(path)
    except ZenspecError as e:
        _check_error(e, str(path))


# -- tests --------------------------------------------------------------------------------------


@fuzz(300)
@given(data=specs(), fmt=st.sampled_from(["toml", "yaml"]))
def test_generated_specs_pass_the_front_half_or_fail_cleanly(tmp_path, data, fmt):
    text = to_toml(data) if fmt == "toml" else to_yaml(data)
    note(text)
    path = _write(tmp_path, f"spec.{fmt}", text)
    with no_hang():
        front_half(path, imports=True)


@fuzz(300)
@given(data=mutated_specs(), fmt=st.sampled_from(["toml", "yaml"]))
def test_mutated_specs_fail_cleanly(tmp_path, data, fmt):
    text = to_toml(data) if fmt == "toml" else to_yaml(data)
    note(text)
    path = _write(tmp_path, f"spec.{fmt}", text)
    with no_hang():
        front_half(path, imports=True)
        _validate_api(path)


@st.composite
def raw_inputs(draw: Any) -> bytes:
    """Bytes: arbitrary, unicode text, or a spec's text with bytes flipped/cut/inserted."""
    how = draw(st.sampled_from(["bytes", "text", "spec"]))
    if how == "bytes":
        return draw(st.binary(max_size=400))
    if how == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    data = draw(specs())
    raw = bytearray((to_toml(data) if draw(st.booleans()) else to_yaml(data)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if op == "flip":
            raw[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i : i + draw(st.integers(1, 8))]
        elif op == "insert":
            raw[i:i] = draw(st.sampled_from([b"[", b"{", b"\"", b"'", b"\n", b"&a ", b"*a", b"!!python/name:os.system ", b"<<: ", b"- ", b": ", b"\t", b"\x00", b"\xff", b"#", b"=", b"."]))  # fmt: skip
        else:
            del raw[i:]
    return bytes(raw)


@fuzz(400)
@given(raw=raw_inputs(), suffix=st.sampled_from([".toml", ".yaml", ".yml"]))
def test_raw_bytes_fail_cleanly(tmp_path, raw, suffix):
    note(repr(raw))
    path = _write(tmp_path, f"spec{suffix}", raw)
    with no_hang():
        front_half(path, imports=True)


@fuzz(200)
@given(text=st.text(max_size=300), fmt=st.sampled_from(["toml", "yaml"]))
def test_parse_text_takes_any_text(text, fmt):
    with no_hang():
        try:
            parsed = parse_text(text, fmt, file="t")
        except ZenspecError as e:
            _check_error(e, "t")
            return
    assert isinstance(parsed.data, dict)


@fuzz(150)
@given(
    depth=st.integers(1, 5 * MAX_DEPTH),
    shape=st.sampled_from(
        ["toml-array", "toml-inline", "toml-dotted", "yaml-flow", "yaml-block", "yaml-alias"]
    ),
)
def test_deep_nesting_is_refused_cleanly(tmp_path, depth, shape):
    head = '[experiment]\ntarget = "builtins:dict"\n[config]\n'
    yhead = "experiment:\n  target: builtins:dict\nconfig:\n"
    if shape == "toml-array":
        path = _write(tmp_path, "s.toml", head + "x = " + "[" * depth + "1" + "]" * depth + "\n")
    elif shape == "toml-inline":
        path = _write(tmp_path, "s.toml", head + "x = " + "{a = " * depth + "1" + "}" * depth + "\n")  # fmt: skip
    elif shape == "toml-dotted":
        path = _write(tmp_path, "s.toml", head + ".".join(["a"] * depth) + " = 1\n")
    elif shape == "yaml-flow":
        path = _write(tmp_path, "s.yaml", yhead + "  x: " + "[" * depth + "1" + "]" * depth + "\n")
    elif shape == "yaml-block":
        lines = [yhead.rstrip("\n")] + [" " * (2 * (i + 1)) + "a:" for i in range(depth)]
        path = _write(tmp_path, "s.yaml", "\n".join(lines) + " 1\n")
    else:  # each level an alias of the one before: small text, deep (and wide) data
        lines = ["l0: &l0 [1, 1]"] + [
            f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, depth)
        ]
        path = _write(tmp_path, "s.yaml", yhead + "  x: 1\n" + "\n".join(lines) + "\n")
    with no_hang():
        result = front_half(path)
    if depth > MAX_DEPTH + 2 and shape != "yaml-alias":
        assert f"nested more than {MAX_DEPTH} levels deep" in result


override_text = st.text(max_size=20) | st.builds(
    lambda k, op, v: f"{k}{op}{v}",
    st.sampled_from(
        [
            "a",
            "b",
            "+a",
            "++a",
            "~a",
            "nope",
            "hydra.run.dir",
            "hydra/launcher",
            "optim",
            "a.b",
            "",
            "=",
            "+",
        ]
    ),
    st.sampled_from(["=", "", "=="]),
    grammarish | weird_text,
)


@fuzz(300)
@given(data=specs(), overrides=st.lists(override_text, max_size=3))
def test_overrides_on_generated_specs_fail_cleanly(tmp_path, data, overrides):
    path = _write(tmp_path, "spec.toml", to_toml(data))
    note(to_toml(data))
    with no_hang():
        front_half(path, imports=True, overrides=overrides)


def _cli(capsys: Any, *argv: str) -> tuple:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's usage errors (an override that looks like -x)
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    return code, out, err


@fuzz(150)
@given(raw=raw_inputs() | mutated_specs().map(lambda d: to_toml(d).encode()), suffix=st.sampled_from([".toml", ".yaml"]))  # fmt: skip
def test_cli_validate_exits_0_or_2_without_a_traceback(tmp_path, capsys, raw, suffix):
    path = _write(tmp_path, f"spec{suffix}", raw)
    with no_hang():
        code, out, err = _cli(capsys, "validate", str(path))
    event(f"exit {code}")
    assert code in (0, 2), out + err
    if code == 2:
        assert str(path) in out


@fuzz(40)
@given(data=specs(), overrides=st.lists(override_text, max_size=2))
def test_cli_plan_exits_0_or_2_without_a_traceback(tmp_path, capsys, data, overrides):
    if not _safe_to_import(data):
        return
    path = _write(tmp_path, "spec.toml", to_toml(data))
    note(to_toml(data))
    with no_hang():
        code, out, err = _cli(capsys, "plan", str(path), *overrides)
    event(f"exit {code}")
    assert code in (0, 2), out + err
    if code == 2:
        assert "error: " in err


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_a_huge_file_is_refused_before_it_is_read(tmp_path, suffix):
    from zenspec.spec.parse import MAX_SPEC_BYTES

    path = tmp_path / f"huge{suffix}"
    with path.open("wb") as f:
        f.write(b"# padding\n" * (MAX_SPEC_BYTES // 10 + 1))
    with pytest.raises(SpecError, match=r"bytes, more than the 1\.0 MiB a spec may be") as info:
        parse_file(path)
    assert info.value.file == str(path)
    assert main(["validate", str(path)]) == 2


def test_many_values_through_aliases_are_refused(tmp_path):
    # "billion laughs": nine lines that would expand to 9**9 values
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = _write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    with no_hang(10), pytest.raises(SpecError, match="expands to more than") as info:
        parse_file(path)
    assert info.value.line is not None
