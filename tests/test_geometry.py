"""Geometry: the LPS/RAS flip, index reversal, derived spacing/origin/direction, validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from datamint.geometry import (
    Calibration,
    Geometry,
    NAxis,
    affine_from_plane,
    lps_to_ras,
    ras_to_lps,
    reverse_index_axes,
)

# The demo lung2 series: IOP [1,0,0, 0,1,0], 0.6269531 mm pixels, 5 mm slices (LPS).
SERIES_LPS = np.array(
    [
        [0.0, 0.0, 0.6269531, 15.7051],
        [0.0, 0.6269531, 0.0, -135.7871],
        [5.0, 0.0, 0.0, -310.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def test_lps_ras_flip_negates_x_and_y_and_is_an_involution() -> None:
    ras = lps_to_ras(SERIES_LPS)
    np.testing.assert_array_equal(ras[:2], -SERIES_LPS[:2])
    np.testing.assert_array_equal(ras[2:], SERIES_LPS[2:])
    np.testing.assert_array_equal(ras_to_lps(ras), SERIES_LPS)
    assert ras is not SERIES_LPS


def test_reverse_index_axes_swaps_columns_zero_and_two() -> None:
    file_affine = np.arange(16.0).reshape(4, 4)
    ours = reverse_index_axes(file_affine)
    np.testing.assert_array_equal(ours[:, 0], file_affine[:, 2])
    np.testing.assert_array_equal(ours[:, 2], file_affine[:, 0])
    np.testing.assert_array_equal(reverse_index_axes(ours), file_affine)
    ijk = np.array([3, 5, 7, 1])
    np.testing.assert_array_equal(ours @ ijk[[2, 1, 0, 3]], file_affine @ ijk)


def test_affine_from_plane_follows_the_dicom_definition() -> None:
    affine = affine_from_plane(
        [15.7051, -135.7871, -310.0], [1, 0, 0], [0, 1, 0], [0.6269531, 0.6269531], [0, 0, 5.0]
    )
    np.testing.assert_allclose(affine, SERIES_LPS)
    # Without a step, n gets the unit normal (row x column).
    unit = affine_from_plane([0, 0, 0], [1, 0, 0], [0, 0, -1], [2.0, 3.0])
    np.testing.assert_array_equal(unit[:3, 0], np.cross([1, 0, 0], [0, 0, -1]))
    with pytest.raises(ValueError, match="not orthogonal"):
        affine_from_plane([0, 0, 0], [1, 0, 0], [1, 0, 0], [1.0, 1.0])
    with pytest.raises(ValueError, match="pixel spacing must be positive"):
        affine_from_plane([0, 0, 0], [1, 0, 0], [0, 1, 0], [0.0, 1.0])


def test_derived_properties() -> None:
    geometry = Geometry(lps_to_ras(SERIES_LPS))
    assert geometry.spacing_mm == pytest.approx((5.0, 0.6269531, 0.6269531))
    assert geometry.origin_mm == pytest.approx((-15.7051, 135.7871, -310.0))
    np.testing.assert_allclose(geometry.direction, [[0, 0, -1], [0, -1, 0], [1, 0, 0]])
    assert geometry.orientation == "SPL"
    assert geometry.to_space("LPS").orientation == "SPL"
    np.testing.assert_array_equal(geometry.to_space("LPS").affine, SERIES_LPS)
    assert geometry.to_space("LPS").to_space("RAS") == geometry
    text = repr(geometry)
    assert "spacing_mm=(5, 0.627, 0.627)" in text and "orientation=SPL" in text


def test_two_d_and_uncalibrated_report_none_not_sentinels() -> None:
    single = Geometry(np.diag([1.0, 0.5, 0.5, 1.0]), n_axis=NAxis.SINGLE)
    assert single.spacing_mm == (None, 0.5, 0.5)
    spacing_only = Geometry(np.diag([1.0, 0.5, 0.4, 1.0]), calibration=Calibration.SPACING)
    assert spacing_only.spacing_mm == (1.0, 0.5, 0.4)
    assert spacing_only.origin_mm is None and spacing_only.direction is None
    video = Geometry(np.eye(4), frame_interval_s=0.04, n_axis="time", calibration="pixel")
    assert video.n_axis is NAxis.TIME
    assert video.spacing_mm is None and video.origin_mm is None
    assert "frame_interval_s=0.04" in repr(video)


def test_immutable_comparable_picklable_serialisable() -> None:
    geometry = Geometry(lps_to_ras(SERIES_LPS), frame_interval_s=None)
    with pytest.raises(ValueError, match="read-only"):
        geometry.affine[0, 0] = 1.0
    with pytest.raises(AttributeError):
        geometry.space = "LPS"  # type: ignore[misc]
    with pytest.raises(TypeError, match="unhashable"):
        hash(geometry)
    clone = pickle.loads(pickle.dumps(geometry))
    assert clone == geometry and not clone.affine.flags.writeable
    assert Geometry.from_dict(geometry.to_dict()) == geometry
    shifted = Geometry(geometry.affine + np.pad(np.full((3, 1), 1e-5), ((0, 1), (3, 0))))
    assert shifted != geometry and shifted.is_close(geometry, atol_mm=1e-4)
    assert not shifted.is_close(geometry, atol_mm=1e-6)
    assert geometry.is_close(geometry.to_space("LPS"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"affine": np.eye(3)}, "shape"),
        ({"affine": np.full((4, 4), np.nan)}, "finite"),
        ({"affine": np.zeros((4, 4))}, "singular"),
        ({"affine": np.eye(4), "space": "RAI"}, "space"),
        ({"affine": np.eye(4), "frame_interval_s": 0.0}, "frame_interval_s"),
    ],
)
def test_invalid_geometry(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Geometry(**kwargs)


# An oblique, sheared (gantry-tilt) affine: n, h, w map to different mm directions.
OBLIQUE = np.array(
    [
        [0.1, 0.0, 0.68, -20.0],
        [0.3, 0.69, -0.05, 14.0],
        [2.4, -0.04, 0.0, -300.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_slice_maps_every_pixel_where_the_volume_maps_the_voxel(axis: int) -> None:
    volume = Geometry(OBLIQUE)
    index = 7
    plane = volume.slice(axis, index)
    assert plane.n_axis is NAxis.SINGLE and plane.calibration is Calibration.PATIENT
    rows, cols = {0: (1, 2), 1: (0, 2), 2: (0, 1)}[axis]
    rng = np.random.default_rng(axis)
    for r, c in rng.integers(0, 50, size=(5, 2)):
        voxel = np.zeros(4)
        voxel[[axis, rows, cols, 3]] = [index, r, c, 1]
        np.testing.assert_allclose(plane.affine @ [0, r, c, 1], volume.affine @ voxel, atol=1e-9)
    spacing = np.linalg.norm(OBLIQUE[:3, :3], axis=0)
    assert plane.spacing_mm == pytest.approx((None, spacing[rows], spacing[cols]))
    voxel = np.zeros(4)
    voxel[[axis, 3]] = [index, 1]
    assert plane.origin_mm == pytest.approx(tuple((volume.affine @ voxel)[:3]))
    normal = np.cross(OBLIQUE[:3, cols], OBLIQUE[:3, rows])
    np.testing.assert_allclose(plane.affine[:3, 0], normal / np.linalg.norm(normal))


def test_slice_of_lps_stays_lps_and_agrees_with_ras() -> None:
    ras = Geometry(lps_to_ras(SERIES_LPS))
    assert ras.to_space("LPS").slice(0, 4).is_close(ras.slice(0, 4))
    assert ras.slice(0, 4).origin_mm == pytest.approx((-15.7051, 135.7871, -290.0))


def test_slice_of_frames_keeps_the_plane_and_drops_time() -> None:
    cine = Geometry(
        lps_to_ras(affine_from_plane([1, 2, 3], [1, 0, 0], [0, 1, 0], [0.5, 0.4])),
        frame_interval_s=0.04,
        n_axis=NAxis.TIME,
    )
    frame = cine.slice(0, 12)
    assert frame.origin_mm == cine.origin_mm  # frames share one plane
    assert frame.frame_interval_s is None and frame.spacing_mm == (None, 0.5, 0.4)
    assert cine.slice(1, 3) is None and cine.slice(2, 3) is None  # rows would be time


def test_slice_without_patient_calibration() -> None:
    spacing_only = Geometry(np.diag([3.0, 0.5, 0.4, 1.0]), calibration=Calibration.SPACING)
    sagittal = spacing_only.slice(2, 9)
    assert sagittal.spacing_mm == (None, 3.0, 0.5) and sagittal.origin_mm is None
    video = Geometry(np.eye(4), frame_interval_s=0.1, n_axis="time", calibration="pixel")
    frame = video.slice(0, 5)
    assert frame.calibration is Calibration.PIXEL and frame.spacing_mm is None


@pytest.mark.parametrize(
    ("geometry", "axis", "index", "message"),
    [
        (Geometry(np.eye(4)), 3, 0, "axis"),
        (Geometry(np.eye(4)), 0, -1, "out of range"),
        (Geometry(np.eye(4), n_axis=NAxis.SINGLE), 0, 1, "out of range"),
    ],
)
def test_invalid_slice(geometry: Geometry, axis: int, index: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        geometry.slice(axis, index)
