"""Same voxels, different storage: put one array on another's grid by axes alone.

A segmentation saved by another tool often holds exactly its image's voxels in another
axis order or direction (the image stored RAS, the mask LPS; or the axes reversed).
:func:`same_grid` finds the permutation and flips of the mask's ``(n, h, w)`` axes that
make its grid the image's, and refuses anything else (a resampling is not ours to guess).

Example:
    >>> image = np.diag([2.0, 1.0, 1.0, 1.0])
    >>> mask = image @ [[1, 0, 0, 0], [0, -1, 0, 4], [0, 0, 1, 0], [0, 0, 0, 1]]  # h flipped
    >>> same_grid(image, (3, 5, 6), mask, (3, 5, 6))
    GridMap(axes=(0, 1, 2), flips=(False, True, False))
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from datamint.geometry_frames import as_affine, orientation_codes

__all__ = ["GridMap", "same_grid"]


@dataclass(frozen=True)
class GridMap:
    """How to read an array ``b`` on the grid of an array ``a`` (from :func:`same_grid`).

    Attributes:
        axes: ``axes[i]`` is the axis of ``b``'s ``(n, h, w)`` that becomes axis ``i``
            of ``a``'s.
        flips: ``flips[i]``: whether that axis is read backwards.
    """

    axes: tuple[int, int, int]
    flips: tuple[bool, bool, bool]

    @property
    def identity(self) -> bool:
        """Whether ``b`` is already on ``a``'s grid (no permutation, no flip)."""
        return self.axes == (0, 1, 2) and not any(self.flips)

    def apply(self, array: np.ndarray) -> np.ndarray:
        """``array`` (last three axes ``b``'s ``(n, h, w)``) on ``a``'s grid, as a numpy view.

        Leading axes (channels, labels) are kept; flipped axes have negative strides.

        Raises:
            ValueError: If ``array`` has fewer than three axes.
        """
        array = np.asarray(array)
        if array.ndim < 3:
            raise ValueError(f"expected an array whose last axes are (n, h, w), got {array.shape}")
        lead = array.ndim - 3
        moved = array.transpose([*range(lead), *(lead + a for a in self.axes)])
        steps = tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)
        return moved[(Ellipsis, *steps)]


def _index_map(grid: GridMap, shape_b: tuple[int, ...]) -> np.ndarray:
    """``(4, 4)`` taking ``a``'s index ``(n, h, w, 1)`` to ``b``'s."""
    matrix = np.zeros((4, 4))
    matrix[3, 3] = 1.0
    for i, (axis, flipped) in enumerate(zip(grid.axes, grid.flips, strict=True)):
        matrix[axis, i] = -1.0 if flipped else 1.0
        matrix[axis, 3] = shape_b[axis] - 1 if flipped else 0.0
    return matrix


def _describe(affine: np.ndarray, shape: tuple[int, ...]) -> str:
    linear = affine[:3, :3]
    codes = orientation_codes(linear / np.linalg.norm(linear, axis=0), "RAS")
    spacing = ", ".join(f"{v:.4g}" for v in np.linalg.norm(linear, axis=0))
    origin = ", ".join(f"{v:.4g}" for v in affine[:3, 3])
    return (
        f"shape (n, h, w) {tuple(shape)}, orientation {codes}, spacing ({spacing}) mm, "
        f"origin ({origin}) mm"
    )


def same_grid(
    affine_a: Any,
    shape_a: tuple[int, ...],
    affine_b: Any,
    shape_b: tuple[int, ...],
    *,
    atol_mm: float = 0.01,
) -> GridMap:
    """The axis permutation and flips that put grid ``b`` (a mask) on grid ``a`` (its image).

    Two grids are the same when, after the permutation and flips, the sizes match and the
    eight corner voxels of both map to the same points within ``atol_mm`` (so the
    spacing, direction and origin all agree, whatever the storage order).

    Args:
        affine_a: float64 ``(4, 4)`` of ``a``'s ``(n, h, w)`` index, in mm (any one world
            space, the same for both).
        shape_a: ``a``'s shape; its last three entries are ``(n, h, w)``.
        affine_b: As ``affine_a``, for ``b``.
        shape_b: As ``shape_a``, for ``b``.
        atol_mm: Largest distance between corresponding corners, in mm.

    Returns:
        The :class:`GridMap`; ``GridMap.apply(b_array)`` reads ``b`` on ``a``'s grid.

    Raises:
        ValueError: If an affine is not a finite ``(4, 4)`` matrix, a shape has fewer than
            three entries, or the grids differ beyond a permutation and flips of axes
            (the message gives both shapes, orientations, spacings and origins).
    """
    a, b = as_affine(affine_a), as_affine(affine_b)
    nhw_a, nhw_b = tuple(shape_a)[-3:], tuple(shape_b)[-3:]
    if len(nhw_a) < 3 or len(nhw_b) < 3:
        raise ValueError(f"expected shapes ending in (n, h, w), got {shape_a} and {shape_b}")
    corners = np.array(list(itertools.product(*[(0, n - 1) for n in nhw_a])), dtype=float)
    corners = np.column_stack([corners, np.ones(len(corners))]).T  # (4, 8)
    where_a = (a @ corners)[:3]
    for axes in itertools.permutations((0, 1, 2)):
        if tuple(nhw_b[axis] for axis in axes) != nhw_a:
            continue
        for flips in itertools.product((False, True), repeat=3):
            grid = GridMap(axes, flips)  # type: ignore[arg-type]
            where_b = (b @ _index_map(grid, nhw_b) @ corners)[:3]
            if np.max(np.linalg.norm(where_a - where_b, axis=0)) <= atol_mm:
                return grid
    raise ValueError(
        "the two grids hold different voxels, not the same ones in another axis order or "
        f"direction: {_describe(a, nhw_a)}; versus {_describe(b, nhw_b)}"
    )
