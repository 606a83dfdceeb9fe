"""zenspec._compatibility: the only module that touches Hydra's and OmegaConf's
private names, its version probes and flags, and the error for an unsupported Hydra."""

from __future__ import annotations

import ast
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
