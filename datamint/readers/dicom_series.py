"""A DICOM series (a ZIP archive of its files, or a folder) to one ``(C, N, H, W)`` volume.

The server sends a series resource as a ZIP of its ``.dcm`` files under any names; a
folder is read the same way. Members without ``DICM`` at byte 128 (READMEs) and a
DICOMDIR ((0002,0002) Media Storage SOP Class UID 1.2.840.10008.1.3.10) are skipped.

Which files, in which order and where: :mod:`datamint.readers.dicom_series_order`
(one Series Instance UID, one grid and orientation, sorted along the slice normal,
uniform spacing; errors name the SOP Instance UID).

Values: every slice goes through :func:`~datamint.readers.dicom_pixels.decode_pixels`
with its own Modality LUT, so slices whose (0028,1052) Rescale Intercept differ are
each in correct units. The volume's dtype is the smallest that holds every slice's
(``numpy.result_type`` of the per-slice dtypes; int16 HU for the demo CT).

Header reads parse each member once, up to its pixel data (``stop_before_pixels``),
straight from the ZIP stream: no pixel data is decompressed or decoded.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from datamint.exceptions import InvalidResourceError
from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, decoding
from datamint.readers.dicom import is_dicom, read_dataset
from datamint.readers.dicom_pixels import decode_pixels, pixel_layout, rescale_of
from datamint.readers.dicom_series_order import SeriesSlice, order_series, series_slice, text

__all__ = ["DicomSeriesReader", "SeriesSlice"]

_DICOMDIR = "1.2.840.10008.1.3.10"

# Opens one member for binary reading: a file of a folder, or an entry of an open archive.
_Opener = Callable[[], IO[bytes]]


@contextmanager
def _members(path: Path) -> Iterator[dict[str, _Opener]]:
    """Member name -> opener, for every file of a folder or every entry of a ZIP."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        yield {str(p.relative_to(path)): (lambda p=p: open(p, "rb")) for p in files}  # noqa: SIM115
        return
    with decoding(path, "dicom_series", "open the ZIP archive"):
        archive = zipfile.ZipFile(path)
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        yield {info.filename: (lambda info=info: archive.open(info)) for info in infos}


def _where(path: Path, member: str, folder: bool) -> Path:
    """What messages name: the file of a folder, or ``archive::member``."""
    return path / member if folder else Path(f"{path}::{member}")


def _scan(path: Path, members: dict[str, _Opener]) -> list[SeriesSlice]:
    """Parse every DICOM member up to its pixel data."""
    slices = []
    folder = path.is_dir()
    for member, opener in members.items():
        where = _where(path, member, folder)
        with decoding(path, "dicom_series", f"read member '{member}' of"), opener() as fh:
            if not is_dicom(fh.read(132)):
                continue
            fh.seek(0)
            ds = read_dataset(fh, where, stop_before_pixels=True, require_image=False)
        meta = getattr(ds, "file_meta", None)
        if meta is not None and text(meta, "MediaStorageSOPClassUID") == _DICOMDIR:
            continue
        if "Rows" not in ds:
            raise InvalidResourceError(
                f"'{path}': member '{member}' (instance {text(ds, 'SOPInstanceUID') or '?'}) "
                "holds no image ((0028,0010) Rows missing); a series holds image files only"
            )
        slices.append(series_slice(ds, member, path))
    if not slices:
        raise InvalidResourceError(f"'{path}' contains no DICOM file (no 'DICM' at byte 128)")
    return slices


def _volume_layout(
    ordered: list[SeriesSlice], path: Path
) -> tuple[tuple[int, int, int, int], np.dtype]:
    folder = path.is_dir()
    layouts = [pixel_layout(s.dataset, _where(path, s.member, folder)) for s in ordered]
    channels, _, rows, columns = layouts[0][0]
    dtype = np.dtype(np.result_type(*(dtype for _, dtype in layouts)))
    return (channels, len(ordered), rows, columns), dtype


class DicomSeriesReader(Reader):
    """Reads a DICOM series from a ZIP archive or a folder (rules: module docstring).

    Versions: ``"1"`` returned stored values and warned on a missing slice; ``"2"``
    applies each slice's Modality LUT (HU for CT) and refuses gaps and several series.
    """

    name = "dicom_series"
    version = "2"
    kinds = ()
    detects = "a ZIP archive (b'PK\\x03\\x04') or a folder of DICOM files"

    def sniff(self, path: Path, head: bytes) -> bool:
        """True for a folder or a ZIP archive."""
        return path.is_dir() or head[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode every slice into one ``(C, N, H, W)`` array, N = number of DICOM files.

        Files are parsed twice (headers to sort, then pixels slice by slice into the
        output), so memory peaks at one volume plus one slice.

        Returns:
            ``ReadResult(array, geometry, metainfo=first slice's Dataset, "dicom_series")``;
            the array holds modality values (HU for CT), slice k = k-th along the normal.

        Raises:
            InvalidResourceError: If the archive is corrupt or a series rule fails.
            UnsupportedFormatError: If the transfer syntax cannot be decoded.
        """
        path = Path(path)
        with _members(path) as members:
            ordered, geometry = order_series(_scan(path, members), path)
            shape, dtype = _volume_layout(ordered, path)
            array = np.empty(shape, dtype=dtype)
            folder = path.is_dir()
            for index, item in enumerate(ordered):
                where = _where(path, item.member, folder)
                with decoding(path, "dicom_series", f"read member '{item.member}' of"):
                    fh = members[item.member]()
                with fh:
                    ds = read_dataset(fh, where, stop_before_pixels=False)
                pixels = decode_pixels(ds, where)
                if pixels.shape[1] != 1 or not np.can_cast(pixels.dtype, dtype, "safe"):
                    raise InvalidResourceError(
                        f"'{path}': instance {item.uid} decodes to {pixels.shape} {pixels.dtype}, "
                        f"expected one {dtype} slice"
                    )
                array[:, index] = pixels[:, 0]
        return ReadResult(array, geometry, ordered[0].dataset, self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape, dtype, geometry and rescale from every file's header (no pixel data).

        Returns:
            ``HeaderInfo`` whose metainfo and rescale are those of the first slice in order.

        Raises:
            InvalidResourceError: If the archive is corrupt or a series rule fails.
        """
        path = Path(path)
        with _members(path) as members:
            ordered, geometry = order_series(_scan(path, members), path)
        shape, dtype = _volume_layout(ordered, path)
        slope, intercept = rescale_of(ordered[0].dataset)
        first = ordered[0].dataset
        return HeaderInfo(shape, dtype, geometry, slope, intercept, metainfo=first)
