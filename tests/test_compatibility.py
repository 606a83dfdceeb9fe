"""zenspec._compatibility: the only module that touches Hydra's and OmegaConf's
private names, its version probes and flags, and the error for an unsupported Hydra."""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import zenspec
from zenspec import _compatibility as compat
from zenspec.errors import EXIT_BAD_INPUT, LaunchError, ZenspecError

PACKAGE = Path(zenspec.__file__).parent
COMPAT = PACKAGE / "_compatibility.py"

# module file (relative to zenspec/) -> private names it may still import, and why.
# Empty: every private import goes through zenspec._compatibility.
ALLOWED: dict = {}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_imports(path: Path):
    """(line, what) for each import of ``hydra._internal``/``_``-prefixed names of
    hydra*/omegaconf* modules in *path*."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in ("hydra", "omegaconf") and any(_private(p) for p in parts):
                    found.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] not in ("hydra", "omegaconf"):
                continue
            if any(_private(p) for p in parts):
                found.append((node.lineno, node.module))
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
    return found


def test_only_the_compatibility_module_imports_private_hydra_or_omegaconf_names():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == COMPAT:
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        allowed = ALLOWED.get(rel, set())
        for line, what in _private_imports(path):
            if what not in allowed:
                offenders.append(f"zenspec/{rel}:{line}: {what}")
    assert not offenders, "import these through zenspec._compatibility:\n" + "\n".join(offenders)


def test_the_checker_sees_every_form_of_private_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import omegaconf._utils\n"
        "from hydra._internal.hydra import Hydra\n"
        "from hydra.core.utils import _flush_loggers, JobReturn\n"
        "def f():\n    from omegaconf._utils import get_yaml_loader\n"
        "from hydra.core.utils import JobStatus\n"
        "from hydra import __version__\n"
        "from .x import _y\n"
    )
    assert [w for _, w in _private_imports(source)] == [
        "omegaconf._utils",
        "hydra._internal.hydra",
        "hydra.core.utils._flush_loggers",
        "omegaconf._utils",
    ]


# --- private attributes of Hydra's and OmegaConf's objects ---------------------------

# module file (relative to zenspec/) -> private attribute names it may still access.
# Empty: every private attribute goes through zenspec._compatibility.
ALLOWED_ATTRIBUTES: dict = {}

# What the checker must see whatever else changes: the names zenspec reads through
# zenspec._compatibility (node_of, node_value, job_outcome, container_content...).
_CORE_PRIVATE = {
    "_get_node",
    "_get_child",
    "_value",
    "_val",
    "_is_missing",
    "_is_none",
    "_is_interpolation",
    "_metadata",
    "_content",
    "_parent",
    "_flags_cache",
    "_set_value",
    "_set_parent",
    "_get_parent",
    "_resolve_interpolation_from_parse_tree",
    "_to_content",
    "_resolvers",
    "_return_value",
    "_instances",
    "_apply_overrides_to_config",
    "_get_value_element_as_str",
    "_normalize_file_name",
}

# Run in a fresh interpreter: it imports every module of both libraries.
_LIBRARY_NAMES = r"""
import abc, ast, collections, enum, importlib, inspect, json, pkgutil, typing, warnings

def private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

class E(enum.Enum):
    A = 1
class G(typing.Generic[typing.TypeVar("T")]):
    pass
class P(typing.Protocol):
    pass
class A(abc.ABC):
    pass
# names the standard library gives a class (an Enum's _value_, a namedtuple's _asdict)
STDLIB = {n for c in (object, Exception, E, G, P, A, collections.namedtuple("T", "a"))
          for n in dir(c) if private(n)}

classes, files = set(), set()
for top in ("omegaconf", "hydra"):
    package = importlib.import_module(top)
    found = pkgutil.walk_packages(package.__path__, top + ".", onerror=lambda name: None)
    for name in [top] + [m.name for m in found]:
        parts = name.split(".")
        # Hydra's own test helpers; ANTLR's generated parsers and vendored runtime
        if "test_utils" in parts or "gen" in parts or "vendor" in parts:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:
            continue
        if getattr(module, "__file__", None):
            files.add(module.__file__)
        for value in list(vars(module).values()):
            if (isinstance(value, type) and not value.__name__.startswith("_")
                    and value.__module__.split(".")[0] == top):
                classes.add(value)

names = set()
for cls in classes:
    names.update(dir(cls))
    for klass in cls.__mro__:
        names.update(getattr(klass, "__annotations__", {}) if "__annotations__" in vars(klass) else ())
        names.update(getattr(klass, "__dataclass_fields__", {}))
        slots = vars(klass).get("__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
# instance attributes: what the classes assign to self (OmegaConf's __init__ sets
# _content, _metadata, _parent... through self.__dict__)
for file in files:
    if not file.endswith(".py"):
        continue
    with open(file, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name) and node.value.id == "self"):
            names.add(node.attr)
        elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Attribute)
              and node.value.attr == "__dict__" and isinstance(node.slice, ast.Constant)
              and isinstance(node.slice.value, str)):
            names.add(node.slice.value)
print(json.dumps(sorted(n for n in names if private(n) and n not in STDLIB)))
"""


@functools.cache
def _library_private_names() -> frozenset:
    """``_``-prefixed names omegaconf's and hydra's classes define (methods, class and
    instance attributes, dataclass fields), from the installed libraries."""
    out = subprocess.run(
        [sys.executable, "-c", _LIBRARY_NAMES], capture_output=True, text=True, check=True
    ).stdout
    return frozenset(json.loads(out))


def _own_attribute_names() -> set:
    """``_``-prefixed attributes zenspec defines on its own classes: methods and class
    attributes, and what it assigns to ``self``/``cls``."""
    own = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        own.add(statement.name)
                    targets = (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                        if isinstance(statement, ast.AnnAssign)
                        else []
                    )
                    own.update(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for part in ast.walk(target):
                        if isinstance(part, ast.Attribute) and _own_receiver(part.value):
                            own.add(part.attr)
                        elif isinstance(part, ast.Subscript):
                            name = _dict_key(part)
                            if name is not None and _own_receiver(name[0]):
                                own.add(name[1])
    return {name for name in own if _private(name)}


def _forbidden_names() -> frozenset:
    # Hydra's config keys (_target_, _partial_, _convert_...) are public, not private
    library = {n for n in _library_private_names() if not n.endswith("_")}
    return frozenset(library - _own_attribute_names())


def _own_receiver(node: ast.AST) -> bool:
    """``self``, ``cls`` or ``super()``: the object's own attributes."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _dict_key(node: ast.Subscript):
    """(receiver, key) of ``x.__dict__["key"]`` or ``vars(x)["key"]``, else None."""
    if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
        return None
    holder = node.value
    if isinstance(holder, ast.Attribute) and holder.attr == "__dict__":
        return holder.value, node.slice.value
    if (
        isinstance(holder, ast.Call)
        and isinstance(holder.func, ast.Name)
        and holder.func.id == "vars"
        and len(holder.args) == 1
    ):
        return holder.args[0], node.slice.value
    return None


_BY_NAME = {"getattr", "setattr", "hasattr", "delattr"}
_OBJECT_BY_NAME = {"__getattribute__", "__setattr__", "__delattr__"}


def _private_attribute_uses(path: Path, forbidden) -> list:
    """(line, what) for each access, in *path*, to an attribute named in *forbidden* on
    anything but ``self``/``cls``/``super()``: ``x._a``, ``x.__dict__["_a"]``,
    ``vars(x)["_a"]``, ``getattr(x, "_a")`` (and setattr, hasattr, delattr),
    ``object.__setattr__(x, "_a", v)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        receiver = name = None
        if isinstance(node, ast.Attribute):
            receiver, name = node.value, node.attr
        elif isinstance(node, ast.Subscript):
            receiver, name = _dict_key(node) or (None, None)
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            func = node.func
            by_name = isinstance(func, ast.Name) and func.id in _BY_NAME
            on_object = (
                isinstance(func, ast.Attribute)
                and func.attr in _OBJECT_BY_NAME
                and isinstance(func.value, ast.Name)
                and func.value.id == "object"
            )
            key = node.args[1]
            if (by_name or on_object) and isinstance(key, ast.Constant):
                receiver, name = node.args[0], key.value
        if name in forbidden and not _own_receiver(receiver):
            found.append((node.lineno, f"{name} on {ast.unparse(receiver)}"))
    return sorted(found)


def test_only_the_compatibility_module_touches_private_hydra_or_omegaconf_attributes():
    forbidden = _forbidden_names()
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == COMPAT:
            continue
        rel = path.relative_to(PACKAGE).as_posix()
        allowed = ALLOWED_ATTRIBUTES.get(rel, set())
        for line, what in _private_attribute_uses(path, forbidden):
            if what.split(" ", 1)[0] not in allowed:
                offenders.append(f"zenspec/{rel}:{line}: {what}")
    advice = "reach these through a function of zenspec._compatibility:\n"
    assert not offenders, advice + "\n".join(offenders)


def test_the_attribute_checker_knows_the_private_names_zenspec_uses():
    library = _library_private_names()
    assert library >= _CORE_PRIVATE, sorted(_CORE_PRIVATE - library)  # computed, not blind
    shadowed = _CORE_PRIVATE - _forbidden_names()
    assert not shadowed, (
        f"zenspec defines {sorted(shadowed)} on a class of its own, so the checker no longer "
        "sees Hydra's/OmegaConf's: rename zenspec's"
    )


def test_the_checker_sees_every_form_of_private_attribute_access(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "def f(node, ret):\n"
        "    node._get_node('a')\n"
        "    node.__dict__['_content']['k'] = 1\n"
        "    vars(node)['_content']\n"
        "    getattr(ret, '_return_value', None)\n"
        "    setattr(ret, '_return_value', 1)\n"
        "    object.__setattr__(ret, '_return_value', 1)\n"
        "    ret.hydra_cfg._get_node('hydra')._value()\n"
        "    node._zenspec_own, node.__dict__['_zenspec_own'], getattr(node, '_x' + 'y')\n"
        "class C:\n"
        "    def g(self):\n"
        "        self._get_node('a'), super()._get_node('a'), self.__dict__['_content']\n"
        "    @classmethod\n"
        "    def h(cls):\n"
        "        return cls._value, getattr(cls, '_value')\n"
    )
    forbidden = {"_get_node", "_content", "_return_value", "_value"}
    assert [(line, what) for line, what in _private_attribute_uses(source, forbidden)] == [
        (2, "_get_node on node"),
        (3, "_content on node"),
        (4, "_content on node"),
        (5, "_return_value on ret"),
        (6, "_return_value on ret"),
        (7, "_return_value on ret"),
        (8, "_get_node on ret.hydra_cfg"),
        (8, "_value on ret.hydra_cfg._get_node('hydra')"),
    ]


# --- probes and flags ------------------------------------------------------------


def test_versions_are_those_installed():
    import hydra
    import omegaconf

    assert hydra.__version__ == compat.HYDRA_VERSION
    assert omegaconf.__version__ == compat.OMEGACONF_VERSION
    assert hydra.__version__.startswith("1.4") == compat.HYDRA_14
    assert omegaconf.__version__.startswith("2.4") == compat.OMEGACONF_24


@pytest.mark.parametrize(
    "text, release",
    [
        ("1.3.6", (1, 3, 6)),
        ("1.4.0rc3", (1, 4, 0)),
        ("1.4.0.dev1", (1, 4, 0)),
        ("2.4.1rc1", (2, 4, 1)),
        ("1.4", (1, 4, 0)),
    ],
)
def test_release_parsing(text, release):
    assert compat._release(text) == release


def test_flags_follow_the_versions():
    assert compat.SETS_OVERRIDE_DIRNAME is not compat.HYDRA_14
    assert compat.HAS_OVERRIDE_VALIDATE is not compat.HYDRA_14
    # a speed piece is off wherever it is not proven (then stock Hydra's path runs)
    assert compat.FAST_COMPOSITION  # 1.4: through _load_configuration (LOAD_HOOK_14)
    assert compat.LOAD_HOOK_14 is compat.HYDRA_14
    assert compat.FAST_RUN_JOB is not compat.HYDRA_14
    assert compat.FAST_LOGGING is not compat.HYDRA_14
    assert compat.FAST_YAML is not compat.OMEGACONF_24
    assert compat.FAST_GRAMMAR is not compat.OMEGACONF_24
    assert ("blacklisted" if compat.HYDRA_14 else "blocklisted") == compat.POLICY_WORD


@pytest.mark.parametrize("version", ["1.3.6", "1.3.7", "1.3.8", "1.4.0rc3", "1.4.0", "1.4.2"])
def test_supported_versions(version):
    assert compat.unsupported_reason(version) is None
    compat.require_supported(version)


@pytest.mark.parametrize("version", ["1.3.2", "1.3.5", "1.2.0", "1.5.0", "1.5.0rc1", "2.0.0"])
def test_an_unsupported_hydra_is_one_clear_error(version):
    with pytest.raises(LaunchError) as info:
        compat.require_supported(version)
    assert isinstance(info.value, ZenspecError)
    assert info.value.exit_code == EXIT_BAD_INPUT == 2
    assert f"zenspec supports hydra-core 1.3.6 to 1.4.x; found {version}" in str(info.value)


def test_the_installed_hydra_is_supported():
    assert compat.unsupported_reason() is None


def test_the_probe_imports_no_hydra():
    # versions come from package metadata: probing costs no Hydra import
    code = (
        "import sys, zenspec; before = set(sys.modules);"
        "import zenspec._compatibility;"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('hydra')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


_FAKE_HYDRA = """
import importlib.metadata as m, sys
real = m.version
m.version = lambda d: "1.3.2" if d == "hydra-core" else real(d)
from zenspec.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_an_unsupported_hydra_fails_with_exit_2_but_version_still_works(tmp_path):
    version = subprocess.run(
        [sys.executable, "-c", _FAKE_HYDRA, "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and "zenspec" in version.stdout
    spec = tmp_path / "s.toml"
    spec.write_text('[experiment]\ntarget = "builtins:dict"\n\n[config]\na = 1\n')
    run = subprocess.run(
        [sys.executable, "-c", _FAKE_HYDRA, "run", str(spec)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr
    assert "zenspec supports hydra-core 1.3.6 to 1.4.x; found 1.3.2" in run.stderr
    assert "Traceback" not in run.stderr


# --- the shims --------------------------------------------------------------------


def test_check_hydra_context():
    compat.check_hydra_context(object())
    with pytest.raises(TypeError, match="hydra_context"):
        compat.check_hydra_context(None)


def test_validate_override_parses_as_hydra_does():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_overrides(["a=1"])[0]
    compat.validate_override(override)  # a no-op where Override.validate() is gone


def test_yaml_loader_is_omegaconfs():
    loader = compat.get_yaml_loader()
    assert "tag:yaml.org,2002:float" in {
        tag for resolvers in loader.yaml_implicit_resolvers.values() for tag, _ in resolvers
    }


def test_base_at_least():
    from hydra import version

    before = version.getbase()
    try:
        compat.set_version_base("1.3")
        assert compat.base_at_least("1.2") and compat.base_at_least("1.3")
    finally:
        version.VersionBase.instance().setbase(before)


def test_set_version_base_records_the_base_without_a_warning():
    from hydra import version

    before = version.getbase()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compat.set_version_base("1.3")
        assert str(version.getbase()) == "1.3"
    finally:
        version.VersionBase.instance().setbase(before)


@pytest.mark.parametrize("target", ["os.system", "builtins.eval", "subprocess.run"])
def test_authorize_target_name_refuses_what_hydra_refuses(target):
    from hydra.errors import InstantiationException

    assert compat.has_target_policy()
    with pytest.raises(InstantiationException, match=compat.POLICY_WORD):
        compat.authorize_target_name(target, target, "")


def test_authorize_target_name_lets_a_plain_callable_through():
    compat.authorize_target_name("builtins.dict", "builtins.dict", "")


def test_policy_refusal_words_it_the_same_on_every_hydra():
    from zenspec.spec.policy import policy_refusal

    message = policy_refusal("os:system")
    assert message is not None and "blocklisted" in message


@pytest.mark.skipif(
    not compat.has_trusted_internal_target(),
    reason="hydra-core 1.3.6 has no trusted path (and does not refuse hydra._internal targets)",
)
def test_trusted_internal_target_is_a_context():
    with compat.trusted_internal_target(
        "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
    ):
        pass


def test_job_id_is_a_str_where_omegaconf_warns_about_ints():
    from omegaconf import OmegaConf

    assert compat.job_id(3) == ("3" if compat.OMEGACONF_24 else 3)
    from hydra.conf import JobConf

    cfg = OmegaConf.structured(JobConf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg.id = compat.job_id(3)
    assert cfg.id == "3"


def test_lazy_names_resolve_and_unknown_ones_do_not():
    assert compat.ConfigLoaderImpl.__name__ == "ConfigLoaderImpl"
    assert callable(compat.flush_loggers)
    with pytest.raises(AttributeError):
        compat.no_such_name  # noqa: B018


def test_configure_logging_hands_hydra_the_dict(monkeypatch):
    import hydra._internal.logging_config as logging_config

    calls = []
    monkeypatch.setattr(logging_config, "configure_logging", lambda *a: calls.append(a))
    compat.configure_logging({"version": 1})
    assert calls == [(({"version": 1}, None) if compat.HYDRA_14 else ({"version": 1},))]


def test_split_arguments_is_basic_sweepers():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=3"])
    batches = compat.split_arguments(parsed, None)
    assert batches == [[["a=1", "b=3"], ["a=2", "b=3"]]]


def test_the_execution_whitelist_is_hydra_14s_and_reaches_the_hydra_context():
    assert compat.HAS_EXECUTION_WHITELIST is compat.HYDRA_14
    assert compat.active_execution_whitelist() is None
    assert compat.hydra_context(None, None).config_loader is None
    with compat.execution_whitelist_scope(["builtins.dict"]):
        active = compat.active_execution_whitelist()
        context = compat.hydra_context(None, None)
        with compat.execution_whitelist_scope("builtins.pow"):
            inner = compat.active_execution_whitelist()
    assert compat.active_execution_whitelist() is None
    if compat.HYDRA_14:
        assert active == ("builtins.dict",) and inner == ("builtins.dict", "builtins.pow")
        assert context.execution_whitelist == ("builtins.dict",)
        assert compat.trusted_plugin_kwargs("a.B") == {"_execution_whitelist_": "a.B"}
    else:  # 1.3: nothing to carry, nothing to pass
        assert active is None and inner is None
        assert not hasattr(context, "execution_whitelist")
        assert compat.trusted_plugin_kwargs("a.B") == {}
    with compat.execution_whitelist_scope(None):
        assert compat.active_execution_whitelist() is None


def test_a_launch_shadows_a_config_store_entry_without_hydra_14s_collision_warning():
    from hydra.core.config_store import ConfigStore

    from zenspec import hydra_run

    cs = ConfigStore.instance()
    cs.store(name="zenspec_compat_mine", node={"a": 0})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # 1.4: Hydra15MigrationWarning without replace=True
            job = hydra_run(
                {"a": 1},
                lambda cfg: cfg.a,
                config_name="zenspec_compat_mine",
                with_log_configuration=False,
                records=False,
            )
        assert job.return_value == 1
        assert cs.repo["zenspec_compat_mine.yaml"].node.a == 0  # the user's entry is back
    finally:
        cs.repo.pop("zenspec_compat_mine.yaml", None)
