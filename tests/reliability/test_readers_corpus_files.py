"""Files from the nibabel and pydicom test corpora (shipped with the installed packages)
and files built from them: NIfTI header extensions, multi-frame RT Dose, MONOCHROME1
with a fractional rescale slope."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from datamint.exceptions import DatamintWarning
from datamint.geometry import NAxis
from datamint.readers import read_file, read_header

from .client_support import DEMO, demo_volume

pytestmark = pytest.mark.reliability

NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"


def _file_header(path: Path) -> nib.Nifti1Header:
    """The header as stored (nibabel's loaded images reset ``vox_offset``)."""
    raw = path.read_bytes()
    raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    klass = nib.Nifti2Header if raw[:4] == b"\x1c\x02\x00\x00" else nib.Nifti1Header
    return klass.from_fileobj(io.BytesIO(raw))


def _assert_like_nibabel(path: Path) -> None:
    image = nib.load(path)
    expected = np.asarray(image.dataobj)  # stored values (these files do not scale)
    result, header = read_file(path), read_header(path)
    x, y, z = image.shape[:3]
    channels = int(np.prod(image.shape[3:]))
    assert result.array.shape == header.shape == (channels, z, y, x)
    np.testing.assert_array_equal(
        result.array, expected.reshape(x, y, z, channels).transpose(3, 2, 1, 0)
    )
    np.testing.assert_allclose(result.metainfo["affine"], image.affine)
    assert header.geometry == result.geometry


@pytest.mark.parametrize("name", ["example4d.nii.gz", "example_nifti2.nii.gz"])
def test_nibabel_corpus_files_with_extensions(name: str) -> None:
    path = NIBABEL_DATA / name
    assert len(_file_header(path).extensions) == 2
    _assert_like_nibabel(path)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("extension_bytes", [10, 5_000, 70_000])
def test_nifti_with_header_extensions_reads(
    tmp_path: Path, version: int, gz: bool, extension_bytes: int
) -> None:
    """The demo breast MR saved as NIfTI-1/2 with an extension of 10 B to 70 kB between
    the header and the voxels (vox_offset moves past it)."""
    volume = demo_volume()[0].transpose(2, 1, 0)  # back to the file's (x, y, z)
    klass = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    image = klass(volume, np.diag([0.8, 0.8, 2.0, 1.0]))
    image.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"c" * extension_bytes))
    path = tmp_path / ("data.nii.gz" if gz else "data.nii")
    nib.save(image, path)
    stored = _file_header(path)
    assert int(stored["vox_offset"]) > extension_bytes and len(stored.extensions) == 1
    _assert_like_nibabel(path)
    assert read_header(path).metainfo["header"]["vox_offset"] == int(stored["vox_offset"])


def _rt_dose() -> tuple[Path, pydicom.Dataset]:
    path = Path(get_testdata_file("rtdose.dcm"))
    return path, pydicom.dcmread(path)


def test_rt_dose_frames_are_slices_placed_by_the_grid_frame_offset_vector() -> None:
    """(3004,000C) starts at 0: offsets along the normal from Image Position (Patient)."""
    path, ds = _rt_dose()
    result, header = read_file(path), read_header(path)
    geometry = result.geometry
    assert geometry.n_axis is NAxis.SPACE and header.geometry == geometry
    assert geometry.spacing_mm[0] == pytest.approx(5.0)
    origin_lps = np.array([float(v) for v in ds.ImagePositionPatient])
    normal = np.cross(*np.reshape([float(v) for v in ds.ImageOrientationPatient], (2, 3)))
    for k, offset in enumerate(float(v) for v in ds.GridFrameOffsetVector):
        lps = origin_lps + offset * normal
        ras = geometry.affine @ np.array([k, 0.0, 0.0, 1.0])
        np.testing.assert_allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-6)


def test_rt_dose_with_absolute_z_offsets_gives_the_same_geometry(tmp_path: Path) -> None:
    path, ds = _rt_dose()
    z0 = float(ds.ImagePositionPatient[2])
    ds.GridFrameOffsetVector = [z0 + float(v) for v in ds.GridFrameOffsetVector]
    absolute = tmp_path / "absolute.dcm"
    ds.save_as(absolute)
    geometry = read_file(absolute).geometry
    assert geometry.n_axis is NAxis.SPACE and geometry == read_file(path).geometry


def test_rt_dose_with_an_offset_vector_of_neither_kind_warns(tmp_path: Path) -> None:
    _, ds = _rt_dose()
    ds.GridFrameOffsetVector = [7.0 + float(v) for v in ds.GridFrameOffsetVector]
    odd = tmp_path / "odd.dcm"
    ds.save_as(odd)
    with pytest.warns(DatamintWarning, match=r"\(3004,000C\) Grid Frame Offset Vector starts"):
        geometry = read_file(odd).geometry
    assert geometry.n_axis is NAxis.SPACE


def test_rt_dose_grid_scaling_is_applied() -> None:
    """(3004,000E) Dose Grid Scaling: dose = scaling x stored, float32 rounded once."""
    path, ds = _rt_dose()
    scaling = float(ds.DoseGridScaling)
    result, header = read_file(path), read_header(path)
    expected = (ds.pixel_array.astype(np.float64) * scaling).astype(np.float32)
    assert result.array.dtype == header.dtype == np.float32
    np.testing.assert_array_equal(result.array[0], expected)
    assert header.rescale_slope == pytest.approx(scaling) and header.rescale_intercept == 0.0


def test_monochrome1_with_a_fractional_slope_equals_the_float64_reference(tmp_path: Path) -> None:
    """Rescale then invert in float64, round to float32 once: no 1-ulp differences."""
    ds = pydicom.dcmread(DEMO / "images2d/cr_tibia_j2kr.dcm")  # MONOCHROME1, 10 bits stored
    stored = ds.pixel_array.astype(np.float64)
    slope, intercept = 0.37, -12.1
    ds.RescaleSlope, ds.RescaleIntercept = str(slope), str(intercept)
    path = tmp_path / "data"
    ds.save_as(path)
    lo, hi = intercept, slope * (2 ** int(ds.BitsStored) - 1) + intercept
    reference = lo + hi - (stored * slope + intercept)  # float64
    got = read_file(path).array[0, 0]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, reference.astype(np.float32))
