"""``datamint.testing.demo_server()``: the one-step demo server of the notebooks and docs."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from datamint.testing import demo_server


def test_it_serves_the_demo_project_and_points_datamint_at_it(tmp_path: Path) -> None:
    before = os.environ.get("DATAMINT_CACHE_DIR")
    with demo_server() as server:
        assert os.environ["DATAMINT_API_URL"] == server.url
        assert os.environ["DATAMINT_API_KEY"] == server.api_key
        assert (
            os.environ["DATAMINT_CACHE_DIR"]
            == str(server.cache_dir)
            == server.env["DATAMINT_CACHE_DIR"]
        )
        projects = httpx.get(f"{server.url}/projects", headers={"apikey": server.api_key})
        assert projects.status_code == 200
        assert "demo" in projects.text and server.project_id in projects.text
        store = server.store_dir
        assert (store / "store.sqlite3").is_file()
        assert server.api_key not in repr(server)
    # Closed: variables restored, the store removed, the port refuses connections.
    assert os.environ.get("DATAMINT_CACHE_DIR") == before
    assert "DATAMINT_API_URL" not in os.environ and "DATAMINT_API_KEY" not in os.environ
    assert not store.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/projects", timeout=2)
    server.close()  # idempotent


def test_without_a_with_block_and_with_a_cache_of_ones_own(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "keep").write_text("mine")
    server = demo_server(cache_dir=tmp_path / "cache", set_env=False)
    try:
        assert "DATAMINT_API_URL" not in os.environ
        assert server.cache_dir == tmp_path / "cache"
    finally:
        server.close()
    # A cache given by the caller is not the helper's to remove.
    assert (tmp_path / "cache" / "keep").read_text() == "mine"
