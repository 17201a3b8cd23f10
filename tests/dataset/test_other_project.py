"""The project.json format is the contract: a project unlike the demo loads the same way.

A small "phantom" project (NIfTI volumes, a PNG image, two annotators, its own label
schema and ids) is generated in a temporary folder, imported into a fresh store and
served; the datasets must build from it with no demo-specific knowledge.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import nibabel as nib
import numpy as np
import pytest
import torch

from datamint.dataset import ImageDataset, VolumeDataset
from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

SHAPE_XYZ = (12, 10, 6)
RATERS = ("ann1@lab.org", "ann2@lab.org")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _nifti(path: Path, data: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.5, 1.0])), str(path))


def _resource(
    root: Path, rel: str, mimetype: str, metadata: dict[str, Any] | None
) -> dict[str, Any]:
    record = {
        "id": str(uuid.uuid4()),
        "filename": rel,
        "mimetype": mimetype,
        "patient_id": rel.split("/")[-1][:9],
        "sha256": _sha(root / rel),
        "size": (root / rel).stat().st_size,
    }
    if metadata is not None:
        record["metadata"] = metadata
    return record


def _annotation(
    root: Path,
    rid: str,
    ident: str,
    kind: str,
    author: str,
    file: str | None = None,
    value: str | None = None,
) -> dict[str, Any]:
    record = {
        "id": str(uuid.uuid4()),
        "resource_id": rid,
        "identifier": ident,
        "type": kind,
        "scope": "image",
        "frame_index": None,
        "value": value,
        "created_by": author,
        "source": "manual",
    }
    if file is not None:
        record.update(file=file, sha256=_sha(root / file), size=(root / file).stat().st_size)
    return record


def write_phantom_project(root: Path) -> dict[str, np.ndarray]:
    """Write the phantom project; return the raters' masks as (Z, Y, X) / (H, W) booleans."""
    vol = np.arange(np.prod(SHAPE_XYZ), dtype=np.float32).reshape(SHAPE_XYZ)
    _nifti(root / "ct/phantom_a.nii.gz", vol)
    _nifti(root / "ct/phantom_b.nii.gz", vol[::-1].copy())
    big = np.zeros(SHAPE_XYZ, np.uint8)
    big[2:9, 2:8, 1:5] = 1
    small = np.zeros(SHAPE_XYZ, np.uint8)
    small[4:7, 3:6, 2:4] = 1
    _nifti(root / "seg/a_ann1.nii.gz", big)
    _nifti(root / "seg/a_ann2.nii.gz", small)
    image = (np.indices((20, 24)).sum(0) * 5).astype(np.uint8)
    mask2d = np.zeros((20, 24), np.uint8)
    mask2d[5:12, 6:18] = 255
    (root / "xr").mkdir()
    cv2.imwrite(str(root / "xr/phantom.png"), image)
    cv2.imwrite(str(root / "seg/xr_ann1.png"), mask2d)

    meta_vol = {"frame_count": 6, "width": 12, "height": 10}
    res_a = _resource(root, "ct/phantom_a.nii.gz", "application/x-nifti", meta_vol)
    res_b = _resource(
        root, "ct/phantom_b.nii.gz", "application/x-nifti", None
    )  # no metadata at all
    res_x = _resource(
        root, "xr/phantom.png", "image/png", {"frame_count": 1, "width": 24, "height": 20}
    )
    _nifti(root / "seg/a_cyst.nii.gz", small)
    anns = [
        _annotation(
            root, res_a["id"], "cyst", "segmentation", RATERS[1], "seg/a_cyst.nii.gz"
        ),  # not in the schema
        _annotation(root, res_a["id"], "tumour", "segmentation", RATERS[0], "seg/a_ann1.nii.gz"),
        _annotation(root, res_a["id"], "tumour", "segmentation", RATERS[1], "seg/a_ann2.nii.gz"),
        _annotation(root, res_x["id"], "tumour", "segmentation", RATERS[0], "seg/xr_ann1.png"),
        _annotation(root, res_x["id"], "abnormal", "label", RATERS[0]),
        _annotation(root, res_x["id"], "abnormal", "label", RATERS[1]),
        _annotation(root, res_x["id"], "side", "category", RATERS[1], value="right"),
        {
            **_annotation(root, res_x["id"], "nodule", "square", RATERS[0]),
            "geometry": {"points": [[2, 3, 0], [10, 9, 0]]},
        },
        {
            **_annotation(root, res_x["id"], "marker", "square", RATERS[1]),
            "geometry": {"points": [[4, 4, 0], [4, 12, 0]]},
        },  # degenerate: x2 == x1, skipped
        {
            **_annotation(root, res_x["id"], "marker", "square", RATERS[1]),
            "geometry": {"points": [[0, 0, 0], [5, 6, 0]]},
        },
    ]
    manifest = {
        "format": "datamint-project-manifest",
        "format_version": 1,
        "project": {
            "id": str(uuid.uuid4()),
            "name": "phantom",
            "created_by": RATERS[0],
            "description": None,
        },
        "annotators": [{"email": e} for e in RATERS],
        "worklists": [
            {
                "id": str(uuid.uuid4()),
                "name": "phantom-labels",
                "annotators": [{"email": e, "status": "active"} for e in RATERS],
                "resource_ids": [res_a["id"], res_b["id"], res_x["id"]],
                "segmentation_group": {
                    "groups": {"tumour": {"index": 1, "color": [255, 0, 0, 255]}}
                },
                "annotations": [
                    {
                        "type": "segmentation",
                        "scope": "image",
                        "identifier": "tumour",
                        "required": False,
                    },
                    {
                        "type": "label",
                        "scope": "image",
                        "identifier": "abnormal",
                        "required": False,
                    },
                    {
                        "type": "category",
                        "scope": "image",
                        "identifier": "side",
                        "required": False,
                        "values": ["left", "right"],
                    },
                ],
            }
        ],
        "resources": [res_a, res_b, res_x],
        "annotations": anns,
        "splits": [],
    }
    (root / "project.json").write_text(json.dumps(manifest, indent=1))
    return {
        "big": np.transpose(big, (2, 1, 0)) != 0,
        "small": np.transpose(small, (2, 1, 0)) != 0,
        "xr": mask2d != 0,
    }


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("phantom-project")
    masks = write_phantom_project(root)
    store_dir = tmp_path_factory.mktemp("phantom-store")
    store = ProjectStore(store_dir)
    import_project(store, root, members=["owner@lab.org"])
    key = store.create_user("owner@lab.org")
    with running_server(store_dir) as server:
        yield {
            "server_url": server.url,
            "api_key": key,
            "cache_dir": tmp_path_factory.mktemp("phantom-cache"),
            "masks": masks,
        }


def _kwargs(phantom: dict[str, Any]) -> dict[str, Any]:
    return {k: phantom[k] for k in ("server_url", "api_key", "cache_dir")}


@pytest.mark.parametrize(
    ("strategy", "rater"), [("union", "big"), ("intersection", "small"), ("mode", "big")]
)
def test_volume_merges(phantom, strategy, rater):
    ds = VolumeDataset(
        project="phantom",
        return_as_semantic_segmentation=True,
        semantic_seg_merge_strategy=strategy,
        **_kwargs(phantom),
    )
    assert [r.filename for r in ds.resources] == ["ct/phantom_a.nii.gz", "ct/phantom_b.nii.gz"]
    assert ds.segmentation_labels == ["tumour"]
    item = ds[0]
    assert item["image"].shape == (1, 6, 10, 12)
    assert torch.equal(item["masks"][1].bool(), torch.from_numpy(phantom["masks"][rater]))


def test_slices_without_metadata_read_the_header(phantom):
    sliced = VolumeDataset(project="phantom", **_kwargs(phantom)).slice("sagittal")
    assert len(sliced) == 12 + 12
    assert sliced[12 + 3]["image"].shape == (1, 6, 10)


def test_image_item_labels_and_categories(phantom):
    ds = ImageDataset(
        project="phantom",
        image_labels_merge_strategy="intersection",
        image_categories_merge_strategy="union",
        **_kwargs(phantom),
    )
    assert len(ds) == 1
    item = ds[0]
    assert item["image"].shape == (1, 20, 24)
    assert np.array_equal(item["masks"][RATERS[0]][0], phantom["masks"]["xr"].astype(np.uint8))
    assert item["image_labels"].tolist() == [1]
    assert ds.image_categories_set == [("side", "left"), ("side", "right")]
    assert item["image_categories"].tolist() == [0, 1]


def test_split_by_patient(phantom):
    ds = VolumeDataset(project="phantom", **_kwargs(phantom))
    parts = ds.split(train=0.5, val=0.5, seed=1, by_patient=True)
    assert sorted(len(p) for p in parts.values()) == [1, 1]
    assert parts["train"].split_source == "local_by_patient"


def test_boxes_and_detection_collate(phantom):
    from datamint.dataset import detection_collate_fn

    ds = ImageDataset(project="phantom", return_boxes=True, **_kwargs(phantom))
    assert ds.schema.box_classes == ("marker", "nodule")
    item = ds[0]
    assert item["boxes"].dtype == torch.float32 and item["boxes"].tolist() == [
        [2, 3, 10, 9],
        [0, 0, 5, 6],
    ]
    assert item["box_labels"].dtype == torch.int64 and item["box_labels"].tolist() == [1, 0]
    batch = detection_collate_fn([item, item])
    assert batch["image"].shape == (2, 1, 20, 24)
    assert isinstance(batch["boxes"], list) and len(batch["boxes"]) == 2


def test_boxes_follow_a_2d_transform(phantom):
    import albumentations as alb

    flip = alb.Compose(
        [alb.HorizontalFlip(p=1.0)],
        bbox_params=alb.BboxParams(format="pascal_voc", label_fields=["labels"]),
    )
    item = ImageDataset(
        project="phantom", return_boxes=True, alb_transform=flip, **_kwargs(phantom)
    )[0]
    assert torch.allclose(
        item["boxes"], torch.tensor([[14.0, 3, 22, 9], [19, 0, 24, 6]]), atol=1e-4
    )  # x -> 24 - x
    assert item["box_labels"].tolist() == [1, 0]


def test_external_annotations_are_kept_only_on_request(phantom):
    default = VolumeDataset(project="phantom", **_kwargs(phantom))
    assert default.segmentation_labels == ["tumour"]
    assert "cyst" not in {a.identifier for a in default.get_annotations(0)}
    external = VolumeDataset(project="phantom", allow_external_annotations=True, **_kwargs(phantom))
    assert external.segmentation_labels == ["tumour", "cyst"]  # appended, next code
    item = external[0]
    assert item["mask_labels"][RATERS[1]].tolist() == [
        2,
        1,
    ]  # response order: cyst first, then tumour
    assert np.array_equal(item["masks"][RATERS[1]][0].astype(bool), phantom["masks"]["small"])


def test_build_dataset_picks_the_class(phantom):
    from datamint.dataset import build_dataset
    from datamint.exceptions import DatamintWarning

    with pytest.warns(DatamintWarning, match="mixes 2-D images and volumes"):
        ds = build_dataset("phantom", **_kwargs(phantom))
    assert type(ds) is VolumeDataset
