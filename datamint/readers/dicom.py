"""One DICOM file, single- or multi-frame, to ``(C, N, H, W)``.

Pixel rules (Modality LUT applied, so CT is in Hounsfield units; MONOCHROME1 inverted;
palette and YBR to RGB) are in :mod:`datamint.readers.dicom_pixels` and
:mod:`datamint.readers.dicom_modality`; geometry rules (enhanced functional groups,
classic tags, frame interval, fallbacks) in :mod:`datamint.readers.dicom_geometry`.

Versions: ``"1"`` returned stored values and 16-bit RGB for 8-bit palettes; ``"2"``
applies the Modality LUT and returns uint8 RGB for 8-bit palettes; ``"3"`` applies RT
Dose's (3004,000E) Dose Grid Scaling and places its frames with (3004,000C) Grid Frame
Offset Vector, and rounds a float MONOCHROME1 inversion once (from float64).

Example:
    >>> result = DicomReader().read("ct.dcm")          # doctest: +SKIP
    >>> result.array.shape, result.array.dtype, result.metainfo.Modality  # doctest: +SKIP
    ((1, 1, 512, 512), dtype('int16'), 'CT')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, decoding, read_head
from datamint.readers.dicom_geometry import dataset_geometry
from datamint.readers.dicom_pickle import register as _register_pickling
from datamint.readers.dicom_pixels import PIXEL_KEYWORDS, decode_pixels, pixel_layout, rescale_of

__all__ = ["DicomReader", "is_dicom", "read_dataset"]

_register_pickling()  # pydicom metainfo must cross DataLoader worker boundaries


def is_dicom(head: bytes) -> bool:
    """Whether bytes start a DICOM Part 10 file: ``b"DICM"`` at offset 128 (PS3.10 7.1)."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def read_dataset(
    source: Path | BinaryIO,
    path: Path,
    *,
    stop_before_pixels: bool,
    force: bool = False,
    require_image: bool = True,
) -> Dataset:
    """``pydicom.dcmread`` with our errors.

    Args:
        source: The file, or an open binary stream (a ZIP member).
        path: What to name in messages.
        stop_before_pixels: Skip the pixel data (header reads).
        force: Also accept a file without the 128-byte preamble and ``DICM`` prefix.
        require_image: Raise when neither (0028,0010) Rows nor pixel data could be read;
            ``False`` returns such a dataset (a DICOMDIR, a report) for the caller to judge.

    Raises:
        UnsupportedFormatError: If it is not a DICOM file (or, read with ``force``,
            holds no image).
        InvalidResourceError: If it is truncated or malformed, including a Part 10 file
            in which no (0028,0010) Rows or pixel data element could be read.
    """
    with decoding(path, "dicom", "parse"):
        try:
            ds = pydicom.dcmread(source, stop_before_pixels=stop_before_pixels, force=force)
        except InvalidDicomError as exc:
            raise UnsupportedFormatError(f"'{path}' is not a DICOM file: {exc}") from exc
    if require_image and "Rows" not in ds and not any(k in ds for k in PIXEL_KEYWORDS):
        # pydicom returns an empty dataset for a file cut inside encapsulated pixel data.
        error = UnsupportedFormatError if force else InvalidResourceError
        raise error(
            f"'{path}' holds no image after parsing (no (0028,0010) Rows, no (7FE0,0010) "
            f"Pixel Data; {len(ds)} elements read): truncated, corrupt, or not an image"
        )
    return ds


class DicomReader(Reader):
    """Reads one DICOM Part 10 file (any transfer syntax pydicom can decode).

    ``read`` returns the array of :func:`~datamint.readers.dicom_pixels.decode_pixels`,
    the geometry of :func:`~datamint.readers.dicom_geometry.dataset_geometry`, and the
    dataset without its pixel data as metainfo.
    """

    name = "dicom"
    version = "3"
    kinds = ("dicom",)
    detects = "b'DICM' at byte 128, or a DICOM hint (.dcm/.dicom, application/dicom)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """True for a Part 10 file (``DICM`` at byte 128)."""
        return is_dicom(head)

    def _dataset(self, path: Path, *, stop_before_pixels: bool) -> Dataset:
        force = not is_dicom(read_head(path, 132))
        return read_dataset(path, path, stop_before_pixels=stop_before_pixels, force=force)

    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode the file to ``(C, N, H, W)``: C = 1 or 3, N = (0028,0008) Number of Frames.

        Monochrome values are modality values (Hounsfield units for CT), in the dtype of
        :mod:`~datamint.readers.dicom_modality`; colour is uint8 or uint16 RGB.

        Args:
            path: The file (any name; a file without preamble is read with ``force``).
            hint: Unused beyond reader selection.

        Returns:
            ``ReadResult(array, geometry, metainfo=Dataset without pixel data, "dicom")``.

        Raises:
            UnsupportedFormatError: If it is not DICOM or the transfer syntax cannot be decoded.
            InvalidResourceError: If it is truncated or its pixel module is inconsistent.
        """
        path = Path(path)
        ds = self._dataset(path, stop_before_pixels=False)
        array = decode_pixels(ds, path)
        geometry = dataset_geometry(ds, array.shape[1], path)
        for keyword in PIXEL_KEYWORDS:
            if keyword in ds:
                delattr(ds, keyword)
        return ReadResult(array, geometry, ds, self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape, dtype, geometry, rescale and metainfo from the tags, without pixel data.

        The file is parsed up to (7FE0,0010) Pixel Data (``stop_before_pixels``); the
        dtype is the one :meth:`read` returns, Modality LUT and palette included.

        Raises:
            UnsupportedFormatError: If it is not DICOM.
            InvalidResourceError: If it is truncated or lacks the image pixel elements.
        """
        path = Path(path)
        ds = self._dataset(path, stop_before_pixels=True)
        shape, dtype = pixel_layout(ds, path)
        slope, intercept = rescale_of(ds)
        geometry = dataset_geometry(ds, shape[1], path)
        return HeaderInfo(shape, dtype, geometry, slope, intercept, metainfo=ds)
