"""Single- and multi-frame DICOM: stored values, photometric rules, metainfo, geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, convert_color_space
from pydicom.sequence import Sequence

from datamint.exceptions import DatamintWarning, InvalidResourceError
from datamint.geometry import Calibration, NAxis, lps_to_ras
from datamint.readers import read_file, read_header
from datamint.readers.dicom import DicomReader

from .demo_files import DEMO, cached_read


def _pixels(relative: str) -> np.ndarray:
    return pydicom.dcmread(DEMO / relative).pixel_array


def test_stored_values_without_modality_lut() -> None:
    result = cached_read("images2d/ct_spine_jpegll.dcm")
    np.testing.assert_array_equal(result.array[0, 0], _pixels("images2d/ct_spine_jpegll.dcm"))
    assert float(result.metainfo.RescaleIntercept) == -1024.0
    header = read_header(DEMO / "images2d/ct_spine_jpegll.dcm")
    assert (header.rescale_slope, header.rescale_intercept) == (1.0, -1024.0)


def test_metainfo_is_the_dataset_without_pixel_data() -> None:
    metainfo = cached_read("images2d/mr_liver_overlay.dcm").metainfo
    assert isinstance(metainfo, Dataset)
    assert "PixelData" not in metainfo
    assert metainfo.Modality == "MR"
    assert metainfo.Rows == 484
    # The overlay plane (6000,3000) is not pixel data and stays available.
    assert metainfo.overlay_array(0x6000).shape == (484, 484)


@pytest.mark.parametrize(
    ("relative", "bits_stored"),
    [("images2d/cr_chest_pa_j2ki.dcm", 15), ("images2d/cr_tibia_j2kr.dcm", 10)],
)
def test_monochrome1_is_inverted_within_bits_stored(relative: str, bits_stored: int) -> None:
    result = cached_read(relative)
    stored = _pixels(relative)
    assert result.metainfo.PhotometricInterpretation == "MONOCHROME1"
    assert result.array.dtype == stored.dtype
    np.testing.assert_array_equal(result.array[0, 0], (2**bits_stored - 1) - stored)


@pytest.mark.parametrize(
    "relative", ["images2d/us_obstetric_palette.dcm", "images2d/us_pelvis_palette16.dcm"]
)
def test_palette_colour_goes_through_the_lut(relative: str) -> None:
    ds = pydicom.dcmread(DEMO / relative)
    expected = apply_color_lut(ds.pixel_array, ds)
    array = cached_read(relative).array
    assert array.shape == (3, 1, *ds.pixel_array.shape)
    np.testing.assert_array_equal(array[:, 0], expected.transpose(2, 0, 1))


def test_rgb_keeps_channel_order() -> None:
    relative = "images2d/us_tee_doppler_rgb.dcm"
    np.testing.assert_array_equal(
        cached_read(relative).array[:, 0], _pixels(relative).transpose(2, 0, 1)
    )


def test_ybr_jpeg_cine_is_converted_once() -> None:
    relative = "videos/echo_a4c_30f_jpeg.dcm"
    array = cached_read(relative).array
    rgb = _pixels(relative)  # pydicom 3 returns RGB for YBR_FULL_422 JPEG already
    np.testing.assert_array_equal(array, rgb.transpose(3, 0, 1, 2))
    twice = convert_color_space(rgb[:2], "YBR_FULL", "RGB")
    assert not np.array_equal(array[:, :2], twice.transpose(3, 0, 1, 2))
    assert cached_read(relative).metainfo.PhotometricInterpretation == "YBR_FULL_422"


def test_multiframe_frames_become_n() -> None:
    relative = "videos/mr_enhanced_10f.dcm"
    np.testing.assert_array_equal(cached_read(relative).array[0], _pixels(relative))


def test_plane_geometry_follows_dicom_tags() -> None:
    result = cached_read("images2d/ct_spine_jpegll.dcm")
    ds = result.metainfo
    position = np.array(ds.ImagePositionPatient, dtype=float)
    row, col = np.array(ds.ImageOrientationPatient[:3]), np.array(ds.ImageOrientationPatient[3:])
    spacing = [float(v) for v in ds.PixelSpacing]
    h, w = 100, 300
    lps = position + h * spacing[0] * col + w * spacing[1] * row  # PS3.3 C.7.6.2.1.1
    ras = result.geometry.affine @ [0, h, w, 1]
    np.testing.assert_allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-9)
    assert result.geometry.n_axis is NAxis.SINGLE
    assert result.geometry.spacing_mm[0] is None
    assert result.geometry.orientation == "SPL"


def _enhanced_copy(tmp_path: Path, positions_z: list[float]) -> Path:
    """The demo Enhanced MR with plane functional groups added (it ships without them)."""
    ds = pydicom.dcmread(DEMO / "videos/mr_enhanced_10f.dcm")
    shared = Dataset()
    measures, orientation = Dataset(), Dataset()
    measures.PixelSpacing = [0.5, 0.25]
    measures.SliceThickness = 1.2
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for z in positions_z:
        frame, plane = Dataset(), Dataset()
        plane.ImagePositionPatient = [-16.0, -8.0, z]
        frame.PlanePositionSequence = Sequence([plane])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    path = tmp_path / "enhanced"
    ds.save_as(path)
    return path


def test_enhanced_functional_groups_give_slice_geometry(tmp_path: Path) -> None:
    path = _enhanced_copy(tmp_path, [10.0 + 1.2 * k for k in range(10)])
    geometry = read_file(path).geometry
    expected_lps = np.array(
        [[0, 0, 0.25, -16.0], [0, 0.5, 0, -8.0], [1.2, 0, 0, 10.0], [0, 0, 0, 1]]
    )
    assert geometry.n_axis is NAxis.SPACE
    np.testing.assert_allclose(geometry.affine, lps_to_ras(expected_lps), atol=1e-9)
    assert geometry.spacing_mm == pytest.approx((1.2, 0.5, 0.25))
    assert read_header(path).geometry == geometry


def test_enhanced_frames_at_one_position_are_time(tmp_path: Path) -> None:
    geometry = read_file(_enhanced_copy(tmp_path, [10.0] * 10)).geometry
    assert geometry.n_axis is NAxis.TIME
    assert geometry.spacing_mm == pytest.approx((None, 0.5, 0.25))


def test_enhanced_irregular_positions_warn(tmp_path: Path) -> None:
    path = _enhanced_copy(tmp_path, [0, 1, 2, 3, 4, 5, 6, 7, 8, 20.0])
    with pytest.warns(DatamintWarning, match="unevenly spaced"):
        geometry = read_file(path).geometry
    assert geometry.spacing_mm[0] == pytest.approx(20.0 / 9)


def test_pixel_spacing_without_position_is_spacing_only(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DEMO / "images2d/us_tee_doppler_rgb.dcm")
    ds.PixelSpacing = [0.3, 0.2]
    path = tmp_path / "spacing_only"
    ds.save_as(path)
    geometry = read_file(path).geometry
    assert geometry.calibration is Calibration.SPACING
    assert geometry.spacing_mm == (None, 0.3, 0.2)
    assert geometry.origin_mm is None
    assert geometry.direction is None


def test_missing_pixel_data_is_invalid(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DEMO / "images2d/mr_liver_overlay.dcm")
    del ds.PixelData
    path = tmp_path / "no_pixels.dcm"
    ds.save_as(path)
    with pytest.raises(InvalidResourceError, match=r"no_pixels\.dcm.*Pixel Data"):
        DicomReader().read(path)


def test_enhanced_positions_out_of_order_keep_only_the_spacing(tmp_path: Path) -> None:
    path = _enhanced_copy(tmp_path, [0, 2, 1, 3, 4, 5, 6, 7, 8, 9.0])
    with pytest.warns(DatamintWarning, match="do not advance monotonically"):
        geometry = read_file(path).geometry
    assert geometry.calibration is Calibration.SPACING
    assert geometry.spacing_mm == (None, 0.5, 0.25)
