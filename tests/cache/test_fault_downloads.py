"""Downloads into the FileCache against the real reference server, with injected faults.

Each file ends up complete and verified, or the error is clear and nothing partial remains
(no ``data.incomplete``, no temp file, no ``data`` without a matching ``meta.json``).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from datamint.api import Api
from datamint.exceptions import DatamintWarning, IntegrityError, NetworkError, ServerError
from datamint.storage.file_cache import FileCache
from datamint.storage.manifest import find_manifest
from datamint.testing.faults import FaultInjector

from . import _workers
from .support import FILE_ROUTE, assert_nothing_partial, entry_files, sha256_of


def _largest(records: list[dict]) -> dict:
    return max(records, key=lambda r: int(r["size"]))


def test_dropped_connection_mid_file_is_resumed_and_verified(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    record = _largest(demo_records["resources"])
    faults.drop_connection(FILE_ROUTE, after_bytes=100_000, times=1)
    path = FileCache(tmp_path).resource_file(api, record)
    assert sha256_of(path) == record["sha256"]
    asked = [r for r in faults.requests if r.path.endswith("/file")]
    assert [(r.fault, r.range) for r in asked] == [("drop", None), (None, "bytes=100000-")]
    assert asked[1].status == 206
    assert_nothing_partial(tmp_path)


def test_503_then_200_is_retried(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    record = demo_records["segmentations"][0]
    faults.fail_with_status(FILE_ROUTE, status=503, times=2, retry_after_s=0)
    path = FileCache(tmp_path).segmentation_file(api, record)
    assert sha256_of(path) == record["sha256"]
    assert [r.status for r in faults.requests] == [503, 503, 200]
    assert_nothing_partial(tmp_path)


def test_slow_server_still_completes(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    record = sorted(demo_records["resources"], key=lambda r: int(r["size"]))[5]
    faults.add_latency(FILE_ROUTE, 0.2, chunk_bytes=16_384, chunk_delay_s=0.002)
    path = FileCache(tmp_path).resource_file(api, record)
    assert sha256_of(path) == record["sha256"]
    assert faults.requests[-1].fault == "latency"
    assert_nothing_partial(tmp_path)


def test_connection_dropping_every_time_fails_clearly_and_keeps_the_partial_bytes(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    record = _largest(demo_records["resources"])
    faults.drop_connection(FILE_ROUTE, after_bytes=50_000, times=None)
    cache = FileCache(tmp_path)
    with pytest.raises(NetworkError, match=rf"download of .*{record['id']}/file failed after 3"):
        cache.resource_file(api, record)
    assert faults.count(FILE_ROUTE) == api.max_retries + 1
    (partial,) = entry_files(tmp_path)  # each attempt resumed: 3 x 50 000 bytes kept
    assert partial.name == "data.incomplete" and partial.stat().st_size == 150_000
    assert not cache.has_resource_file(record)
    faults.clear_rules()
    assert sha256_of(cache.resource_file(api, record)) == record["sha256"]
    assert faults.requests[-1].range == "bytes=150000-"
    assert_nothing_partial(tmp_path)


def test_persistent_503_fails_clearly_and_leaves_nothing(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    record = demo_records["resources"][0]
    faults.fail_with_status(FILE_ROUTE, status=503, times=None, retry_after_s=0)
    with pytest.raises(ServerError, match="503") as info:
        FileCache(tmp_path).resource_file(api, record)
    assert info.value.status_code == 503
    assert faults.count(FILE_ROUTE) == api.max_retries + 1
    assert entry_files(tmp_path) == []


def test_bytes_failing_verification_leave_nothing(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    record = {**demo_records["resources"][0], "sha256": "0" * 64}
    with pytest.raises(IntegrityError, match="failed verification"):
        FileCache(tmp_path).resource_file(api, record)
    assert entry_files(tmp_path) == []


def test_damaged_entry_then_failed_download_leaves_no_orphan_data(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    record = demo_records["resources"][1]
    cache = FileCache(tmp_path)
    data = cache.resource_file(api, record)
    data.write_bytes(b"\0" * data.stat().st_size)  # same size, new mtime: caught by the hash
    faults.fail_with_status(FILE_ROUTE, status=503, times=None, retry_after_s=0)
    with pytest.raises(ServerError), pytest.warns(DatamintWarning, match="data is corrupted"):
        cache.resource_file(api, record)
    assert entry_files(tmp_path) == []
    faults.clear_rules()
    assert sha256_of(cache.resource_file(api, record)) == record["sha256"]
    assert_nothing_partial(tmp_path)


def test_threads_download_each_file_once(
    api: Api, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    cache = FileCache(tmp_path)
    jobs = [("r", r) for r in demo_records["resources"]] + [
        ("a", a) for a in demo_records["segmentations"]
    ]
    faults.add_latency(FILE_ROUTE, 0.02)  # widen the race window
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        order = list(jobs)
        random.Random(seed).shuffle(order)
        try:
            for kind, record in order:
                if kind == "r":
                    cache.resource_file(api, record)
                else:
                    cache.segmentation_file(api, record)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    counts = faults.counts()
    assert len(counts) == len(jobs)
    assert set(counts.values()) == {1}
    report = cache.verify(remove=False)
    assert (report.checked, report.ok, report.bad) == (len(jobs), len(jobs), [])


def test_four_processes_syncing_one_project_download_each_file_once(
    fault_server: Any, faults: FaultInjector, demo_records: dict, tmp_path: Path
) -> None:
    root, gate = tmp_path / "cache", tmp_path / "gate"
    gate.mkdir()
    faults.add_latency(FILE_ROUTE, 0.01)
    ctx = multiprocessing.get_context("spawn")
    args = [(fault_server.url, fault_server.api_key, str(root), str(gate), 4)] * 4
    with ctx.Pool(4) as pool:
        results = pool.starmap(_workers.sync_demo, args)
    n_files = len(demo_records["resources"]) + len(demo_records["segmentations"])
    assert [r["failed"] for r in results] == [[]] * 4
    assert all(r["files"] == n_files for r in results)
    counts = {p: c for p, c in faults.counts().items() if p.endswith("/file")}
    assert len(counts) == n_files
    assert set(counts.values()) == {1}, {p: c for p, c in counts.items() if c != 1}
    report = FileCache(root).verify(remove=False)
    assert (report.ok, report.bad) == (n_files, [])
    assert_nothing_partial(root)
    manifest = find_manifest(root, "demo")
    assert len(manifest.files["resources"]) == len(demo_records["resources"])
    assert json.loads((root / "manifests" / "index.json").read_text())["projects"].keys() == {
        manifest.project_id
    }
