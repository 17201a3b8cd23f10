"""CacheManifest, write/read/find, ManifestRecorder and OfflineApi, without a server."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest

from datamint.api import ManifestRecorder, OfflineApi
from datamint.entities import Resource
from datamint.exceptions import (
    CacheError,
    DatamintException,
    OfflineCacheMissError,
    ValidationError,
)
from datamint.storage.manifest import (
    MANIFEST_VERSION,
    CacheManifest,
    delete_manifest,
    find_manifest,
    list_manifests,
    read_manifest,
    sanitize_server_url,
    write_manifest,
)

PID = "11111111-0000-0000-0000-000000000001"
R1, R2, R3 = (f"22222222-0000-0000-0000-00000000000{i}" for i in (1, 2, 3))
WID = "33333333-0000-0000-0000-000000000001"
URL = "http://datamint.test:8080"
KEY = "secret-key-do-not-store"

PROJECT = {"id": PID, "name": "Lungs", "description": None, "archived": False}
RESOURCES = [
    {"id": rid, "filename": f"r{i}.png", "mimetype": "image/png", "size": 10 + i,
     "sha256": f"{i}" * 64, "created_at": "2026-01-01T00:00:00.000Z", "deleted_at": None}
    for i, rid in enumerate((R1, R2, R3))
]  # fmt: skip
ANNOTATIONS = [
    {"id": "a1", "resource_id": R1, "type": "segmentation", "identifier": "lesion",
     "created_at": "2026-01-01T00:00:00.000Z", "deleted_at": None, "associated_file": "f1"},
    {"id": "a2", "resource_id": R2, "type": "label", "identifier": "normal",
     "created_at": "2026-01-01T00:00:00.000Z", "deleted_at": None},
]  # fmt: skip
WORKLISTS = [
    {"worklist_id": WID, "worklist_name": "wl", "annotators": [],
     "annotations": [{"type": "segmentation", "identifier": "lesion", "scope": "image"}]}
]  # fmt: skip
GROUP = {"groups": {"lesion": {"index": 1, "color": [255, 0, 0, 255]}}}


def _row(rid: str, name: str, created: str, deleted: str | None = None, n: int = 0) -> dict:
    return {"id": f"row-{rid[-1]}-{n}", "split_name": name, "project_id": PID,
            "resource_id": rid, "created_at": created, "deleted_at": deleted}  # fmt: skip


# R1: train from 10:00, re-assigned to test at 12:00. R2: train from 10:00. R3: val from 11:00.
ROWS_NOW = [
    _row(R2, "train", "2026-01-01T10:00:00.000Z"),
    _row(R3, "validation", "2026-01-01T11:00:00.000Z"),
    _row(R1, "test", "2026-01-01T12:00:00.000Z", n=1),
]
ROWS_AT_1030 = [
    _row(R1, "train", "2026-01-01T10:00:00.000Z", "2026-01-01T12:00:00.000Z"),
    _row(R2, "train", "2026-01-01T10:00:00.000Z"),
]


def _write(root: Path, **overrides: Any) -> Path:
    values: dict[str, Any] = dict(
        project=PROJECT,
        resources=RESOURCES,
        annotations=ANNOTATIONS,
        worklists=WORKLISTS,
        segmentation_groups={WID: GROUP},
        splits=ROWS_NOW,
        server_url=URL,
    )
    values.update(overrides)
    return write_manifest(root, **values)


def test_round_trip_and_layout(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert path == tmp_path / "manifests" / f"{PID}.json"
    data = json.loads(path.read_text())
    assert data["format_version"] == MANIFEST_VERSION
    assert data["server_url"] == URL
    assert data["files"]["resources"][R1] == {
        "version_hash": data["files"]["resources"][R1]["version_hash"],
        "size": 10,
        "sha256": "0" * 64,
    }
    assert list(data["files"]["annotations"]) == ["a1"]  # only segmentation files
    manifest = read_manifest(tmp_path, PID)
    assert manifest.project == PROJECT
    assert manifest.resources == RESOURCES
    assert manifest.annotations_for == [R1, R2, R3]
    assert sorted(p.name for p in (tmp_path / "manifests").iterdir()) == sorted(
        [f"{PID}.json", f"{PID}.json.lock", "index.json", "index.json.lock"]
    )
    assert not list((tmp_path / "manifests").glob("*.tmp"))
    assert find_manifest(tmp_path, "Lungs").project_id == PID
    assert find_manifest(tmp_path, PID).project_name == "Lungs"
    assert [s.name for s in list_manifests(tmp_path)] == ["Lungs"]


def test_entities_are_accepted_and_the_key_is_never_written(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        resources=[Resource(r) for r in RESOURCES],
        server_url=f"http://user:{KEY}@datamint.test:8080/?apikey={KEY}#x",
    )
    text = path.read_text()
    assert KEY not in text
    assert read_manifest(tmp_path, PID).server_url == URL


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.org/", "https://api.example.org"),
        ("http://u:p@[::1]:9000/base/?k=v", "http://[::1]:9000/base"),
        (None, None),
    ],
)
def test_sanitize_server_url(url: str | None, expected: str | None) -> None:
    assert sanitize_server_url(url) == expected


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.update(format="other"), "'format'"),
        (lambda d: d.update(format_version=MANIFEST_VERSION + 1), "upgrade datamint"),
        (lambda d: d.update(project_id="not-the-same"), "differs from project.id"),
        (lambda d: d.update(resources={"a": 1}), "'resources' is not a list"),
        (lambda d: d["resources"].append({"id": "../../etc"}), "cannot name a cache entry"),
        (lambda d: d["annotations"][0].pop("resource_id"), "no 'resource_id'"),
        (lambda d: d.update(split_rows=[{"created_at": "yesterday"}]), "not an ISO-8601"),
        (lambda d: d.pop("annotations_for"), "annotations_for"),
        (lambda d: d["files"]["resources"].update({"../x": {}}), "id in 'files'"),
    ],
)
def test_damaged_manifests_are_refused_with_the_path(
    tmp_path: Path, damage: Any, message: str
) -> None:
    path = _write(tmp_path)
    data = json.loads(path.read_text())
    damage(data)
    path.write_text(json.dumps(data))
    with pytest.raises(CacheError, match=message) as info:
        read_manifest(tmp_path, PID)
    assert str(path) in str(info.value)


def test_unreadable_json_and_missing_manifest(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text("{not json")
    with pytest.raises(CacheError, match="not valid JSON"):
        read_manifest(tmp_path, PID)
    path.unlink()
    with pytest.raises(OfflineCacheMissError, match="no manifest for project"):
        read_manifest(tmp_path, PID)


def test_unsafe_project_ids_are_rejected(tmp_path: Path) -> None:
    for bad in ("../../x", "a/b", ".hidden", "index", ""):
        with pytest.raises(ValidationError):
            _write(tmp_path, project={**PROJECT, "id": bad})
    assert not (tmp_path / "x").exists()
    assert list(tmp_path.rglob("*.json")) == []


def test_names_resolve_per_server_and_ambiguity_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path)
    other_pid = PID[:-1] + "2"
    _write(tmp_path, project={**PROJECT, "id": other_pid}, server_url="http://other:1")
    with pytest.raises(ValidationError, match="2 synced projects are named 'Lungs'"):
        find_manifest(tmp_path, "Lungs")
    assert find_manifest(tmp_path, "Lungs", server_url=URL + "/").project_id == PID
    assert OfflineApi(tmp_path, server_url="http://other:1").get_project_by_name("Lungs")["id"] == (
        other_pid
    )
    with pytest.raises(OfflineCacheMissError, match="'Nope' has no manifest"):
        find_manifest(tmp_path, "Nope")


def test_damaged_index_is_rebuilt(tmp_path: Path) -> None:
    _write(tmp_path)
    (tmp_path / "manifests" / "index.json").write_text("garbage")
    assert find_manifest(tmp_path, "Lungs").project_id == PID
    assert delete_manifest(tmp_path, PID)
    assert list_manifests(tmp_path) == []
    assert not delete_manifest(tmp_path, PID)


def test_a_newer_sync_keeps_what_it_did_not_fetch(tmp_path: Path) -> None:
    _write(tmp_path)
    # Second sync: only R2 searched, no worklists, no splits; R3 left the project.
    _write(
        tmp_path,
        resources=RESOURCES[:2],
        annotations=[],
        annotations_for=[R2],
        worklists=None,
        segmentation_groups=None,
        splits=None,
    )
    manifest = read_manifest(tmp_path, PID)
    assert manifest.resources == RESOURCES[:2]
    assert sorted(manifest.annotations_for) == [R1, R2]
    assert [a["id"] for a in manifest.annotations] == ["a1"]  # R2's label is gone now
    assert manifest.worklists == WORKLISTS
    assert manifest.split_rows == ROWS_NOW
    _write(tmp_path, resources=RESOURCES[:1], annotations=[], merge=False)
    assert read_manifest(tmp_path, PID).annotations == []


def test_concurrent_writers_leave_a_valid_manifest(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            _write(tmp_path, project={**PROJECT, "description": str(i)})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert read_manifest(tmp_path, PID).project["description"] in {str(i) for i in range(8)}
    assert len(list_manifests(tmp_path)) == 1


# ---------------------------------------------------------------------- splits


def _split_manifest(**kwargs: Any) -> CacheManifest:
    return CacheManifest(project=PROJECT, resources=RESOURCES, **kwargs)


def test_splits_current_and_recorded_instant() -> None:
    rows = ROWS_NOW + ROWS_AT_1030[:1]
    manifest = _split_manifest(
        split_rows=rows,
        split_queries=[
            {"split_name": None, "as_of_timestamp": None},
            {"split_name": None, "as_of_timestamp": "2026-01-01T10:30:00Z"},
        ],
    )
    assert manifest.splits() == sorted(ROWS_NOW, key=lambda r: (r["created_at"], r["id"]))
    at_recorded = manifest.splits(as_of_timestamp="2026-01-01T10:30:00Z")
    assert [(r["resource_id"], r["split_name"]) for r in at_recorded] == [
        (R1, "train"),
        (R2, "train"),
    ]
    at_1030 = manifest.splits(as_of_timestamp="2026-01-01T11:30:00+01:00")  # the same instant
    assert {(r["resource_id"], r["split_name"]) for r in at_1030} == {(R1, "train"), (R2, "train")}
    assert manifest.splits("train") == [ROWS_NOW[0]]
    # 11:30 was not queried, but R1's row then is known and R3's row began at 11:00.
    at_1130 = manifest.splits(as_of_timestamp="2026-01-01T11:30:00Z")
    assert {(r["resource_id"], r["split_name"]) for r in at_1130} == {
        (R1, "train"),
        (R2, "train"),
        (R3, "validation"),
    }
    # After the last change everything is known.
    assert manifest.splits(as_of_timestamp="2026-02-01T00:00:00Z") == manifest.splits()


def test_splits_that_the_rows_cannot_tell_are_a_miss() -> None:
    only_now = _split_manifest(
        split_rows=ROWS_NOW, split_queries=[{"split_name": None, "as_of_timestamp": None}]
    )
    with pytest.raises(OfflineCacheMissError, match="cannot tell the split of 1 resource"):
        only_now.splits(as_of_timestamp="2026-01-01T11:30:00Z")  # R1 before 12:00: unknown
    with pytest.raises(ValidationError, match="not an ISO-8601"):
        only_now.splits(as_of_timestamp="last tuesday")
    with pytest.raises(OfflineCacheMissError, match="were not synced"):
        _split_manifest().splits()
    named_only = _split_manifest(
        split_rows=ROWS_NOW[:1], split_queries=[{"split_name": "train", "as_of_timestamp": None}]
    )
    assert named_only.splits("train") == ROWS_NOW[:1]
    with pytest.raises(OfflineCacheMissError, match="current split assignments"):
        named_only.splits()


# ---------------------------------------------------------------------- OfflineApi


def test_offline_api_answers_from_the_manifest(tmp_path: Path) -> None:
    _write(tmp_path)
    api = OfflineApi(tmp_path)
    assert api.get_project_by_name("Lungs") == PROJECT
    assert api.get_project(PID) == PROJECT
    assert api.get_projects() == [PROJECT]
    assert api.get_project_resources(PID) == RESOURCES
    assert api.get_resource(R2) == RESOURCES[1]
    assert api.search_annotations([R1]) == ANNOTATIONS[:1]
    assert api.search_annotations([]) == []
    assert api.get_project_worklists(PID) == WORKLISTS
    full = api.get_annotation_set(WID)
    assert full["id"] == WID and full["annotations"] == WORKLISTS[0]["annotations"]
    assert api.get_segmentation_group(WID) == GROUP
    assert api.get_project_splits(PID, split_name="test") == [ROWS_NOW[2]]
    assert api.get_resource_split(PID, R1) == ROWS_NOW[2]
    api.check_connection()
    api.close()
    # Answers are copies: callers cannot damage the manifest in memory.
    api.get_project_resources(PID)[0]["filename"] = "changed"
    assert api.get_project_resources(PID)[0]["filename"] == "r0.png"


def test_offline_api_refuses_what_it_cannot_answer(tmp_path: Path) -> None:
    _write(tmp_path, annotations_for=[R1])
    api = OfflineApi(tmp_path)
    with pytest.raises(
        OfflineCacheMissError, match=rf"annotations of 1 resource\(s\) \(e.g. {R2}\)"
    ):
        api.search_annotations([R1, R2])
    with pytest.raises(ValidationError, match="only by resource_ids"):
        api.search_annotations([R1], annotation_type="segmentation")
    with pytest.raises(OfflineCacheMissError, match="never synced"):
        api.get_segmentation_group("44444444-0000-0000-0000-000000000000")
    with pytest.raises(DatamintException, match="offline: cannot assign"):
        api.assign_split(PID, [R1], "train")
    with pytest.raises(OfflineCacheMissError) as info:
        api.download_resource_file(R1, tmp_path / "x")
    assert R1 in str(info.value) and "r0.png" in str(info.value)
    assert "datamint download --project Lungs" in str(info.value)
    with pytest.raises(OfflineCacheMissError, match="segmentation file of annotation a1"):
        api.download_segmentation_file(R1, "a1", tmp_path / "y")
    assert not (tmp_path / "x").exists()


def test_offline_api_pickles_as_its_arguments(tmp_path: Path) -> None:
    _write(tmp_path)
    api = OfflineApi(tmp_path, server_url=URL)
    clone = pickle.loads(pickle.dumps(api))
    assert (clone.cache_root, clone.server_url) == (api.cache_root, URL)
    assert clone.get_project(PID) == PROJECT


# ---------------------------------------------------------------------- recorder


class _FakeApi:
    """Returns the constants above, like ``Api`` would."""

    server_url = f"http://u:{KEY}@datamint.test:8080"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_project_by_name(self, name: str) -> dict:
        self.calls.append("by_name")
        return dict(PROJECT)

    def get_project_resources(self, pid: str) -> list[dict]:
        return [dict(r) for r in RESOURCES]

    def search_annotations(self, ids: list[str], **filters: Any) -> list[dict]:
        return [dict(a) for a in ANNOTATIONS if a["resource_id"] in ids]

    def get_project_worklists(self, pid: str) -> list[dict]:
        return [dict(w) for w in WORKLISTS]

    def get_segmentation_group(self, wid: str) -> dict:
        return dict(GROUP)

    def get_project_splits(self, pid: str, *, split_name=None, as_of_timestamp=None) -> list:
        return [dict(r) for r in ROWS_NOW]

    def download_resource_file(self, *args: Any, **kwargs: Any) -> str:
        return "forwarded"


def test_recorder_forwards_and_records(tmp_path: Path) -> None:
    fake = _FakeApi()
    recorder = ManifestRecorder(fake)
    project = recorder.get_project_by_name("Lungs")
    recorder.get_project_resources(project["id"])
    recorder.search_annotations([R1])
    recorder.search_annotations([R1, R2], annotation_type="label")  # filtered: not recorded
    recorder.get_project_worklists(project["id"])
    recorder.get_segmentation_group(WID)
    recorder.get_project_splits(project["id"])
    assert recorder.download_resource_file(R1, tmp_path / "x") == "forwarded"
    path = recorder.write(tmp_path)
    assert KEY not in path.read_text()
    manifest = read_manifest(tmp_path, PID)
    assert manifest.annotations_for == [R1]
    assert manifest.annotations == ANNOTATIONS[:1]
    assert manifest.segmentation_groups == {WID: GROUP}
    assert manifest.splits() == sorted(ROWS_NOW, key=lambda r: (r["created_at"], r["id"]))
    assert manifest.server_url == URL
    assert (
        pickle.loads(pickle.dumps(OfflineApi(tmp_path))).search_annotations([R1])
        == (ANNOTATIONS[:1])
    )


def test_recorder_pickles_with_what_it_recorded(tmp_path: Path) -> None:
    recorder = ManifestRecorder(_FakeApi())
    recorder.get_project_by_name("Lungs")
    recorder.get_project_resources(PID)
    clone = pickle.loads(pickle.dumps(recorder))
    assert clone.manifest().resources == RESOURCES
    assert clone.download_resource_file(R1, tmp_path / "x") == "forwarded"
