"""Bodies are bounded and the key is checked before any body byte is read.

The heads are sent over a bare socket with a ``Content-Length`` and no body (or an
unfinished chunked body): a server that waited for the body before answering would never
answer, so each test would time out without the fix.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from datamint.server.store.settings import StoreSettings

from .conftest import MEMBER, RelServer, raw_exchange, serve_store

pytestmark = pytest.mark.reliability

SMALL_JSON_LIMIT = 64 * 1024
SMALL_UPLOAD_LIMIT = 256 * 1024
HUGE = 200 * 1024 * 1024  # the 200 MB body of the adversarial run


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelServer]:
    """A server whose JSON limit is 64 KiB and upload limit 256 KiB."""
    with serve_store(
        tmp_path_factory.mktemp("limits"),
        max_json_body_bytes=SMALL_JSON_LIMIT,
        max_upload_bytes=SMALL_UPLOAD_LIMIT,
    ) as server:
        yield server


def _head(
    path: str, length: int | None, key: str | None = None, kind: str = "application/json"
) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {kind}"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    if key is not None:
        lines.append(f"apikey: {key}")
    return "\r\n".join(lines)


def test_defaults_are_the_documented_limits() -> None:
    defaults = StoreSettings()
    assert defaults.max_json_body_bytes == 8 * 1024 * 1024
    assert defaults.max_upload_bytes == 1024**3
    assert defaults.user_quota_bytes == 10 * 1024**3


@pytest.mark.parametrize("key", [None, "not-a-key"])
def test_unauthenticated_body_is_refused_before_it_is_read(rel: RelServer, key: str | None) -> None:
    status, answer = raw_exchange(rel.port, _head("/annotations/search", HUGE, key), b"{", 5.0)
    assert status == 401, answer
    assert b"API key" in answer


def test_declared_json_body_over_the_limit_is_413_at_once(rel: RelServer) -> None:
    limit = StoreSettings().max_json_body_bytes
    head = _head("/annotations/search", limit + 1, rel.keys[MEMBER])
    status, answer = raw_exchange(rel.port, head, b"{", 5.0)
    assert status == 413, answer
    assert b"max_json_body_bytes" in answer and str(limit).encode() in answer


def test_declared_upload_over_the_limit_is_413_at_once(small: RelServer) -> None:
    head = _head("/resources", HUGE, small.keys[MEMBER], "multipart/form-data; boundary=xyz")
    status, answer = raw_exchange(small.port, head, b"--xyz\r\n", 5.0)
    assert status == 413, answer
    assert b"max_upload_bytes" in answer


def test_chunked_json_body_is_cut_at_the_limit(small: RelServer) -> None:
    """A chunked body without an end is refused once it passes 64 KiB."""

    def stream(sock: socket.socket) -> None:
        chunk = b"[" + b"1," * 2047 + b"1]"  # 4 KiB of JSON-looking bytes
        for _ in range(SMALL_JSON_LIMIT // len(chunk) + 8):  # past the limit, never ends
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")

    head = _head("/annotations/search", None, small.keys[MEMBER])
    status, answer = raw_exchange(small.port, head, stream, 5.0)
    assert status == 413, answer
    assert b"max_json_body_bytes" in answer


def test_chunked_upload_is_cut_at_the_limit(small: RelServer) -> None:
    def stream(sock: socket.socket) -> None:
        part = (
            b'--xyz\r\nContent-Disposition: form-data; name="resource"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n"
        )
        sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        chunk = b"\0" * 16384
        for _ in range(SMALL_UPLOAD_LIMIT // len(chunk) + 8):
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")

    head = _head("/resources", None, small.keys[MEMBER], "multipart/form-data; boundary=xyz")
    status, answer = raw_exchange(small.port, head, stream, 5.0)
    assert status == 413, answer
    assert b"max_upload_bytes" in answer
    assert not [p for p in (small.store.store_dir / "tmp").rglob("upload-*")]


def test_a_body_under_the_limit_is_served(small: RelServer) -> None:
    with small.client() as client:
        created = client.post("/projects", json={"name": "big", "description": "x" * 60_000})
        assert created.status_code == 201, created.text
        too_big = client.post("/projects", json={"name": "big2", "description": "x" * 70_000})
        assert too_big.status_code == 413
        assert "max_json_body_bytes" in too_big.json()["message"]


def test_openapi_schema_is_public_and_documents_413(rel: RelServer) -> None:
    schema = httpx.get(f"{rel.url}/openapi.json", trust_env=False).json()
    search = schema["paths"]["/annotations/search"]["post"]["responses"]
    assert "413" in search and "401" in search
