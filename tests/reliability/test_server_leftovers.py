"""Nothing is left behind: staging after ``kill -9``, replaced blobs, failed imports.

Also: a client that disconnects mid-request is logged as a disconnect, not as a 500.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.server.app import create_app
from datamint.server.errors import ManifestIntegrityError
from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server
from tests.server.conftest import write_synthetic_project

from .conftest import MEMBER, RelServer, build_store, files_under, noise_png, serve_store

pytestmark = pytest.mark.reliability

REPO_ROOT = Path(__file__).resolve().parents[2]
PART_HEAD = (
    b'--xyz\r\nContent-Disposition: form-data; name="resource"; filename="big.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
)


def _upload_head(key: str, length: int) -> bytes:
    return (
        "POST /resources HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {length}\r\napikey: {key}\r\n\r\n"
    ).encode()


def _wait_for(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_staging_of_a_server_killed_mid_upload_is_removed_on_start(tmp_path: Path) -> None:
    store, keys, _, _ = build_store(tmp_path)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "datamint.cli.main", "serve", "--store", str(store.store_dir)]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tmp = store.store_dir / "tmp"
    try:

        def up() -> bool:
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", trust_env=False)
            except httpx.TransportError:
                assert server.poll() is None
                return False
            return True

        _wait_for(up, 30.0)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(_upload_head(keys[MEMBER], 4 << 20) + PART_HEAD + b"\0" * (1 << 20))
            _wait_for(lambda: sum(p.stat().st_size for p in files_under(tmp)) >= 1 << 19)
            server.kill()  # SIGKILL: no clean-up code runs
            server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    left = files_under(tmp)
    assert left and all(p.name.startswith("upload-") for p in left)
    with running_server(store.store_dir) as restarted:
        assert files_under(tmp) == []
        assert httpx.get(f"{restarted.url}/openapi.json", trust_env=False).status_code == 200


def test_staging_of_a_live_process_is_never_removed(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path / "store")
    staged = store.blobs.stage()
    staged.write(b"in flight")
    staged.close()  # received, not yet moved into the store
    create_app(store.store_dir)  # a second server starting on the same store
    assert staged.path.read_bytes() == b"in flight"
    staged.discard()
    assert files_under(store.store_dir / "tmp") == []


def _replace_file(server: RelServer) -> tuple[str, str, str]:
    with server.client() as client:
        created = client.post("/resources", files={"resource": ("a.png", noise_png(20, 1))})
        assert created.status_code == 201, created.text
        rid, old = created.json()["id"], created.json()["sha256"]
        replaced = client.put(f"/resources/{rid}/file", files={"file": ("a.png", noise_png(20, 2))})
        assert replaced.status_code == 200, replaced.text
    return rid, old, replaced.json()["sha256"]


def test_replaced_blobs_are_collected_by_the_gc_command(tmp_path: Path) -> None:
    with serve_store(tmp_path) as server:
        rid, old, new = _replace_file(server)
        blobs = server.store.blobs
        assert blobs.path(old).exists()  # unreferenced, but young
        runner = CliRunner()
        store_arg = ["server", "gc", "--store", str(server.store.store_dir)]
        young = runner.invoke(app, store_arg)
        assert young.exit_code == 0 and "removed 0 unreferenced blobs" in young.stdout
        assert blobs.path(old).exists()
        result = runner.invoke(app, [*store_arg, "--min-age-s", "0"])
        assert result.exit_code == 0, result.output
        assert "removed 1 unreferenced blobs" in result.stdout
        assert not blobs.path(old).exists() and blobs.path(new).exists()
        with server.client() as client:  # everything referenced is still served
            assert client.get(f"/resources/{rid}/file").content == noise_png(20, 2)
            for resource in client.get(f"/projects/{server.mine.project_id}/resources").json():
                assert client.get(f"/resources/{resource['id']}/file").status_code == 200


def test_replaced_blobs_older_than_the_grace_period_go_when_the_server_starts(
    tmp_path: Path,
) -> None:
    with serve_store(tmp_path) as server:
        _, old, new = _replace_file(server)
        store = server.store
    three_hours_ago = time.time() - 3 * 3600
    os.utime(store.blobs.path(old), (three_hours_ago, three_hours_ago))
    os.utime(store.blobs.path(new), (three_hours_ago, three_hours_ago))
    with running_server(store.store_dir):
        assert not store.blobs.path(old).exists()
        assert store.blobs.path(new).exists()  # referenced: kept however old


def test_a_failed_manifest_import_leaves_no_blob(tmp_path: Path) -> None:
    project = write_synthetic_project(tmp_path / "p", "broken", MEMBER)
    manifest = project.manifest
    manifest["resources"][1]["files"][2]["sha256"] = "0" * 64  # the series, after the image
    (project.root / "project.json").write_text(json.dumps(manifest), encoding="utf-8")
    store = ProjectStore(tmp_path / "store")
    with pytest.raises(ManifestIntegrityError):
        import_project(store, project.root)
    assert files_under(store.store_dir / "blobs") == []
    assert files_under(store.store_dir / "tmp") == []


def _log_lines(caplog: pytest.LogCaptureFixture, needle: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "datamint.server" and needle in r.getMessage()]


@pytest.mark.parametrize("kind", ["upload", "json"])
def test_a_client_disconnect_is_logged_as_such_not_as_a_500(
    rel: RelServer, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.INFO, logger="datamint.server")
    key = rel.keys[MEMBER]
    with socket.create_connection(("127.0.0.1", rel.port)) as sock:
        if kind == "upload":
            sock.sendall(_upload_head(key, 1 << 20) + PART_HEAD + b"\0" * 65536)
            needle = "POST /resources "
        else:
            head = (
                "POST /projects HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: 1000\r\napikey: {key}\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"name": ')
            needle = "POST /projects "
        time.sleep(0.3)
    _wait_for(lambda: bool(_log_lines(caplog, needle)))
    lines = [r.getMessage() for r in _log_lines(caplog, needle)]
    assert len(lines) == 1 and "client disconnected" in lines[0], lines
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert files_under(rel.store.store_dir / "tmp") == []
