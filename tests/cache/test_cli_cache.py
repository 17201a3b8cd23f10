"""``datamint download`` and ``datamint cache info | verify | clear`` against the real server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.storage.file_cache import FileCache
from datamint.storage.manifest import find_manifest, list_manifests
from datamint.testing.faults import FaultInjector

from .support import FILE_ROUTE, assert_nothing_partial, entry_files


@pytest.fixture
def run(fault_server: Any, tmp_path: Path) -> Any:
    runner = CliRunner()
    root = tmp_path / "cache"

    def invoke(*args: str, server: bool = True) -> Any:
        argv = [*args, "--cache-dir", str(root)]
        if server:
            argv += ["--server-url", fault_server.url, "--api-key", fault_server.api_key]
        result = runner.invoke(app, argv)
        assert fault_server.api_key not in result.output
        return result

    invoke.root = root  # type: ignore[attr-defined]
    return invoke


def _n_files(demo_records: dict) -> int:
    return len(demo_records["resources"]) + len(demo_records["segmentations"])


def test_download_then_again_from_the_cache(
    run: Any, faults: FaultInjector, demo_records: dict
) -> None:
    n = _n_files(demo_records)
    result = run("download", "--project", "demo", "--workers", "4", "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"files: {n} (" in result.output
    assert f"0 already cached, {n} downloaded" in result.output
    assert "0 failed" in result.output
    assert faults.count(FILE_ROUTE) == n
    manifest = find_manifest(run.root, "demo")
    assert manifest.missing_files(FileCache(run.root)) == []
    assert manifest.worklists and manifest.segmentation_groups and manifest.split_rows == []
    again = run("download", "--project", "demo", "--no-progress")
    assert again.exit_code == 0, again.output
    assert f"{n} already cached, 0 downloaded" in again.output
    assert faults.count(FILE_ROUTE) == n  # nothing fetched the second time


def test_download_reports_failures_and_exits_1(
    run: Any, faults: FaultInjector, demo_records: dict
) -> None:
    victim = demo_records["segmentations"][0]
    faults.fail_with_status(rf"/annotations/{victim['id']}/file$", times=None, retry_after_s=0)
    faults.fail_with_status(  # a flaky file that recovers
        rf"/resources/{demo_records['resources'][0]['id']}/file$", times=1, retry_after_s=0
    )
    result = run("download", "--project", "demo", "--no-progress")
    assert result.exit_code == 1
    assert "1 failed" in result.output
    assert f"failed: segmentation annotation {victim['id']}" in result.output
    assert "ServerError" in result.output
    assert_nothing_partial(run.root)
    faults.clear_rules()
    retry = run("download", "--project", "demo", "--no-progress")
    assert retry.exit_code == 0, retry.output
    assert f"{_n_files(demo_records) - 1} already cached, 1 downloaded" in retry.output


def test_download_of_an_unknown_project_exits_2(run: Any, faults: FaultInjector) -> None:
    result = run("download", "--project", "no such project", "--no-progress")
    assert result.exit_code == 2
    assert "'no such project' not found" in result.output
    assert entry_files(run.root) == []


def test_cache_info_verify_clear(run: Any, faults: FaultInjector, demo_records: dict) -> None:
    n = _n_files(demo_records)
    assert run("download", "--project", "demo", "--no-progress").exit_code == 0
    info = run("cache", "info", server=False)
    assert info.exit_code == 0, info.output
    assert re.search(rf"files: {n} entries, [\d.]+ MB", info.output)
    assert "projects synced: 1" in info.output
    assert f"files cached {n}/{n}" in info.output
    assert run("cache", "info", "--project", "demo", server=False).exit_code == 0

    verify = run("cache", "verify", server=False)
    assert verify.exit_code == 0, verify.output
    assert f"{n} ok, 0 bad" in verify.output
    data = next(p for p in entry_files(run.root) if p.name == "data")
    data.write_bytes(b"\0" * data.stat().st_size)
    bad = run("cache", "verify", "--project", "demo", server=False)
    assert bad.exit_code == 1
    assert "does not match meta.json" in bad.output and "1 bad, removed" in bad.output
    assert not data.exists()
    assert f"files cached {n - 1}/{n}" in run("cache", "info", server=False).output

    missing = run("cache", "clear", "--project", "elsewhere", "--yes", server=False)
    assert missing.exit_code == 2 and "'elsewhere' has no manifest" in missing.output
    cleared = run("cache", "clear", "--project", "demo", "--yes", server=False)
    assert cleared.exit_code == 0, cleared.output
    assert f"{n - 1} file entries" in cleared.output
    assert [p for p in entry_files(run.root)] == []
    assert list_manifests(run.root) == []

    assert run("download", "--project", "demo", "--no-progress").exit_code == 0
    (run.root / "arrays" / "ab").mkdir(parents=True)
    (run.root / "arrays" / "ab" / "ab12.npy").write_bytes(b"\0" * 10)
    everything = run("cache", "clear", "--yes", server=False)
    assert everything.exit_code == 0 and "cleared" in everything.output
    assert sorted(p.name for p in run.root.iterdir()) == []
