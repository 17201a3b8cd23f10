"""A DICOM series (a ZIP archive of its files, or a folder) to one ``(C, N, H, W)`` volume.

The server sends a series resource as a ZIP of its ``.dcm`` files under any names; a
folder is read the same way. Members without ``DICM`` at byte 128 (READMEs, a
DICOMDIR) are skipped.

Order: slices are sorted by the projection of (0020,0032) Image Position (Patient) on
the slice normal, the cross product of the row and column cosines of (0020,0037) Image
Orientation (Patient), ascending (the method NiBabel documents for DICOM). File names,
(0020,0013) Instance Number and archive order play no part. Slice k of the array is the
k-th in that order.

Contract checks, each an :class:`~datamint.exceptions.InvalidResourceError` naming the
file's (0008,0018) SOP Instance UID: one (0020,000E) Series Instance UID; the same
Rows, Columns, Samples per Pixel, Bits Allocated, Pixel Representation and Photometric
Interpretation; orientations equal within 1e-4; single-frame instances; position,
orientation and (0028,0030) Pixel Spacing present; no two slices at one position.

Geometry: ``Calibration.PATIENT``, RAS; origin = position of the first slice in our
order; n column = (last position - first position) / (N - 1), so a gantry tilt shows as
a shear; unevenly spaced slices warn (DatamintWarning) and use that mean step. Rescale
slope/intercept that differ between slices warn as well: the metainfo (first slice's
dataset) then does not describe every slice.
"""

from __future__ import annotations

import io
import itertools
import os
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from datamint.exceptions import DatamintWarning, InvalidResourceError
from datamint.geometry import Calibration, Geometry, NAxis, affine_from_plane, lps_to_ras
from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, decoding, read_head
from datamint.readers.dicom import is_dicom, read_dataset
from datamint.readers.dicom_geometry import floats
from datamint.readers.dicom_pixels import decode_pixels, pixel_layout, rescale_of

__all__ = ["DicomSeriesReader", "SeriesSlice"]

_SAME_KEYWORDS = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "PixelRepresentation",
    "PhotometricInterpretation",
)


@dataclass
class SeriesSlice:
    """One file of a series, read without pixel data.

    Args:
        member: Its name inside the archive or folder.
        dataset: Its header (pixel data not read).
        position_mm: (0020,0032) Image Position (Patient), LPS, float64 ``(3,)``.
        along_mm: ``position_mm`` projected on the slice normal.
    """

    member: str
    dataset: Dataset
    position_mm: np.ndarray
    along_mm: float

    @property
    def uid(self) -> str:
        """(0008,0018) SOP Instance UID, else the member name."""
        return _text(self.dataset, "SOPInstanceUID") or f"<{self.member}>"


def _text(ds: Dataset, keyword: str) -> str:
    """An element's text without pydicom's value validation (no warning for odd UIDs)."""
    element = ds.get_item(keyword)
    if element is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return str(value).strip(" \x00") if value is not None else ""


# Where a member's bytes are: a file of a folder, or an entry of an open archive.
_Source = Path | tuple[zipfile.ZipFile, zipfile.ZipInfo]


@contextmanager
def _open_members(path: Path) -> Iterator[dict[str, _Source]]:
    """Map member name -> opener for every DICOM member of a ZIP or folder."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        yield {str(p.relative_to(path)): p for p in files if is_dicom(read_head(p, 132))}
        return
    with decoding(path, "dicom_series", "open the ZIP archive"):
        archive = zipfile.ZipFile(path)
    with archive:
        members: dict[str, _Source] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            with (
                decoding(path, "dicom_series", f"read member '{info.filename}' of"),
                archive.open(info) as fh,
            ):
                head = fh.read(132)
            if is_dicom(head):
                members[info.filename] = (archive, info)
        yield members


def _load(source: _Source, path: Path, member: str, *, stop_before_pixels: bool) -> Dataset:
    if isinstance(source, Path):
        return read_dataset(source, source, stop_before_pixels=stop_before_pixels)
    where = Path(f"{path}::{member}")
    archive, info = source
    with decoding(path, "dicom_series", f"read member '{member}' of"):
        data = archive.read(info)
    return read_dataset(io.BytesIO(data), where, stop_before_pixels=stop_before_pixels)


def _check_and_sort(slices: list[SeriesSlice], path: Path) -> list[SeriesSlice]:
    first = slices[0].dataset
    for item in slices[1:]:
        ds = item.dataset
        series_uid = _text(ds, "SeriesInstanceUID")
        if series_uid != _text(first, "SeriesInstanceUID"):
            raise InvalidResourceError(
                f"'{path}': instance {item.uid} has (0020,000E) Series Instance UID "
                f"{series_uid}, expected {_text(first, 'SeriesInstanceUID')}"
            )
        for keyword in _SAME_KEYWORDS:
            if ds.get(keyword) != first.get(keyword):
                raise InvalidResourceError(
                    f"'{path}': instance {item.uid} has {keyword} {ds.get(keyword)!r}, "
                    f"expected {first.get(keyword)!r} as in instance {slices[0].uid}"
                )
    ordered = sorted(slices, key=lambda s: s.along_mm)
    for before, after in itertools.pairwise(ordered):
        if after.along_mm - before.along_mm < 1e-3:
            raise InvalidResourceError(
                f"'{path}': instances {before.uid} and {after.uid} are at the same position "
                f"({before.along_mm:.4f} mm along the normal); one series, one slice per position"
            )
    rescales = {rescale_of(s.dataset) for s in ordered}
    if len(rescales) > 1:
        warnings.warn(
            f"'{path}': rescale slope/intercept differ between slices {sorted(rescales, key=str)}; "
            "the metainfo holds the first slice's",
            DatamintWarning,
            stacklevel=4,
        )
    return ordered


def _geometry(ordered: list[SeriesSlice], orientation: np.ndarray, path: Path) -> Geometry:
    first = ordered[0]
    spacing = floats(first.dataset.get("PixelSpacing"), 2)
    if spacing is None or np.any(spacing <= 0):
        raise InvalidResourceError(
            f"'{path}': instance {first.uid} lacks a positive (0028,0030) Pixel Spacing"
        )
    count = len(ordered)
    step = None
    if count > 1:
        step = (ordered[-1].position_mm - first.position_mm) / (count - 1)
        gaps = np.diff([s.along_mm for s in ordered])
        mean = (ordered[-1].along_mm - first.along_mm) / (count - 1)
        if np.max(np.abs(gaps - mean)) > 1e-2 + 1e-2 * mean:
            warnings.warn(
                f"'{path}': slices are unevenly spaced ({gaps.min():.4g} to {gaps.max():.4g} mm); "
                f"the affine uses the mean step {mean:.4g} mm",
                DatamintWarning,
                stacklevel=4,
            )
    try:
        affine = affine_from_plane(
            first.position_mm, orientation[:3], orientation[3:], spacing, step
        )
    except ValueError as exc:
        raise InvalidResourceError(f"'{path}': instance {first.uid}: {exc}") from exc
    n_axis = NAxis.SPACE if count > 1 else NAxis.SINGLE
    return Geometry(lps_to_ras(affine), "RAS", None, n_axis, Calibration.PATIENT)


class DicomSeriesReader(Reader):
    """Reads a DICOM series from a ZIP archive or a folder (rules: module docstring)."""

    name = "dicom_series"
    version = "1"
    kinds = ()
    detects = "a ZIP archive (b'PK\\x03\\x04') or a folder of DICOM files"

    def sniff(self, path: Path, head: bytes) -> bool:
        """True for a folder or a ZIP archive."""
        return path.is_dir() or head[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    def _scan(self, path: Path, members: dict[str, _Source]) -> tuple[list[SeriesSlice], Geometry]:
        if not members:
            raise InvalidResourceError(f"'{path}' contains no DICOM file (no 'DICM' at byte 128)")
        slices: list[SeriesSlice] = []
        orientation: np.ndarray | None = None
        for member, source in members.items():
            ds = _load(source, path, member, stop_before_pixels=True)
            uid = _text(ds, "SOPInstanceUID") or f"<{member}>"
            position = floats(ds.get("ImagePositionPatient"), 3)
            iop = floats(ds.get("ImageOrientationPatient"), 6)
            if position is None or iop is None:
                raise InvalidResourceError(
                    f"'{path}': instance {uid} lacks a valid (0020,0032) Image Position (Patient) "
                    "or (0020,0037) Image Orientation (Patient); a series cannot be ordered"
                )
            if int(ds.get("NumberOfFrames") or 1) > 1:
                raise InvalidResourceError(
                    f"'{path}': instance {uid} is multi-frame; a series holds single-frame files"
                )
            if orientation is None:
                orientation = iop
            elif np.max(np.abs(iop - orientation)) > 1e-4:
                raise InvalidResourceError(
                    f"'{path}': instance {uid} has (0020,0037) Image Orientation (Patient) "
                    f"{iop.tolist()}, expected {orientation.tolist()} (tolerance 1e-4)"
                )
            normal = np.cross(orientation[:3], orientation[3:])
            slices.append(SeriesSlice(member, ds, position, float(position @ normal)))
        ordered = _check_and_sort(slices, path)
        return ordered, _geometry(ordered, orientation, path)  # type: ignore[arg-type]

    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode every slice into one ``(C, N, H, W)`` array, N = number of DICOM files.

        Files are parsed twice (headers to sort, then pixels slice by slice into the
        output), so memory peaks at one volume plus one slice.

        Returns:
            ``ReadResult(array, geometry, metainfo=first slice's Dataset, "dicom_series")``.

        Raises:
            InvalidResourceError: If the archive is corrupt or a contract check fails.
            UnsupportedFormatError: If the transfer syntax cannot be decoded.
        """
        path = Path(path)
        with _open_members(path) as members:
            ordered, geometry = self._scan(path, members)
            shape, dtype = pixel_layout(ordered[0].dataset, path)
            array = np.empty((shape[0], len(ordered), shape[2], shape[3]), dtype=dtype)
            for index, item in enumerate(ordered):
                ds = _load(members[item.member], path, item.member, stop_before_pixels=False)
                pixels = decode_pixels(ds, Path(f"{path}::{item.member}"))
                if pixels.shape[1] != 1 or pixels.dtype != dtype:
                    raise InvalidResourceError(
                        f"'{path}': instance {item.uid} decodes to {pixels.shape} {pixels.dtype}, "
                        f"expected one {dtype} slice"
                    )
                array[:, index] = pixels[:, 0]
        return ReadResult(array, geometry, ordered[0].dataset, self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape, dtype, geometry and rescale from every file's header (no pixel data).

        Raises:
            InvalidResourceError: If the archive is corrupt or a contract check fails.
        """
        path = Path(path)
        with _open_members(path) as members:
            ordered, geometry = self._scan(path, members)
        first = ordered[0].dataset
        (channels, _, rows, columns), dtype = pixel_layout(first, path)
        slope, intercept = rescale_of(first)
        shape = (channels, len(ordered), rows, columns)
        return HeaderInfo(shape, dtype, geometry, slope, intercept, metainfo=first)
