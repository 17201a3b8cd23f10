"""A DICOM series (a ZIP archive of its files, or a folder) to one ``(C, N, H, W)`` volume.

A ZIP of the ``.dcm`` files of a series under any names (a series exported by other
tools; the Datamint platform and our reference server send a series as ONE multi-frame
DICOM instead, read by :class:`~datamint.readers.dicom.DicomReader`); a folder is read
the same way. Members without ``DICM`` at byte 128 (READMEs) and a
DICOMDIR ((0002,0002) Media Storage SOP Class UID 1.2.840.10008.1.3.10) are skipped
(listing and scanning: :mod:`datamint.readers.dicom_series_scan`).

Which files, in which order and where: :mod:`datamint.readers.dicom_series_order`
(one Series Instance UID, one grid and orientation, sorted along the slice normal,
uniform spacing; errors name the SOP Instance UID).

Values: every slice goes through :func:`~datamint.readers.dicom_pixels.decode_pixels`
with its own Modality LUT, so slices whose (0028,1052) Rescale Intercept differ are
each in correct units. The volume's dtype is the smallest that holds every slice's
(``numpy.result_type`` of the per-slice dtypes; int16 HU for the demo CT).

Headers: every member is read up to its pixel data by
:mod:`~datamint.readers.dicom_series_scan` (the header scanner with one
:class:`~datamint.readers.dicom_header_scan.ScanTemplate` per read, pydicom for what it
declines, so messages and values stay pydicom's). Each slice's pixel layout (shape,
dtype) comes from :func:`~datamint.readers.dicom_pixels.pixel_layout` once per distinct
set of raw pixel-module values, kept for the process. ``read_header``'s metainfo, the
first slice's pydicom ``Dataset``, is parsed on first access from that slice's header
bytes, kept by the scan; no pixel data is ever decompressed or decoded. ``read`` orders
the slices from the same scan, then parses and decodes each file with pydicom.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from datamint.exceptions import InvalidResourceError
from datamint.readers.base import Deferred, FileHint, HeaderInfo, Reader, ReadResult, decoding
from datamint.readers.dicom import read_dataset
from datamint.readers.dicom_header_scan import WANTED
from datamint.readers.dicom_pixels import decode_pixels, pixel_layout
from datamint.readers.dicom_series_members import _FolderMember, _members, _Opener, _where
from datamint.readers.dicom_series_order import SeriesSlice, order_series
from datamint.readers.dicom_series_scan import _LAYOUT_COUNT, _SHARED_TAGS, _scan

__all__ = ["DicomSeriesReader", "SeriesSlice"]

# (shape, dtype) of pixel_layout by layout key: a pure function of the raw values.
_LAYOUTS: dict[tuple[bytes | None, ...], tuple[tuple[int, int, int, int], np.dtype]] = {}
_LAYOUTS_MAX = 256


def _scanned_layout(
    key: tuple[bytes | None, ...], where: Path
) -> tuple[tuple[int, int, int, int], np.dtype]:
    """:func:`pixel_layout` of a header holding just these raw values (a memo miss).

    With no Modality LUT Sequence, palette or functional group (checked by
    ``dicom_series_scan._scanned_slice``), these are all the elements ``pixel_layout`` reads, and
    pydicom converts them from the same bytes as in ``dcmread``. Errors are not kept.
    """
    elements = {}  # raw, as dcmread keeps elements until first accessed
    for tag, value in zip(_SHARED_TAGS[:_LAYOUT_COUNT], key, strict=True):
        if value is not None:
            elements[BaseTag(tag)] = RawDataElement(
                BaseTag(tag), WANTED[tag], len(value), value, 0, False, True
            )
    layout = pixel_layout(Dataset(elements), where)
    if len(_LAYOUTS) >= _LAYOUTS_MAX:
        _LAYOUTS.clear()
    _LAYOUTS[key] = layout
    return layout


def _volume_layout(
    ordered: list[SeriesSlice], path: Path
) -> tuple[tuple[int, int, int, int], np.dtype]:
    """``(C, N, H, W)`` and dtype of the volume, from each slice's pixel layout.

    Raises:
        InvalidResourceError: For the first slice (in order) whose layout is invalid,
            as :func:`pixel_layout` words it.
    """
    layouts = []
    for item in ordered:
        key = item.layout_key
        layout = None if key is None else _LAYOUTS.get(key)
        if layout is None:
            where = _where(path, item.member, path.is_dir())
            if item.dataset is not None:
                layout = pixel_layout(item.dataset, where)
            elif key is not None:
                layout = _scanned_layout(key, where)
            else:  # pragma: no cover - a slice has a dataset or a layout key
                raise AssertionError(item.member)
        layouts.append(layout)
    channels, _, rows, columns = layouts[0][0]
    dtype = np.dtype(np.result_type(*{dtype for _, dtype in layouts}))
    return (channels, len(ordered), rows, columns), dtype


class _HeaderBytes:
    """Loads a slice's pydicom header from its header bytes (picklable, for Deferred)."""

    def __init__(self, data: bytes, name: str, where: Path) -> None:
        self.data, self.name, self.where = data, name, where

    def __call__(self) -> Dataset:
        buffer = io.BytesIO(self.data)
        buffer.name = self.name  # what FileDataset.filename held when parsed from the file
        return read_dataset(buffer, self.where, stop_before_pixels=True, require_image=False)


def _first_header(
    path: Path, members: dict[str, _Opener], first: SeriesSlice, headers: dict[str, bytes]
) -> Dataset | Deferred:
    """The first slice's header: its pydicom Dataset, or one deferred to first access."""
    if first.dataset is not None:
        return first.dataset
    opener = members[first.member]
    where = _where(path, first.member, isinstance(opener, _FolderMember))
    data = headers.get(first.member)
    if data is None:  # the walk did not end at pixel data: let pydicom read it now
        with decoding(path, "dicom_series", f"read member '{first.member}' of"), opener() as fh:
            return read_dataset(fh, where, stop_before_pixels=True, require_image=False)
    # FileDataset.filename as when parsed from the member: the file, or the entry name.
    name = opener.file if isinstance(opener, _FolderMember) else first.member
    return Deferred(_HeaderBytes(data, name, where))


class DicomSeriesReader(Reader):
    """Reads a DICOM series from a ZIP archive or a folder (rules: module docstring).

    Versions: ``"1"`` returned stored values and warned on a missing slice; ``"2"``
    applies each slice's Modality LUT (HU for CT) and refuses gaps and several series;
    ``"3"`` rounds a float MONOCHROME1 inversion once (from float64).
    """

    name = "dicom_series"
    version = "3"
    kinds = ()
    detects = "a ZIP archive (b'PK\\x03\\x04') or a folder of DICOM files"

    def sniff(self, path: Path, head: bytes) -> bool:
        """True for a folder or a ZIP archive."""
        return path.is_dir() or head[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode every slice into one ``(C, N, H, W)`` array, N = number of DICOM files.

        Files are read twice (headers to sort, then pixels slice by slice into the
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
            slices, headers = _scan(path, members)
            ordered, geometry = order_series(slices, path)
            shape, dtype = _volume_layout(ordered, path)
            metainfo = _first_header(path, members, ordered[0], headers)
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
        if isinstance(metainfo, Deferred):
            metainfo = metainfo.load()
        return ReadResult(array, geometry, metainfo, self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape, dtype, geometry and rescale from every file's header (no pixel data).

        Returns:
            ``HeaderInfo`` whose rescale is the first slice's (in order) and whose
            metainfo, that slice's pydicom ``Dataset`` without pixel data, is parsed on
            first access (from header bytes read here: the files may go away).

        Raises:
            InvalidResourceError: If the archive is corrupt or a series rule fails.
        """
        path = Path(path)
        with _members(path) as members:
            slices, headers = _scan(path, members)
            ordered, geometry = order_series(slices, path)
            shape, dtype = _volume_layout(ordered, path)
            metainfo = _first_header(path, members, ordered[0], headers)
        slope, intercept = ordered[0].rescale
        return HeaderInfo(shape, dtype, geometry, slope, intercept, metainfo=metainfo)
