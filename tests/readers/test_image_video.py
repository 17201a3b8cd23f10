"""PNG/JPEG (8/16-bit, grey/colour) and video (MP4, AVI): channels, alpha, frames, fps."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.geometry import Calibration, NAxis
from datamint.readers import FileHint, read_file, read_header

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


def test_sixteen_bit_colour_png_is_rgb_uint16(tmp_path: Path) -> None:
    bgr = cv2.imread(str(DEMO / "images2d/histology_he_tile.png"), cv2.IMREAD_UNCHANGED)
    path = tmp_path / "data"
    path.write_bytes(cv2.imencode(".png", bgr.astype(np.uint16) * 257 + 3)[1].tobytes())
    array = read_file(path).array
    assert array.dtype == np.uint16 and array.shape == (3, 1, 240, 240)
    expected = cached_read("images2d/histology_he_tile.png").array.astype(np.uint16) * 257 + 3
    np.testing.assert_array_equal(array, expected)
    header = read_header(path)
    assert (header.shape, header.dtype) == (array.shape, array.dtype)


def test_grey_jpeg_has_one_channel(tmp_path: Path) -> None:
    grey = cv2.imread(str(DEMO / "images2d/fundus_microaneurysms.png"), cv2.IMREAD_UNCHANGED)
    path = tmp_path / "data"
    path.write_bytes(cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes())
    array = read_file(path).array
    assert array.shape == (1, 1, 102, 102) and array.dtype == np.uint8
    assert np.abs(array[0, 0].astype(int) - grey).max() <= 3
    assert read_header(path).shape == array.shape


def _write_avi(path: Path, frames: np.ndarray, fps: float) -> None:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_avi_mjpg_frames_and_frame_rate(tmp_path: Path) -> None:
    tile = cv2.imread(str(DEMO / "images2d/histology_ihc_colon.png"), cv2.IMREAD_UNCHANGED)
    frames = np.stack([tile[100 + 8 * k : 148 + 8 * k, 200:264] for k in range(12)])  # BGR
    path = tmp_path / "clip"  # no suffix: found by its RIFF AVI bytes
    _write_avi(path.with_suffix(".avi"), frames, 12.5)
    path.with_suffix(".avi").rename(path)
    result = read_file(path)
    assert result.reader == "video"
    assert result.array.shape == (3, 12, 48, 64) and result.array.dtype == np.uint8
    expected = frames[..., ::-1].transpose(3, 0, 1, 2).astype(int)  # RGB, channels first
    error = np.abs(result.array - expected).mean()  # MJPG is lossy
    assert error < 6 < np.abs(result.array[::-1] - expected).mean()  # and not BGR
    assert result.geometry.frame_interval_s == pytest.approx(1 / 12.5)
    header = read_header(path)
    assert (header.shape, header.geometry) == (result.array.shape, result.geometry)


def test_video_that_cannot_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "broken.avi"
    path.write_bytes(b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(200))  # an AVI header, nothing else
    with pytest.raises(InvalidResourceError, match=re.escape(str(path))):
        read_file(path)
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(UnsupportedFormatError, match=re.escape(str(junk))):
        read_header(junk, FileHint("clip.mp4", "video/mp4", "VideoResource"))
