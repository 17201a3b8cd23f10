"""Shared fixtures for dataset tests: the demo server and a cache shared by the module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datamint.demo import data_dir


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache per test module, so files are downloaded and decoded once per module."""
    return tmp_path_factory.mktemp("dataset-cache")


@pytest.fixture
def demo_kwargs(demo_server: Any, shared_cache: Path) -> dict[str, Any]:
    """Constructor arguments that point a dataset at the demo server."""
    return {
        "server_url": demo_server.url,
        "api_key": demo_server.api_key,
        "cache_dir": shared_cache,
    }


@pytest.fixture(scope="session")
def manifest() -> dict[str, Any]:
    """The bundled demo project.json."""
    return json.loads((data_dir() / "project.json").read_text())


def index_of(ds: Any, filename: str) -> int:
    """Position of the resource with ``filename`` in ``ds.resources``."""
    names = [r.filename for r in ds.resources]
    return names.index(filename)
