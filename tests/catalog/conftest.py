"""Fixtures of the catalog, modes, streaming and docs tests: the demo project behind a
request-counting :class:`~datamint.testing.faults.FaultInjector`.

``counted`` (session) serves the demo project from its own store; ``faults`` hands its
injector to a test with no rule and an empty request log; ``ctx`` is a
:class:`~datamint.catalog.Context` on the test's own cache root pointing at that server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datamint.catalog import Context
from datamint.testing.faults import FaultInjector
from datamint.testing.server import build_demo_store, running_server

FILE_ROUTES = r"^/(resources/[^/]+|annotations/[^/]+/annotations/[^/]+)/file$"
"""Paths of the two file downloads (resource files and segmentation files)."""


@dataclass(frozen=True)
class CountedServer:
    """The demo project behind a fault injector (for counting requests).

    Attributes:
        url: Base URL.
        api_key: Key of a member of the demo project.
        project_id: Id of the demo project.
        store_dir: The store folder (the tests may write to it).
        faults: The injector wrapping the app.
    """

    url: str
    api_key: str
    project_id: str
    store_dir: Path
    faults: FaultInjector


@pytest.fixture(scope="session")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CountedServer]:
    """Serve the demo project behind a FaultInjector for the whole session."""
    store_dir = tmp_path_factory.mktemp("catalog-store")
    project_id, api_key = build_demo_store(store_dir)
    faults = FaultInjector()
    with running_server(store_dir, wrap_app=faults.wrap) as server:
        yield CountedServer(server.url, api_key, project_id, store_dir, faults)


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


def file_downloads(faults: FaultInjector) -> int:
    """How many file downloads (resource or segmentation) the server has seen."""
    return faults.count(FILE_ROUTES)
