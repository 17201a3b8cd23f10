"""A download the server breaks off keeps what it received and the next one resumes it.

The reference server runs behind the fault injector (:mod:`datamint.testing.faults`); it
drops the connection mid-body or answers 5xx. The request log shows each request's
``Range``, from which the bytes the server sent are counted: over a failed call and the
call after it, each byte of the file is sent once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datamint.api import Api
from datamint.api import connection as connection_module
from datamint.exceptions import IntegrityError, NetworkError, ServerError
from datamint.storage.file_cache import FileCache
from datamint.testing.faults import FaultInjector, RequestRecord
from datamint.testing.server import build_demo_store, running_server

pytestmark = pytest.mark.reliability

FILE_ROUTE = r"^/resources/[^/]+/file$"
DROP_AFTER = 40_000


@pytest.fixture(scope="module")
def fault_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo project served behind a FaultInjector, and its largest resource."""
    store_dir = tmp_path_factory.mktemp("resume-store")
    project_id, api_key = build_demo_store(store_dir)
    faults = FaultInjector()
    with running_server(store_dir, wrap_app=faults.wrap) as server:
        with Api(server.url, api_key, check_connection=False) as client:
            resources = client.get_project_resources(project_id)
        record = max(resources, key=lambda r: int(r["size"]))
        yield {"url": server.url, "key": api_key, "faults": faults, "record": record}


@pytest.fixture
def faults(fault_site: dict[str, Any]) -> Iterator[FaultInjector]:
    fault_site["faults"].reset()
    connection_module._probed.clear()
    yield fault_site["faults"]
    fault_site["faults"].reset()


@pytest.fixture
def api(fault_site: dict[str, Any], faults: FaultInjector) -> Iterator[Api]:
    with Api(fault_site["url"], fault_site["key"], check_connection=False) as client:
        yield client


def _offset(request: RequestRecord) -> int:
    return int(request.range.removeprefix("bytes=").removesuffix("-")) if request.range else 0


def _bytes_sent(requests: list[RequestRecord], size: int) -> int:
    """Body bytes the server sent: ``DROP_AFTER`` for a dropped response, the rest of the
    file from its ``Range`` offset for a complete one, nothing for an injected status."""
    sent = 0
    for request in requests:
        if request.fault == "drop":
            sent += DROP_AFTER
        elif request.status in (200, 206):
            sent += size - _offset(request)
    return sent


def test_connection_dropped_on_every_attempt_keeps_the_bytes_for_the_next_call(
    api: Api, faults: FaultInjector, fault_site: dict[str, Any], tmp_path: Path
) -> None:
    record, size = fault_site["record"], int(fault_site["record"]["size"])
    attempts = api.max_retries + 1
    faults.drop_connection(FILE_ROUTE, after_bytes=DROP_AFTER, times=attempts)
    cache = FileCache(tmp_path)
    with pytest.raises(NetworkError, match=r"data\.incomplete is kept for a later resume"):
        cache.resource_file(api, record)
    first = faults.requests
    partial = next(tmp_path.rglob("data.incomplete"))
    assert partial.stat().st_size == attempts * DROP_AFTER
    assert not cache.has_resource_file(record)

    path = cache.resource_file(api, record)  # the server is healthy again
    second = faults.requests[len(first) :]
    assert [(r.range, r.status) for r in second] == [(f"bytes={attempts * DROP_AFTER}-", 206)]
    assert _bytes_sent(second, size) == size - attempts * DROP_AFTER
    assert _bytes_sent(first + second, size) == size  # no byte sent twice
    assert cache.resource_meta(record)["sha256"] == record["sha256"] == api_sha(path)
    assert not partial.exists()


def test_server_error_while_resuming_keeps_the_bytes_too(
    api: Api, faults: FaultInjector, fault_site: dict[str, Any], tmp_path: Path
) -> None:
    """The server dies mid-body; on the next call it answers 503 until the call gives
    up; on the third it is back: the bytes of the first call are still used."""
    record, size = fault_site["record"], int(fault_site["record"]["size"])
    attempts = api.max_retries + 1
    faults.drop_connection(FILE_ROUTE, after_bytes=DROP_AFTER, times=attempts)
    cache = FileCache(tmp_path)
    with pytest.raises(NetworkError):
        cache.resource_file(api, record)
    kept = attempts * DROP_AFTER
    faults.fail_with_status(FILE_ROUTE, status=503, times=None, retry_after_s=0)
    before = len(faults.requests)
    with pytest.raises(ServerError, match="503"):
        cache.resource_file(api, record)
    assert next(tmp_path.rglob("data.incomplete")).stat().st_size == kept
    assert [r.range for r in faults.requests[before:]] == [f"bytes={kept}-"] * attempts

    faults.clear_rules()
    before = len(faults.requests)
    cache.resource_file(api, record)
    (last,) = faults.requests[before:]
    assert (last.range, last.status) == (f"bytes={kept}-", 206)
    assert _bytes_sent(faults.requests, size) == size
    assert cache.resource_meta(record)["sha256"] == record["sha256"]


def test_partial_bytes_of_another_content_are_discarded_once_verified_wrong(
    api: Api, faults: FaultInjector, fault_site: dict[str, Any], tmp_path: Path
) -> None:
    """A kept partial that does not belong to the file fails verification after the
    resume; the download then starts over from byte 0 and succeeds."""
    record = fault_site["record"]
    cache = FileCache(tmp_path)
    faults.drop_connection(FILE_ROUTE, after_bytes=DROP_AFTER, times=api.max_retries + 1)
    with pytest.raises(NetworkError):
        cache.resource_file(api, record)
    partial = next(tmp_path.rglob("data.incomplete"))
    kept = partial.stat().st_size
    partial.write_bytes(b"\0" * kept)  # not the file's first bytes
    before = len(faults.requests)
    cache.resource_file(api, record)
    assert [r.range for r in faults.requests[before:]] == [f"bytes={kept}-", None]
    assert cache.resource_meta(record)["sha256"] == record["sha256"]


def test_bytes_failing_verification_are_not_kept(
    api: Api, faults: FaultInjector, fault_site: dict[str, Any], tmp_path: Path
) -> None:
    record = {**fault_site["record"], "sha256": "0" * 64}
    with pytest.raises(IntegrityError, match="failed verification"):
        FileCache(tmp_path).resource_file(api, record)
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".lock")]


def api_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
