"""Which files form the volume, in which order, and where it is: the rules of a DICOM series.

Applied to the headers of every DICOM file of a ZIP archive or folder (no pixel data):

1. **One series.** Files are grouped by (0020,000E) Series Instance UID; more than one
   group is an error listing each UID with its file count and first SOP Instance UIDs
   (we do not guess which one the user meant).
2. **One grid.** Rows, Columns, Samples per Pixel, Bits Allocated, Pixel Representation
   and Photometric Interpretation equal, (0020,0037) Image Orientation (Patient) equal
   within 1e-4, single-frame instances, (0020,0032) Image Position (Patient) present.
3. **Order**: ascending projection of Image Position (Patient) on the slice normal,
   the cross product of the row and column cosines of Image Orientation (Patient) (the
   method NiBabel documents for DICOM). File names, (0020,0013) Instance Number and
   archive order play no part. Two slices at one position (within 1e-3 mm) are an error.
4. **Uniform spacing**: with m the median step between neighbours, a step above 1.5 m
   is a missing slice, and any step that differs from m by more than 0.01 mm + 1 % is
   uneven spacing; both are errors naming the two neighbouring SOP Instance UIDs, since
   no affine describes such a volume.

Every error is an :class:`~datamint.exceptions.InvalidResourceError` naming the
resource path and the offending (0008,0018) SOP Instance UID.

Geometry: ``Calibration.PATIENT``, RAS; origin = position of the first slice in our
order; n column = (last position - first position) / (N - 1), so a gantry tilt shows as
a shear; h and w from (0020,0037) and the first slice's (0028,0030) Pixel Spacing.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from datamint.exceptions import InvalidResourceError
from datamint.geometry import Calibration, Geometry, NAxis, affine_from_plane, lps_to_ras
from datamint.readers.dicom_geometry import floats
from datamint.readers.dicom_pixels import rescale_of

__all__ = ["GRID_KEYWORDS", "SeriesSlice", "order_series", "series_slice", "text"]

#: Elements every slice must share, as :attr:`SeriesSlice.grid` holds them.
GRID_KEYWORDS = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "PixelRepresentation",
    "PhotometricInterpretation",
)
_SAME_POSITION_MM = 1e-3
_ORIENTATION_TOLERANCE = 1e-4
_MISSING_FACTOR = 1.5


def text(ds: Dataset, keyword: str) -> str:
    """An element's text without pydicom's value validation (no warning for odd UIDs)."""
    element = ds.get_item(keyword)
    if element is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return str(value).strip(" \x00") if value is not None else ""


@dataclass(eq=False)
class SeriesSlice:
    """One file of a series, read without pixel data, as plain values.

    Built by :func:`series_slice` from a pydicom header, or by the series reader from
    :func:`~datamint.readers.dicom_header_scan.scan_header` values; the rules below only
    read these fields, so both give the same checks, order and geometry. Arrays may be
    read-only: slices with equal raw values share one.

    Args:
        member: Its name inside the archive or folder.
        uid: (0008,0018) SOP Instance UID, else the member name in angle brackets.
        series_uid: (0020,000E) Series Instance UID (``""`` when absent).
        grid: The values of :data:`GRID_KEYWORDS` as pydicom reports them (``None``
            when absent): Rows, Columns, Samples per Pixel, Bits Allocated, Pixel
            Representation (ints), Photometric Interpretation (str).
        position_mm: (0020,0032) Image Position (Patient), LPS, float64 ``(3,)``.
        orientation: (0020,0037) Image Orientation (Patient), float64 ``(6,)``.
        spacing_mm: (0028,0030) Pixel Spacing (row, column), float64 ``(2,)``, or
            ``None`` when absent or malformed.
        rescale: ``(slope, intercept)`` as :func:`~datamint.readers.dicom_pixels.rescale_of`.
        dataset: The pydicom header when the file was parsed by pydicom, else ``None``.
        layout_key: For a scanned file, the raw values that decide its pixel layout
            (shape and dtype), so equal files share one computation; ``None`` otherwise.
        along_mm: ``position_mm`` projected on the slice normal (set by :func:`order_series`).
    """

    member: str
    uid: str
    series_uid: str
    grid: tuple[object, ...]
    position_mm: np.ndarray
    orientation: np.ndarray
    spacing_mm: np.ndarray | None
    rescale: tuple[float | None, float | None]
    dataset: Dataset | None = None
    layout_key: tuple[bytes | None, ...] | None = None
    along_mm: float = 0.0


def series_slice(ds: Dataset, member: str, path: Path) -> SeriesSlice:
    """Check one pydicom header's position, orientation and frame count; wrap it.

    Raises:
        InvalidResourceError: If (0020,0032) or (0020,0037) is missing or malformed, or
            the instance is multi-frame.
    """
    uid = text(ds, "SOPInstanceUID") or f"<{member}>"
    position = floats(ds.get("ImagePositionPatient"), 3)
    orientation = floats(ds.get("ImageOrientationPatient"), 6)
    if position is None or orientation is None:
        raise InvalidResourceError(
            f"'{path}': instance {uid} lacks a valid (0020,0032) Image Position (Patient) "
            "or (0020,0037) Image Orientation (Patient); a series cannot be ordered"
        )
    if int(ds.get("NumberOfFrames") or 1) > 1:
        raise InvalidResourceError(
            f"'{path}': instance {uid} is multi-frame; a series holds single-frame files"
        )
    return SeriesSlice(
        member,
        uid,
        text(ds, "SeriesInstanceUID"),
        tuple(ds.get(keyword) for keyword in GRID_KEYWORDS),
        position,
        orientation,
        floats(ds.get("PixelSpacing"), 2),
        rescale_of(ds),
        dataset=ds,
    )


def _check_one_series(slices: list[SeriesSlice], path: Path) -> None:
    groups: dict[str, list[SeriesSlice]] = defaultdict(list)
    for item in slices:
        groups[item.series_uid].append(item)
    if len(groups) == 1:
        return
    listing = "; ".join(
        f"{uid or '<no Series Instance UID>'}: {len(items)} file(s), e.g. "
        + ", ".join(s.uid for s in items[:3])
        for uid, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )
    raise InvalidResourceError(
        f"'{path}' holds {len(groups)} series ((0020,000E) Series Instance UID); a volume is "
        f"one series, upload each separately: {listing}"
    )


def _check_one_grid(slices: list[SeriesSlice], path: Path) -> None:
    first = slices[0]
    for item in slices[1:]:
        if item.grid != first.grid:
            for keyword, value, expected in zip(GRID_KEYWORDS, item.grid, first.grid, strict=True):
                if value != expected:
                    raise InvalidResourceError(
                        f"'{path}': instance {item.uid} has {keyword} {value!r}, expected "
                        f"{expected!r} as in instance {first.uid}"
                    )
        if item.orientation is first.orientation:  # one array shared by equal raw values
            continue
        if np.max(np.abs(item.orientation - first.orientation)) > _ORIENTATION_TOLERANCE:
            raise InvalidResourceError(
                f"'{path}': instance {item.uid} has (0020,0037) Image Orientation (Patient) "
                f"{item.orientation.tolist()}, expected {first.orientation.tolist()} as in "
                f"instance {first.uid} (tolerance {_ORIENTATION_TOLERANCE}); mixed orientations "
                "are not one volume"
            )


def _check_spacing(ordered: list[SeriesSlice], path: Path) -> None:
    if len(ordered) < 3:
        return
    # Plain floats: for a few hundred slices numpy's per-call cost exceeds the work.
    steps = [after.along_mm - before.along_mm for before, after in itertools.pairwise(ordered)]
    median = statistics.median(steps)  # as numpy.median: middle value, or mean of the two
    tolerance = 1e-2 + 1e-2 * median
    for (before, after), step in zip(itertools.pairwise(ordered), steps, strict=True):
        missing_slice = step > _MISSING_FACTOR * median
        if not missing_slice and abs(step - median) <= tolerance:
            continue
        where = (
            f"between instances {before.uid} ({before.along_mm:.4f} mm along the normal) and "
            f"{after.uid} ({after.along_mm:.4f} mm)"
        )
        if missing_slice:
            missing = max(1, round(step / median) - 1)
            raise InvalidResourceError(
                f"'{path}': about {missing} slice(s) missing {where}: a gap of {step:.4g} mm "
                f"where the series steps {median:.4g} mm"
            )
        raise InvalidResourceError(
            f"'{path}': slices are unevenly spaced {where}: a step of {step:.4g} mm where "
            f"the series steps {median:.4g} mm (tolerance {tolerance:.3g} mm)"
        )


def _geometry(ordered: list[SeriesSlice], path: Path) -> Geometry:
    first = ordered[0]
    spacing = first.spacing_mm
    if spacing is None or np.any(spacing <= 0):
        raise InvalidResourceError(
            f"'{path}': instance {first.uid} lacks a positive (0028,0030) Pixel Spacing"
        )
    count = len(ordered)
    step = None if count == 1 else (ordered[-1].position_mm - first.position_mm) / (count - 1)
    row, column = first.orientation[:3], first.orientation[3:]
    try:
        affine = affine_from_plane(first.position_mm, row, column, spacing, step)
    except ValueError as exc:
        raise InvalidResourceError(f"'{path}': instance {first.uid}: {exc}") from exc
    n_axis = NAxis.SPACE if count > 1 else NAxis.SINGLE
    return Geometry(lps_to_ras(affine), "RAS", None, n_axis, Calibration.PATIENT)


def _cross(orientation: np.ndarray) -> np.ndarray:
    """The slice normal: row cosine x column cosine, as ``numpy.cross`` computes it
    (same products and differences, without its ~10 us of overhead)."""
    r0, r1, r2, c0, c1, c2 = orientation.tolist()
    return np.array([r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0])


def order_series(slices: list[SeriesSlice], path: Path) -> tuple[list[SeriesSlice], Geometry]:
    """Check the rules of the module docstring and return the slices in volume order.

    Args:
        slices: Every DICOM image file of the resource, from :func:`series_slice`.
        path: The resource, for messages.

    Returns:
        The slices sorted along the normal (slice k of the array is the k-th), and the
        RAS geometry of the volume.

    Raises:
        InvalidResourceError: If there is no slice, several series, mixed grids or
            orientations, two slices at one position, a missing slice or uneven spacing.
    """
    if not slices:
        raise InvalidResourceError(f"'{path}' contains no DICOM image file")
    _check_one_series(slices, path)
    _check_one_grid(slices, path)
    normal = _cross(slices[0].orientation)
    along = np.array([item.position_mm for item in slices]) @ normal
    for item, value in zip(slices, along.tolist(), strict=True):
        item.along_mm = value
    ordered = sorted(slices, key=lambda s: s.along_mm)
    for before, after in itertools.pairwise(ordered):
        if after.along_mm - before.along_mm < _SAME_POSITION_MM:
            raise InvalidResourceError(
                f"'{path}': instances {before.uid} and {after.uid} are at the same position "
                f"({before.along_mm:.4f} mm along the normal); one series, one slice per position"
            )
    _check_spacing(ordered, path)
    return ordered, _geometry(ordered, path)
