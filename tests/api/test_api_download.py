"""Resumable, verified downloads, for failure modes the reference server cannot produce.

Resume against the real server's Range support, and the ordinary paths, are covered in
``test_api_integration.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from datamint.exceptions import IntegrityError, ItemNotFoundError, NetworkError

PAYLOAD = bytes(range(256)) * 64  # 16 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FILE_PATH = "/resources/r1/file"


class BrokenStream(httpx.SyncByteStream):
    """Yields some bytes, then fails like a dropped connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.ReadError("connection reset")


class FileServer:
    """Serves PAYLOAD with Range support; ``script`` overrides answers per request."""

    def __init__(self, *, etag: str | None = SHA, honour_range: bool = True) -> None:
        self.etag = etag
        self.honour_range = honour_range
        self.requests: list[httpx.Request] = []
        self.script: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != FILE_PATH:
            return httpx.Response(404, json={"message": "resource r2 not found"})
        headers = {"ETag": f'"{self.etag}"'} if self.etag else {}
        action = self.script.pop(0) if self.script else "ok"
        if action == "break":
            return httpx.Response(200, headers=headers, stream=BrokenStream(PAYLOAD[:5000]))
        rng = request.headers.get("Range")
        if rng and self.honour_range:
            start = int(rng.removeprefix("bytes=").rstrip("-"))
            if start >= len(PAYLOAD):
                return httpx.Response(416)
            headers["Content-Range"] = f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
            return httpx.Response(206, headers=headers, content=PAYLOAD[start:])
        return httpx.Response(200, headers=headers, content=PAYLOAD)


def _partial(dest: Path) -> Path:
    return dest.with_name(dest.name + ".incomplete")


def test_plain_download_is_verified_against_etag(make_api, tmp_path: Path) -> None:
    server = FileServer()
    dest = tmp_path / "out" / "file.bin"
    result = make_api(server).download_resource_file("r1", dest)
    assert dest.read_bytes() == PAYLOAD
    assert (result.path, result.size, result.sha256, result.etag) == (dest, len(PAYLOAD), SHA, SHA)
    assert not _partial(dest).exists()
    assert server.requests[0].headers["accept"] == "application/octet-stream"


def test_partial_file_is_resumed_with_range(make_api, tmp_path: Path) -> None:
    server = FileServer()
    dest = tmp_path / "file.bin"
    _partial(dest).write_bytes(PAYLOAD[:1000])
    result = make_api(server).download_resource_file(
        "r1", dest, expected_size=len(PAYLOAD), expected_sha256=SHA
    )
    assert server.requests[0].headers["Range"] == "bytes=1000-"
    assert dest.read_bytes() == PAYLOAD
    assert result.sha256 == SHA


def test_200_answer_to_range_restarts_from_zero(make_api, tmp_path: Path) -> None:
    server = FileServer(honour_range=False)
    dest = tmp_path / "file.bin"
    _partial(dest).write_bytes(b"stale bytes")
    make_api(server).download_resource_file("r1", dest)
    assert dest.read_bytes() == PAYLOAD


def test_416_restarts_from_zero(make_api, tmp_path: Path) -> None:
    server = FileServer()
    dest = tmp_path / "file.bin"
    _partial(dest).write_bytes(b"x" * len(PAYLOAD))  # complete-looking but wrong
    make_api(server).download_resource_file("r1", dest)
    assert dest.read_bytes() == PAYLOAD
    assert [r.headers.get("Range") for r in server.requests] == [f"bytes={len(PAYLOAD)}-", None]


def test_stale_partial_failing_verification_is_retried_from_zero(make_api, tmp_path) -> None:
    server = FileServer()
    dest = tmp_path / "file.bin"
    _partial(dest).write_bytes(b"\xff" * 100)  # an older version's first bytes
    make_api(server).download_resource_file("r1", dest, expected_sha256=SHA)
    assert dest.read_bytes() == PAYLOAD
    assert [r.headers.get("Range") for r in server.requests] == ["bytes=100-", None]


def test_broken_stream_resumes_where_it_stopped(make_api, tmp_path: Path) -> None:
    server = FileServer()
    server.script = ["break"]
    dest = tmp_path / "file.bin"
    result = make_api(server).download_resource_file("r1", dest, expected_size=len(PAYLOAD))
    assert result.sha256 == SHA
    assert dest.read_bytes() == PAYLOAD
    assert [r.headers.get("Range") for r in server.requests] == [None, "bytes=5000-"]


def test_broken_stream_gives_up_and_keeps_the_partial(make_api, tmp_path: Path) -> None:
    server = FileServer()
    server.script = ["break"] * 10
    dest = tmp_path / "file.bin"
    api = make_api(server, max_retries=1)
    with pytest.raises(NetworkError, match="kept for a later resume"):
        api.download_resource_file("r1", dest)
    assert len(server.requests) == 2
    assert not dest.exists()
    assert _partial(dest).exists()


def test_wrong_expected_hash_keeps_existing_file(make_api, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"previous version")
    with pytest.raises(IntegrityError, match="sha256") as info:
        make_api(FileServer()).download_resource_file("r1", dest, expected_sha256="0" * 64)
    assert str(dest) in str(info.value)
    assert dest.read_bytes() == b"previous version"
    assert not _partial(dest).exists()


def test_wrong_size_is_an_integrity_error(make_api, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    with pytest.raises(IntegrityError, match="expected size"):
        make_api(FileServer()).download_resource_file("r1", dest, expected_size=10)
    with pytest.raises(IntegrityError, match=f"size {len(PAYLOAD)} bytes, expected"):
        make_api(FileServer()).download_resource_file("r1", dest, expected_size=len(PAYLOAD) + 1)
    assert not dest.exists()
    assert not _partial(dest).exists()


def test_etag_mismatch_is_an_integrity_error(make_api, tmp_path: Path) -> None:
    server = FileServer(etag="a" * 64)
    with pytest.raises(IntegrityError, match="ETag"):
        make_api(server).download_resource_file("r1", tmp_path / "file.bin")


def test_non_sha_etag_is_not_used_for_verification(make_api, tmp_path: Path) -> None:
    result = make_api(FileServer(etag="v1-abc")).download_resource_file("r1", tmp_path / "f")
    assert (result.sha256, result.etag) == (SHA, "v1-abc")


def test_missing_file_is_item_not_found(make_api, tmp_path: Path) -> None:
    with pytest.raises(ItemNotFoundError, match="file of resource r2 not found"):
        make_api(FileServer()).download_resource_file("r2", tmp_path / "f")
    assert not (tmp_path / "f").exists()


def test_segmentation_download_route(make_api, tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"mask")

    result = make_api(handler).download_segmentation_file("r1", "a1", tmp_path / "m")
    assert seen[0].url.path == "/annotations/r1/annotations/a1/file"
    assert seen[0].headers["accept"] == "*/*"
    assert result.size == 4
