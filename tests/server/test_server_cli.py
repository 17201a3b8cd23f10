"""The ``datamint import``, ``datamint server add-user`` and ``datamint serve`` commands."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.demo import data_dir as demo_data_dir
from datamint.server.store import ProjectStore

from .conftest import demo_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_import_prints_the_project_id_and_is_idempotent(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "import",
        "--store",
        str(tmp_path / "store"),
        str(demo_data_dir()),
        "--member",
        "a@example.org",
        "--member",
        "b@example.org",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == demo_manifest()["project"]["id"]
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and second.stdout == first.stdout
    store = ProjectStore(tmp_path / "store")
    assert first.stdout.strip() in store.member_project_ids("b@example.org")


def test_import_error_is_reported_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "project.json").write_text('{"format": "other"}')
    result = CliRunner().invoke(app, ["import", "--store", str(tmp_path / "s"), str(tmp_path)])
    assert result.exit_code == 1
    assert "error:" in result.stderr and "format" in result.stderr


def test_add_user_prints_a_working_key_once(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    pid = CliRunner().invoke(app, ["import", "--store", str(store_dir), str(demo_data_dir())])
    result = CliRunner().invoke(
        app,
        [
            "server",
            "add-user",
            "--store",
            str(store_dir),
            "New@Example.org",
            "--project",
            pid.stdout.strip(),
        ],
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert len(key.splitlines()) == 1 and len(key) >= 40
    assert "shown once" in result.stderr and key not in result.stderr
    store = ProjectStore(store_dir)
    assert store.user_for_key(key) == "new@example.org"
    assert pid.stdout.strip() in store.member_project_ids("new@example.org")
    bad = CliRunner().invoke(app, ["server", "add-user", "--store", str(store_dir), "nobody"])
    assert bad.exit_code == 1 and "not an email" in bad.stderr


def test_serve_refuses_a_missing_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "datamint import" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_the_api_and_logs_requests_without_the_key(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store = ProjectStore(store_dir)
    from datamint.server.importer import import_project

    pid = import_project(store, demo_data_dir(), members=["cli@example.org"])
    key = store.create_user("cli@example.org")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "datamint.cli.main",
            "serve",
            "--store",
            str(store_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"{url}/projects", headers={"apikey": key}, trust_env=False)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert [p["id"] for p in response.json()["data"]] == [pid]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "GET /projects 200" in stderr
    assert key not in stderr
