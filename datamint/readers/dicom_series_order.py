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
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from datamint.exceptions import InvalidResourceError
from datamint.geometry import Calibration, Geometry, NAxis, affine_from_plane, lps_to_ras
from datamint.readers.dicom_geometry import floats

__all__ = ["SeriesSlice", "order_series", "series_slice", "text"]

_SAME_KEYWORDS = (
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


@dataclass
class SeriesSlice:
    """One file of a series, read without pixel data.

    Args:
        member: Its name inside the archive or folder.
        dataset: Its header (pixel data not read).
        position_mm: (0020,0032) Image Position (Patient), LPS, float64 ``(3,)``.
        orientation: (0020,0037) Image Orientation (Patient), float64 ``(6,)``.
        along_mm: ``position_mm`` projected on the slice normal (set by :func:`order_series`).
    """

    member: str
    dataset: Dataset
    position_mm: np.ndarray
    orientation: np.ndarray
    along_mm: float = 0.0

    @property
    def uid(self) -> str:
        """(0008,0018) SOP Instance UID, else the member name in angle brackets."""
        return text(self.dataset, "SOPInstanceUID") or f"<{self.member}>"


def series_slice(ds: Dataset, member: str, path: Path) -> SeriesSlice:
    """Check one file's position, orientation and frame count; wrap it.

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
    return SeriesSlice(member, ds, position, orientation)


def _check_one_series(slices: list[SeriesSlice], path: Path) -> None:
    groups: dict[str, list[SeriesSlice]] = defaultdict(list)
    for item in slices:
        groups[text(item.dataset, "SeriesInstanceUID")].append(item)
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
    reference = {keyword: first.dataset.get(keyword) for keyword in _SAME_KEYWORDS}
    for item in slices[1:]:
        for keyword, expected in reference.items():
            value = item.dataset.get(keyword)
            if value != expected:
                raise InvalidResourceError(
                    f"'{path}': instance {item.uid} has {keyword} {value!r}, expected "
                    f"{expected!r} as in instance {first.uid}"
                )
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
    steps = np.diff([s.along_mm for s in ordered])
    median = float(np.median(steps))
    tolerance = 1e-2 + 1e-2 * median
    for (before, after), step in zip(itertools.pairwise(ordered), steps, strict=True):
        where = (
            f"between instances {before.uid} ({before.along_mm:.4f} mm along the normal) and "
            f"{after.uid} ({after.along_mm:.4f} mm)"
        )
        if step > _MISSING_FACTOR * median:
            missing = max(1, round(step / median) - 1)
            raise InvalidResourceError(
                f"'{path}': about {missing} slice(s) missing {where}: a gap of {step:.4g} mm "
                f"where the series steps {median:.4g} mm"
            )
        if abs(step - median) > tolerance:
            raise InvalidResourceError(
                f"'{path}': slices are unevenly spaced {where}: a step of {step:.4g} mm where "
                f"the series steps {median:.4g} mm (tolerance {tolerance:.3g} mm)"
            )


def _geometry(ordered: list[SeriesSlice], path: Path) -> Geometry:
    first = ordered[0]
    spacing = floats(first.dataset.get("PixelSpacing"), 2)
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
    normal = np.cross(slices[0].orientation[:3], slices[0].orientation[3:])
    for item in slices:
        item.along_mm = float(item.position_mm @ normal)
    ordered = sorted(slices, key=lambda s: s.along_mm)
    for before, after in itertools.pairwise(ordered):
        if after.along_mm - before.along_mm < _SAME_POSITION_MM:
            raise InvalidResourceError(
                f"'{path}': instances {before.uid} and {after.uid} are at the same position "
                f"({before.along_mm:.4f} mm along the normal); one series, one slice per position"
            )
    _check_spacing(ordered, path)
    return ordered, _geometry(ordered, path)
