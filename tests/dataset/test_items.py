"""Items in the existing client's format (``item_format="client"``): keys, shapes and dtypes of
every dataset class on the demo project. The standard format is in test_standard_items.py."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
import torch

from datamint.dataset import (
    ImageDataset,
    SlicedVideoDataset,
    SlicedVolumeDataset,
    VideoDataset,
    VolumeDataset,
)
from datamint.entities import Annotation, Resource
from datamint.exceptions import DatamintWarning
from tests.dataset.conftest import index_of

BASE_KEYS = {
    "image",
    "metainfo",
    "annotations",
    "resource",
    "masks",
    "image_labels",
    "image_categories",
    "spacing",
    "affine",
}


@pytest.fixture
def client_kwargs(demo_kwargs):
    """The demo server's arguments, with the existing client's item format."""
    return {**demo_kwargs, "item_format": "client"}


def test_image_dataset_holds_the_2d_resources(client_kwargs, manifest):
    ds = ImageDataset(project="demo", **client_kwargs)
    expected = {
        r["filename"]
        for r in manifest["resources"]
        if r["metadata"]["frame_count"] == 1 and r["storage"] in ("DicomResource", "ImageResource")
    }
    assert {r.filename for r in ds.resources} == expected
    assert len(ds) == 13


def test_image_dataset_dicom_item(client_kwargs):
    ds = ImageDataset(project="demo", **client_kwargs)
    item = ds[index_of(ds, "images2d/mr_liver_overlay.dcm")]
    assert set(item) == BASE_KEYS | {"mask_labels"}
    assert item["image"].shape == (1, 484, 484)
    assert isinstance(item["image"], np.ndarray)
    assert isinstance(item["metainfo"], pydicom.Dataset) and "PixelData" not in item["metainfo"]
    assert isinstance(item["resource"], Resource)
    assert all(isinstance(a, Annotation) for a in item["annotations"])
    assert set(item["masks"]) == {"alice@example.org", "bob@example.org", "carol@example.org"}
    for author, mask in item["masks"].items():
        assert mask.shape == (1, 484, 484) and mask.dtype == np.uint8
        assert item["mask_labels"][author].dtype == np.int32
        assert item["mask_labels"][author].tolist() == [ds.segmentation_labels.index("lesion") + 1]
    labels = item["image_labels"]
    assert all(
        v.dtype == torch.int32 and v.shape == (len(ds.image_labels_set),) for v in labels.values()
    )
    cats = item["image_categories"]
    assert all(v.dtype == torch.int64 and v.ndim == 0 for v in cats.values())


def test_image_dataset_png_item_has_no_metainfo(client_kwargs):
    ds = ImageDataset(project="demo", **client_kwargs)
    item = ds[index_of(ds, "images2d/histology_he_tile.png")]
    assert item["image"].shape == (3, 240, 240) and item["image"].dtype == np.uint8
    assert item["metainfo"] is None
    assert item["masks"] == {} and "mask_labels" not in item


def test_volume_dataset_nifti_item(client_kwargs):
    ds = VolumeDataset(project="demo", **client_kwargs)
    item = ds[index_of(ds, "volumes/brain1_mr.nii.gz")]
    assert item["image"].shape == (1, 25, 256, 256) and item["image"].dtype == np.float64
    info = item["metainfo"]
    assert set(info) >= {"affine", "header", "shape"} and info["affine"].shape == (4, 4)
    assert info["shape"] == (256, 256, 25)
    for mask in item["masks"].values():
        assert mask.shape == (1, 25, 256, 256) and mask.dtype == np.uint8


def test_volume_dataset_leaves_out_videos_and_plain_images(client_kwargs):
    ds = VolumeDataset(project="demo", **client_kwargs)
    kinds = {r.kind.value for r in ds.resources}
    assert kinds == {"dicom", "nifti"}
    assert {r.filename for r in ds.prepared.excluded} >= {
        "videos/echo_a4c.mp4",
        "images2d/fundus_retina.jpg",
    }


def test_video_dataset_item(client_kwargs):
    ds = VideoDataset(project="demo", **client_kwargs)
    assert len(ds) == 3
    item = ds[index_of(ds, "videos/ct_lung2_slices.mp4")]
    assert item["image"].shape == (3, 19, 160, 160) and item["image"].dtype == np.uint8
    assert item["metainfo"] is None
    for mask in item["masks"].values():
        assert mask.shape == (1, 19, 160, 160) and mask.dtype == np.uint8
        assert mask[0, :4].sum() == 0 and mask[0, 4:15].sum() > 0  # frames 4..14 annotated


def test_semantic_masks_per_author_are_one_hot(client_kwargs):
    ds = VolumeDataset(project="demo", return_as_semantic_segmentation=True, **client_kwargs)
    item = ds[index_of(ds, "volumes/breast1_mr.nii.gz")]
    n = len(ds.segmentation_labels) + 1
    for mask in item["masks"].values():
        assert mask.dtype == np.float32 and mask.shape == (n, 21, 120, 45)
        assert np.array_equal(mask.sum(0), np.ones((21, 120, 45), np.float32))
    assert "mask_labels" not in item


def test_merged_semantic_is_a_float_tensor(client_kwargs):
    ds = VolumeDataset(
        project="demo",
        return_as_semantic_segmentation=True,
        semantic_seg_merge_strategy="union",
        **client_kwargs,
    )
    item = ds[index_of(ds, "volumes/breast1_mr.nii.gz")]
    assert isinstance(item["masks"], torch.Tensor) and item["masks"].dtype == torch.float32
    assert item["masks"].shape == (len(ds.segmentation_labels) + 1, 21, 120, 45)


def test_sliced_volume_items(client_kwargs, manifest):
    vol = VolumeDataset(project="demo", **client_kwargs)
    axial = vol.slice(0)  # the raw stored axis; named planes: tests/dataset/test_planes.py
    assert isinstance(axial, SlicedVolumeDataset)
    assert len(axial) == sum(r.depth for r in vol.resources)
    coronal = vol.slice(1)
    assert len(coronal) == sum(r.size_hw[0] for r in vol.resources)
    i = index_of(vol, "volumes/brain1_mr.nii.gz")
    start = sum(r.depth for r in vol.resources[:i])
    item = axial[start + 12]
    assert set(item) == BASE_KEYS | {"mask_labels"}
    assert item["image"].shape == (1, 256, 256)
    assert item["metainfo"]["slice_axis"] == "axis0" and item["metainfo"]["slice_index"] == 12
    full = vol[i]
    assert np.array_equal(item["image"], full["image"][:, 12])
    for author, mask in item["masks"].items():
        assert mask.dtype == np.uint8 and np.array_equal(mask, full["masks"][author][:, 12])
    assert item["image_categories"].keys() == full["image_categories"].keys()


@pytest.mark.parametrize("axis", [1, 2])
def test_sliced_off_axis_matches_volume(client_kwargs, axis):
    vol = VolumeDataset(project="demo", **client_kwargs).filter(filename_pattern="volumes/breast1*")
    sliced = vol.slice(axis)
    full = vol[0]
    k = 7
    item = sliced[k]
    take = (lambda a: a[:, :, k]) if axis == 1 else (lambda a: a[:, :, :, k])
    assert np.array_equal(item["image"], take(full["image"]))
    for author, mask in item["masks"].items():
        assert np.array_equal(mask, take(full["masks"][author]))


def test_bad_axis_is_a_value_error(client_kwargs):
    with pytest.raises(ValueError, match="'oblique' is not one of"):
        VolumeDataset(project="demo", **client_kwargs).slice("oblique")


def test_frame_by_frame_carries_every_setting(client_kwargs):
    videos = VideoDataset(
        project="demo",
        image_labels_merge_strategy="union",
        image_categories_merge_strategy="mode",
        return_as_semantic_segmentation=True,
        semantic_seg_merge_strategy="intersection",
        **client_kwargs,
    )
    frames = videos.frame_by_frame()
    assert isinstance(frames, SlicedVideoDataset)
    assert len(frames) == 120 + 30 + 19
    i = index_of(videos, "videos/ct_lung2_slices.mp4")
    start = sum(r.depth for r in videos.resources[:i])
    item = frames[start + 6]
    assert item["image"].shape == (3, 160, 160)
    assert item["masks"].shape == (len(videos.segmentation_labels) + 1, 160, 160)
    assert item["image_labels"].dtype == torch.int32
    assert item["image_categories"].dtype == torch.int64 and item["image_categories"].ndim == 0
    assert {k: item["metainfo"][k] for k in ("slice_axis", "slice_index", "parent")} == {
        "slice_axis": "frame",
        "slice_index": 6,
        "parent": None,
    }
    assert item["metainfo"]["geometry"].spacing_mm in (None, (None, None, None))  # pixels, not mm


def test_empty_slice_masks_are_uint8(client_kwargs):
    frames = VideoDataset(project="demo", **client_kwargs).frame_by_frame()
    videos = frames.resources
    i = [r.filename for r in videos].index("videos/ct_lung2_slices.mp4")
    item = frames[sum(r.depth for r in videos[:i])]  # frame 0: no lesion drawn
    for mask in item["masks"].values():
        assert mask.dtype == np.uint8 and mask.sum() == 0


def test_return_metainfo_false_omits_it(client_kwargs):
    ds = ImageDataset(project="demo", return_metainfo=False, **client_kwargs)
    assert "metainfo" not in ds[0]


def test_uint16_dicom_is_scaled_with_one_warning(client_kwargs):
    ds = ImageDataset(project="demo", **client_kwargs)
    with pytest.warns(DatamintWarning, match="min-max scaled to uint8"):
        item = ds[index_of(ds, "images2d/mr_liver_overlay.dcm")]
    assert (
        item["image"].dtype == np.uint8 and item["image"].max() == 255 and item["image"].min() == 0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ds[index_of(ds, "images2d/cr_tibia_j2kr.dcm")]  # uint16 too: no second warning
    assert again["image"].dtype == np.uint8


def test_ct_comes_out_in_hounsfield_units(client_kwargs):
    """The Modality LUT is applied (RescaleIntercept -1024): int16 HU, not rescaled further."""
    ds = VolumeDataset(project="demo", **client_kwargs)
    series = ds[index_of(ds, "series/ct_lung2/")]["image"]
    assert series.dtype == np.int16 and series.min() < -900 and series.max() > 0


@pytest.mark.parametrize("filename", ["volumes/brain1_mr.nii.gz", "series/ct_lung2/"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_sliced_items_carry_the_slice_geometry(client_kwargs, filename, axis):
    vol = VolumeDataset(project="demo", **client_kwargs).filter(filename_pattern=filename)
    volume_geometry = vol.loader.geometry(vol.resources[0])
    sliced = vol.slice(axis)
    k = 5
    geometry = sliced[k]["metainfo"]["geometry"]
    index = [0, 0, 0]
    index[axis] = k
    expected_origin = volume_geometry.affine @ np.array([*index, 1.0])
    assert np.allclose(geometry.origin_mm, expected_origin[:3], atol=1e-4)
    in_plane = [s for i, s in enumerate(volume_geometry.spacing_mm) if i != axis]
    assert np.allclose(geometry.spacing_mm[1:], in_plane)
