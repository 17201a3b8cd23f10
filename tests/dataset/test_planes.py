"""Anatomical planes through the whole item path, on phantoms served by the real server.

Every phantom images one patient box, stored in a different order (NIfTI RAS, LPS,
coronal LSA, sagittal PIR, oblique; DICOM series acquired axially, coronally and
sagittally). Each voxel value is an id whose RAS position the writer knows, so for every
item of ``slice("axial" | "coronal" | "sagittal")`` we check, from the pixels alone, that
it is that plane, that slices step toward S / A / R, and that the item's ``affine`` maps
each pixel to where it is. A mask NIfTI stored LPS beside an RAS image must land on the
same voxels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from datamint.dataset import VolumeDataset
from datamint.server.import_folder import import_folder
from datamint.server.store import ProjectStore
from datamint.testing import phantoms
from datamint.testing.server import running_server

NIFTI = {"ras": "RAS", "lps": "LPS", "coronal": "LSA", "sagittal": "PIR"}
SERIES = {"series_axial": "SPL", "series_coronal": "AIL", "series_sagittal": "LIP"}
NORMAL = {"axial": 2, "coronal": 1, "sagittal": 0}  # RAS axis each plane's slices step along
ROWS_COLS = {"axial": (1, 0), "coronal": (2, 0), "sagittal": (2, 1)}  # both run negative


@pytest.fixture(scope="module")
def phantom_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("phantoms") / "planes"
    folder.mkdir()
    written: dict[str, phantoms.Phantom] = {}
    for stem, codes in NIFTI.items():
        written[stem] = phantoms.write_nifti_phantom(folder / f"{stem}.nii.gz", codes)
    written["oblique"] = phantoms.write_nifti_phantom(
        folder / "oblique.nii.gz", "LPS", phantoms.OBLIQUE_DEG
    )
    for stem, codes in SERIES.items():
        written[stem] = phantoms.write_dicom_series_phantom(folder / stem, codes)
    # a mask of the RAS image, stored LPS: the right half of the box (R > centre)
    lps = phantoms.write_nifti_phantom(folder / "scratch.nii.gz", "LPS")
    image = nib.load(str(lps.path))
    ids = np.asarray(image.dataobj)
    right = (lps.world(ids)[..., 0] > phantoms.BOX_CENTRE_MM[0]).astype(np.uint8)
    nib.save(nib.Nifti1Image(right, image.affine), str(folder / "ras__right__alice.nii.gz"))
    lps.path.unlink()
    store_dir = tmp_path_factory.mktemp("phantom-store")
    store = ProjectStore(store_dir)
    import_folder(store, folder, name="planes", members=["owner@lab.org"])
    key = store.create_user("owner@lab.org")
    with running_server(store_dir) as server:
        yield {
            "phantoms": written,
            "kwargs": {
                "project": "planes",
                "server_url": server.url,
                "api_key": key,
                "image_dtype": "stored",
            },
        }


def _phantom_of(ds: VolumeDataset, index: int, written: dict[str, phantoms.Phantom]):
    name = ds.get_resource(index).filename.rstrip("/").split("/")[-1]
    return written[name.split(".")[0]]


def _pixel_world(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """RAS mm of every pixel ``(0, row, col)`` of a 2-D item, ``(rows, cols, 3)``."""
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    index = np.stack([np.zeros_like(rows), rows, cols, np.ones_like(rows)], axis=-1)
    return (index @ affine.T)[..., :3]


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_every_slice_is_its_plane_stepping_toward_s_a_r(
    phantom_project: dict[str, Any], tmp_path: Path, plane: str
) -> None:
    written = phantom_project["phantoms"]
    ds = VolumeDataset(
        cache_dir=tmp_path, return_segmentations=False, **phantom_project["kwargs"]
    ).slice(plane)
    assert len(ds) == phantoms.PLANE_LENGTHS[plane] * len(written)
    normal = NORMAL[plane]
    last: dict[str, float] = {}
    for i in range(len(ds)):
        item = ds[i]
        phantom = _phantom_of(ds, i, written)
        world = phantom.world(item["image"][0])  # (rows, cols, 3) from the pixels alone
        assert item["image"].shape[1:] == phantoms.PLANE_SHAPES[plane], phantom.storage
        np.testing.assert_allclose(
            _pixel_world(item["affine"], world.shape[:2]), world, atol=1e-3, err_msg=phantom.storage
        )
        if "oblique" in phantom.storage:
            continue
        assert np.ptp(world[..., normal]) < 1e-6, f"{phantom.storage}: not a {plane} slice"
        row_axis, col_axis = ROWS_COLS[plane]
        assert np.all(np.diff(world[..., row_axis], axis=0) < 0), phantom.storage
        assert np.all(np.diff(world[..., col_axis], axis=1) < 0), phantom.storage
        position = float(world[0, 0, normal])
        if item["metainfo"]["index"] > 0:
            assert position > last[phantom.storage], f"{phantom.storage}: slices step back"
        last[phantom.storage] = position


def test_whole_volume_items_keep_storage_order_and_say_so(
    phantom_project: dict[str, Any], tmp_path: Path
) -> None:
    written = phantom_project["phantoms"]
    ds = VolumeDataset(cache_dir=tmp_path, return_segmentations=False, **phantom_project["kwargs"])
    for i in range(len(ds)):
        item = ds[i]
        world = _phantom_of(ds, i, written).world(item["image"][0])  # (D, H, W, 3)
        d, h, w = np.meshgrid(*(np.arange(n) for n in world.shape[:3]), indexing="ij")
        index = np.stack([d, h, w, np.ones_like(d)], axis=-1)
        np.testing.assert_allclose((index @ item["affine"].T)[..., :3], world, atol=1e-3)
        np.testing.assert_allclose(
            item["spacing"], np.linalg.norm(item["affine"][:3, :3], axis=0), atol=1e-9
        )


def test_a_mask_stored_in_another_order_lands_on_the_same_voxels(
    phantom_project: dict[str, Any], tmp_path: Path
) -> None:
    ras = phantom_project["phantoms"]["ras"]
    ds = VolumeDataset(
        cache_dir=tmp_path, **phantom_project["kwargs"], return_as_semantic_segmentation=True
    ).filter(filename_pattern="*ras.nii.gz")
    assert ds.segmentation_labels == ["right"]
    for view in (ds, ds.slice("axial"), ds.slice("sagittal")):
        for i in range(len(view)):
            item = view[i]
            world = ras.world(item["image"][0])
            expected = world[..., 0] > phantoms.BOX_CENTRE_MM[0]
            mask = np.asarray(item["masks"]["alice@example.org"][1])
            assert np.array_equal(mask.astype(bool), expected)


def test_integer_axes_keep_the_stored_layout(phantom_project: dict[str, Any], tmp_path: Path):
    ds = VolumeDataset(
        cache_dir=tmp_path, return_segmentations=False, **phantom_project["kwargs"]
    ).filter(filename_pattern="*coronal.nii.gz")
    whole = ds[0]["image"]
    for axis in (0, 1, 2):
        view = ds.slice(axis)
        assert len(view) == whole.shape[1 + axis]
        for k in (0, len(view) - 1):
            assert np.array_equal(view[k]["image"], np.take(whole, k, axis=1 + axis))
            assert view[k]["metainfo"]["plane"] == f"axis{axis}"
