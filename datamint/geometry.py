"""Where voxels are in the patient: the one home of datamint's coordinate convention.

Array layout
    Every decoded array is ``(C, N, H, W)``: C channels, N slices or frames, H rows,
    W columns. Items drop axes they do not need (images ``(C, H, W)``).

Affine
    A :class:`Geometry` holds a float64 ``(4, 4)`` affine that maps **our array
    index** ``(n, h, w, 1)`` (not a file's voxel index) to patient coordinates in mm.
    The space is named (``"RAS"`` or ``"LPS"``); the readers always emit ``"RAS"``,
    NIfTI's world space. DICOM is LPS; :func:`lps_to_ras` is the only place that
    flips between the two.

    A NIfTI file's affine maps its voxel index ``(x, y, z)`` = ``(w, h, n)``;
    :func:`reverse_index_axes` turns one into the other (it is its own inverse).

Derived, never stored twice
    ``spacing_mm``, ``origin_mm`` and ``direction`` are computed from the affine,
    ordered like the array axes ``(n, h, w)``. What the n axis means is the field
    ``n_axis``: slices in space, frames in time, or a single 2-D image (then the n
    spacing is ``None``, never a sentinel). How much of the affine is physical is the
    field ``calibration``; a reader never claims mm it does not have.

Slices
    :meth:`Geometry.slice` gives the geometry of one 2-D slice ``(h, w)``, ``(n, w)``
    or ``(n, h)`` as a 2-D image's. The page ``docs/geometry.md`` tells the whole story.

Helpers
    The LPS/RAS flip, the index reversal, :func:`affine_from_plane` and the axis codes
    behind :attr:`Geometry.orientation` live in :mod:`datamint.geometry_frames`; the
    public ones are re-exported here, so ``from datamint.geometry import lps_to_ras``
    keeps working.

Anatomical planes
    Which array axis is axial, coronal or sagittal, the slice order and the in-plane
    display layout (:func:`resolve_plane`, :class:`PlaneView`, :func:`plane_view`) live
    in :mod:`datamint.geometry_planes`; putting a mask stored in another axis order on
    its image's grid (:func:`same_grid`, :class:`GridMap`) in
    :mod:`datamint.geometry_grids`. Both are re-exported here.

Example:
    >>> g = Geometry(np.diag([5.0, 0.7, 0.7, 1.0]))
    >>> g.spacing_mm
    (5.0, 0.7, 0.7)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datamint.geometry_frames import (
    SPACES,
    affine_from_plane,
    as_affine,
    lps_to_ras,
    orientation_codes,
    ras_to_lps,
    reverse_index_axes,
)
from datamint.geometry_grids import GridMap, same_grid
from datamint.geometry_planes import PLANES, PlaneView, plane_view, resolve_plane

__all__ = [
    "PLANES",
    "Calibration",
    "Geometry",
    "GridMap",
    "NAxis",
    "PlaneView",
    "affine_from_plane",
    "lps_to_ras",
    "plane_view",
    "ras_to_lps",
    "resolve_plane",
    "reverse_index_axes",
    "same_grid",
]


class NAxis(str, enum.Enum):
    """What the n axis of a ``(C, N, H, W)`` array indexes.

    Attributes:
        SPACE: Slices; column 0 of the affine is the step between slices, in mm.
        TIME: Frames of a video or cine loop; column 0 of the affine is a unit vector
            (the plane normal where known) so the affine stays invertible.
        SINGLE: One 2-D image (N = 1); column 0 is a unit vector as for TIME.
    """

    SPACE = "space"
    TIME = "time"
    SINGLE = "single"


class Calibration(str, enum.Enum):
    """How much of a :class:`Geometry`'s affine is physically true.

    Attributes:
        PATIENT: The affine maps the index to patient coordinates in mm, in ``space``.
        SPACING: Only the spacing in mm is known (e.g. DICOM (0028,0030) Pixel Spacing
            without (0020,0032)/(0020,0037)); the affine is diagonal, its origin and
            direction are placeholders, and ``origin_mm`` / ``direction`` are ``None``.
        PIXEL: Nothing physical is known (videos); the affine is the identity in index
            units and ``spacing_mm``, ``origin_mm``, ``direction`` are ``None``.
    """

    PATIENT = "patient"
    SPACING = "spacing"
    PIXEL = "pixel"


@dataclass(frozen=True, eq=False)
class Geometry:
    """Where the voxels of a ``(C, N, H, W)`` array are, and how far apart in time.

    Spacing, origin and direction are derived from ``affine``, never stored twice.
    Instances are immutable (the affine is a read-only copy) and picklable.

    Args:
        affine: float64 ``(4, 4)``; maps our index ``(n, h, w, 1)`` to coordinates in
            mm in ``space`` (see ``calibration`` for how much of that is true).
        space: ``"RAS"`` or ``"LPS"``. Readers emit ``"RAS"``.
        frame_interval_s: Seconds between frames (videos, cine loops), else ``None``.
        n_axis: What the n axis indexes (:class:`NAxis`); default slices in space.
        calibration: How much of the affine is physical (:class:`Calibration`).

    Raises:
        ValueError: If the affine is not a finite, invertible ``(4, 4)`` matrix, the
            space is unknown, or ``frame_interval_s`` is not positive.

    Example:
        >>> Geometry(np.eye(4), n_axis=NAxis.TIME, calibration=Calibration.PIXEL,
        ...          frame_interval_s=1 / 30).spacing_mm is None
        True
    """

    affine: np.ndarray
    space: str = "RAS"
    frame_interval_s: float | None = None
    n_axis: NAxis = NAxis.SPACE
    calibration: Calibration = field(default=Calibration.PATIENT)

    def __post_init__(self) -> None:
        affine = as_affine(self.affine)
        if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
            raise ValueError(f"the affine is singular:\n{affine}")
        affine.flags.writeable = False
        object.__setattr__(self, "affine", affine)
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {self.space!r}")
        if self.frame_interval_s is not None:
            interval = float(self.frame_interval_s)
            if not (np.isfinite(interval) and interval > 0):
                raise ValueError(f"frame_interval_s must be positive, got {interval}")
            object.__setattr__(self, "frame_interval_s", interval)
        object.__setattr__(self, "n_axis", NAxis(self.n_axis))
        object.__setattr__(self, "calibration", Calibration(self.calibration))

    @property
    def spacing_mm(self) -> tuple[float | None, float, float] | None:
        """Spacing along ``(n, h, w)`` in mm: the norms of affine columns 0-2.

        The n entry is ``None`` unless ``n_axis`` is SPACE; the whole value is
        ``None`` when ``calibration`` is PIXEL.
        """
        if self.calibration is Calibration.PIXEL:
            return None
        norms = [float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0)]
        return (norms[0] if self.n_axis is NAxis.SPACE else None, norms[1], norms[2])

    @property
    def origin_mm(self) -> tuple[float, float, float] | None:
        """Coordinates of voxel ``(0, 0, 0)`` in mm in ``space``; ``None`` unless PATIENT."""
        if self.calibration is not Calibration.PATIENT:
            return None
        return tuple(float(v) for v in self.affine[:3, 3])  # type: ignore[return-value]

    @property
    def direction(self) -> np.ndarray | None:
        """float64 ``(3, 3)``: unit vectors of the n, h, w axes as columns, in ``space``.

        ``None`` unless ``calibration`` is PATIENT.
        """
        if self.calibration is not Calibration.PATIENT:
            return None
        linear = self.affine[:3, :3]
        unit: np.ndarray = linear / np.linalg.norm(linear, axis=0)
        return unit

    @property
    def orientation(self) -> str | None:
        """Axis codes of ``(n, h, w)``, e.g. ``"SPR"`` (where each axis points)."""
        direction = self.direction
        if direction is None:
            return None
        return orientation_codes(direction, self.space)

    def to_space(self, space: str) -> Geometry:
        """Return the same geometry expressed in ``space`` (``"RAS"`` or ``"LPS"``).

        Args:
            space: ``"RAS"`` or ``"LPS"``.

        Raises:
            ValueError: If ``space`` is unknown.
        """
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}")
        if space == self.space:
            return self
        return Geometry(
            lps_to_ras(self.affine), space, self.frame_interval_s, self.n_axis, self.calibration
        )

    def slice(self, axis: int, index: int) -> Geometry | None:
        """Geometry of one 2-D slice of the ``(C, N, H, W)`` array, as a 2-D image's.

        ``axis`` 0 takes ``array[:, index]`` (rows h, columns w), 1 ``array[:, :, index]``
        (rows n, columns w), 2 ``array[:, :, :, index]`` (rows n, columns h). The result
        has ``n_axis`` SINGLE and no frame interval; its affine maps the slice's ``(0,
        row, column)`` to the mm the parent maps the voxel to, with column 0 the unit
        normal ``column axis x row axis`` (DICOM's row cosine x column cosine). So
        ``spacing_mm[1:]`` is the 2-D spacing ``(row, column)`` in mm and ``origin_mm``
        the position of pixel ``(0, 0)``. ``Calibration.SPACING`` keeps its placeholders
        (diagonal affine, origin 0); ``PIXEL`` stays the identity.

        Args:
            axis: 0, 1 or 2, the axis of ``(n, h, w)`` that is fixed.
            index: Position along that axis, ``>= 0`` (0 for a SINGLE geometry).

        Returns:
            The slice geometry; ``None`` for axis 1 or 2 when ``n_axis`` is not SPACE
            (the slice's rows would be frames in time, which no mm affine describes).

        Raises:
            ValueError: If ``axis`` is not 0, 1 or 2, ``index`` is negative, or a SINGLE
                geometry is sliced at ``index > 0``.

        Example:
            >>> g = Geometry(np.diag([5.0, 0.7, 0.6, 1.0])).slice(0, 3)
            >>> g.spacing_mm, g.origin_mm
            ((None, 0.7, 0.6), (15.0, 0.0, 0.0))
        """
        if axis not in (0, 1, 2) or isinstance(axis, bool):
            raise ValueError(f"slice axis must be 0, 1 or 2 of (n, h, w), got {axis!r}")
        if index < 0 or (self.n_axis is NAxis.SINGLE and axis == 0 and index > 0):
            raise ValueError(f"slice index {index} is out of range for {self!r}")
        if axis > 0 and self.n_axis is not NAxis.SPACE:
            return None
        rows, cols = {0: (1, 2), 1: (0, 2), 2: (0, 1)}[axis]
        if self.calibration is Calibration.PIXEL:
            return Geometry(np.eye(4), self.space, None, NAxis.SINGLE, self.calibration)
        linear = self.affine[:3, :3]
        if self.calibration is Calibration.SPACING:
            norms = np.linalg.norm(linear, axis=0)
            diagonal = np.diag([1.0, norms[rows], norms[cols], 1.0])
            return Geometry(diagonal, self.space, None, NAxis.SINGLE, self.calibration)
        voxel = np.zeros(4)
        voxel[3] = 1.0
        voxel[axis] = index if self.n_axis is NAxis.SPACE else 0  # frames share one plane
        normal = np.cross(linear[:, cols], linear[:, rows])
        affine = np.eye(4)
        affine[:3, 0] = normal / np.linalg.norm(normal)
        affine[:3, 1], affine[:3, 2] = linear[:, rows], linear[:, cols]
        affine[:, 3] = self.affine @ voxel
        return Geometry(affine, self.space, None, NAxis.SINGLE, self.calibration)

    def is_close(self, other: Geometry, atol_mm: float = 1e-3) -> bool:
        """Whether ``other`` describes the same grid, within ``atol_mm`` per entry.

        Compares in this geometry's space; ``n_axis``, ``calibration`` and the frame
        interval (relative tolerance 1e-6) must match too.

        Args:
            other: The geometry to compare with (any space).
            atol_mm: Absolute tolerance per affine entry, in mm.
        """
        other = other.to_space(self.space)
        if (self.n_axis, self.calibration) != (other.n_axis, other.calibration):
            return False
        mine, theirs = self.frame_interval_s, other.frame_interval_s
        if mine is None or theirs is None:
            if mine is not theirs:
                return False
        elif not np.isclose(mine, theirs, rtol=1e-6, atol=0.0):
            return False
        return bool(np.allclose(self.affine, other.affine, rtol=0.0, atol=atol_mm))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; :meth:`from_dict` reads it back exactly."""
        return {
            "affine": self.affine.tolist(),
            "space": self.space,
            "frame_interval_s": self.frame_interval_s,
            "n_axis": self.n_axis.value,
            "calibration": self.calibration.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Geometry:
        """Rebuild a geometry from :meth:`to_dict` output.

        Args:
            data: A mapping with ``affine`` (4x4) and optionally ``space``,
                ``frame_interval_s``, ``n_axis`` and ``calibration``.

        Raises:
            KeyError: If ``affine`` is missing.
            ValueError: If a value is invalid (see the class).
        """
        return cls(
            np.asarray(data["affine"], dtype=np.float64),
            data.get("space", "RAS"),
            data.get("frame_interval_s"),
            NAxis(data.get("n_axis", NAxis.SPACE.value)),
            Calibration(data.get("calibration", Calibration.PATIENT.value)),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Geometry):
            return NotImplemented
        return (
            self.space == other.space
            and self.frame_interval_s == other.frame_interval_s
            and self.n_axis is other.n_axis
            and self.calibration is other.calibration
            and bool(np.array_equal(self.affine, other.affine))
        )

    __hash__ = None  # type: ignore[assignment]  # holds an ndarray: not hashable

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through __init__ so an unpickled affine is read-only and validated.
        args = (self.affine, self.space, self.frame_interval_s, self.n_axis, self.calibration)
        return (type(self), args)

    def __repr__(self) -> str:
        def fmt(values: Sequence[float | None] | None) -> str:
            if values is None:
                return "None"
            return "(" + ", ".join("None" if v is None else f"{v:.4g}" for v in values) + ")"

        parts = [
            f"space={self.space}",
            f"n_axis={self.n_axis.value}",
            f"calibration={self.calibration.value}",
            f"spacing_mm={fmt(self.spacing_mm)}",
        ]
        if self.calibration is Calibration.PATIENT:
            parts += [f"origin_mm={fmt(self.origin_mm)}", f"orientation={self.orientation}"]
        if self.frame_interval_s is not None:
            parts.append(f"frame_interval_s={self.frame_interval_s:.6g}")
        return f"Geometry({', '.join(parts)})"
