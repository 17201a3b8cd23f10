"""NIfTI: axes and geometry against nibabel, metainfo, 4-D, no-suffix files, no orientation."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from datamint.geometry import Calibration
from datamint.readers import read_file, read_header

from .demo_files import DEMO, cached_read

NIFTI_FILES = sorted(p.relative_to(DEMO).as_posix() for p in DEMO.glob("*/*.nii.gz"))


@pytest.mark.parametrize("relative", NIFTI_FILES)
def test_axes_and_affine_match_nibabel(relative: str) -> None:
    image = nib.load(DEMO / relative)
    expected = image.get_fdata()
    result = read_file(DEMO / relative)
    x, y, z = expected.shape
    assert result.array.shape == (1, z, y, x)
    assert result.array.dtype == image.get_data_dtype()  # unscaled: the stored dtype
    assert read_header(DEMO / relative).dtype == result.array.dtype
    np.testing.assert_array_equal(result.array[0], expected.transpose(2, 1, 0))
    # Our index (n, h, w) = file index (z, y, x): both affines give the same mm.
    rng = np.random.default_rng(0)
    for i, j, k in rng.integers(0, [x, y, z], size=(5, 3)):
        np.testing.assert_allclose(
            result.geometry.affine @ [k, j, i, 1], image.affine @ [i, j, k, 1], atol=1e-9
        )
    assert result.geometry.orientation == "".join(reversed(nib.aff2axcodes(image.affine)))
    np.testing.assert_array_equal(result.metainfo["affine"], image.affine)
    assert result.metainfo["shape"] == (x, y, z)


def test_masks_share_their_image_grid() -> None:
    for image, mask in [
        ("volumes/lung2_ct.nii.gz", "masks3d/lung2__lesion__alice.nii.gz"),
        ("volumes/itk_kmeanstest_t1.nii.gz", "masks3d/itk_kmeanstest__tissue_class__model.nii.gz"),
    ]:
        a, b = read_header(DEMO / image), read_header(DEMO / mask)
        assert a.shape == b.shape
        assert a.geometry == b.geometry


def test_metainfo_header_is_plain_python() -> None:
    header = read_file(DEMO / "volumes/breast1_mr.nii.gz").metainfo["header"]
    assert header["dim"][:4] == [3, 45, 120, 21]
    assert header["magic"] == "n+1"
    assert header["sform_code"] == 1
    assert isinstance(header["pixdim"], list)


def test_uncompressed_file_without_suffix(tmp_path: Path) -> None:
    image = nib.load(DEMO / "volumes/breast1_mr.nii.gz")
    path = tmp_path / "data"
    path.write_bytes(nib.Nifti1Image(np.asanyarray(image.dataobj), image.affine).to_bytes())
    result = read_file(path)
    assert result.reader == "nifti"
    np.testing.assert_array_equal(result.array, read_file(DEMO / "volumes/breast1_mr.nii.gz").array)


def test_four_d_puts_t_in_channels(tmp_path: Path) -> None:
    image = nib.load(DEMO / "volumes/breast1_mr.nii.gz")
    data = np.asanyarray(image.dataobj)
    stacked = np.stack([data, data * 2, data * 3], axis=-1)  # (X, Y, Z, T=3)
    path = tmp_path / "four_d.nii.gz"
    nib.save(nib.Nifti1Image(stacked, image.affine), path)
    result = read_file(path)
    assert result.array.shape == (3, 21, 120, 45)
    np.testing.assert_array_equal(result.array[2], 3 * data.transpose(2, 1, 0))
    assert read_header(path).shape == result.array.shape
    assert result.metainfo["shape"] == (45, 120, 21, 3)


def test_no_sform_no_qform_means_spacing_only(tmp_path: Path) -> None:
    image = nib.load(DEMO / "volumes/lung2_ct.nii.gz")
    bare = nib.Nifti1Image(np.asanyarray(image.dataobj), None)
    bare.header.set_zooms((0.5, 0.6, 5.0))
    bare.header.set_sform(None, code=0)
    bare.header.set_qform(None, code=0)
    path = tmp_path / "bare.nii"
    nib.save(bare, path)
    geometry = read_file(path).geometry
    assert geometry.calibration is Calibration.SPACING
    assert geometry.spacing_mm == pytest.approx((5.0, 0.6, 0.5))
    assert geometry.origin_mm is None


def _rotation(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def test_big_endian_file(tmp_path: Path) -> None:
    image = nib.load(DEMO / "volumes/lung2_ct.nii.gz")
    data = np.asanyarray(image.dataobj)
    header = nib.Nifti1Header(endianness=">")
    header.set_data_dtype(np.int16)
    big = nib.Nifti1Image(data.astype(">i2"), image.affine, header=header)
    path = tmp_path / "data"
    path.write_bytes(big.to_bytes())
    assert path.read_bytes()[:4] == b"\x00\x00\x01\x5c"  # sizeof_hdr 348, big endian
    result = read_file(path)
    assert result.array.dtype == np.int16 and result.array.dtype.isnative
    np.testing.assert_array_equal(result.array, cached_read("volumes/lung2_ct.nii.gz").array)
    assert result.geometry == cached_read("volumes/lung2_ct.nii.gz").geometry
    assert read_header(path).shape == result.array.shape


def test_lpi_oblique_four_d_file(tmp_path: Path) -> None:
    """x -> L, y -> P, z -> I, rotated 20 degrees, 2 time points: mm agree with nibabel."""
    rng = np.random.default_rng(1)
    data = rng.integers(-1000, 1000, size=(7, 6, 5, 2)).astype(np.int16)  # (X, Y, Z, T)
    affine = np.eye(4)
    affine[:3, :3] = _rotation(20) @ np.diag([-0.8, -0.9, -2.5])
    affine[:3, 3] = [10.0, -20.0, 30.0]
    path = tmp_path / "lpi.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    result = read_file(path)
    assert result.array.shape == (2, 5, 6, 7)
    np.testing.assert_array_equal(result.array[1], data[..., 1].transpose(2, 1, 0))
    for i, j, k in [(0, 0, 0), (6, 5, 4), (3, 1, 2)]:
        np.testing.assert_allclose(result.geometry.affine @ [k, j, i, 1], affine @ [i, j, k, 1])
    assert nib.aff2axcodes(affine) == ("L", "P", "I")
    assert result.geometry.orientation == "IPL"  # ours is (n, h, w) = (z, y, x)
    assert result.geometry.spacing_mm == pytest.approx((2.5, 0.9, 0.8))
    header = read_header(path)
    assert (header.shape, header.geometry) == (result.array.shape, result.geometry)


def test_scaled_file_gives_float64_values(tmp_path: Path) -> None:
    """scl_slope/scl_inter set: values are get_fdata()'s float64, header and read agree."""
    image = nib.load(DEMO / "volumes/lung2_ct.nii.gz")
    stored = np.asanyarray(image.dataobj)
    scaled = nib.Nifti1Image(stored, image.affine)
    scaled.header.set_slope_inter(0.5, -1024.0)
    path = tmp_path / "scaled.nii"
    nib.save(scaled, path)
    result = read_file(path)
    assert result.array.dtype == np.float64
    assert read_header(path).dtype == np.float64
    expected = nib.load(path).get_fdata().transpose(2, 1, 0)
    np.testing.assert_array_equal(result.array[0], expected)
    assert result.array[0, 0, 0, 0] == stored[0, 0, 0] * 0.5 - 1024.0
