"""Coordinate frames: the LPS/RAS world spaces and affines built from DICOM planes.

The helpers behind :mod:`datamint.geometry` (which re-exports the public ones): the one
place that flips between LPS and RAS (:func:`lps_to_ras`), the reversal of a NIfTI file's
voxel index ``(x, y, z)`` into our ``(n, h, w)`` (:func:`reverse_index_axes`), the affine
of a DICOM plane (:func:`affine_from_plane`) and the axis codes of a direction matrix
(:func:`orientation_codes`). "Frames" here are frames of reference, not video frames.

Example:
    >>> lps_to_ras(np.eye(4))[:3, :3].diagonal().tolist()
    [-1.0, -1.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "SPACES",
    "affine_from_plane",
    "as_affine",
    "lps_to_ras",
    "orientation_codes",
    "ras_to_lps",
    "reverse_index_axes",
]

SPACES = ("RAS", "LPS")

# Negating the first two world axes turns LPS into RAS and back; used only below.
_FLIP_LPS_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def as_affine(affine: Any) -> np.ndarray:
    """Return ``affine`` as a new float64 ``(4, 4)`` array, checked.

    Args:
        affine: ``(4, 4)`` array-like.

    Returns:
        A new float64 ``(4, 4)`` array.

    Raises:
        ValueError: If ``affine`` is not a finite ``(4, 4)`` matrix.
    """
    arr = np.array(affine, dtype=np.float64)
    if arr.shape != (4, 4):
        raise ValueError(f"an affine must have shape (4, 4), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"an affine must be finite, got\n{arr}")
    return arr


def lps_to_ras(affine: np.ndarray) -> np.ndarray:
    """Convert an affine whose world space is LPS into one whose world space is RAS.

    The conversion negates the first two world axes (left-multiply by
    ``diag(-1, -1, 1, 1)``); the index side is untouched. It is its own inverse, so
    :func:`ras_to_lps` is the same operation.

    Args:
        affine: ``(4, 4)`` array-like mapping an index to LPS coordinates in mm.

    Returns:
        A new float64 ``(4, 4)`` array mapping the same index to RAS coordinates in mm.

    Raises:
        ValueError: If ``affine`` is not a finite ``(4, 4)`` matrix.
    """
    flipped: np.ndarray = _FLIP_LPS_RAS @ as_affine(affine)
    return flipped


def ras_to_lps(affine: np.ndarray) -> np.ndarray:
    """Convert an affine from RAS world space to LPS (the inverse of :func:`lps_to_ras`).

    Args:
        affine: ``(4, 4)`` array-like mapping an index to RAS coordinates in mm.

    Returns:
        A new float64 ``(4, 4)`` array mapping the same index to LPS coordinates in mm.

    Raises:
        ValueError: If ``affine`` is not a finite ``(4, 4)`` matrix.
    """
    return lps_to_ras(affine)


def reverse_index_axes(affine: np.ndarray) -> np.ndarray:
    """Reorder an affine's index axes ``(i, j, k)`` to ``(k, j, i)``.

    A NIfTI file affine maps the voxel index ``(x, y, z)``; the array we return is
    ``(n, h, w) = (z, y, x)``, so ours is the file's with columns 0 and 2 swapped.
    The operation is its own inverse (ours back to the file's).

    Args:
        affine: ``(4, 4)`` array-like.

    Returns:
        A new float64 ``(4, 4)`` array: columns ``[2, 1, 0, 3]`` of ``affine``.

    Raises:
        ValueError: If ``affine`` is not a finite ``(4, 4)`` matrix.
    """
    return as_affine(affine)[:, [2, 1, 0, 3]]


def affine_from_plane(
    position: ArrayLike,
    row_cosine: ArrayLike,
    column_cosine: ArrayLike,
    pixel_spacing_mm: ArrayLike,
    slice_step: ArrayLike | None = None,
) -> np.ndarray:
    """Build our ``(n, h, w)`` affine from DICOM-style plane geometry.

    Follows DICOM PS3.3 C.7.6.2.1.1: (0020,0032) Image Position (Patient) is the
    centre of the first transmitted pixel; the first three values of (0020,0037) Image
    Orientation (Patient) are the direction of increasing column index (our w axis),
    the last three the direction of increasing row index (our h axis); (0028,0030)
    Pixel Spacing is ``[between rows (h), between columns (w)]``.

    Args:
        position: ``(3,)`` position of pixel ``(h=0, w=0)`` of slice ``n=0``, in mm.
        row_cosine: ``(3,)`` unit vector along a row (w axis).
        column_cosine: ``(3,)`` unit vector along a column (h axis).
        pixel_spacing_mm: ``(h, w)`` spacing in mm.
        slice_step: ``(3,)`` vector from slice n to slice n+1, in mm, in the same space
            as ``position``. ``None`` uses the unit plane normal ``row x column`` (for
            2-D images and frames, see :class:`~datamint.geometry.NAxis`).

    Returns:
        float64 ``(4, 4)`` affine in the space of the inputs (LPS for DICOM tags).

    Raises:
        ValueError: If a cosine is not a unit vector (tolerance 1e-3), the two are not
            orthogonal (tolerance 1e-3), or a spacing is not positive and finite.
    """
    row = np.asarray(row_cosine, dtype=np.float64).reshape(3)
    col = np.asarray(column_cosine, dtype=np.float64).reshape(3)
    spacing = np.asarray(pixel_spacing_mm, dtype=np.float64).reshape(2)
    for name, vec in (("row", row), ("column", col)):
        if not abs(np.linalg.norm(vec) - 1.0) < 1e-3:
            raise ValueError(f"the {name} direction cosine {vec.tolist()} is not a unit vector")
    if abs(float(row @ col)) > 1e-3:
        raise ValueError(f"direction cosines {row.tolist()} and {col.tolist()} are not orthogonal")
    if not np.all(np.isfinite(spacing) & (spacing > 0)):
        raise ValueError(f"pixel spacing must be positive, got {spacing.tolist()} mm")
    step = np.cross(row, col) if slice_step is None else np.asarray(slice_step, dtype=np.float64)
    affine = np.eye(4)
    affine[:3, 0] = step.reshape(3)
    affine[:3, 1] = col * spacing[0]
    affine[:3, 2] = row * spacing[1]
    affine[:3, 3] = np.asarray(position, dtype=np.float64).reshape(3)
    return as_affine(affine)


def orientation_codes(direction: np.ndarray, space: str) -> str:
    """Axis codes of the columns of ``direction``, e.g. ``"SPR"`` (where each axis points).

    Each column gets the letter of the world axis it is closest to, signed: in RAS
    ``R``/``L``, ``A``/``P``, ``S``/``I`` for +x/-x, +y/-y, +z/-z; in LPS ``L``/``R``,
    ``P``/``A``, ``S``/``I``.

    Args:
        direction: float64 ``(3, 3)`` with unit vectors as columns (e.g. the n, h, w axes).
        space: ``"RAS"`` or ``"LPS"``, the world space of ``direction``.

    Returns:
        One letter per column.
    """
    pos, neg = ("RAS", "LPI") if space == "RAS" else ("LPS", "RAI")
    codes = []
    for column in direction.T:
        axis = int(np.argmax(np.abs(column)))
        codes.append(pos[axis] if column[axis] > 0 else neg[axis])
    return "".join(codes)
