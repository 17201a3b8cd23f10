"""The demo project behind a request-counting fault injector, for tests that count what
the server sees (downloads per file, per node).

Used by the conftests of ``tests/catalog`` and ``tests/distributed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
        store_dir: The store folder.
        faults: The injector wrapping the app.
    """

    url: str
    api_key: str
    project_id: str
    store_dir: Path
    faults: FaultInjector


def serve_counted(store_dir: Path) -> Iterator[CountedServer]:
    """Build the demo store in ``store_dir`` and serve it behind a FaultInjector."""
    project_id, api_key = build_demo_store(store_dir)
    faults = FaultInjector()
    with running_server(store_dir, wrap_app=faults.wrap) as server:
        yield CountedServer(server.url, api_key, project_id, store_dir, faults)


def file_downloads(faults: FaultInjector) -> int:
    """How many file downloads (resource or segmentation) the server has seen."""
    return faults.count(FILE_ROUTES)
