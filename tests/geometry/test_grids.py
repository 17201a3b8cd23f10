"""same_grid: a mask holding its image's voxels in another axis order lands on the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datamint.geometry import GridMap, same_grid
from datamint.readers import read_file
from datamint.testing.phantoms import (
    OBLIQUE_DEG,
    box_affine,
    write_dicom_multiframe_phantom,
    write_dicom_series_phantom,
    write_nifti_phantom,
)

MASKS = {
    "nifti LPS": lambda d: write_nifti_phantom(d / "lps.nii.gz", "LPS"),
    "nifti coronal LSA": lambda d: write_nifti_phantom(d / "lsa.nii.gz", "LSA"),
    "nifti LAS qform": lambda d: write_nifti_phantom(d / "las.nii", "LAS", forms="qform"),
    "dicom sagittal LIP": lambda d: write_dicom_series_phantom(d / "sagittal", "LIP"),
    "dicom multi-frame IPL": lambda d: write_dicom_multiframe_phantom(d / "mf.dcm", "IPL"),
}


@pytest.mark.parametrize("mask_storage", MASKS)
def test_a_mask_stored_in_another_order_lands_on_its_image(
    tmp_path: Path, mask_storage: str
) -> None:
    image_phantom = write_nifti_phantom(tmp_path / "image.nii.gz", "RAS")
    mask_phantom = MASKS[mask_storage](tmp_path)
    image, mask = read_file(image_phantom.path), read_file(mask_phantom.path)
    grid = same_grid(
        image.geometry.affine, image.array.shape, mask.geometry.affine, mask.array.shape
    )
    assert not grid.identity
    on_image = grid.apply(mask.array)
    assert on_image.shape == image.array.shape and np.shares_memory(on_image, mask.array)
    np.testing.assert_allclose(
        mask_phantom.world(on_image), image_phantom.world(image.array), atol=1e-4
    )


def test_the_same_storage_is_the_identity() -> None:
    affine = box_affine("SPL")
    grid = same_grid(affine, (1, 7, 6, 5), affine, (7, 6, 5))
    assert grid == GridMap((0, 1, 2), (False, False, False)) and grid.identity
    array = np.arange(7 * 6 * 5).reshape(1, 7, 6, 5)
    np.testing.assert_array_equal(grid.apply(array), array)


def test_axes_and_flips_read_the_mask_on_the_image_grid() -> None:
    image = box_affine("SAR")  # (n, h, w) of an RAS NIfTI: shape (7, 6, 5)
    mask = box_affine("LPS")  # the same box as (n, h, w) = (5, 6, 7)
    grid = same_grid(image, (7, 6, 5), mask, (5, 6, 7))
    assert grid == GridMap((2, 1, 0), (False, True, True))
    labels = np.arange(2 * 5 * 6 * 7).reshape(2, 5, 6, 7)  # leading axes are kept
    np.testing.assert_array_equal(
        grid.apply(labels), labels.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]
    )


def shifted(affine: np.ndarray, r_mm: float) -> np.ndarray:
    out = affine.copy()
    out[0, 3] += r_mm
    return out


@pytest.mark.parametrize(
    ("mask_affine", "mask_shape", "why"),
    [
        (box_affine("LPS", OBLIQUE_DEG), (5, 6, 7), "rotated"),
        (box_affine("LPS") @ np.diag([1.0, 1.0, 2.0, 1.0]), (5, 6, 7), "other spacing"),
        (shifted(box_affine("LPS"), 1.0), (5, 6, 7), "shifted by half a voxel"),
        (box_affine("LPS"), (5, 6, 8), "one more slice"),
    ],
)
def test_different_grids_are_refused(mask_affine: np.ndarray, mask_shape: tuple, why: str) -> None:
    with pytest.raises(
        ValueError, match=r"\(7, 6, 5\), orientation SAR.*\(5, 6, \d\), orientation"
    ):
        same_grid(box_affine("SAR"), (1, 7, 6, 5), mask_affine, mask_shape)


def test_small_float_differences_are_tolerated() -> None:
    image = box_affine("SAR")
    nudged = image.copy()
    nudged[:3] += 1e-4  # a float32 round trip is far smaller
    assert same_grid(image, (7, 6, 5), nudged, (7, 6, 5)).identity
    with pytest.raises(ValueError, match="different voxels"):
        same_grid(image, (7, 6, 5), nudged, (7, 6, 5), atol_mm=1e-5)
    with pytest.raises(ValueError, match="ending in"):
        same_grid(image, (7, 6), image, (7, 6, 5))
