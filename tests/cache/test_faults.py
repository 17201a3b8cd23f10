"""The fault-injection middleware itself, seen through plain httpx."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from datamint.testing.faults import FaultInjector, FaultRule

from .support import FILE_ROUTE


@pytest.fixture
def client(fault_server: Any, faults: FaultInjector) -> httpx.Client:
    with httpx.Client(
        base_url=fault_server.url, headers={"apikey": fault_server.api_key}, timeout=30
    ) as c:
        yield c


def test_counts_every_request_per_path_from_many_threads(
    client: httpx.Client, faults: FaultInjector, fault_server: Any
) -> None:
    path = f"/projects/{fault_server.project_id}"

    def hit() -> None:
        for _ in range(5):
            assert client.get(path).status_code == 200

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert faults.count(f"^{path}$") == 40
    assert faults.counts() == {path: 40}
    assert faults.count(method="POST") == 0
    assert {r.status for r in faults.requests} == {200}


def test_status_for_the_first_k_requests_then_the_app(
    client: httpx.Client, faults: FaultInjector, demo_records: dict
) -> None:
    rid = demo_records["resources"][0]["id"]
    rule = faults.fail_with_status(FILE_ROUTE, status=503, times=2, retry_after_s=3)
    first = client.get(f"/resources/{rid}/file")
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "3"
    assert "injected" in first.json()["message"]
    assert client.get(f"/resources/{rid}/file").status_code == 503
    assert client.get(f"/resources/{rid}/file").status_code == 200
    assert client.get(f"/resources/{rid}").status_code == 200  # pattern does not match
    assert rule.applied == 2
    assert [r.fault for r in faults.requests] == ["status", "status", None, None]


def test_drop_breaks_the_body_after_n_bytes(
    client: httpx.Client, faults: FaultInjector, demo_records: dict
) -> None:
    record = max(demo_records["resources"], key=lambda r: int(r["size"]))
    faults.drop_connection(FILE_ROUTE, after_bytes=1000, times=1)
    received = bytearray()
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("GET", f"/resources/{record['id']}/file") as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_raw():
            received += chunk
    assert len(received) == 1000
    assert faults.requests[-1].fault == "drop"
    whole = client.get(f"/resources/{record['id']}/file")  # used up: whole file now
    assert len(whole.content) == int(record["size"])


def test_latency_and_slow_body(
    client: httpx.Client, faults: FaultInjector, demo_records: dict
) -> None:
    record = min(demo_records["resources"], key=lambda r: int(r["size"]))
    faults.add(FaultRule(FILE_ROUTE, latency_s=0.3, times=None))
    started = time.perf_counter()
    assert client.get(f"/resources/{record['id']}/file").status_code == 200
    assert time.perf_counter() - started >= 0.3
    faults.reset()
    faults.add_latency(FILE_ROUTE, 0.0, chunk_bytes=4096, chunk_delay_s=0.01)
    started = time.perf_counter()
    body = client.get(f"/resources/{record['id']}/file").content
    pieces = -(-int(record["size"]) // 4096)
    assert len(body) == int(record["size"])
    assert time.perf_counter() - started >= 0.01 * pieces
    assert faults.requests[-1].fault == "latency"


def test_range_header_is_recorded(
    client: httpx.Client, faults: FaultInjector, demo_records: dict
) -> None:
    rid = demo_records["resources"][0]["id"]
    assert client.get(f"/resources/{rid}/file", headers={"Range": "bytes=10-"}).status_code == 206
    assert faults.requests[-1].range == "bytes=10-"
