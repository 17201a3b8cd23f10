"""Fixtures of the cache, manifest, offline and fault-injection tests.

``fault_server`` serves the demo project from its own store, wrapped by a
:class:`~datamint.testing.faults.FaultInjector`; the ``faults`` fixture hands the injector
to a test with no rule and an empty request log, and clears it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from datamint.api import Api
from datamint.api import connection as connection_module
from datamint.testing.faults import FaultInjector
from datamint.testing.server import build_demo_store, running_server


@dataclass(frozen=True)
class FaultServer:
    """The demo project behind a fault injector.

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


@pytest.fixture(scope="session")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    """Serve the demo project behind a FaultInjector for the whole session."""
    store_dir = tmp_path_factory.mktemp("fault-store")
    project_id, api_key = build_demo_store(store_dir)
    faults = FaultInjector()
    with running_server(store_dir, wrap_app=faults.wrap) as server:
        yield FaultServer(server.url, api_key, project_id, store_dir, faults)


@pytest.fixture
def faults(fault_server: FaultServer) -> Iterator[FaultInjector]:
    """The injector, with no rule and an empty log; cleared again afterwards."""
    fault_server.faults.reset()
    yield fault_server.faults
    fault_server.faults.reset()


@pytest.fixture(autouse=True)
def _fresh_probe_memo() -> Iterator[None]:
    """Forget which servers this process has probed."""
    connection_module._probed.clear()
    yield
    connection_module._probed.clear()


@pytest.fixture
def api(fault_server: FaultServer, faults: FaultInjector) -> Iterator[Api]:
    """A client of the fault server (no probe)."""
    with Api(fault_server.url, fault_server.api_key, check_connection=False) as client:
        yield client


@pytest.fixture(scope="session")
def demo_records(fault_server: FaultServer) -> dict[str, Any]:
    """The demo project's resources and segmentation annotations, fetched once."""
    with Api(fault_server.url, fault_server.api_key, check_connection=False) as client:
        resources = client.get_project_resources(fault_server.project_id)
        annotations = client.search_annotations([r["id"] for r in resources])
    segmentations = [a for a in annotations if a["type"] == "segmentation"]
    return {"resources": resources, "annotations": annotations, "segmentations": segmentations}
