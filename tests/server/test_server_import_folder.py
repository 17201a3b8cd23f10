"""``datamint import`` of a plain folder: naming convention, metadata, idempotence, edits.

The folder is built here from real demo files under other names, so nothing depends on
the demo's own names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.demo import data_dir as demo_data_dir
from datamint.server.import_common import derive_id
from datamint.server.import_folder import import_folder
from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

from .conftest import MakeProject

OWNER = "owner@example.org"


def _folder(root: Path) -> Path:
    demo = demo_data_dir()
    copies = {
        "scans/brain.nii.gz": "volumes/lung2_ct.nii.gz",
        "scans/brain__lesion__alice.nii.gz": "masks3d/lung2__lesion__alice.nii.gz",
        "elsewhere/brain__lesion__bob@lab.org.nii.gz": "masks3d/lung2__lesion__bob.nii.gz",
        "clips/echo.mp4": "videos/ct_lung2_slices.mp4",
        "clips/echo/f004__lesion__alice.png": "video_masks/ct_lung2_slices/f004__lesion__alice.png",
        "photos/p1.png": "images2d/histology_he_tile.png",
        "orphan__lesion__alice.png": "masks2d/mr_liver_overlay__lesion__alice.png",
        "notes.txt": "README.md",
    }
    for target, source in copies.items():
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(demo / source, root / target)
    slices = sorted(
        (demo / "series" / "ct_lung2").glob("*.dcm"),
        key=lambda p: float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]),
    )[:3]  # three adjacent slices: the reader refuses uneven spacing
    (root / "series" / "chest").mkdir(parents=True)
    for i, path in enumerate(slices):
        shutil.copyfile(path, root / "series" / "chest" / f"s{i}.dcm")
    return root


def _records(store: ProjectStore, project_id: str) -> dict[str, dict[str, Any]]:
    return {
        r["filename"]: r for r in store.resources.project_records(project_id, include_deleted=True)
    }


def test_folder_import_follows_the_naming_convention(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "study")
    store = ProjectStore(tmp_path / "store")
    report = import_folder(store, folder, members=[OWNER])
    assert (report.resources, report.annotations) == (4, 3)
    assert len(report.warnings) == 1 and "orphan__lesion__alice.png" in report.warnings[0]
    assert report.project_id == derive_id("folder", "study", "project")
    records = _records(store, report.project_id)
    assert sorted(records) == [
        "clips/echo.mp4",
        "photos/p1.png",
        "scans/brain.nii.gz",
        "series/chest/",
    ]
    assert all(r["id"] == derive_id("folder", "study", name) for name, r in records.items())
    nifti = records["scans/brain.nii.gz"]
    assert nifti["storage"] == "NiftiResource"
    assert {k: nifti["metadata"][k] for k in ("frame_count", "width", "height")} == {
        "frame_count": 19,
        "width": 182,
        "height": 161,
    }
    assert len(nifti["metadata"]["affine"]) == 4 and len(nifti["metadata"]["spacing_mm"]) == 3
    video = records["clips/echo.mp4"]["metadata"]
    assert video["frame_count"] == 19 and video["fps"] > 0
    assert video["streams"][0]["nb_frames"] == 19 and video["streams"][0]["codec_type"] == "video"
    series = records["series/chest/"]
    assert series["metadata"]["frame_count"] == 3 and series["modality"] == "CT"
    assert len(series["files"]) == 3 and series["mimetype"] == "application/dicom"
    assert records["photos/p1.png"]["metadata"]["frame_count"] == 1
    annotations = store.annotations.on_resources([r["id"] for r in records.values()])
    got = sorted(
        (a["identifier"], a["created_by"], a["scope"], a["frame_index"]) for a in annotations
    )
    assert got == [
        ("lesion", "alice@example.org", "frame", 4),
        ("lesion", "alice@example.org", "image", None),
        ("lesion", "bob@lab.org", "image", None),
    ]
    assert store.member_project_ids("bob@lab.org") == {report.project_id}
    project = store.get_project(report.project_id)
    assert project is not None and project["created_by"] == OWNER
    found = store.worklists.get(project["worklist_id"])
    assert found is not None and found[1] == {"lesion": {"index": 1, "color": [230, 25, 75, 255]}}


def test_folder_reimport_is_idempotent_and_edits_are_versioned(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "study")
    store = ProjectStore(tmp_path / "store")
    first = import_folder(store, folder, members=[OWNER])
    before = _records(store, first.project_id)
    ids = [r["id"] for r in before.values()]
    old_annotations = store.annotations.on_resources(ids)
    import_folder(store, folder, members=[OWNER])
    assert _records(store, first.project_id) == before
    assert store.annotations.on_resources(ids) == old_annotations

    mask = folder / "scans" / "brain__lesion__alice.nii.gz"
    shutil.copyfile(demo_data_dir() / "masks3d" / "lung2__lesion__carol.nii.gz", mask)
    shutil.copyfile(
        demo_data_dir() / "images2d" / "fundus_microaneurysms.png", folder / "photos" / "p1.png"
    )
    (folder / "clips" / "echo" / "f004__lesion__alice.png").unlink()
    import_folder(store, folder, members=[OWNER])
    after = _records(store, first.project_id)
    photo, old_photo = after["photos/p1.png"], before["photos/p1.png"]
    assert photo["id"] == old_photo["id"] and photo["sha256"] != old_photo["sha256"]
    assert photo["size"] != old_photo["size"] and photo["created_at"] > old_photo["created_at"]
    assert photo["metadata"]["width"] == 102
    current = {a["id"]: a for a in store.annotations.on_resources(ids, include_deleted=False)}
    everything = {a["id"]: a for a in store.annotations.on_resources(ids)}
    edited = next(a for a in old_annotations if a["file"] == "scans/brain__lesion__alice.nii.gz")
    gone = next(a for a in old_annotations if a["scope"] == "frame")
    assert edited["id"] not in current and everything[edited["id"]]["deleted_at"] is not None
    assert gone["id"] not in current
    replacement = [a for a in current.values() if a["file"] == "scans/brain__lesion__alice.nii.gz"]
    assert len(replacement) == 1 and replacement[0]["associated_file"] != edited["associated_file"]
    (folder / "photos" / "p1.png").unlink()
    import_folder(store, folder, members=[OWNER])
    assert _records(store, first.project_id)["photos/p1.png"]["deleted"] is True
    assert store.get_project(first.project_id)["resource_count"] == 3  # type: ignore[index]


def test_folder_import_through_the_cli_and_the_server(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "study")
    store_dir = tmp_path / "store"
    result = CliRunner().invoke(
        app,
        ["import", str(folder), "--store", str(store_dir), "--name", "Study A", "--member", OWNER],
    )
    assert result.exit_code == 0, result.output
    project_id = result.stdout.strip()
    assert project_id == derive_id("folder", "Study A", "project")
    assert "warning:" in result.stderr and "orphan" in result.stderr
    key = ProjectStore(store_dir).create_user(OWNER)
    with (
        running_server(store_dir) as server,
        httpx.Client(base_url=server.url, headers={"apikey": key}, trust_env=False) as client,
    ):
        resources = client.get(f"/projects/{project_id}/resources").json()
        found = client.post(
            "/annotations/search", json={"resource_ids": [r["id"] for r in resources]}
        ).json()
        assert found["totalCount"] == 3
        frame = next(a for a in found["data"][0]["annotations"] if a["scope"] == "frame")
        mask = client.get(f"/annotations/{frame['resource_id']}/annotations/{frame['id']}/file")
        assert mask.status_code == 200 and mask.content[:4] == b"\x89PNG"
        worklists = client.get(f"/projects/{project_id}/worklists").json()
        assert worklists[0]["worklist_name"] == "Study A"


def test_folder_without_media_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    result = CliRunner().invoke(
        app, ["import", str(tmp_path / "empty"), "--store", str(tmp_path / "s")]
    )
    assert result.exit_code == 1 and "no DICOM, NIfTI" in result.stderr


def test_manifest_resources_without_metadata_get_it_from_the_header(
    tmp_path: Path, make_project: MakeProject
) -> None:
    project = make_project()
    manifest = json.loads((project.root / "project.json").read_text())
    for resource in manifest["resources"]:
        del resource["metadata"]
    (project.root / "project.json").write_text(json.dumps(manifest))
    store = ProjectStore(tmp_path / "store")
    import_project(store, project.root)
    image = store.resources.get(project.image_id)
    series = store.resources.get(project.series_id)
    assert image is not None and series is not None
    assert image[0]["metadata"]["frame_count"] == 1 and image[0]["metadata"]["width"] > 0
    assert series[0]["metadata"]["frame_count"] == 3 and series[0]["metadata"]["width"] == 128


def test_manifest_reimport_with_changed_content_moves_created_at(
    tmp_path: Path, make_project: MakeProject
) -> None:
    project = make_project()
    store = ProjectStore(tmp_path / "store")
    import_project(store, project.root)
    before = store.resources.get(project.image_id)
    import_project(store, project.root)
    same = store.resources.get(project.image_id)
    assert before is not None and same is not None and same[0] == before[0]
    manifest = json.loads((project.root / "project.json").read_text())
    del manifest["resources"][0]["sha256"], manifest["resources"][0]["size"]
    (project.root / "project.json").write_text(json.dumps(manifest))
    photo = project.root / "pictures" / "photo.png"
    other = next(
        p
        for p in (demo_data_dir() / "images2d").glob("*.png")
        if p.read_bytes() != photo.read_bytes()
    )
    shutil.copyfile(other, photo)
    import_project(store, project.root)
    after = store.resources.get(project.image_id)
    assert after is not None and after[0]["sha256"] != before[0]["sha256"]
    assert after[0]["created_at"] > before[0]["created_at"]


@pytest.mark.parametrize("name", ["scan1.nii.gz", "a.b.png", "x.DCM"])
def test_stems_strip_one_media_extension(name: str) -> None:
    from datamint.server.folder_scan import split_name as _split_name

    stem, suffix = _split_name(name)
    assert stem + suffix == name and "." not in suffix[1:].replace("nii.gz", "niigz")
