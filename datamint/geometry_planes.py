"""Anatomical planes: which array axis is axial, coronal or sagittal, and how to show it.

A volume can be stored in any axis order: a NIfTI written coronally has its third file
axis along A-P, a DICOM series acquired sagittally steps from patient right to left.
:func:`resolve_plane` reads the RAS affine of a ``(n, h, w)`` index and answers, for one
plane, with a :class:`PlaneView`: the array axis to slice along, the order of the slices,
and which remaining axis becomes the rows and which the columns of the 2-D item, with
the flips that put it in the display convention below. The view then takes slices
(:meth:`PlaneView.take`), reorders a whole volume (:meth:`PlaneView.reorient`) and gives
their affines, always as numpy views, never copies.

Which axis
    Each array axis is paired with one anatomical direction (R-L, A-P or S-I), one to
    one: of the six pairings, the one with the largest sum of ``|cos|`` between each
    axis's direction (an affine column, normalised) and its anatomical direction. Axial
    slices along the axis paired with S-I, coronal along A-P, sagittal along R-L. When
    every axis lies within 45 degrees of a different anatomical direction (any volume
    short of a pathological obliquity) that axis is simply the one closest to the plane
    normal; beyond, the pairing keeps the three planes on three different axes. At an
    exact tie (an axis at 45 degrees between two directions) S-I takes the lowest array
    axis, then A-P.

Slice order
    Slice index k increases toward superior (axial), anterior (coronal) and patient
    right (sagittal), whatever the stored order.

Display convention (radiological, as most viewers and DICOM itself show images)
    ========  =================================  ==================================
    plane     rows (row 0 at the top)             columns (column 0 at the left)
    ========  =================================  ==================================
    axial     anterior to posterior               patient right to patient left
    coronal   superior to inferior                patient right to patient left
    sagittal  superior to inferior                anterior to posterior
    ========  =================================  ==================================

    An axial DICOM series (Image Orientation (Patient) ``1,0,0,0,1,0``) is already in
    this layout; an RAS-stored NIfTI has its rows and columns flipped.

Integer axes
    ``resolve_plane(affine, 0 | 1 | 2)`` is the raw array axis of ``(n, h, w)``, slices
    in stored order, rows and columns the two remaining axes in array order, no flip
    (what :meth:`datamint.geometry.Geometry.slice` slices). It needs no affine.

Example:
    A NIfTI stored coronally (file axes L, S, A, so n -> A, h -> S, w -> L):

    >>> affine = np.eye(4)[:, [1, 2, 0, 3]] * [1.0, 1.0, -1.0, 1.0]
    >>> view = resolve_plane(affine, "axial")
    >>> view.axis, view.reverse, (view.row_axis, view.row_flip), (view.col_axis, view.col_flip)
    (1, False, (0, True), (2, False))
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from datamint.geometry_frames import as_affine

if TYPE_CHECKING:
    from datamint.geometry import Geometry

__all__ = ["PLANES", "PlaneView", "anatomical_axes", "plane_view", "resolve_plane"]

#: The anatomical plane names :func:`resolve_plane` accepts.
PLANES = ("axial", "coronal", "sagittal")

# RAS world axes: 0 = R-L (x), 1 = A-P (y), 2 = S-I (z).
_R, _A, _S = 0, 1, 2

# Per plane: (world axis of the normal, world axis along rows, world axis along columns).
# Slices increase toward +normal; rows and columns both run toward the negative world
# direction (posterior / inferior / left), which is the display convention above.
_LAYOUT = {
    "axial": (_S, _A, _R),
    "coronal": (_A, _S, _R),
    "sagittal": (_R, _S, _A),
}

# Pairings of (S-I, A-P, R-L) with array axes, in tie-break order: S-I takes the lowest
# axis first, then A-P.
_PAIRINGS = tuple(itertools.permutations((0, 1, 2)))


def anatomical_axes(affine: Any) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Pair each RAS world direction with one array axis (rule: module docstring).

    Args:
        affine: float64 ``(4, 4)`` mapping the index ``(n, h, w, 1)`` to RAS mm.

    Returns:
        ``(axes, signs)``: ``axes[d]`` is the array axis (0, 1, 2 of ``(n, h, w)``)
        paired with world direction ``d`` (0 R-L, 1 A-P, 2 S-I); ``signs[d]`` is +1 when
        that axis's index increases toward R, A or S respectively, -1 otherwise.

    Raises:
        ValueError: If ``affine`` is not a finite ``(4, 4)`` matrix or is singular.
    """
    matrix = as_affine(affine)[:3, :3]
    norms = np.linalg.norm(matrix, axis=0)
    if abs(np.linalg.det(matrix)) < 1e-12 or np.any(norms == 0):
        raise ValueError(f"the affine is singular:\n{as_affine(affine)}")
    cosines = matrix / norms  # [world direction, array axis]
    best, best_score = _PAIRINGS[0], -1.0
    for s_axis, a_axis, r_axis in _PAIRINGS:
        score = abs(cosines[_S, s_axis]) + abs(cosines[_A, a_axis]) + abs(cosines[_R, r_axis])
        if score > best_score + 1e-9:
            best, best_score = (s_axis, a_axis, r_axis), score
    s_axis, a_axis, r_axis = best
    axes = (r_axis, a_axis, s_axis)
    signs = tuple(1 if cosines[d, axes[d]] >= 0 else -1 for d in range(3))
    return axes, signs  # type: ignore[return-value]


@dataclass(frozen=True)
class PlaneView:
    """How to cut 2-D items of one plane out of an array whose last axes are ``(n, h, w)``.

    Build it with :func:`resolve_plane` or :func:`plane_view`. Item ``k`` (0-based, in
    anatomical order) is stored slice :meth:`stored_index` along ``axis``; its rows run
    along ``row_axis`` and its columns along ``col_axis``, each reversed when flagged.

    Attributes:
        plane: What was asked: ``"axial"``, ``"coronal"``, ``"sagittal"`` or 0, 1, 2.
        axis: The array axis (0, 1, 2 of ``(n, h, w)``) sliced along.
        reverse: Whether item 0 is the last stored slice (stored order runs away from
            S, A or R).
        row_axis: The array axis that becomes the item's rows.
        row_flip: Whether row 0 is the last index along ``row_axis``.
        col_axis: The array axis that becomes the item's columns.
        col_flip: Whether column 0 is the last index along ``col_axis``.
        anatomical: ``True`` when the layout follows the anatomical convention; ``False``
            for integer axes and for named planes of a volume without a patient affine
            (:func:`plane_view`), which use stored order with no flip.
    """

    plane: str | int
    axis: int
    reverse: bool
    row_axis: int
    row_flip: bool
    col_axis: int
    col_flip: bool
    anatomical: bool

    def length(self, shape: tuple[int, ...]) -> int:
        """Number of items: the size along :attr:`axis`.

        Args:
            shape: The array's shape; its last three entries are ``(n, h, w)``, so a
                ``(C, N, H, W)`` shape works as is.

        Raises:
            ValueError: If ``shape`` has fewer than three entries.
        """
        return int(_nhw(shape)[self.axis])

    def plane_shape(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """``(rows, columns)`` of each item of an array of ``shape`` (last three ``(n, h, w)``).

        Raises:
            ValueError: If ``shape`` has fewer than three entries.
        """
        nhw = _nhw(shape)
        return int(nhw[self.row_axis]), int(nhw[self.col_axis])

    def stored_index(self, k: int, shape: tuple[int, ...]) -> int:
        """Index along :attr:`axis` of the stored array that holds item ``k``.

        Args:
            k: Item index, ``0 <= k < length(shape)``.
            shape: The array's shape (last three ``(n, h, w)``).

        Raises:
            IndexError: If ``k`` is out of range (negative indices are refused, not wrapped).
        """
        count = self.length(shape)
        if isinstance(k, bool) or not 0 <= int(k) < count:
            raise IndexError(f"{self.plane} slice {k!r} is out of range for {count} slices")
        return count - 1 - int(k) if self.reverse else int(k)

    def take(self, volume: np.ndarray, k: int) -> np.ndarray:
        """Item ``k`` of ``volume``: a numpy view ``(..., rows, columns)``, never a copy.

        Args:
            volume: numpy array whose last three axes are ``(n, h, w)``, e.g. an image
                ``(C, N, H, W)`` or masks ``(L, N, H, W)``; leading axes are kept.
            k: Item index in anatomical order (:meth:`stored_index`).

        Returns:
            A view of ``volume`` with shape ``(..., rows, columns)``; flipped axes have
            negative strides, so ``torch.from_numpy`` needs ``np.ascontiguousarray`` first.

        Raises:
            TypeError: If ``volume`` is not a numpy array.
            ValueError: If ``volume`` has fewer than three axes.
            IndexError: If ``k`` is out of range.
        """
        volume = _at_least_3d(volume)
        stored = self.stored_index(k, volume.shape)
        return self._transposed(volume)[..., stored, self._rows, self._cols]

    def reorient(self, volume: np.ndarray) -> np.ndarray:
        """The whole volume in this view's layout, ``(..., slices, rows, columns)``, as a view.

        ``reorient(volume)[..., k, :, :]`` equals ``take(volume, k)``.

        Raises:
            TypeError: If ``volume`` is not a numpy array.
            ValueError: If ``volume`` has fewer than three axes.
        """
        volume = _at_least_3d(volume)
        slices = slice(None, None, -1) if self.reverse else slice(None)
        return self._transposed(volume)[..., slices, self._rows, self._cols]

    def index_affine(self, shape: tuple[int, ...]) -> np.ndarray:
        """float64 ``(4, 4)`` mapping the reoriented index ``(k, row, col, 1)`` to the
        stored ``(n, h, w, 1)`` (a signed permutation plus the offsets of the flips).

        Raises:
            ValueError: If ``shape`` has fewer than three entries.
        """
        nhw = _nhw(shape)
        matrix = np.zeros((4, 4))
        matrix[3, 3] = 1.0
        for new, (old, flipped) in enumerate(
            (
                (self.axis, self.reverse),
                (self.row_axis, self.row_flip),
                (self.col_axis, self.col_flip),
            )
        ):
            matrix[old, new] = -1.0 if flipped else 1.0
            matrix[old, 3] = nhw[old] - 1 if flipped else 0.0
        return matrix

    def reorient_affine(self, affine: Any, shape: tuple[int, ...]) -> np.ndarray:
        """Affine of :meth:`reorient`'s array: maps ``(k, row, col, 1)`` to the mm ``affine``
        maps the same voxel to (same world space).

        Column 0 is the step from item k to k + 1 (toward S, A or R for a named plane),
        columns 1 and 2 the steps between rows and between columns, column 3 the position
        of the first voxel of item 0.

        Args:
            affine: float64 ``(4, 4)`` of the stored ``(n, h, w)`` index.
            shape: The stored array's shape (last three ``(n, h, w)``).

        Returns:
            A new float64 ``(4, 4)`` array.

        Raises:
            ValueError: If ``affine`` is not a finite ``(4, 4)`` matrix or ``shape`` is short.
        """
        out: np.ndarray = as_affine(affine) @ self.index_affine(shape)
        return out

    def slice_affine(self, affine: Any, shape: tuple[int, ...], k: int) -> np.ndarray:
        """Affine of item ``k`` as a ``(1, rows, columns)`` volume.

        Maps ``(0, row, col, 1)`` to the mm of the voxel shown at ``(row, col)``; column 0
        is the step to the next item (toward S, A or R for a named plane; its norm is
        the slice spacing), so the matrix is a valid 3-D affine, and equals
        :meth:`reorient_affine` with its origin moved to item ``k``.

        Args:
            affine: float64 ``(4, 4)`` of the stored ``(n, h, w)`` index.
            shape: The stored array's shape (last three ``(n, h, w)``).
            k: Item index in anatomical order.

        Returns:
            A new float64 ``(4, 4)`` array, in the world space of ``affine``.

        Raises:
            ValueError: If ``affine`` is not a finite ``(4, 4)`` matrix or ``shape`` is short.
            IndexError: If ``k`` is out of range.
        """
        self.stored_index(k, shape)  # range check
        out = self.reorient_affine(affine, shape)
        out[:, 3] = out @ np.array([float(k), 0.0, 0.0, 1.0])
        return out

    def reorient_geometry(self, geometry: Geometry, shape: tuple[int, ...]) -> Geometry:
        """The :class:`~datamint.geometry.Geometry` of :meth:`reorient`'s array.

        Space, calibration, n axis and frame interval are kept; a patient affine becomes
        :meth:`reorient_affine`'s, a spacing-only one the diagonal of the reordered
        spacings, a pixel one stays the identity.

        Raises:
            ValueError: If the geometry's n axis is frames or a single image and the view
                moves or reverses axis 0 (frames cannot become rows nor run backwards),
                or ``shape`` is short.
        """
        from datamint.geometry import Calibration, Geometry, NAxis

        if geometry.n_axis is not NAxis.SPACE and (self.axis != 0 or self.reverse):
            raise ValueError(
                f"cannot reorder a geometry whose n axis is {geometry.n_axis.value} "
                f"with {self!r}: its n axis is not slices in space"
            )
        affine = self.reorient_affine(geometry.affine, shape)
        if geometry.calibration is Calibration.SPACING:
            affine = np.diag([*np.linalg.norm(affine[:3, :3], axis=0), 1.0])
        elif geometry.calibration is Calibration.PIXEL:
            affine = np.eye(4)
        return Geometry(
            affine, geometry.space, geometry.frame_interval_s, geometry.n_axis, geometry.calibration
        )

    def slice_geometry(self, geometry: Geometry, shape: tuple[int, ...], k: int) -> Geometry | None:
        """Geometry of item ``k`` as a 2-D image, by :meth:`datamint.geometry.Geometry.slice`.

        Integer and non-anatomical views give ``geometry.slice(axis, stored_index(k))``;
        anatomical views slice the reoriented geometry at ``k``. Either way column 0 is
        the unit normal ``column axis x row axis`` (a 2-D DICOM's convention) and the
        ``(0, row, col)`` mapping equals :meth:`slice_affine`'s.

        Returns:
            The slice geometry, or ``None`` where ``Geometry.slice`` gives ``None``
            (rows across frames in time).

        Raises:
            IndexError: If ``k`` is out of range.
        """
        stored = self.stored_index(k, shape)
        if not self.anatomical:
            return geometry.slice(self.axis, stored)
        return self.reorient_geometry(geometry, shape).slice(0, int(k))

    @property
    def _rows(self) -> slice:
        return slice(None, None, -1) if self.row_flip else slice(None)

    @property
    def _cols(self) -> slice:
        return slice(None, None, -1) if self.col_flip else slice(None)

    def _transposed(self, volume: np.ndarray) -> np.ndarray:
        lead = volume.ndim - 3
        order = [*range(lead), *(lead + a for a in (self.axis, self.row_axis, self.col_axis))]
        return volume.transpose(order)


def resolve_plane(affine: Any, plane: str | int) -> PlaneView:
    """The :class:`PlaneView` of a named plane (or raw array axis) of a volume.

    Args:
        affine: float64 ``(4, 4)`` mapping the index ``(n, h, w, 1)`` to **RAS** mm (a
            :class:`~datamint.geometry.Geometry` affine; convert an LPS one with
            ``geometry.to_space("RAS")`` first). Unused, and may be ``None``, for an
            integer ``plane``.
        plane: ``"axial"``, ``"coronal"``, ``"sagittal"`` (rules: module docstring), or
            0, 1, 2 for the raw array axis with no flip.

    Returns:
        The view; for a name, ``anatomical`` is ``True``.

    Raises:
        ValueError: If ``plane`` is neither a plane name nor 0, 1, 2, or (for a name)
            ``affine`` is not a finite, invertible ``(4, 4)`` matrix.
    """
    if isinstance(plane, (int, np.integer)) and not isinstance(plane, bool):
        if plane not in (0, 1, 2):
            raise ValueError(f"a slice axis must be 0, 1 or 2 of (n, h, w), got {plane!r}")
        rows, cols = [a for a in (0, 1, 2) if a != plane]
        return PlaneView(int(plane), int(plane), False, rows, False, cols, False, False)
    if not isinstance(plane, str) or plane not in _LAYOUT:
        raise ValueError(f"plane must be one of {PLANES} or 0, 1, 2, got {plane!r}")
    if affine is None:
        raise ValueError(f"the {plane} plane needs a RAS affine, got None")
    axes, signs = anatomical_axes(affine)
    normal, along_rows, along_cols = _LAYOUT[plane]
    return PlaneView(
        plane=plane,
        axis=axes[normal],
        reverse=signs[normal] < 0,
        row_axis=axes[along_rows],
        row_flip=signs[along_rows] > 0,
        col_axis=axes[along_cols],
        col_flip=signs[along_cols] > 0,
        anatomical=True,
    )


#: Named planes of a volume without a patient affine: stored axes, as their n, h, w.
_STORED_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}


def plane_view(geometry: Geometry | None, plane: str | int) -> PlaneView:
    """:func:`resolve_plane` from a :class:`~datamint.geometry.Geometry`, with a fallback.

    A geometry with ``Calibration.PATIENT`` whose n axis is slices in space (any world
    space) resolves named planes from its affine. Otherwise (``None``, a spacing-only or
    pixel calibration, frames in time or a single image: the volume's orientation is
    unknown or its n axis is not space) a name means the stored axis, axial 0, coronal
    1, sagittal 2, in stored order with no flip; the view then has ``anatomical``
    ``False`` and keeps the name in :attr:`PlaneView.plane`.

    Raises:
        ValueError: If ``plane`` is neither a plane name nor 0, 1, 2.
    """
    from datamint.geometry import Calibration, NAxis

    if not (isinstance(plane, str) and plane in _STORED_AXIS):
        return resolve_plane(None, plane)
    if (
        geometry is None
        or geometry.calibration is not Calibration.PATIENT
        or geometry.n_axis is not NAxis.SPACE
    ):
        return dataclasses.replace(resolve_plane(None, _STORED_AXIS[plane]), plane=plane)
    return resolve_plane(geometry.to_space("RAS").affine, plane)


def _nhw(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(shape)
    if len(shape) < 3:
        raise ValueError(f"expected a shape ending in (n, h, w), got {shape}")
    return shape[-3:]


def _at_least_3d(volume: np.ndarray) -> np.ndarray:
    if not isinstance(volume, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(volume).__name__}")
    if volume.ndim < 3:
        raise ValueError(f"expected an array whose last axes are (n, h, w), got {volume.shape}")
    return volume
