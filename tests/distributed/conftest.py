"""Fixtures of the torchrun tests: the demo project behind a request-counting injector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datamint.testing.faults import FaultInjector
from tests.counting import CountedServer, serve_counted


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CountedServer]:
    """Serve the demo project behind a FaultInjector for the module's tests."""
    yield from serve_counted(tmp_path_factory.mktemp("ddp-store"))


@pytest.fixture
def faults(counted: CountedServer) -> Iterator[FaultInjector]:
    """The injector, with no rule and an empty log; cleared again afterwards."""
    counted.faults.reset()
    yield counted.faults
    counted.faults.reset()
