"""The merge results the demo README promises (datamint/demo/data/README.md, "Merging").

Expected masks are read straight from the annotators' files with nibabel / OpenCV,
independently of datamint's readers.
"""

from __future__ import annotations

import cv2
import nibabel as nib
import numpy as np
import pytest
import torch

from datamint.dataset import ImageDataset, VideoDataset, VolumeDataset
from datamint.demo import data_dir
from tests.dataset.conftest import index_of


def nifti_mask(name: str) -> np.ndarray:
    """A NIfTI mask stored (X, Y, Z) as our (Z, Y, X) binary array."""
    data = np.asanyarray(nib.load(data_dir() / "masks3d" / name).dataobj)
    return np.transpose(data, (2, 1, 0)) != 0


def png_mask(relative: str) -> np.ndarray:
    return cv2.imread(str(data_dir() / relative), cv2.IMREAD_GRAYSCALE) != 0


def merged(cls, strategy, filename, demo_kwargs, **kw):
    ds = cls(
        project="demo",
        return_as_semantic_segmentation=True,
        semantic_seg_merge_strategy=strategy,
        **demo_kwargs,
        **kw,
    )
    item = ds[index_of(ds, filename)]
    code = ds.segmentation_labels.index("lesion") + 1
    return item["masks"], code


@pytest.mark.parametrize("case", ["brain1", "breast1", "lung2"])
@pytest.mark.parametrize(
    ("strategy", "annotator"), [("intersection", "carol"), ("union", "bob"), ("mode", "alice")]
)
def test_three_nested_raters(case, strategy, annotator, demo_kwargs):
    """A = real label, B = A dilated, C = A eroded: intersection = C, union = B, mode = A."""
    filename = {
        "brain1": "volumes/brain1_mr.nii.gz",
        "breast1": "volumes/breast1_mr.nii.gz",
        "lung2": "volumes/lung2_ct.nii.gz",
    }[case]
    masks, code = merged(VolumeDataset, strategy, filename, demo_kwargs)
    expected = nifti_mask(f"{case}__lesion__{annotator}.nii.gz")
    assert masks.shape[1:] == expected.shape
    assert torch.equal(masks[code].bool(), torch.from_numpy(expected))


@pytest.mark.parametrize(
    ("strategy", "annotator"), [("intersection", "carol"), ("union", "bob"), ("mode", "alice")]
)
def test_mr_liver_roi(strategy, annotator, demo_kwargs):
    masks, code = merged(ImageDataset, strategy, "images2d/mr_liver_overlay.dcm", demo_kwargs)
    expected = png_mask(f"masks2d/mr_liver_overlay__lesion__{annotator}.png")
    assert torch.equal(masks[code].bool(), torch.from_numpy(expected))


@pytest.mark.parametrize(
    ("strategy", "annotator"), [("intersection", "alice"), ("union", "bob"), ("mode", "bob")]
)
def test_lung2_series_two_raters(strategy, annotator, demo_kwargs):
    """The DICOM series carries A and B only: intersection = A, union = mode = B."""
    masks, code = merged(VolumeDataset, strategy, "series/ct_lung2/", demo_kwargs)
    expected = nifti_mask(f"ct_lung2_series__lesion__{annotator}.nii.gz")
    assert torch.equal(masks[code].bool(), torch.from_numpy(expected))


@pytest.mark.parametrize(
    ("strategy", "annotator"), [("intersection", "alice"), ("union", "bob"), ("mode", "bob")]
)
def test_slice_video_frame_masks(strategy, annotator, demo_kwargs):
    masks, code = merged(VideoDataset, strategy, "videos/ct_lung2_slices.mp4", demo_kwargs)
    expected = np.zeros(masks.shape[1:], bool)
    for frame in range(4, 15):
        expected[frame] = png_mask(
            f"video_masks/ct_lung2_slices/f{frame:03d}__lesion__{annotator}.png"
        )
    assert torch.equal(masks[code].bool(), torch.from_numpy(expected))


@pytest.mark.parametrize(
    ("strategy", "annotator"), [("union", "alice"), ("intersection", "carol"), ("mode", "bob")]
)
def test_mni152_grey_matter_raters(strategy, annotator, demo_kwargs):
    """Thresholds p > 0.3, 0.5, 0.7: union = rater 1, intersection = rater 3, mode = rater 2."""
    ds = VolumeDataset(
        project="demo",
        return_as_semantic_segmentation=True,
        semantic_seg_merge_strategy=strategy,
        **demo_kwargs,
    )
    item = ds[index_of(ds, "volumes/mni152_t1_2mm.nii.gz")]
    code = ds.segmentation_labels.index("grey_matter") + 1
    expected = nifti_mask(f"mni152__grey_matter__{annotator}.nii.gz")
    assert torch.equal(item["masks"][code].bool(), torch.from_numpy(expected))


def test_model_masks_are_dropped_by_default_and_kept_on_request(demo_kwargs):
    default = VolumeDataset(project="demo", **demo_kwargs)
    item = default[index_of(default, "volumes/mni152_t1_2mm.nii.gz")]
    assert "models@example.org" not in item["masks"]
    every = VolumeDataset(project="demo", trusted_annotation_sources=None, **demo_kwargs)
    item = every[index_of(every, "volumes/mni152_t1_2mm.nii.gz")]
    assert item["masks"]["models@example.org"].shape[0] == 1
    assert np.array_equal(
        item["masks"]["models@example.org"][0], nifti_mask("mni152__brain__model.nii.gz")
    )


def test_three_way_category_tie_goes_to_lowest_index(demo_kwargs):
    """ct_spine: alice TSPINE, bob NECK, carol ABDOMEN; 'mode' picks the lowest index (NECK)."""
    ds = ImageDataset(project="demo", image_categories_merge_strategy="mode", **demo_kwargs)
    item = ds[index_of(ds, "images2d/ct_spine_jpegll.dcm")]
    assert ds.image_categories_set[int(item["image_categories"])] == ("body_part", "NECK")
    per_user = ImageDataset(project="demo", **demo_kwargs)
    votes = per_user[index_of(per_user, "images2d/ct_spine_jpegll.dcm")]["image_categories"]
    names = {u: per_user.image_categories_set[int(v)][1] for u, v in votes.items()}
    assert names == {
        "alice@example.org": "TSPINE",
        "bob@example.org": "NECK",
        "carol@example.org": "ABDOMEN",
    }


def test_categories_come_from_the_worklist_specs(demo_kwargs):
    ds = ImageDataset(project="demo", **demo_kwargs)
    assert ds.image_categories_set[:2] == [("body_part", "HEAD"), ("body_part", "NECK")]
    assert ds.image_categories_set[-3:] == [
        ("echo_view", "A4C"),
        ("echo_view", "PLAX"),
        ("echo_view", "OTHER"),
    ]
    assert ds.image_labels_set == [
        "lesion_present",
        "doppler",
        "burned_in_text",
        "template_average",
    ]
