"""Offline: sync against the real server, stop it, then prepare and load from the cache only.

The dataset-level ``offline=True`` test belongs to the dataset tests; here the layer below
is tested: ``ManifestRecorder`` + ``FileCache`` online, ``OfflineApi`` + ``FileCache``
offline, with every socket and every httpx send failing.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from datamint.api import Api, ManifestRecorder, OfflineApi
from datamint.api.sync import fetch_files
from datamint.dataset.preparation import PrepareOptions, prepare
from datamint.exceptions import OfflineCacheMissError
from datamint.schema import ResourceKind, resource_kind
from datamint.storage.file_cache import FileCache
from datamint.storage.manifest import find_manifest
from datamint.testing.server import build_demo_store, running_server

from .support import assert_nothing_partial, sha256_of


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the network was used offline")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _all(resource: Any) -> bool:
    return True


def _images_only(resource: Any) -> bool:
    return resource_kind(resource.record) == ResourceKind.IMAGE


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Sync the demo project (with split history) into a cache root, then stop the server."""
    tmp = tmp_path_factory.mktemp("offline")
    store, root = tmp / "store", tmp / "cache"
    project_id, key = build_demo_store(store)
    out: dict[str, Any] = {"root": root, "project_id": project_id}
    with running_server(store) as server, Api(server.url, key, check_connection=False) as api:
        ids = [r["id"] for r in api.get_project_resources(project_id)]
        api.assign_split(project_id, ids[:6], "train")
        time.sleep(0.01)
        t1 = _now_iso()
        time.sleep(0.01)
        api.assign_split(project_id, ids[4:9], "validation")  # re-assigns ids[4:6]
        time.sleep(0.01)
        t_between = _now_iso()  # after the re-assignment; not queried by the recorder
        time.sleep(0.01)
        recorder = ManifestRecorder(api)
        options = PrepareOptions()
        out["online"] = prepare(
            recorder, project="demo", resources=None, accepts=_all, options=options
        )
        out["splits_now"] = recorder.get_project_splits(project_id)
        out["splits_t1"] = recorder.get_project_splits(project_id, as_of_timestamp=t1)
        t1_plus = (  # 1 µs later, never queried
            datetime.strptime(t1, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(microseconds=1)
        ).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out["splits_between"] = api.get_project_splits(project_id, as_of_timestamp=t_between)
        out.update(t1=t1, t1_plus=t1_plus, t_between=t_between)
        jobs = list(recorder.manifest().file_records())  # what `datamint download` fetches
        report = fetch_files(api, FileCache(root), jobs, workers=4, progress=False)
        assert report.failed == []
        out["n_files"] = len(jobs)
        recorder.write(root)
        # A second, narrower sync (images only) into another root, for coverage checks.
        narrow = ManifestRecorder(api)
        prepare(narrow, project="demo", resources=None, accepts=_images_only, options=options)
        narrow.write(tmp / "narrow")
        out["narrow_root"] = tmp / "narrow"
    return out


def test_offline_preparation_equals_online(
    synced: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_network(monkeypatch)
    offline = OfflineApi(synced["root"])
    again = prepare(offline, project="demo", resources=None, accepts=_all, options=PrepareOptions())
    online = synced["online"]
    assert again.project == online.project
    assert [r.id for r in again.resources] == [r.id for r in online.resources]
    assert again.resources == online.resources
    assert again.annotations == online.annotations
    assert again.schema == online.schema
    assert again.excluded == online.excluded
    filtered = prepare(
        offline,
        project="demo",
        resources=None,
        accepts=_images_only,
        options=PrepareOptions(include_unannotated=False, worklists=None),
    )
    assert 0 < len(filtered.resources) < len(online.resources)


def test_offline_files_come_from_the_cache_and_match_the_manifest(
    synced: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_network(monkeypatch)
    root = synced["root"]
    offline, cache = OfflineApi(root), FileCache(root)
    manifest = find_manifest(root, "demo")
    assert manifest.missing_files(cache) == []
    for resource in synced["online"].resources:
        path = cache.resource_file(offline, resource.record)
        assert sha256_of(path) == manifest.files["resources"][resource.id]["sha256"]
    for anns in synced["online"].annotations:
        for ann in anns:
            if ann.annotation_type == "segmentation":
                path = cache.segmentation_file(offline, ann.record)
                assert sha256_of(path) == manifest.files["annotations"][ann.id]["sha256"]


def test_offline_splits_follow_the_versioned_rule(
    synced: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_network(monkeypatch)
    offline, pid = OfflineApi(synced["root"]), synced["project_id"]
    assert offline.get_project_splits(pid) == synced["splits_now"]
    assert offline.get_project_splits(pid, as_of_timestamp=synced["t1"]) == synced["splits_t1"]
    same_instant = synced["t1"].replace("Z", "+00:00")
    assert offline.get_project_splits(pid, as_of_timestamp=same_instant) == synced["splits_t1"]
    # Not queried online, but determined by the rows received (nothing changed since):
    assert (
        offline.get_project_splits(pid, as_of_timestamp=synced["t_between"])
        == synced["splits_between"]
    )
    # Not determined: resources first assigned after t1 may have had a row in between.
    with pytest.raises(OfflineCacheMissError, match="cannot tell the split of 3 resource"):
        offline.get_project_splits(pid, as_of_timestamp=synced["t1_plus"])
    validation = offline.get_project_splits(pid, split_name="validation")
    assert validation == [r for r in synced["splits_now"] if r["split_name"] == "validation"]
    with pytest.raises(OfflineCacheMissError, match="cannot tell the split"):
        offline.get_project_splits(pid, as_of_timestamp="2000-01-01T00:00:00Z")


def test_a_file_missing_from_the_cache_is_a_clear_error(
    synced: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_network(monkeypatch)
    offline = OfflineApi(synced["root"])
    cache = FileCache(tmp_path / "empty-cache")
    resource = synced["online"].resources[0]
    with pytest.raises(OfflineCacheMissError) as info:
        cache.resource_file(offline, resource.record)
    message = str(info.value)
    assert resource.id in message and str(resource.filename) in message
    assert "prefetch" in message and "datamint download --project demo" in message
    segmentation = next(
        a
        for anns in synced["online"].annotations
        for a in anns
        if a.annotation_type == "segmentation"
    )
    with pytest.raises(OfflineCacheMissError, match=f"annotation {segmentation.id}"):
        cache.segmentation_file(offline, segmentation.record)
    assert_nothing_partial(tmp_path / "empty-cache")
    assert not list((tmp_path / "empty-cache").rglob("data*"))


def test_what_was_never_synced_is_a_miss_not_an_empty_answer(
    synced: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_network(monkeypatch)
    narrow = OfflineApi(synced["narrow_root"])
    with pytest.raises(OfflineCacheMissError, match=r"annotations of \d+ resource\(s\)"):
        prepare(narrow, project="demo", resources=None, accepts=_all, options=PrepareOptions())
    with pytest.raises(OfflineCacheMissError, match=r"split assignments .* were not synced"):
        narrow.get_project_splits(synced["project_id"])
    with pytest.raises(OfflineCacheMissError, match="'elsewhere' has no manifest"):
        narrow.get_project_by_name("elsewhere")
