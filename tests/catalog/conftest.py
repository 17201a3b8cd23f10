"""Fixtures of the catalog, modes, streaming and search tests: the demo project behind a
request-counting :class:`~datamint.testing.faults.FaultInjector` (see ``tests/counting.py``).

``counted`` (session) serves it from its own store; ``faults`` hands its injector to a
test with no rule and an empty request log; ``ctx`` is a :class:`~datamint.catalog.Context`
on the test's own cache root pointing at that server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datamint.catalog import Context
from datamint.testing.faults import FaultInjector
from tests.counting import CountedServer, serve_counted


@pytest.fixture(scope="session")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CountedServer]:
    """Serve the demo project behind a FaultInjector for the whole session."""
    yield from serve_counted(tmp_path_factory.mktemp("catalog-store"))


@pytest.fixture
def faults(counted: CountedServer) -> Iterator[FaultInjector]:
    """The injector, with no rule and an empty log; cleared again afterwards."""
    counted.faults.reset()
    yield counted.faults
    counted.faults.reset()


@pytest.fixture
def ctx(counted: CountedServer, faults: FaultInjector, tmp_path: Path) -> Context:
    """A context on this test's own cache root, pointing at the counted server."""
    return Context(tmp_path / "cache", server_url=counted.url, api_key=counted.api_key)
