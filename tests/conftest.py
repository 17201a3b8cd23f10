"""Fixtures shared by the whole test suite.

- ``isolated_env`` (autouse): no ``DATAMINT_*`` or proxy variable leaks in from the shell;
  the cache root and the config folder move into the test's ``tmp_path``.
- ``demo_server`` (session): the reference server, over HTTP on 127.0.0.1, serving a store
  built from the bundled demo project; its user is a member of the demo project. Treat it
  as read-only: tests that write (splits, users) build their own store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datamint.testing.server import build_demo_store, running_server

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@dataclass(frozen=True)
class IsolatedEnv:
    """Where ``isolated_env`` points datamint for one test.

    Attributes:
        cache_dir: Value of ``DATAMINT_CACHE_DIR`` (not created).
        config_home: Value of ``XDG_CONFIG_HOME`` (not created).
    """

    cache_dir: Path
    config_home: Path


@dataclass(frozen=True)
class DemoServer:
    """A running reference server over the demo project.

    Attributes:
        url: Base URL without trailing slash, e.g. ``http://127.0.0.1:54321``.
        api_key: Key of ``demo@example.org``, a member of the demo project.
        project_id: Id of the demo project.
        store_dir: The store folder the server reads.
    """

    url: str
    api_key: str
    project_id: str
    store_dir: Path


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> IsolatedEnv:
    """Clear ``DATAMINT_*`` and proxy variables; move the cache and config into tmp_path."""
    for name in list(os.environ):
        if name.startswith("DATAMINT_") or name.upper() in _PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
    env = IsolatedEnv(cache_dir=tmp_path / "datamint-cache", config_home=tmp_path / "xdg-config")
    monkeypatch.setenv("DATAMINT_CACHE_DIR", str(env.cache_dir))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env.config_home))
    return env


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """Serve the demo project from a fresh store for the whole test session."""
    store_dir = tmp_path_factory.mktemp("demo-store")
    project_id, api_key = build_demo_store(store_dir)
    with running_server(store_dir) as server:
        yield DemoServer(
            url=server.url, api_key=api_key, project_id=project_id, store_dir=store_dir
        )
