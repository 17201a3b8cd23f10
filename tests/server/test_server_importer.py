"""Import of project.json folders into a store: ids, integrity, idempotence, series DICOM."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from datamint.demo import data_dir as demo_data_dir
from datamint.server.errors import ManifestError, ManifestIntegrityError
from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.server.timeutil import format_us, parse_iso, to_iso, to_us

from .conftest import MEMBER, MakeProject, demo_manifest

TABLES = (
    "projects",
    "members",
    "resources",
    "project_resources",
    "annotations",
    "worklists",
    "splits",
)


def _counts(store: ProjectStore) -> dict[str, int]:
    with sqlite3.connect(store.db_path) as conn:
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    counts["blobs"] = sum(1 for p in store.blobs.root.rglob("*") if p.is_file())
    return counts


def _rewrite(root: Path, change: Any) -> None:
    manifest = json.loads((root / "project.json").read_text())
    change(manifest)
    (root / "project.json").write_text(json.dumps(manifest))


def test_demo_import_is_idempotent(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path / "store")
    first = import_project(store, demo_data_dir(), members=["x@example.org"])
    counts = _counts(store)
    resources = store.resources.project_records(first)
    second = import_project(store, demo_data_dir(), members=["x@example.org"])
    assert first == second == demo_manifest()["project"]["id"]
    assert _counts(store) == counts
    assert store.resources.project_records(first) == resources
    manifest = demo_manifest()
    assert counts["resources"] == len(manifest["resources"])
    assert counts["annotations"] == len(manifest["annotations"])
    assert not (store.store_dir / "tmp").exists() or not any((store.store_dir / "tmp").iterdir())


def test_members_are_creator_annotators_and_extra(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path / "store")
    pid = import_project(store, demo_data_dir(), members=["Extra@Example.org"])
    manifest = demo_manifest()
    emails = {a["email"] for a in manifest["annotators"]} | {manifest["project"]["created_by"]}
    for email in emails | {"extra@example.org"}:
        assert pid in store.member_project_ids(email), email
    assert store.member_project_ids("nobody@example.org") == set()


def test_missing_ids_are_derived_stably(tmp_path: Path, make_project: MakeProject) -> None:
    project = make_project()

    def drop_ids(manifest: dict[str, Any]) -> None:
        for resource in manifest["resources"]:
            del resource["id"]
        manifest["annotations"] = []
        manifest["splits"] = []
        manifest["worklists"][0]["resource_ids"] = []

    _rewrite(project.root, drop_ids)
    one = ProjectStore(tmp_path / "one")
    two = ProjectStore(tmp_path / "two")
    pid = import_project(one, project.root)
    assert import_project(two, project.root) == pid
    ids_one = [r["id"] for r in one.resources.project_records(pid)]
    assert ids_one == [r["id"] for r in two.resources.project_records(pid)]
    assert len(set(ids_one)) == 2


def test_sha256_mismatch_names_the_file(tmp_path: Path, make_project: MakeProject) -> None:
    project = make_project()
    mask = project.root / "labels" / "photo_mask.png"
    mask.write_bytes(mask.read_bytes() + b"\0")
    store = ProjectStore(tmp_path / "store")
    with pytest.raises(ManifestIntegrityError, match=r"labels/photo_mask\.png.*sha256"):
        import_project(store, project.root)
    assert store.get_project(project.project_id) is None


def test_series_slice_mismatch_names_the_slice(tmp_path: Path, make_project: MakeProject) -> None:
    project = make_project()
    (project.root / "slices" / "part" / "slice_1.dcm").write_bytes(b"not dicom")
    with pytest.raises(ManifestIntegrityError, match=r"slices/part/slice_1\.dcm"):
        import_project(ProjectStore(tmp_path / "store"), project.root)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(format="something-else"), "format"),
        (lambda m: m.update(format_version=2), "format_version"),
        (lambda m: m["resources"][0].update(filename="../outside.png"), "outside|relative"),
        (lambda m: m["resources"][0].update(filename="/etc/hostname"), "relative"),
        (lambda m: m["resources"][0].update(filename="pictures/missing.png"), "not found"),
        (lambda m: m["resources"][0].update(id="resource-1"), "not a UUID"),
        (lambda m: m["annotations"][0].update(resource_id=m["project"]["id"]), "not found"),
        (lambda m: m["splits"][0].update(deleted_at=None), "current split"),
        (lambda m: m["project"].update(created_at="last tuesday"), "ISO-8601"),
    ],
)
def test_invalid_manifests_are_refused(
    tmp_path: Path, make_project: MakeProject, change: Any, message: str
) -> None:
    project = make_project()
    _rewrite(project.root, change)
    with pytest.raises(ManifestError, match=message):
        import_project(ProjectStore(tmp_path / "store"), project.root)


def test_missing_manifest_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"project\.json"):
        import_project(ProjectStore(tmp_path / "store"), tmp_path)
    (tmp_path / "project.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        import_project(ProjectStore(tmp_path / "store"), tmp_path)


def test_a_second_project_with_the_same_name_is_refused(
    tmp_path: Path, make_project: MakeProject
) -> None:
    store = ProjectStore(tmp_path / "store")
    import_project(store, make_project("first").root)
    clash = make_project("second")
    _rewrite(clash.root, lambda m: m["project"].update(name="first"))
    with pytest.raises(ManifestError, match="already used"):
        import_project(store, clash.root)


def test_records_keep_manifest_keys_and_add_wire_keys(
    tmp_path: Path, make_project: MakeProject
) -> None:
    project = make_project()
    store = ProjectStore(tmp_path / "store")
    import_project(store, project.root, members=[MEMBER])
    image = store.resources.get(project.image_id)
    assert image is not None
    record, sha, projects, owner = image
    assert owner is None
    assert projects == [project.project_id]
    assert record["custom_key"] == {"kept": True}
    assert record["storage"] == "ImageResource" and record["sha256"] == sha
    assert store.blob_path(sha).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    series = store.resources.get(project.series_id)
    assert series is not None and series[0]["storage"] == "DicomResource"
    found = store.annotations.get(project.label_annotation_id)
    assert found is not None
    label, label_sha = found
    assert label_sha is None and label["file"] is None and label["associated_file"] is None
    assert label["annotation_worklist_id"] == project.worklist_id
    assert label["scope"] == "image" and label["frame_index"] is None


def test_changed_file_content_changes_associated_file(
    tmp_path: Path, make_project: MakeProject
) -> None:
    project = make_project()
    store = ProjectStore(tmp_path / "store")
    import_project(store, project.root)
    before = store.annotations.get(project.mask_annotation_id)
    mask = project.root / "labels" / "photo_mask.png"
    mask.write_bytes(mask.read_bytes() + b"\0")

    def forget_hash(manifest: dict[str, Any]) -> None:
        del manifest["annotations"][0]["sha256"]

    _rewrite(project.root, forget_hash)
    import_project(store, project.root)
    after = store.annotations.get(project.mask_annotation_id)
    assert before is not None and after is not None
    assert after[0]["associated_file"] != before[0]["associated_file"]
    assert after[0]["size"] == before[0]["size"] + 1


def test_series_blob_is_deterministic(tmp_path: Path, make_project: MakeProject) -> None:
    """The merged series does not depend on the store, the time, or the files' order."""
    project = make_project()
    shas = []
    for name in ("a", "b"):
        if name == "b":
            _rewrite(project.root, lambda m: m["resources"][1]["files"].reverse())
        store = ProjectStore(tmp_path / name)
        import_project(store, project.root)
        found = store.resources.get(project.series_id)
        assert found is not None
        shas.append(found[1])
        head = store.blob_path(found[1]).read_bytes()[:132]
        assert head[128:] == b"DICM"
    assert shas[0] == shas[1]


def test_series_with_a_missing_slice_is_refused(tmp_path: Path, make_project: MakeProject) -> None:
    project = make_project()
    files = project.manifest["resources"][1]["files"]
    gap = next(f for f in demo_manifest()["resources"] if len(f.get("files") or []) > 1)
    far = max(gap["files"], key=lambda f: f["image_position_patient"][2])
    (project.root / "slices" / "part" / "far.dcm").write_bytes(
        (demo_data_dir() / far["path"]).read_bytes()
    )

    def add(manifest: dict[str, Any]) -> None:
        manifest["resources"][1]["files"] = [*files, {"path": "slices/part/far.dcm"}]

    _rewrite(project.root, add)
    with pytest.raises(ManifestError, match=r"resources\[1\]\.files.*slice\(s\) missing"):
        import_project(ProjectStore(tmp_path / "store"), project.root)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T14:53:43.660946Z", "2026-11-21T14:53:43.660946Z"),
        ("2026-04-21T13:09:34.912Z", "2026-04-21T13:09:34.912000Z"),
        ("2026-04-21T13:09:34Z", "2026-04-21T13:09:34.000000Z"),
        ("2026-04-21T13:09:34", "2026-04-21T13:09:34.000000Z"),
        ("2026-04-21T15:09:34.5+02:00", "2026-04-21T13:09:34.500000Z"),
        ("2026-04-21T13:09:34.123456789Z", "2026-04-21T13:09:34.123456Z"),
        ("2026-04-21", "2026-04-21T00:00:00.000000Z"),
    ],
)
def test_timestamps_parse_any_iso_and_format_with_microseconds(text: str, expected: str) -> None:
    assert to_iso(text) == expected
    assert format_us(to_us(text)) == expected
    assert parse_iso(text).utcoffset() is not None


def test_timestamp_parse_errors_quote_the_value() -> None:
    with pytest.raises(ValueError, match="'21/04/2026'"):
        to_us("21/04/2026")


def test_a_store_of_the_first_schema_asks_to_be_recreated(tmp_path: Path) -> None:
    from datamint.exceptions import ValidationError

    (tmp_path / "old").mkdir()
    with sqlite3.connect(tmp_path / "old" / "store.sqlite3") as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    with pytest.raises(ValidationError, match="re-create the store"):
        ProjectStore(tmp_path / "old")
