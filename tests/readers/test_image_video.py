"""PNG/JPEG and video: channel order, alpha rule, frames, frame interval."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from datamint.geometry import Calibration, NAxis
from datamint.readers import read_file, read_header

from .demo_files import DEMO, cached_read


def test_colour_image_is_rgb_channels_first() -> None:
    relative = "images2d/histology_ihc_colon.png"
    bgr = cv2.imread(str(DEMO / relative), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(
        cached_read(relative).array[:, 0], bgr[:, :, ::-1].transpose(2, 0, 1)
    )


def test_grey_image_has_one_channel() -> None:
    relative = "masks2d/mr_liver_overlay__lesion__alice.png"
    result = read_file(DEMO / relative)
    assert result.array.shape == (1, 1, 484, 484)
    assert result.geometry is None and result.metainfo is None
    assert set(np.unique(result.array)) <= {0, 255}


def _with_alpha(tmp_path: Path, alpha_value: int | None) -> tuple[Path, np.ndarray]:
    bgr = cv2.imread(str(DEMO / "images2d/histology_he_tile.png"), cv2.IMREAD_UNCHANGED)
    alpha = np.full(bgr.shape[:2], 255, np.uint8)
    if alpha_value is not None:
        alpha[:10] = alpha_value
    path = tmp_path / "data"
    path.write_bytes(cv2.imencode(".png", np.dstack([bgr, alpha]))[1].tobytes())
    return path, bgr


def test_opaque_alpha_is_dropped(tmp_path: Path) -> None:
    path, bgr = _with_alpha(tmp_path, None)
    result = read_file(path)
    np.testing.assert_array_equal(result.array[:, 0], bgr[:, :, ::-1].transpose(2, 0, 1))
    assert read_header(path).shape == (3, 1, 240, 240)


def test_informative_alpha_is_kept_last(tmp_path: Path) -> None:
    path, _ = _with_alpha(tmp_path, 0)
    array = read_file(path).array
    assert array.shape == (4, 1, 240, 240)
    assert array[3, 0, 0, 0] == 0 and array[3, 0, 20, 0] == 255
    assert read_header(path).shape == (4, 1, 240, 240)


def test_sixteen_bit_png_stays_uint16(tmp_path: Path) -> None:
    grey = cv2.imread(str(DEMO / "images2d/fundus_microaneurysms.png"), cv2.IMREAD_UNCHANGED)
    path = tmp_path / "data"
    path.write_bytes(cv2.imencode(".png", grey.astype(np.uint16) * 257)[1].tobytes())
    array = read_file(path).array
    assert array.dtype == np.uint16 and array.shape == (1, 1, 102, 102)
    assert read_header(path).dtype == np.uint16


def test_video_frames_are_rgb_in_decoding_order() -> None:
    relative = "videos/echo_plax_doppler.mp4"
    capture = cv2.VideoCapture(str(DEMO / relative))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(frame)
        ok, frame = capture.read()
    capture.release()
    expected = np.stack(frames)[..., ::-1].transpose(3, 0, 1, 2)
    np.testing.assert_array_equal(cached_read(relative).array, expected)


def test_video_geometry_is_time_without_mm() -> None:
    geometry = cached_read("videos/ct_lung2_slices.mp4").geometry
    assert geometry.n_axis is NAxis.TIME
    assert geometry.calibration is Calibration.PIXEL
    assert geometry.frame_interval_s == pytest.approx(0.25)
    assert geometry.spacing_mm is None and geometry.origin_mm is None


def test_slice_video_frame_matches_the_nifti_slice() -> None:
    """README: frame k of ct_lung2_slices.mp4 is slice k of lung2_ct, radiological view."""
    video = cached_read("videos/ct_lung2_slices.mp4").array[0].astype(np.float32)
    volume = cached_read("volumes/lung2_ct.nii.gz").array[0]
    for k in (5, 9, 14):
        window = np.clip((volume[k] + 1350.0) / 1500.0 * 255.0, 0, 255).astype(np.float32)
        same = cv2.resize(window, (160, 160), interpolation=cv2.INTER_AREA)
        mirrored = cv2.resize(window[:, ::-1].copy(), (160, 160), interpolation=cv2.INTER_AREA)
        r_same = np.corrcoef(same.ravel(), video[k].ravel())[0, 1]
        r_mirrored = np.corrcoef(mirrored.ravel(), video[k].ravel())[0, 1]
        assert r_same > 0.8 > r_mirrored
