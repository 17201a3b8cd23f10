"""Uploads have a per-file limit and a per-user quota (store settings), answered 413."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .conftest import LONER, MEMBER, RelServer, files_under, noise_png, raw_exchange, serve_store

pytestmark = pytest.mark.reliability

FILE_LIMIT = 64 * 1024
QUOTA = 100 * 1024


@pytest.fixture
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelServer]:
    """A server allowing 64 KiB per file and 100 KiB per user."""
    with serve_store(
        tmp_path_factory.mktemp("quota"), max_upload_bytes=FILE_LIMIT, user_quota_bytes=QUOTA
    ) as server:
        yield server


def _upload(client: httpx.Client, data: bytes, name: str = "a.png") -> httpx.Response:
    return client.post("/resources", files={"resource": (name, data, "image/png")})


def _blobs(server: RelServer) -> list[str]:
    return [p.name for p in files_under(server.store.store_dir / "blobs")]


def test_a_file_over_the_upload_limit_is_413_and_nothing_is_kept(limited: RelServer) -> None:
    big = noise_png(160)  # about 77 KiB
    assert len(big) > FILE_LIMIT
    before = _blobs(limited)
    with limited.client(LONER) as client:
        response = _upload(client, big)
    assert response.status_code == 413, response.text
    message = response.json()["message"]
    assert "max_upload_bytes" in message and str(FILE_LIMIT) in message and "'resource'" in message
    assert _blobs(limited) == before
    assert files_under(limited.store.store_dir / "tmp") == []
    assert limited.store.usage.used_bytes(LONER) == 0


def test_a_user_without_a_project_cannot_pass_the_quota(limited: RelServer) -> None:
    """The adversarial run stored 3 GiB as a user in no project; the quota stops that."""
    files = [noise_png(110, seed) for seed in range(3)]  # about 36 KiB each
    assert all(len(f) <= FILE_LIMIT for f in files) and sum(map(len, files)) > QUOTA
    with limited.client(LONER) as client:
        first, second = _upload(client, files[0]), _upload(client, files[1])
        assert (first.status_code, second.status_code) == (201, 201), second.text
        third = _upload(client, files[2])
        assert third.status_code == 413, third.text
        assert "quota" in third.json()["message"] and "user_quota_bytes" in third.json()["message"]
        replaced = client.put(
            f"/resources/{first.json()['id']}/file", files={"file": ("b.png", files[2])}
        )
        assert replaced.status_code == 413  # replacing a file counts too
    assert limited.store.usage.used_bytes(LONER) == len(files[0]) + len(files[1])
    assert files_under(limited.store.store_dir / "tmp") == []
    with limited.client(MEMBER) as other:  # the quota is per user
        assert _upload(other, files[2]).status_code == 201


def test_a_declared_upload_over_the_quota_is_refused_before_reading(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serve_store(tmp_path_factory.mktemp("q"), user_quota_bytes=QUOTA) as server:
        head = "\r\n".join(
            [
                "POST /resources HTTP/1.1",
                "Host: 127.0.0.1",
                "Content-Type: multipart/form-data; boundary=xyz",
                f"Content-Length: {QUOTA + 4 * 1024 * 1024}",
                f"apikey: {server.keys[LONER]}",
            ]
        )
        status, answer = raw_exchange(server.port, head, b"--xyz\r\n", 5.0)
    assert status == 413, answer
    assert b"quota" in answer
