"""Stage 2: check a parsed spec against the JSON Schema, with errors people can act on.

``schemas/zenspec.schema.json`` is the single source of truth (editors use it
too); this module loads it and turns ``jsonschema``'s errors into one
:class:`~zenspec.errors.Problem` per mistake: the key path, the line, what was
expected, what was found and, for typos, a "did you mean". For ``anyOf``/
``oneOf`` it reports the branch the value was evidently meant for, not a wall
of every branch's complaints. A schema may carry ``errorMessage`` (the
convention of ajv-errors; validators and editors ignore it) to word a message.

Importing ``jsonschema`` costs ~40 ms, a third of ``zenspec validate``'s start:
a spec found valid is remembered by the digest of its data (every value with
its type) under a fingerprint of the schema's text and jsonschema's files
(:mod:`zenspec.spec.facts`), and the same data is not validated again until
one of them changes. Only "valid" is remembered: a spec with problems is
always validated, so its messages are always jsonschema's.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional

from zenspec.errors import Problem, did_you_mean
from zenspec.spec import facts
from zenspec.spec.parse import KeyPath, ParsedSpec

if TYPE_CHECKING:  # imported where a spec is validated: `zenspec schema` only prints
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import ValidationError

__all__ = ["describe", "load_schema", "schema_problems", "schema_text"]

SCHEMA_NAME = "zenspec.schema.json"
_REPO_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_NAME


def schema_text() -> str:
    """The schema file's text, from the installed package (or the source checkout)."""
    try:
        from importlib.resources import files

        return (files("zenspec") / "schemas" / SCHEMA_NAME).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, ModuleNotFoundError, TypeError):
        # an install without the data file (or Python 3.9's resources quirks)
        return _REPO_SCHEMA.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _schema() -> str:
    return schema_text()


def load_schema() -> Dict[str, Any]:
    """The zenspec JSON Schema (Draft-07) as a fresh dict."""
    return json.loads(_schema())


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    from jsonschema import Draft7Validator

    return Draft7Validator(load_schema())


_TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true/false)",
    "object": "a table",
    "array": "a list",
    "null": "null",
}


def describe(value: Any) -> str:
    """How a found value is named in messages: ``string "fast"``, ``integer 3``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > 60:
            text = text[:56] + '..."'
        return f"string {text}"
    if isinstance(value, list):
        return "an empty list" if not value else f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "an empty table" if not value else "a table"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return f"a date/time {value.isoformat()} (TOML reads unquoted dates as dates; YAML only with !!timestamp)"
    return type(value).__name__


def _expected_types(types: Any) -> str:
    names = [_TYPE_NAMES.get(t, t) for t in ([types] if isinstance(types, str) else types)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _custom(schema: Any, keyword: str) -> Optional[str]:
    message = schema.get("errorMessage") if isinstance(schema, dict) else None
    if isinstance(message, dict):
        return message.get(keyword)
    return message


def _branches_only_require(branches: Iterable[Any]) -> bool:
    return all(isinstance(b, dict) and set(b) == {"required"} for b in branches)


def _applicable(errors: List[ValidationError]) -> bool:
    """False if the branch rejected the value's very type (it was not meant for it)."""
    return not any(e.validator == "type" and not e.relative_path for e in errors)


def _choice_message(err: ValidationError) -> str:
    keys = [b["required"][0] for b in err.validator_value]
    present = [k for k in keys if isinstance(err.instance, dict) and k in err.instance]
    listed = " and ".join(f"'{k}'" for k in keys)
    if len(present) > 1:
        return f"{listed} cannot be used together; " + (
            _custom(err.schema, err.validator) or "give exactly one"
        )
    return f"missing {' or '.join(repr(k) for k in keys)}: " + (
        _custom(err.schema, err.validator) or "give exactly one"
    )


class _Explainer:
    def __init__(self, parsed: ParsedSpec) -> None:
        self.parsed = parsed

    def problem(self, path: KeyPath, message: str, hint: Optional[str] = None) -> Problem:
        return self.parsed.problem(path, message, hint)

    def explain(self, err: ValidationError) -> List[Problem]:
        path: KeyPath = tuple(err.absolute_path)
        v, inst, schema = err.validator, err.instance, err.schema
        in_names = "propertyNames" in err.relative_schema_path or "propertyNames" in list(
            err.absolute_schema_path
        )
        if in_names:  # the instance is a key name; point at the key itself
            return [self._bad_key(err, path)]
        if v in ("anyOf", "oneOf"):
            return self._alternatives(err, path)
        if v == "additionalProperties":
            return self._unknown_keys(err, path)
        if v == "required":
            missing = [k for k in err.validator_value if k not in inst]
            return [
                self.problem(path, f"missing required key '{k}'.", self._required_hint(path, k))
                for k in missing
            ]
        if v == "type":
            expected = _custom(schema, "type") or f"expected {_expected_types(err.validator_value)}"
            return [self.problem(path, f"{expected}, found {describe(inst)}.")]
        if v == "pattern":
            expected = _custom(schema, "pattern") or f"expected a match for {err.validator_value}"
            return [self.problem(path, f"{expected}, found {describe(inst)}.")]
        if v in ("enum", "const"):
            allowed = err.validator_value if v == "enum" else [err.validator_value]
            shown = ", ".join(json.dumps(a) for a in allowed)
            hint = did_you_mean(inst, [a for a in allowed if isinstance(a, str)]).strip() or None
            return [self.problem(path, f"expected one of {shown}, found {describe(inst)}.", hint)]
        if v == "minItems":
            return [self.problem(path, f"expected at least {err.validator_value} item(s), found {describe(inst)}.")]  # fmt: skip
        if v == "minProperties":
            return [self.problem(path, f"expected at least {err.validator_value} entry, found {describe(inst)}.")]  # fmt: skip
        if v == "minLength":
            return [self.problem(path, f"expected a non-empty string, found {describe(inst)}.")]
        if v == "minimum":
            return [self.problem(path, f"expected a number >= {err.validator_value}, found {describe(inst)}.")]  # fmt: skip
        if v == "dependencies":
            return [self.problem(path, (_custom(schema, v) or err.message) + ".")]
        if v == "not":
            return [self.problem(path, (_custom(schema, v) or err.message) + ".")]
        return [self.problem(path, err.message + ".")]

    def _required_hint(self, path: KeyPath, key: str) -> Optional[str]:
        if path == () and key == "experiment":
            return 'Fix: add [experiment] with target = "pkg.mod:callable" or task = "pkg.mod:fn".'
        return None

    def _bad_key(self, err: ValidationError, path: KeyPath) -> Problem:
        key = err.instance
        where = (*path, key)
        if err.validator == "enum" and path and path[-1] == "pruner":  # a kind's settings
            allowed = [a for a in err.validator_value if isinstance(a, str) and a != "kind"]
            node: Any = self.parsed.data
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            kind = node.get("kind") if isinstance(node, dict) else None
            takes = ", ".join(allowed) if allowed else "no settings"
            return self.problem(
                where,
                f"the {kind} pruner does not take '{key}'; it takes {takes}.",
                did_you_mean(key, allowed).strip() or None,
            )
        if err.validator == "enum":  # reserved _xxx_ keys
            allowed = [a for a in err.validator_value if isinstance(a, str)]
            return self.problem(
                where,
                f"unknown reserved key '{key}'; Hydra's are {', '.join(allowed)}.",
                did_you_mean(key, allowed).strip() or None,
            )
        expected = _custom(err.schema, err.validator) or "expected a valid key"
        return self.problem(where, f"{expected}, found {describe(key)}.")

    def _unknown_keys(self, err: ValidationError, path: KeyPath) -> List[Problem]:
        known = list(err.schema.get("properties", {}))
        patterns = list(err.schema.get("patternProperties", {}))
        extras = [
            k for k in err.instance if k not in known and not any(re.search(p, k) for p in patterns)
        ]
        context = ""
        if len(path) == 1 and path[0] in ("sweeper", "launcher"):
            context = f" for {path[0]} kind '{err.instance.get('kind', 'basic')}'"
        elif known == ["_ref_"]:
            context = " next to _ref_ (a reference to an object takes no arguments)"
        out = []
        for k in extras:
            hint = did_you_mean(k, known).strip()
            if not hint and known and known != ["_ref_"]:
                hint = "Allowed here: " + ", ".join(known) + "."
            out.append(self.problem((*path, k), f"unknown key '{k}'{context}.", hint or None))
        return out

    def _alternatives(self, err: ValidationError, path: KeyPath) -> List[Problem]:
        branches = err.validator_value
        if _branches_only_require(branches):
            return [self.problem(path, _choice_message(err) + ".")]
        by_branch: Dict[int, List[ValidationError]] = {}
        for sub in err.context or ():
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [errs for i, errs in sorted(by_branch.items()) if _applicable(errs)]
        if len(meant) == 1:  # the value has the type of one branch: explain that branch
            from jsonschema.exceptions import best_match

            return self.explain(best_match(meant[0]))
        titles = [b.get("title") or _expected_types(b.get("type", "value")) for b in branches]
        expected = ", ".join(titles[:-1]) + " or " + titles[-1] if len(titles) > 1 else titles[0]
        return [self.problem(path, f"expected {expected}, found {describe(err.instance)}.")]


class _Long(str):
    """A long string whose repr is short.

    jsonschema writes ``repr(instance)`` into every error it makes -- also the
    errors of an ``if`` that merely selects a branch -- so a 1 MB string aliased
    10,000 times in YAML cost seconds of repr; the check itself reads the text.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(str.__getitem__(self, slice(0, _SHOWN))) + f"... ({len(self):,} characters)"


_SHOWN = 60


def _short_reprs(data: Any, memo: Dict[int, Any]) -> Any:
    """*data* with long strings as :class:`_Long`; shared (aliased) values stay shared."""
    known = memo.get(id(data))
    if known is not None:
        return known
    if isinstance(data, str):
        out: Any = _Long(data) if len(data) > 4 * _SHOWN else data
    elif isinstance(data, dict):
        out = {k: _short_reprs(v, memo) for k, v in data.items()}
    elif isinstance(data, list):
        out = [_short_reprs(v, memo) for v in data]
    else:
        return data
    memo[id(data)] = out
    return out


def schema_problems(parsed: ParsedSpec) -> List[Problem]:
    """Every way *parsed* violates the schema, one :class:`Problem` each, in file order."""
    known = _KnownValid.load()
    digest = _digest(parsed.data) if known is not None else None
    if known is not None and digest in known.digests:
        return []  # this very data was valid under this schema and jsonschema
    problems = _problems(parsed)
    if known is not None and digest is not None and not problems:
        known.add(digest)
    return problems


def _problems(parsed: ParsedSpec) -> List[Problem]:
    explainer = _Explainer(parsed)
    problems: List[Problem] = []
    seen = set()
    for err in _validator().iter_errors(_short_reprs(parsed.data, {})):
        for p in explainer.explain(err):
            key = (p.path, p.message)
            if key not in seen:
                seen.add(key)
                problems.append(p)
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.path or ""))


def _canonical(data: Any) -> Any:
    """*data* as JSON that tells every value's type (``1``, ``1.0``, ``True``, a date
    and its text all differ); mapping order kept, as the schema may not care."""
    if isinstance(data, dict):
        return ["d", [[str(k), type(k).__name__, _canonical(v)] for k, v in data.items()]]
    if isinstance(data, list):
        return ["l", [_canonical(v) for v in data]]
    return [type(data).__name__, repr(data) if not isinstance(data, str) else str(data)]


def _digest(data: Any) -> Optional[str]:
    try:
        text = json.dumps(_canonical(data), separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _KnownValid:
    """Digests of spec data found valid, for one schema and jsonschema (kept: :mod:`.facts`)."""

    _loaded: Optional[_KnownValid] = None
    _LIMIT = 5000

    def __init__(self, fingerprint: str, digests: List[str]) -> None:
        self.fingerprint = fingerprint
        self.digests = set(digests)
        self.order = list(digests)
        self.dirty = False

    @classmethod
    def load(cls) -> Optional[_KnownValid]:
        if cls._loaded is not None or facts.disabled():
            return cls._loaded
        files = facts.package_files(
            "jsonschema",
            ["validators.py", "_keywords.py", "_legacy_keywords.py", "_types.py", "_format.py"],
        )
        schema = hashlib.sha256(_schema().encode("utf-8")).hexdigest()
        fingerprint = facts.fingerprint([*files, __file__], "schema=" + schema) if files else None
        if fingerprint is None:
            return None
        kept = facts.read("valid-specs", fingerprint)
        digests = [d for d in kept if isinstance(d, str)] if isinstance(kept, list) else []
        cls._loaded = cls(fingerprint, digests)
        return cls._loaded

    def add(self, digest: str) -> None:
        if digest in self.digests:
            return
        if not self.dirty:  # the first new one: all are written at exit
            import atexit

            atexit.register(self.save)
            self.dirty = True
        self.digests.add(digest)
        self.order.append(digest)

    def save(self) -> None:
        """Write the digests, the newest :attr:`_LIMIT` (once per process, at exit)."""
        facts.write("valid-specs", self.fingerprint, self.order[-self._LIMIT :])
