"""Geometry of one DICOM instance (single- or multi-frame), from its tags.

Sources, in order:

1. Enhanced multi-frame (PS3.3 C.7.6.16): per frame, from the Per-Frame Functional
   Groups Sequence (5200,9230), else the Shared Functional Groups Sequence (5200,9229):
   Plane Position Sequence > (0020,0032) Image Position (Patient), Plane Orientation
   Sequence > (0020,0037) Image Orientation (Patient), Pixel Measures Sequence >
   (0028,0030) Pixel Spacing.
2. Classic: the same three elements at the top level. A multi-frame RT Dose (PS3.3
   C.8.8.3.2) gives each frame's position with (3004,000C) Grid Frame Offset Vector: when
   its first value is 0 the offsets (mm) are relative to (0020,0032) Image Position
   (Patient) along the normal of (0020,0037) (the cross product of the row and column
   cosines); when it equals the third value of Image Position (Patient) (allowed for
   axial grids only) the offsets are patient z coordinates; any other vector is read
   relative to its first value, with a warning.

With position, orientation and spacing, the geometry is ``Calibration.PATIENT`` in RAS
(the LPS tags pass through :func:`~datamint.geometry.lps_to_ras`). Frames whose
positions advance along the normal are slices (``NAxis.SPACE``, step = mean step
between the first and last frame, in file order); frames at one position are time
(``NAxis.TIME``); one frame is ``NAxis.SINGLE``.

Missing position or orientation: ``Calibration.SPACING`` from (0028,0030) Pixel Spacing,
else (0018,1164) Imager Pixel Spacing (at the detector plane). Missing, zero or
negative spacing too: no spatial geometry at all. Never an identity affine in mm.
(0018,6011) Sequence of Ultrasound Regions is not used (regions may differ).

Frame interval, when N > 1: (0018,1063) Frame Time (ms), else the mean of (0018,1065)
Frame Time Vector (ms), else (0018,0040) Cine Rate or (0008,2144) Recommended Display
Frame Rate (frames/s). A multi-frame file with only a frame interval gets a
``Calibration.PIXEL`` geometry carrying it; with nothing at all, ``None``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from datamint.exceptions import DatamintWarning
from datamint.geometry import Calibration, Geometry, NAxis, affine_from_plane, lps_to_ras

__all__ = ["dataset_geometry", "floats", "frame_interval_s"]

# Positions closer than this along the normal are one location (mm).
_SAME_POSITION_MM = 1e-3


def floats(value: Any, count: int) -> np.ndarray | None:
    """A DICOM multi-value as float64 ``(count,)``, or ``None`` if absent or malformed."""
    if value is None or value == "":
        return None
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape != (count,) or not np.all(np.isfinite(arr)):
        return None
    return arr


def _spacing(*candidates: Any) -> np.ndarray | None:
    """The first candidate that is two positive finite numbers (mm), else ``None``."""
    for candidate in candidates:
        spacing = floats(candidate, 2)
        if spacing is not None and np.all(spacing > 0):
            return spacing
    return None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) and number > 0 else None


def frame_interval_s(ds: Dataset) -> float | None:
    """Seconds between frames from the tags in the module docstring, or ``None``."""
    frame_time_ms = _positive(ds.get("FrameTime"))
    if frame_time_ms is not None:
        return frame_time_ms / 1000.0
    vector = ds.get("FrameTimeVector")
    if vector not in (None, "") and len(vector) > 1:
        mean_ms = _positive(np.mean([_positive(v) or 0.0 for v in list(vector)[1:]]))
        if mean_ms is not None:
            return mean_ms / 1000.0
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        rate = _positive(ds.get(keyword))
        if rate is not None:
            return 1.0 / rate
    return None


def _item(sequence_owner: Dataset | None, keyword: str) -> Dataset | None:
    if sequence_owner is None or keyword not in sequence_owner:
        return None
    sequence = sequence_owner.get(keyword)
    return sequence[0] if sequence else None


def _functional(frame: Dataset | None, shared: Dataset | None, sequence: str, keyword: str) -> Any:
    for owner in (frame, shared):
        item = _item(owner, sequence)
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def _grid_frame_positions(
    ds: Dataset, frames: int, position: np.ndarray, orientation: np.ndarray, path: Path
) -> list[np.ndarray] | None:
    """Each frame's position (LPS, mm) from (3004,000C) Grid Frame Offset Vector, or
    ``None`` when the vector is absent or has fewer than ``frames`` numbers (module
    docstring)."""
    raw = ds.get("GridFrameOffsetVector")
    if raw in (None, "") or frames < 2:
        return None
    offsets = floats(list(raw)[:frames] if not isinstance(raw, str | float) else [raw], frames)
    if offsets is None:
        return None
    normal = np.cross(orientation[:3], orientation[3:])
    if offsets[0] == 0.0:
        return [position + d * normal for d in offsets]
    axial = np.allclose(orientation, [1, 0, 0, 0, 1, 0], atol=1e-4)
    if axial and abs(offsets[0] - position[2]) < _SAME_POSITION_MM:
        return [np.array([position[0], position[1], z]) for z in offsets]
    _warn(
        path,
        f"(3004,000C) Grid Frame Offset Vector starts at {offsets[0]:g}, neither 0 nor the "
        "z of (0020,0032) Image Position (Patient) on an axial grid; read relative to it",
    )
    return [position + (d - offsets[0]) * normal for d in offsets]


def _plane_per_frame(
    ds: Dataset, frames: int, path: Path
) -> tuple[list[np.ndarray | None], list[np.ndarray | None], np.ndarray | None]:
    """Positions, orientations and the first spacing found, per frame."""
    if "PerFrameFunctionalGroupsSequence" not in ds:
        position = floats(ds.get("ImagePositionPatient"), 3)
        orientation = floats(ds.get("ImageOrientationPatient"), 6)
        spacing = _spacing(ds.get("PixelSpacing"), ds.get("ImagerPixelSpacing"))
        grid = None
        if position is not None and orientation is not None:
            grid = _grid_frame_positions(ds, frames, position, orientation, path)
        positions: list[np.ndarray | None] = list(grid) if grid else [position] * frames
        return positions, [orientation] * frames, spacing
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    per_frame = list(ds.PerFrameFunctionalGroupsSequence)
    positions, orientations, spacing = [], [], None
    for index in range(frames):
        frame = per_frame[index] if index < len(per_frame) else None
        positions.append(
            floats(_functional(frame, shared, "PlanePositionSequence", "ImagePositionPatient"), 3)
        )
        orientations.append(
            floats(
                _functional(frame, shared, "PlaneOrientationSequence", "ImageOrientationPatient"),
                6,
            )
        )
        if spacing is None:
            spacing = _spacing(_functional(frame, shared, "PixelMeasuresSequence", "PixelSpacing"))
    return positions, orientations, spacing


def _warn(path: Path, message: str) -> None:
    warnings.warn(f"'{path}': {message}", DatamintWarning, stacklevel=4)


def _slice_axis(
    positions: Sequence[np.ndarray], normal: np.ndarray, path: Path
) -> tuple[NAxis, np.ndarray | None] | None:
    """The n axis and step vector (LPS, mm) from frame positions; ``None`` if irregular."""
    if len(positions) == 1:
        return NAxis.SINGLE, None
    along = np.array([p @ normal for p in positions])
    steps = np.diff(along)
    if np.all(np.abs(steps) < _SAME_POSITION_MM):
        return NAxis.TIME, None
    if not (np.all(steps > _SAME_POSITION_MM) or np.all(steps < -_SAME_POSITION_MM)):
        _warn(
            path,
            "frame positions do not advance monotonically along the normal; "
            "no single affine describes them (only the spacing is used)",
        )
        return None
    mean = (along[-1] - along[0]) / (len(along) - 1)
    if np.max(np.abs(steps - mean)) > 1e-2 + 1e-2 * abs(mean):
        _warn(
            path,
            f"slices are unevenly spaced ({steps.min():.4g} to {steps.max():.4g} mm); "
            f"the affine uses the mean step {mean:.4g} mm",
        )
    return NAxis.SPACE, (positions[-1] - positions[0]) / (len(positions) - 1)


def _patient_geometry(
    positions: Sequence[np.ndarray | None],
    orientations: Sequence[np.ndarray | None],
    spacing: np.ndarray,
    interval: float | None,
    path: Path,
) -> Geometry | None:
    known_positions = [p for p in positions if p is not None]
    known_orientations = [o for o in orientations if o is not None]
    if len(known_positions) < len(positions) or len(known_orientations) < len(orientations):
        return None
    first = known_orientations[0]
    if any(np.max(np.abs(o - first)) > 1e-4 for o in known_orientations):
        _warn(
            path,
            "(0020,0037) Image Orientation (Patient) differs between frames; "
            "only the spacing is used",
        )
        return None
    row, col = first[:3], first[3:]
    axis = _slice_axis(known_positions, np.cross(row, col), path)
    if axis is None:
        return None
    n_axis, step = axis
    try:
        affine = affine_from_plane(known_positions[0], row, col, spacing, step)
    except ValueError as exc:
        _warn(path, f"invalid plane geometry ({exc}); only the spacing is used")
        return None
    return Geometry(
        lps_to_ras(affine),
        "RAS",
        interval if n_axis is NAxis.TIME else None,
        n_axis,
        Calibration.PATIENT,
    )


def dataset_geometry(ds: Dataset, frames: int, path: Path) -> Geometry | None:
    """Geometry of a ``(C, frames, H, W)`` array decoded from ``ds`` (rules: module docstring).

    Args:
        ds: The dataset (pixel data not needed).
        frames: N, the number of frames.
        path: The file, for warnings.

    Returns:
        A RAS :class:`~datamint.geometry.Geometry`, or ``None`` when the file has
        neither spacing nor a frame interval.

    Warns:
        DatamintWarning: If orientations differ between frames or are not orthonormal,
            or frame positions are irregular; the geometry then degrades as documented.
    """
    interval = frame_interval_s(ds) if frames > 1 else None
    positions, orientations, spacing = _plane_per_frame(ds, frames, path)
    if spacing is not None:
        geometry = _patient_geometry(positions, orientations, spacing, interval, path)
        if geometry is not None:
            return geometry
        n_axis = NAxis.SINGLE if frames == 1 else NAxis.TIME
        return Geometry(
            np.diag([1.0, spacing[0], spacing[1], 1.0]),
            "RAS",
            interval,
            n_axis,
            Calibration.SPACING,
        )
    if interval is not None:
        return Geometry(np.eye(4), "RAS", interval, NAxis.TIME, Calibration.PIXEL)
    return None
