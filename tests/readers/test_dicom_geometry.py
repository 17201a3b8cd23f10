"""DICOM geometry: plane tags, enhanced functional groups, fallbacks, frame interval."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from datamint.exceptions import DatamintWarning
from datamint.geometry import Calibration, NAxis, lps_to_ras
from datamint.readers import read_file, read_header

from .demo_files import DEMO, cached_read


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


def test_enhanced_positions_out_of_order_keep_only_the_spacing(tmp_path: Path) -> None:
    path = _enhanced_copy(tmp_path, [0, 2, 1, 3, 4, 5, 6, 7, 8, 9.0])
    with pytest.warns(DatamintWarning, match="do not advance monotonically"):
        geometry = read_file(path).geometry
    assert geometry.calibration is Calibration.SPACING
    assert geometry.spacing_mm == (None, 0.5, 0.25)


def _cine_copy(tmp_path: Path, edit: Callable[[Dataset], None]) -> Path:
    ds = pydicom.dcmread(DEMO / "videos/echo_a4c_30f_jpeg.dcm")
    del ds.FrameTime
    edit(ds)
    path = tmp_path / "cine"
    ds.save_as(path)
    return path


@pytest.mark.parametrize(
    ("edit", "interval_s"),
    [
        (lambda ds: None, None),  # no timing at all: no geometry
        (lambda ds: setattr(ds, "FrameTimeVector", [0] + [40.0] * 29), 0.04),  # (0018,1065)
        (lambda ds: setattr(ds, "CineRate", 25), 0.04),  # (0018,0040), frames per second
        (lambda ds: setattr(ds, "RecommendedDisplayFrameRate", 50), 0.02),  # (0008,2144)
    ],
    ids=["none", "frame_time_vector", "cine_rate", "display_frame_rate"],
)
def test_frame_interval_sources(
    tmp_path: Path, edit: Callable[[Dataset], None], interval_s: float | None
) -> None:
    path = _cine_copy(tmp_path, edit)
    geometry = read_file(path).geometry
    assert read_header(path).geometry == geometry
    if interval_s is None:
        assert geometry is None
        return
    assert geometry.n_axis is NAxis.TIME and geometry.calibration is Calibration.PIXEL
    assert geometry.frame_interval_s == pytest.approx(interval_s)


def test_frame_time_wins_over_cine_rate() -> None:
    """The demo echo cine: (0018,1063) Frame Time 33.333 ms, 30 frames."""
    geometry = cached_read("videos/echo_a4c_30f_jpeg.dcm").geometry
    assert geometry.frame_interval_s == pytest.approx(0.033333)
    assert cached_read("videos/echo_a4c_30f_jpeg.dcm").array.shape[1] == 30
