"""Videos (MP4, MOV, AVI, MKV/WebM: what OpenCV's FFmpeg opens) to ``(3, F, H, W)`` uint8.

Every frame is decoded in order (frame 0 first, as annotations' ``frame_index``
counts), converted from OpenCV's BGR to RGB, channels first. FFmpeg is asked for one
decoding thread (``CAP_PROP_N_THREADS``).

Geometry: a video has no physical calibration, so its geometry is
``Calibration.PIXEL`` (identity affine in index units: ``spacing_mm`` is ``None``, never
1 mm) with ``NAxis.TIME`` and ``frame_interval_s = 1 / CAP_PROP_FPS``. Without a
usable frame rate the geometry is ``None``.

Frame count: the container's ``CAP_PROP_FRAME_COUNT`` serves header reads, and a full
read must decode exactly that many frames: a file whose container reports a negative
count (FFmpeg's answer for a damaged header) or whose decoded count differs from the
container's is refused with :class:`~datamint.exceptions.InvalidResourceError` naming
it. A damaged MP4 header otherwise decodes into plausible-looking frames shifted by one,
with nothing to tell them from the real ones. Only a container that reports no count
(0) has its frames counted by decoding.

Versions: ``"1"`` kept a mismatched decode with a warning; ``"2"`` refuses it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
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


def _properties(capture: cv2.VideoCapture, path: Path) -> tuple[int, int, int, float]:
    """Frame count (0: unknown), height, width and fps as the container reports them.

    Raises:
        InvalidResourceError: If the reported frame count is negative or not finite.
    """
    reported = float(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if not math.isfinite(reported) or reported < 0:
        raise InvalidResourceError(
            f"'{path}': the container reports {reported:.0f} frames (CAP_PROP_FRAME_COUNT); "
            "its header is damaged, so its frames cannot be trusted"
        )
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    return int(reported), height, width, float(capture.get(cv2.CAP_PROP_FPS))


def _geometry(fps: float) -> Geometry | None:
    if not (math.isfinite(fps) and fps > 0):
        return None
    return Geometry(np.eye(4), "RAS", 1.0 / fps, NAxis.TIME, Calibration.PIXEL)


class VideoReader(Reader):
    """Reads every frame of a video through OpenCV (rules: module docstring)."""

    name = "video"
    version = "2"
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
            InvalidResourceError: If it cannot be opened, no frame decodes, or the number
                of frames decoded differs from the container's (a damaged file).
            UnsupportedFormatError: If it is not a video at all.
        """
        path = Path(path)
        with open(path, "rb") as fh:
            sniffed = is_video(fh.read(16))
        with _capture(path, sniffed) as capture:
            expected, height, width, fps = _properties(capture, path)
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
        if expected and count != expected:
            raise InvalidResourceError(
                f"'{path}': decoded {count} frames, the container says {expected} "
                "(CAP_PROP_FRAME_COUNT); the file is damaged"
            )
        if not expected:
            array = np.ascontiguousarray(np.concatenate([array[:, :count], *extra], axis=1))
        return ReadResult(array, _geometry(fps), None, self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape ``(3, F, H, W)`` from ``CAP_PROP_FRAME_COUNT/HEIGHT/WIDTH`` and the fps.

        Frames are counted by decoding only when the container gives no count.

        Raises:
            InvalidResourceError: If it cannot be opened, or its container reports a
                negative frame count (a damaged header).
            UnsupportedFormatError: If it is not a video at all.
        """
        path = Path(path)
        with open(path, "rb") as fh:
            sniffed = is_video(fh.read(16))
        with _capture(path, sniffed) as capture:
            frames, height, width, fps = _properties(capture, path)
            if frames == 0:
                while capture.grab():
                    frames += 1
        return HeaderInfo((3, frames, height, width), np.dtype(np.uint8), _geometry(fps))
