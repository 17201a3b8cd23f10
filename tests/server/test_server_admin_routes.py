"""Conformance of the administrative routes (contract/API.md §4.2, §4.5, §4.7).

Project edits, statistics and export; one frame as PNG; resources without annotations;
annotation renames, approval and frame ranges; segmentation-group renames and deletes;
dataset contents and archives. Each test checks status codes, shapes, and 404 "not found"
both for an unknown id and for a foreign project's (no existence oracle); 401 without a key
is checked for every route of the schema by ``test_server_conformance.py``. The server runs
over its own store (tests here write).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from datamint.readers import read_file
from datamint.server.importer import import_project
from datamint.server.routes_frames import encode_frame
from datamint.server.store import ProjectStore
from datamint.server.store.users import user_id_of
from datamint.testing.server import running_server
from tests.server.conftest import (
    MEMBER,
    OUTSIDER,
    Scratch,
    SyntheticProject,
    demo_manifest,
    write_synthetic_project,
)

MISSING = "00000000-0000-4000-8000-000000000000"


@dataclass
class Admin:
    """The server of this module and what its store holds."""

    url: str
    store: ProjectStore
    key: str
    outsider_key: str
    mine: SyntheticProject
    other: SyntheticProject

    def client(self, key: str | None = None) -> httpx.Client:
        """httpx client sending ``apikey`` (the member's by default)."""
        return httpx.Client(
            base_url=self.url, headers={"apikey": key or self.key}, trust_env=False, timeout=60
        )


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    base = tmp_path_factory.mktemp("admin")
    store = ProjectStore(base / "store")
    mine = write_synthetic_project(base / "mine", "mine", MEMBER)
    other = write_synthetic_project(base / "other", "other", OUTSIDER)
    import_project(store, mine.root)
    import_project(store, other.root)
    key, outsider_key = store.create_user(MEMBER), store.create_user(OUTSIDER)
    with running_server(store.store_dir) as server:
        yield Admin(server.url, store, key, outsider_key, mine, other)


def _not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert "not found" in response.json()["message"].lower()


def test_patch_and_restore_project(admin: Admin) -> None:
    pid = admin.mine.project_id
    with admin.client() as client:
        changed = client.patch(f"/projects/{pid}", json={"description": "new text"})
        assert changed.status_code == 200 and changed.json()["description"] == "new text"
        assert changed.json()["name"] == "mine"
        archived = client.patch(f"/projects/{pid}", json={"archived": True}).json()
        assert archived["archived"] is True and archived["archived_by"] == MEMBER
        listed = client.get("/projects").json()["data"]
        assert pid not in [p["id"] for p in listed]
        restored = client.post(f"/projects/{pid}/restore")
        assert restored.status_code == 200 and restored.json()["archived"] is False
        assert client.post(f"/projects/{pid}/restore").json()["archived"] is False  # idempotent
        renamed = client.patch(f"/projects/{pid}", json={"name": "mine-renamed"})
        assert renamed.json()["name"] == "mine-renamed"
        assert client.patch(f"/projects/{pid}", json={"name": "mine"}).json()["name"] == "mine"
        # names are unique per owner: another user's "other" is no clash and is not revealed
        shared = client.patch(f"/projects/{pid}", json={"name": "other"})
        assert shared.status_code == 200 and shared.json()["name"] == "other"
        assert client.patch(f"/projects/{pid}", json={"name": "mine"}).json()["name"] == "mine"
        assert client.post("/projects", json={"name": "mine-too"}).status_code == 201
        taken = client.patch(f"/projects/{pid}", json={"name": "mine-too"})
        assert taken.status_code == 409 and "already used" in taken.json()["message"]
        assert client.patch(f"/projects/{pid}", json={"name": ""}).status_code == 422
        foreign = admin.other.project_id
        _not_found(client.patch(f"/projects/{foreign}", json={"archived": True}))
        _not_found(client.post(f"/projects/{foreign}/restore"))
        _not_found(client.patch(f"/projects/{MISSING}", json={}))
        _not_found(client.post(f"/projects/{MISSING}/restore"))


def test_annotation_statuses_and_statistics(admin: Admin) -> None:
    pid, image, series = admin.mine.project_id, admin.mine.image_id, admin.mine.series_id
    with admin.client() as client:
        rows = client.get(f"/projects/{pid}/annotation-statuses").json()
        by_resource = {row["resource_id"]: row for row in rows if row["email"] == MEMBER}
        assert by_resource[image]["status"] == "closed"  # imported annotations are published
        assert by_resource[image]["annotation_count"] == 2  # the deleted one does not count
        assert by_resource[image]["user_id"] == user_id_of(MEMBER)
        assert by_resource[series]["status"] == "pending"
        assert by_resource[series]["annotation_count"] == 0
        pending = client.get(f"/projects/{pid}/annotation-statuses", params={"status": "pending"})
        assert {row["resource_id"] for row in pending.json()} == {series}
        for who in (MEMBER, user_id_of(MEMBER)):
            only = client.get(
                f"/projects/{pid}/annotation-statuses",
                params={"user_id": who, "resource_id": image},
            ).json()
            assert [(r["resource_id"], r["email"]) for r in only] == [(image, MEMBER)]
        params: dict[str, Any] = {"status": "done"}
        assert client.get(f"/projects/{pid}/annotation-statuses", params=params).status_code == 422
        params = {"user_id": "nobody"}
        assert client.get(f"/projects/{pid}/annotation-statuses", params=params).status_code == 422

        annotators = client.get(f"/projects/{pid}/annotators-statistic").json()
        assert annotators == [
            {
                "email": MEMBER,
                "user_id": user_id_of(MEMBER),
                "annotation_count": 2,
                "annotated_resource_count": 1,
                "by_type": {"label": 1, "segmentation": 1},
                "last_annotated_at": annotators[0]["last_annotated_at"],
            }
        ]
        stats = client.get(f"/projects/{pid}/annotations-statistic").json()
        assert stats["total"] == 2 and stats["deleted"] == 1
        assert stats["by_status"] == {"published": 2}
        assert stats["by_type"] == {"label": 1, "segmentation": 1}
        assert stats["by_identifier"] == {"flag": 1, "thing": 1}
        matrix = client.get(f"/projects/{pid}/files-matrix-statistic").json()
        assert matrix["resource_count"] == 2 and matrix["annotated_resource_count"] == 1
        assert matrix["not_annotated_resource_count"] == 1
        assert matrix["by_mimetype"] == {"application/dicom": 1, "image/png": 1}
        assert matrix["by_annotator"][MEMBER] == {"pending": 1, "annotated": 0, "closed": 1}
        foreign = admin.other.project_id
        for route in (
            "annotation-statuses",
            "annotators-statistic",
            "annotations-statistic",
            "files-matrix-statistic",
            "download-annotations",
        ):
            _not_found(client.get(f"/projects/{foreign}/{route}"))
            _not_found(client.get(f"/projects/{MISSING}/{route}"))


def test_download_annotations(admin: Admin) -> None:
    pid = admin.mine.project_id
    with admin.client() as client:
        response = client.get(f"/projects/{pid}/download-annotations")
    assert response.status_code == 200
    assert 'filename="mine-annotations.json"' in response.headers["content-disposition"]
    body = response.json()
    assert body["format"] == "datamint-annotations" and body["project"]["id"] == pid
    assert [r["id"] for r in body["resources"]] == [admin.mine.image_id, admin.mine.series_id]
    ids = {a["id"] for a in body["annotations"]}
    assert admin.mine.deleted_annotation_id not in ids
    assert admin.mine.label_annotation_id in ids


def test_frames_as_png(admin: Admin) -> None:
    image, series = admin.mine.image_id, admin.mine.series_id
    with admin.client() as client:
        png = client.get(f"/resources/{image}/frames/0", headers={"accept": "image/*"})
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        decoded = cv2.imdecode(np.frombuffer(png.content, np.uint8), cv2.IMREAD_UNCHANGED)
        source = read_file(admin.mine.root / "pictures" / "photo.png").array[:, 0]
        expected = source[0] if source.shape[0] == 1 else np.moveaxis(source, 0, -1)
        if expected.ndim == 3:
            decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB if source.shape[0] == 3 else 0)
        np.testing.assert_array_equal(decoded, expected)
        third = client.get(f"/resources/{series}/frames/2")  # the series' last slice
        assert third.status_code == 200 and "x-frame-min" in third.headers
        cut = admin.mine.root / admin.mine.manifest["resources"][1]["files"][0]["path"]
        upload = client.post(
            "/resources",
            files={"resource": ("cut.dcm", cut.read_bytes()[:2000], "application/dicom")},
        )
        assert upload.status_code == 201, upload.text
        broken = client.get(f"/resources/{upload.json()['id']}/frames/0")  # truncated file
        assert broken.status_code == 422 and "cannot be decoded" in broken.json()["message"]
        _not_found(client.get(f"/resources/{series}/frames/3"))
        _not_found(client.get(f"/resources/{series}/frames/-1"))
        _not_found(client.get(f"/resources/{series}/frames/one"))
        _not_found(client.get(f"/resources/{MISSING}/frames/0"))
        foreign = admin.other.image_id
        _not_found(client.get(f"/resources/{foreign}/frames/0"))


def test_frames_of_demo_volumes_and_videos(scratch: Scratch, member: httpx.Client) -> None:
    ids = {r["filename"]: r["id"] for r in demo_manifest()["resources"]}
    series = ids["series/ct_lung2/"]
    last = member.get(f"/resources/{series}/frames/19")
    assert last.status_code == 200 and "x-frame-min" in last.headers  # HU scaled to 8 bits
    decoded = cv2.imdecode(np.frombuffer(last.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == np.uint8 and decoded.ndim == 2
    assert float(last.headers["x-frame-min"]) < 0  # Hounsfield units: air is negative
    _not_found(member.get(f"/resources/{series}/frames/20"))
    nifti = member.get(f"/resources/{ids['volumes/lung2_ct.nii.gz']}/frames/18")
    assert nifti.status_code == 200 and nifti.content.startswith(b"\x89PNG")
    video = member.get(f"/resources/{ids['videos/echo_a4c.mp4']}/frames/119")
    frame = cv2.imdecode(np.frombuffer(video.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert video.status_code == 200 and frame.dtype == np.uint8 and frame.ndim == 3


def test_encode_frame_keeps_16_bits_and_scales_the_rest() -> None:
    wide = np.arange(12, dtype=np.uint16).reshape(1, 3, 4) * 5000
    data, headers = encode_frame(wide)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and headers == {}
    np.testing.assert_array_equal(back, wide[0])
    hu = np.array([[[-1000, 0], [1000, 3000]]], dtype=np.int16)
    data, headers = encode_frame(hu)
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint8 and back.min() == 0 and back.max() == 255
    assert headers == {"X-Frame-Min": "-1000.0", "X-Frame-Max": "3000.0"}
    rgb = np.zeros((3, 2, 2), np.uint8)
    rgb[0] = 200  # red
    back = cv2.imdecode(np.frombuffer(encode_frame(rgb)[0], np.uint8), cv2.IMREAD_UNCHANGED)
    assert back[0, 0].tolist() == [0, 0, 200]  # BGR on disk order, i.e. red


def test_not_annotated_resources(admin: Admin) -> None:
    with admin.client() as client:
        body = client.get("/resources/not-annotated").json()
        assert set(body) == {"data", "totalCount"}
        ids = [r["id"] for r in body["data"][0]["resources"]]
        assert admin.mine.series_id in ids and admin.mine.image_id not in ids
        assert admin.other.series_id not in ids  # not visible to the member
        assert body["totalCount"] == len(ids)
        page = client.get("/resources/not-annotated", params={"offset": 0, "limit": 0}).json()
        assert page["data"][0]["resources"] == [] and page["totalCount"] == len(ids)
        assert client.get("/resources/not-annotated", params={"limit": 5001}).status_code == 422


def _search(client: httpx.Client, resource_id: str, deleted: str = "exclude") -> list[Any]:
    body = {"resource_ids": [resource_id], "deleted": deleted}
    return list(client.post("/annotations/search", json=body).json()["data"][0]["annotations"])


def test_patch_and_approve_annotation(admin: Admin) -> None:
    image, label = admin.mine.image_id, admin.mine.label_annotation_id
    with admin.client() as client:
        moved = client.patch(f"/annotations/{label}", json={"project_id": admin.mine.project_id})
        assert moved.status_code == 200 and moved.json()["id"] == label
        assert moved.json()["project_id"] == admin.mine.project_id
        renamed = client.patch(f"/annotations/{label}", json={"identifier": "flag2"}).json()
        assert renamed["id"] != label and renamed["replaces"] == label
        assert renamed["identifier"] == "flag2" and renamed["deleted_at"] is None
        old = client.get(f"/annotations/{label}").json()
        assert old["deleted_at"] is not None and old["deleted_by"] == MEMBER
        assert renamed["id"] in [a["id"] for a in _search(client, image)]
        assert label not in [a["id"] for a in _search(client, image)]
        stale = client.patch(f"/annotations/{label}", json={"identifier": "x"})
        assert stale.status_code == 409
        assert client.patch(f"/annotations/{label}/approve").status_code == 409
        approved = client.patch(f"/annotations/{renamed['id']}/approve").json()
        assert approved["id"] == renamed["id"] and approved["status"] == "published"
        assert approved["approved_by"] == MEMBER
        again = client.patch(f"/annotations/{renamed['id']}/approve").json()
        assert again["approved_at"] == approved["approved_at"]
        bad = client.patch(f"/annotations/{renamed['id']}", json={"project_id": "nope"})
        assert bad.status_code == 422
        elsewhere = client.patch(
            f"/annotations/{renamed['id']}", json={"project_id": admin.other.project_id}
        )
        _not_found(elsewhere)
        _not_found(client.patch(f"/annotations/{MISSING}", json={}))
        _not_found(client.patch(f"/annotations/{MISSING}/approve"))
        foreign = admin.other.label_annotation_id
        _not_found(client.patch(f"/annotations/{foreign}/approve"))


def test_frame_ranges(admin: Admin) -> None:
    series = admin.mine.series_id
    with admin.client() as client:
        empty = client.get(f"/annotations/{series}/frame-ranges").json()
        assert empty == {
            "resource_id": series,
            "ranges": {},
            "updated_at": None,
            "updated_by": None,
        }
        put = client.put(
            f"/annotations/{series}/frame-ranges",
            json={"ranges": {"lung": [[1, 2], [0, 0]], "heart": [[2, 2]]}},
        )
        assert put.status_code == 200
        assert put.json()["ranges"] == {"heart": [[2, 2]], "lung": [[0, 2]]}
        got = client.get(f"/annotations/{series}/frame-ranges").json()
        assert got["ranges"] == put.json()["ranges"] and got["updated_by"] == MEMBER
        client.put(f"/annotations/{series}/frame-ranges", json={"ranges": {"lung": [[1, 1]]}})
        assert client.get(f"/annotations/{series}/frame-ranges").json()["ranges"] == {
            "lung": [[1, 1]]
        }
        for bad in ({"lung": [[0, 3]]}, {"lung": [[2, 1]]}, {"lung": [[1]]}, {" ": [[0, 0]]}):
            response = client.put(f"/annotations/{series}/frame-ranges", json={"ranges": bad})
            assert response.status_code == 422, bad
        foreign = admin.other.series_id
        _not_found(client.get(f"/annotations/{foreign}/frame-ranges"))
        _not_found(client.get(f"/annotations/{MISSING}/frame-ranges"))
        _not_found(client.put(f"/annotations/{MISSING}/frame-ranges", json={"ranges": {}}))


def test_segmentation_group_renames_and_deletes(admin: Admin) -> None:
    wid, image, mask = admin.mine.worklist_id, admin.mine.image_id, admin.mine.mask_annotation_id
    definitions = [{"identifier": "object", "index": 1}, {"identifier": "extra", "index": 2}]
    with admin.client() as client:
        url = f"/annotationsets/{wid}/segmentation-group"
        bad = client.put(
            url,
            json={"segmentationData": {"definitions": definitions}, "renames": [{"from": "x"}]},
        )
        assert bad.status_code == 422
        unknown = [{"from": "nothing", "to": "object"}]
        body = {"segmentationData": {"definitions": definitions}, "renames": unknown}
        assert client.put(url, json=body).status_code == 422
        body["renames"] = [{"from": "thing", "to": "object"}]
        answer = client.put(url, json=body).json()
        assert set(answer["groups"]) == {"object", "extra"}
        (new_id,) = answer["renamed_annotation_ids"]
        current = {a["id"]: a for a in _search(client, image)}
        assert mask not in current and current[new_id]["identifier"] == "object"
        assert current[new_id]["associated_file"] is not None  # same file, new version
        assert client.get(f"/annotations/{mask}").json()["deleted_at"] is not None
        removed = client.delete(f"{url}/extra")
        assert removed.status_code == 200 and set(removed.json()["groups"]) == {"object"}
        assert client.get(url).json()["groups"]["object"]["index"] == 1
        _not_found(client.delete(f"{url}/extra"))

        worklist = client.get(f"/annotationsets/{wid}").json()
        assert [a["email"] for a in worklist["annotators"]] == [MEMBER]
        _not_found(client.delete(f"/annotationsets/{wid}/annotators/{OUTSIDER}"))
        after = client.delete(f"/annotationsets/{wid}/annotators/{user_id_of(MEMBER)}")
        assert after.status_code == 200 and after.json()["annotators"] == []
        assert after.json()["removed_annotators"][0]["deleted_by"] == MEMBER
        _not_found(client.delete(f"/annotationsets/{wid}/annotators/{MEMBER}"))
        foreign = admin.other.worklist_id
        _not_found(client.delete(f"/annotationsets/{foreign}/segmentation-group/thing"))
        _not_found(client.delete(f"/annotationsets/{foreign}/annotators/{OUTSIDER}"))
        _not_found(client.delete(f"/annotationsets/{MISSING}/segmentation-group/thing"))


def _dataset_id(client: httpx.Client, project_id: str) -> str:
    return str(client.get(f"/projects/{project_id}").json()["dataset_id"])


def test_dataset_resources_and_archive(admin: Admin, tmp_path: Path) -> None:
    with admin.client() as client:
        did = _dataset_id(client, admin.mine.project_id)
        listed = client.get(f"/datasets/{did}/resources").json()
        assert [r["id"] for r in listed] == [admin.mine.image_id, admin.mine.series_id]
        assert (
            client.get(f"/datasets/{did}/resources", params={"version": "latest"}).json() == listed
        )
        early = client.get(f"/datasets/{did}/resources", params={"version": "2000-01-01T00:00:00Z"})
        assert early.status_code == 200 and early.json() == []
        assert client.get(f"/datasets/{did}/resources", params={"version": "v2"}).status_code == 422

        token = client.get(f"/datasets/{did}/download/zip")
        assert token.status_code == 200
        grant = token.json()
        assert grant["url"] == f"/datasets/download/{grant['token']}" and grant["format"] == "zip"
        archive = client.get(grant["url"])
        assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
        assert archive.headers["etag"] == f'"{grant["sha256"]}"'
        assert len(archive.content) == grant["size"]
        second = client.get(f"/datasets/{did}/download/zip").json()
        assert second["token"] != grant["token"] and second["sha256"] == grant["sha256"]
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
            names = zf.namelist()
            assert names[0] == "manifest.json"
            photo = f"files/{admin.mine.image_id}/photo.png"
            assert photo in names and f"files/{admin.mine.series_id}/part.dcm" in names
            original = (admin.mine.root / "pictures" / "photo.png").read_bytes()
            assert zf.read(photo) == original
            assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        ranged = client.get(grant["url"], headers={"range": "bytes=0-3"})
        assert ranged.status_code == 206 and ranged.content == b"PK\x03\x04"
        assert client.get(f"/datasets/{did}/download/tar").status_code == 422
        _not_found(client.get(f"/datasets/download/{MISSING}"))
        _not_found(client.get(f"/datasets/{MISSING}/resources"))
        _not_found(client.get(f"/datasets/{MISSING}/download/zip"))
    with admin.client(admin.outsider_key) as outsider:
        _not_found(outsider.get(grant["url"]))  # a token is its user's only
        _not_found(outsider.get(f"/datasets/{did}/resources"))
        _not_found(outsider.get(f"/datasets/{did}/download/zip"))


def test_patch_worklist(tmp_path):
    """PATCH /annotationsets/{id}: name, status, specs and resources; bad input is 422."""
    import httpx

    from datamint.testing.server import build_demo_store, running_server

    project_id, key = build_demo_store(tmp_path)
    with (
        running_server(tmp_path) as server,
        httpx.Client(base_url=server.url, headers={"apikey": key}) as client,
    ):
        worklist = client.get(f"/projects/{project_id}/worklists").json()[0]
        wid = worklist["worklist_id"]
        resources = [r["id"] for r in client.get(f"/projects/{project_id}/resources").json()]
        specs = [{"type": "label", "scope": "image", "identifier": "artefact"}]
        answer = client.patch(
            f"/annotationsets/{wid}",
            json={
                "name": "round 2",
                "status": "closed",
                "annotations": specs,
                "resource_ids": resources[:2],
            },
        )
        assert answer.status_code == 200, answer.text
        stored = client.get(f"/annotationsets/{wid}").json()
        assert (stored["name"], stored["status"], stored["resource_ids"]) == (
            "round 2",
            "closed",
            resources[:2],
        )
        assert stored["annotations"] == [{**specs[0], "required": False}]
        for bad, message in [
            ({"owner": "x"}, "cannot change"),
            ({"name": " "}, "non-empty"),
            ({"annotations": [{"type": "blob", "identifier": "x"}]}, "unknown type"),
            ({"resource_ids": ["00000000-0000-0000-0000-000000000000"]}, "not resources"),
        ]:
            refused = client.patch(f"/annotationsets/{wid}", json=bad)
            assert refused.status_code == 422 and message in refused.json()["message"]
        assert (
            client.patch(
                "/annotationsets/00000000-0000-0000-0000-000000000000", json={}
            ).status_code
            == 404
        )
        no_key = httpx.patch(f"{server.url}/annotationsets/{wid}", json={})
        assert no_key.status_code == 401
