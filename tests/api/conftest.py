"""Fixtures of the API-client and file-cache tests.

The repository-wide ``isolated_env`` fixture (tests/conftest.py) clears ``DATAMINT_*`` and
moves the config and cache dirs; ``demo_server`` serves the demo project.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from datamint.api import connection as connection_module
from datamint.api import transport as transport_module
from datamint.api.client import Api

from .support import KEY, URL


@pytest.fixture(autouse=True)
def _fresh_probe_memo() -> Iterator[None]:
    """Forget which servers this process has probed, so each test sees its own probes."""
    connection_module._probed.clear()
    yield
    connection_module._probed.clear()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry backoff sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(transport_module, "_sleep", recorded.append)
    return recorded


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def make_api(sleeps: list[float]) -> Iterator[Callable[..., Api]]:
    """Build an ``Api`` on a MockTransport handler; closes them all afterwards."""
    made: list[Api] = []

    def make(handler: Handler, **kwargs: Any) -> Api:
        kwargs.setdefault("check_connection", False)
        api = Api(URL, KEY, transport=httpx.MockTransport(handler), **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()
