"""2-D images (PNG, JPEG; other formats OpenCV decodes, by hint) to ``(C, 1, H, W)``.

Decoding: ``cv2.imdecode(..., IMREAD_UNCHANGED)``, single-threaded codecs (libpng,
libjpeg). dtype as decoded: uint8, or uint16 for 16-bit PNG. EXIF orientation is not
applied: the array is the stored pixel grid, the one masks are drawn on.

Channels:

* grey gives C = 1 (also a grey+alpha PNG, which OpenCV expands to BGRA); colour
  gives C = 3 in RGB order (OpenCV's BGR is reversed);
* an alpha channel is **dropped when fully opaque** (every value the dtype's maximum,
  1.0 for float images),
  the common case of RGBA screenshots and exports. An alpha that carries information
  is kept as the last channel (RGBA, C = 4; grey+alpha, C = 2), so nothing is
  thrown away silently.
  Header reads therefore decode the pixels of files that have alpha (PNG colour types
  4 and 6, or a ``tRNS`` chunk); other PNG and JPEG headers are parsed without decoding.

Geometry: ``None`` (PNG/JPEG carry no patient geometry).

Truncation: a PNG without an ``IEND`` chunk, or a JPEG without an EOI marker after its
last start-of-scan, raises :class:`~datamint.exceptions.InvalidResourceError` (decoders
would otherwise return a partly grey image).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, decoding, read_head

__all__ = ["ImageReader", "is_jpeg", "is_png"]

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
# SOF markers carrying the frame size (all SOFn except DHT C4, JPG C8, DAC CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def is_png(head: bytes) -> bool:
    """Whether bytes start a PNG file (8-byte signature)."""
    return head[:8] == _PNG


def is_jpeg(head: bytes) -> bool:
    """Whether bytes start a JPEG file (SOI marker followed by another marker)."""
    return head[:3] == _JPEG


def _png_header(data: bytes) -> tuple[tuple[int, int, int, int], np.dtype] | None:
    """``(C, 1, H, W)`` and dtype from IHDR when no alpha can be present, else ``None``."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    offset = 8
    while True:
        if offset + 8 > len(data):
            return None  # chunks before IDAT exceed the head: decode to be sure
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"tRNS":
            return None
        if kind in (b"IDAT", b"IEND"):
            break
        offset += 12 + length
    channels = {0: 1, 2: 3, 3: 3}.get(colour)
    if channels is None:
        return None
    dtype = np.dtype(np.uint16 if depth == 16 else np.uint8)
    return (channels, 1, height, width), dtype


def _jpeg_header(data: bytes) -> tuple[tuple[int, int, int, int], np.dtype] | None:
    """``(C, 1, H, W)`` and uint8 from the first SOF marker of an 8-bit JPEG, else ``None``."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _SOF and offset + 10 <= len(data):
            precision, height, width, components = struct.unpack(
                ">BHHB", data[offset + 4 : offset + 10]
            )
            if precision != 8 or height == 0 or components not in (1, 3):
                return None
            return (1 if components == 1 else 3, 1, height, width), np.dtype(np.uint8)
        if marker == 0xDA:
            return None
        offset += 2 + length
    return None


def _check_complete(path: Path, data: bytes) -> None:
    if is_png(data) and data.rfind(b"IEND") < 0:
        raise InvalidResourceError(f"'{path}' is a truncated PNG: no IEND chunk")
    if is_jpeg(data) and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        raise InvalidResourceError(
            f"'{path}' is a truncated JPEG: no EOI marker after the last scan"
        )


def _to_cnhw(decoded: np.ndarray, grey: bool) -> np.ndarray:
    """OpenCV's ``(H, W[, C])`` BGR(A) to ``(C, 1, H, W)`` RGB(A) or grey(+alpha)."""
    if decoded.ndim == 2:
        return decoded[None, None]
    channels = decoded.shape[2]
    if channels == 1:
        return decoded.transpose(2, 0, 1)[:, None]
    # OpenCV expands grey+alpha PNGs to BGRA; keep one grey channel for them.
    colour = decoded[:, :, :1] if grey else decoded[:, :, 2::-1]
    if channels == 4:
        alpha = decoded[:, :, 3:]
        opaque = np.iinfo(decoded.dtype).max if decoded.dtype.kind in "ui" else 1.0
        if not np.all(alpha == opaque):
            colour = np.concatenate([colour, alpha], axis=2)
    return np.ascontiguousarray(colour.transpose(2, 0, 1)[:, None])


class ImageReader(Reader):
    """Reads PNG and JPEG (and, by hint, other formats OpenCV decodes); rules: module docstring."""

    name = "image"
    version = "1"
    kinds = ("image",)
    detects = "a PNG or JPEG signature, or an image/* hint"

    def sniff(self, path: Path, head: bytes) -> bool:
        """True for a PNG or JPEG signature."""
        return is_png(head) or is_jpeg(head)

    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode to ``(C, 1, H, W)``: C = 1 (grey), 3 (RGB), 2 or 4 (informative alpha).

        Returns:
            ``ReadResult(array, None, None, "image")``.

        Raises:
            InvalidResourceError: If a PNG/JPEG is truncated or cannot be decoded.
            UnsupportedFormatError: If an unrecognised file cannot be decoded by OpenCV.
        """
        path = Path(path)
        data = path.read_bytes()
        _check_complete(path, data)
        with decoding(path, "image", "decode"):
            decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if decoded is None:
            error = InvalidResourceError if self.sniff(path, data[:16]) else UnsupportedFormatError
            raise error(f"image reader could not decode '{path}' with OpenCV ({len(data)} bytes)")
        grey = is_png(data) and len(data) > 25 and data[25] in (0, 4)  # IHDR colour type
        return ReadResult(_to_cnhw(decoded, grey), None, None, self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape and dtype from the PNG IHDR or JPEG SOF; decodes when alpha is possible.

        Raises:
            InvalidResourceError: If the file is truncated or cannot be decoded.
            UnsupportedFormatError: If an unrecognised file cannot be decoded by OpenCV.
        """
        path = Path(path)
        head = read_head(path, 1 << 16)
        parsed = None
        if is_png(head):
            parsed = _png_header(head)
        elif is_jpeg(head):
            parsed = _jpeg_header(head)
        if parsed is None:
            array = self.read(path, hint).array
            return HeaderInfo(array.shape, array.dtype, None)
        return HeaderInfo(parsed[0], parsed[1], None)
