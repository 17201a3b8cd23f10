"""Videos (MP4, MOV, AVI, MKV/WebM: what OpenCV's FFmpeg opens) to ``(3, F, H, W)`` uint8.

Every frame is decoded in order (frame 0 first, as annotations' ``frame_index``
counts), converted from OpenCV's BGR to RGB, channels first. FFmpeg is asked for one
decoding thread (``CAP_PROP_N_THREADS``).

Geometry: a video has no physical calibration, so its geometry is
``Calibration.PIXEL`` (identity affine in index units: ``spacing_mm`` is ``None``, never
1 mm) with ``NAxis.TIME`` and ``frame_interval_s = 1 / CAP_PROP_FPS``. Without a
usable frame rate the geometry is ``None``.

Frame count: the container's ``CAP_PROP_FRAME_COUNT`` serves header reads; a full read
that decodes a different number of frames keeps what it decoded and warns
(DatamintWarning), since a header read of the same file would then disagree.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from datamint.exceptions import DatamintWarning, InvalidResourceError, UnsupportedFormatError
from datamint.geometry import Calibration, Geometry, NAxis
from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, decoding

__all__ = ["VideoReader", "is_video"]

# ISO BMFF brands that are still images, not videos.
_IMAGE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")


def is_video(head: bytes) -> bool:
    """Whether bytes start an ISO BMFF video (``ftyp`` at byte 4), AVI or Matroska/WebM."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return head[8:12] not in _IMAGE_BRANDS
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return True
    return head[:4] == b"\x1a\x45\xdf\xa3"


@contextmanager
def _capture(path: Path, sniffed: bool) -> Iterator[cv2.VideoCapture]:
    with decoding(path, "video", "open"):
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        if not capture.isOpened():  # another backend, with its own thread defaults
            capture.release()
            capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            error = InvalidResourceError if sniffed else UnsupportedFormatError
            raise error(
                f"video reader could not open '{path}': OpenCV (FFmpeg) cannot demux it "
                "(corrupt, truncated, or not a video)"
            )
        yield capture
    finally:
        capture.release()


def _properties(capture: cv2.VideoCapture) -> tuple[int, int, int, float]:
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    return max(frames, 0), height, width, float(capture.get(cv2.CAP_PROP_FPS))


def _geometry(fps: float) -> Geometry | None:
    if not (math.isfinite(fps) and fps > 0):
        return None
    return Geometry(np.eye(4), "RAS", 1.0 / fps, NAxis.TIME, Calibration.PIXEL)


class VideoReader(Reader):
    """Reads every frame of a video through OpenCV (rules: module docstring)."""

    name = "video"
    version = "1"
    kinds = ("video",)
    detects = "'ftyp' at byte 4 (MP4/MOV), RIFF AVI, Matroska/WebM, or a video/* hint"

    def sniff(self, path: Path, head: bytes) -> bool:
        """True for an ISO BMFF video, AVI or Matroska file."""
        return is_video(head)

    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode all frames to uint8 ``(3, F, H, W)`` RGB.

        Returns:
            ``ReadResult(array, geometry, None, "video")``.

        Raises:
            InvalidResourceError: If it cannot be opened or no frame decodes.
            UnsupportedFormatError: If it is not a video at all.

        Warns:
            DatamintWarning: If the decoded frame count differs from the container's.
        """
        path = Path(path)
        with open(path, "rb") as fh:
            sniffed = is_video(fh.read(16))
        with _capture(path, sniffed) as capture:
            expected, height, width, fps = _properties(capture)
            array = np.empty((3, expected, height, width), dtype=np.uint8)
            extra: list[np.ndarray] = []
            count = 0
            while True:
                with decoding(path, "video", f"decode frame {count} of"):
                    ok, frame = capture.read()
                if not ok or frame is None:
                    break
                if frame.shape != (height, width, 3):
                    raise InvalidResourceError(
                        f"'{path}': frame {count} has shape {frame.shape}, "
                        f"expected {(height, width, 3)}"
                    )
                rgb = frame[:, :, ::-1].transpose(2, 0, 1)
                if count < expected:
                    array[:, count] = rgb
                else:
                    extra.append(rgb[:, None])
                count += 1
        if count == 0:
            raise InvalidResourceError(f"'{path}': no video frame could be decoded")
        if count != expected:
            warnings.warn(
                f"'{path}': decoded {count} frames, the container says {expected}",
                DatamintWarning,
                stacklevel=2,
            )
            array = np.ascontiguousarray(np.concatenate([array[:, :count], *extra], axis=1))
        return ReadResult(array, _geometry(fps), None, self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape ``(3, F, H, W)`` from ``CAP_PROP_FRAME_COUNT/HEIGHT/WIDTH`` and the fps.

        Frames are counted by decoding only when the container gives no count.

        Raises:
            InvalidResourceError: If it cannot be opened.
            UnsupportedFormatError: If it is not a video at all.
        """
        path = Path(path)
        with open(path, "rb") as fh:
            sniffed = is_video(fh.read(16))
        with _capture(path, sniffed) as capture:
            frames, height, width, fps = _properties(capture)
            if frames == 0:
                while capture.grab():
                    frames += 1
        return HeaderInfo((3, frames, height, width), np.dtype(np.uint8), _geometry(fps))
