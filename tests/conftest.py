"""Fixtures that keep each test's Hydra/global state to itself.

Every test runs in its own temporary working directory (Hydra writes
``outputs/`` and ``multirun/`` relative to it), and the autouse guard fails a
test that leaves GlobalHydra initialised, ConfigStore entries behind, or root
logging handlers changed -- the same promise zenspec makes to its users.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins

REPO_ROOT = Path(__file__).resolve().parents[1]
# Discovering Hydra's plugins imports them, and they register their configs
# (hydra/launcher/joblib...) in the ConfigStore: do it once, before any test.
Plugins.instance()

if str(REPO_ROOT) not in sys.path:  # so `examples.*` targets import in tests and workers
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """zenspec's kept facts (zenspec.spec.facts) go to a cache of the test session's own,
    never the user's ~/.cache; subprocesses inherit it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    mp.undo()


def _store_keys(node: dict, prefix: str = "") -> set:
    keys = set()
    for k, v in node.items():
        name = f"{prefix}/{k}" if prefix else k
        keys.add(name)
        if isinstance(v, dict):
            keys |= _store_keys(v, name)
    return keys


@pytest.fixture(autouse=True)
def isolated_hydra(tmp_path, monkeypatch):
    """Run in a fresh cwd and check that the test left Hydra's globals as found."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    )
    GlobalHydra.instance().clear()
    before_store = _store_keys(ConfigStore.instance().repo)
    before_handlers = list(logging.getLogger().handlers)
    yield tmp_path
    leaked_global = GlobalHydra.instance().is_initialized()
    GlobalHydra.instance().clear()
    after_store = _store_keys(ConfigStore.instance().repo)
    assert not leaked_global, "test left GlobalHydra initialized"
    assert logging.getLogger().handlers == before_handlers, "test changed root logging handlers"
    leaked = after_store - before_store
    # test modules may register their own fixtures' entries at import time; only
    # entries created *during* the test count as leaks
    assert not leaked, f"test left ConfigStore entries behind: {sorted(leaked)}"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


def _copy_tree(node: dict) -> dict:
    return {k: _copy_tree(v) if isinstance(v, dict) else v for k, v in node.items()}


@pytest.fixture
def store():
    """Hydra's ConfigStore for tests that store configs themselves, as users do;
    the entries are given back afterwards."""
    cs = ConfigStore.instance()
    saved = _copy_tree(cs.repo)
    yield cs
    cs.repo.clear()
    cs.repo.update(saved)
