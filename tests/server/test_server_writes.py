"""The write routes populate an empty project; the read routes give everything back.

A project is created over HTTP, a NIfTI volume and a PNG are uploaded, annotations are
created, masks attached (and edited: a new annotation id, the old one soft-deleted), a
multi-label mask is split per label, then every read route is checked, and finally the
publish, tag, replace and delete routes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import nibabel as nib
import numpy as np
import pytest

from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

OWNER = "owner@example.org"
OTHER = "other@example.org"
SHAPE_XYZ = (6, 5, 4)  # a NIfTI stored (X, Y, Z): width 6, height 5, 4 slices


def _nifti(data: np.ndarray) -> bytes:
    image = nib.Nifti1Image(data, np.diag([0.5, 0.5, 2.0, 1.0]))
    return gzip.compress(image.to_bytes(), mtime=0)


def _png(array: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", array.astype(np.uint8))
    assert ok
    return data.tobytes()


@dataclass
class Writable:
    url: str
    store: ProjectStore
    owner_key: str
    other_key: str

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"apikey": key or self.owner_key},
            trust_env=False,
            timeout=60,
        )


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Writable]:
    store = ProjectStore(tmp_path_factory.mktemp("writes") / "store")
    owner, other = store.create_user(OWNER), store.create_user(OTHER)
    with running_server(store.store_dir) as server:
        yield Writable(server.url, store, owner, other)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json()


def test_populate_an_empty_project_and_read_it_back(writable: Writable) -> None:
    volume = np.arange(np.prod(SHAPE_XYZ), dtype=np.int16).reshape(SHAPE_XYZ)
    labels = np.zeros(SHAPE_XYZ, dtype=np.uint8)
    labels[1:3, 1:3, 1] = 1
    labels[4, 0:2, 2:4] = 2
    with writable.client() as client:
        project = _ok(
            client.post(
                "/projects",
                json={
                    "name": "written",
                    "description": "made over HTTP",
                    "segmentationData": {
                        "segmentationValueType": "single_label",
                        "definitions": [
                            {"identifier": "tumour", "index": 1, "color": [255, 0, 0]},
                            {"identifier": "organ", "index": 2},
                        ],
                    },
                    "annotation_set": {
                        "annotations": [{"type": "label", "scope": "image", "identifier": "flag"}]
                    },
                },
            ),
            201,
        )
        pid = project["id"]
        assert project["created_by"] == OWNER and project["resource_count"] == 0
        assert _ok(client.post("/projects", json={"name": "written"}), 409)["message"]

        ct = _ok(
            client.post(
                "/resources",
                data={"project_id": pid, "modality": "CT", "tags": "a, b,a"},
                files={"resource": ("ct.nii.gz", _nifti(volume), "application/octet-stream")},
            ),
            201,
        )
        assert ct["storage"] == "NiftiResource" and ct["mimetype"] == "application/x-nifti"
        assert ct["status"] == "inbox" and ct["published"] is False and ct["tags"] == ["a", "b"]
        assert {k: ct["metadata"][k] for k in ("frame_count", "width", "height")} == {
            "frame_count": 4,
            "width": 6,
            "height": 5,
        }
        assert ct["metadata"]["spacing_mm"] == [0.5, 0.5, 2.0]

        photo = np.zeros((5, 6), dtype=np.uint8)
        png = _ok(
            client.post(
                "/resources",
                data={"bypass_inbox": "true", "channel": "cam"},
                files={"resource": ("photo.png", _png(photo), "image/png")},
            ),
            201,
        )
        assert png["status"] == "published" and png["upload_channel"] == "cam"
        assert png["metadata"]["frame_count"] == 1
        assert _ok(client.get(f"/resources/{png['id']}"))["id"] == png["id"]  # the uploader sees it
        with writable.client(writable.other_key) as other:
            assert other.get(f"/resources/{png['id']}").status_code == 404
        assert _ok(
            client.post(
                f"/projects/{pid}/resources",
                json={"resource_ids_to_add": [png["id"]], "all_files_selected": False},
            )
        ) == {"added": 1}

        flag, tumour = _ok(
            client.post(
                f"/annotations/{ct['id']}/annotations",
                json=[
                    {"type": "label", "identifier": "flag"},
                    {"type": "segmentation", "identifier": "tumour", "source": "manual"},
                ],
            ),
            201,
        )
        first_mask = _nifti((labels == 1).astype(np.uint8))
        attached = _ok(
            client.post(
                f"/annotations/{ct['id']}/annotations/{tumour}/file",
                files={"file": ("tumour.nii.gz", first_mask)},
            )
        )
        assert attached["id"] == tumour and attached["associated_file"]
        edited = _ok(
            client.post(
                f"/annotations/{ct['id']}/annotations/{tumour}/file",
                files={"file": ("tumour.nii.gz", _nifti((labels > 0).astype(np.uint8)))},
            )
        )
        assert edited["id"] != tumour and edited["replaces"] == tumour
        assert edited["associated_file"] != attached["associated_file"]
        assert _ok(client.get(f"/annotations/{tumour}"))["deleted_at"] is not None

        split = _ok(
            client.post(
                f"/annotations/{ct['id']}/segmentations/file",
                data={"segmentation_map": json.dumps({"1": "tumour", "2": "organ"})},
                files={"file": ("labels.nii.gz", _nifti(labels))},
            ),
            201,
        )
        assert len(split) == 2
        frame = _ok(
            client.post(
                f"/annotations/{ct['id']}/segmentations/file",
                data={"identifier": "organ", "frame_index": "2"},
                files={"file": ("f2.png", _png(labels[:, :, 2].T * 255))},
            ),
            201,
        )
        bad = client.post(
            f"/annotations/{ct['id']}/segmentations/file",
            data={"identifier": "x"},
            files={"file": ("wrong.png", _png(np.ones((7, 7)) * 255))},
        )
        assert bad.status_code == 422 and "5x6" in bad.json()["message"]

        # -- read everything back through the read routes -----------------------------------
        listed = _ok(client.get(f"/projects/{pid}/resources"))
        assert [r["id"] for r in listed] == [ct["id"], png["id"]]
        assert _ok(client.get(f"/projects/{pid}"))["resource_count"] == 2
        found = _ok(
            client.post(
                "/annotations/search",
                json={"resource_ids": [ct["id"], png["id"]], "offset": "0", "limit": "5000"},
            )
        )
        annotations = found["data"][0]["annotations"]
        assert found["totalCount"] == 5
        assert [a["id"] for a in annotations] == [flag, edited["id"], *split, *frame]
        by_id = {a["id"]: a for a in annotations}
        assert by_id[frame[0]]["scope"] == "frame" and by_id[frame[0]]["frame_index"] == 2
        for annotation in annotations:
            for key in (
                "id",
                "resource_id",
                "identifier",
                "type",
                "scope",
                "frame_index",
                "value",
                "created_by",
                "created_at",
                "deleted_at",
                "associated_file",
                "file",
                "source",
            ):
                assert key in annotation, key
        for aid in (edited["id"], *split):
            response = client.get(f"/annotations/{ct['id']}/annotations/{aid}/file")
            assert response.headers["etag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
            mask = np.asanyarray(
                nib.Nifti1Image.from_bytes(gzip.decompress(response.content)).dataobj
            )
            name = by_id[aid]["identifier"]
            expected = (
                labels > 0 if aid == edited["id"] else labels == (1 if name == "tumour" else 2)
            )
            assert np.array_equal(mask != 0, expected), name
        worklist = _ok(client.get(f"/projects/{pid}/worklists"))[0]
        assert worklist["annotations"][0]["identifier"] == "flag"
        group = _ok(client.get(f"/annotationsets/{worklist['worklist_id']}/segmentation-group"))
        assert group == {
            "groups": {
                "tumour": {"index": 1, "color": [255, 0, 0, 255]},
                "organ": {"index": 2, "color": [60, 180, 75, 255]},
            }
        }
        file = client.get(f"/resources/{ct['id']}/file")
        assert file.content == _nifti(volume) and int(file.headers["content-length"]) == ct["size"]

        # -- the other write routes ---------------------------------------------------------
        published = _ok(client.post(f"/resources/{ct['id']}/publish"))
        assert published["status"] == "published" and published["published_by"] == OWNER
        again = _ok(client.post(f"/resources/{ct['id']}/publish"), 400)
        assert "Resource must be in inbox status to be approved" in again["message"]
        assert _ok(
            client.post("/resources/bulk-publish", json={"resource_ids": [ct["id"], png["id"]]})
        ) == {"published": [], "skipped": [ct["id"], png["id"]]}
        assert _ok(client.put(f"/resources/{ct['id']}/tags", json={"tags": ["x", "x", "y"]}))[
            "tags"
        ] == ["x", "y"]
        tagged = _ok(
            client.get(
                "/resources", params={"tags": json.dumps({"items": ["y"], "filterType": "union"})}
            )
        )
        assert [r["id"] for r in tagged["data"][0]["resources"]] == [ct["id"]]
        replaced = _ok(
            client.put(
                f"/resources/{png['id']}/file",
                files={"file": ("photo.png", _png(np.ones((5, 6)) * 7))},
            )
        )
        assert replaced["sha256"] != png["sha256"] and replaced["created_at"] > png["created_at"]
        assert replaced["id"] == png["id"]
        gone = _ok(client.post("/annotations/delete-batch", json={"ids": [flag, split[0]]}))
        assert gone == {"deleted": [flag, split[0]]}
        assert _ok(client.post("/annotations/delete-batch", json={"ids": [flag]})) == {
            "deleted": []
        }
        assert _ok(client.delete("/resources", params={"resource_ids": png["id"]})) == {
            "deleted": [png["id"]]
        }
        assert [r["id"] for r in _ok(client.get(f"/projects/{pid}/resources"))] == [ct["id"]]
        assert _ok(client.get(f"/resources/{png['id']}"))["deleted_by"] == OWNER
        left = _ok(client.post("/annotations/search", json={"resource_id": ct["id"]}))
        assert left["totalCount"] == 3


def test_worklists_groups_and_members(writable: Writable) -> None:
    with writable.client() as client:
        pid = _ok(client.post("/projects", json={"name": "sets", "description": None}), 201)["id"]
        rid = _ok(
            client.post(
                "/resources",
                data={"project_id": pid},
                files={"resource": ("p.png", _png(np.zeros((4, 4))), "image/png")},
            ),
            201,
        )["id"]
        created = _ok(
            client.post(
                "/annotationsets",
                json={
                    "name": "second",
                    "resource_ids": [rid],
                    "image_labels": ["cat"],
                    "frame_labels": ["f"],
                    "annotators": [OTHER],
                    "segmentation_data": {"definitions": [{"identifier": "a", "index": 1}]},
                },
            ),
            201,
        )
        assert created["project_id"] == pid
        assert [(s["scope"], s["identifier"]) for s in created["annotations"]] == [
            ("image", "cat"),
            ("frame", "f"),
        ]
        assert _ok(client.get(f"/annotationsets/{created['id']}"))["name"] == "second"
        put = client.put(
            f"/annotationsets/{created['id']}/segmentation-group",
            json={
                "segmentationData": {
                    "segmentationValueType": "multi_label",
                    "definitions": [{"identifier": "b", "index": 2, "color": [1, 2, 3, 4]}],
                }
            },
        )
        assert _ok(put) == {"groups": {"b": {"index": 2, "color": [1, 2, 3, 4]}}}
        assert _ok(client.get(f"/annotationsets/{created['id']}/segmentation-group")) == _ok(put)
        twice = client.put(
            f"/annotationsets/{created['id']}/segmentation-group",
            json={
                "segmentationData": {
                    "definitions": [
                        {"identifier": "b", "index": 1},
                        {"identifier": "c", "index": 1},
                    ]
                }
            },
        )
        assert twice.status_code == 422
        assert len(_ok(client.get(f"/projects/{pid}/worklists"))) == 2
        members = _ok(client.get(f"/projects/{pid}/members"))
        assert [(m["email"], m["roles"]) for m in members] == [(OWNER, ["PROJECT_OWNER"])]
        with writable.client(writable.other_key) as other:
            assert (
                other.post(
                    "/annotationsets", json={"name": "x", "resource_ids": [rid], "project_id": pid}
                ).status_code
                == 404
            )


def test_uploads_stage_inside_the_store_only(writable: Writable, tmp_path: Path) -> None:
    staging = writable.store.store_dir / "tmp"
    with writable.client() as client:
        big = np.random.default_rng(0).integers(0, 255, (700, 900), dtype=np.uint8)
        record = _ok(
            client.post("/resources", files={"resource": ("big.png", _png(big), "image/png")}), 201
        )
        assert record["metadata"]["width"] == 900
        broken = client.post("/resources", files={"nothing": ("x.bin", io.BytesIO(b"123"))})
        assert broken.status_code == 422
    assert not any(p.name.startswith("upload-") for p in staging.glob("*"))
