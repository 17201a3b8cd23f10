"""Which part of a resource an item shows: the whole volume, or one slice.

A slice is either raw (slice ``index`` along ``axis`` of the stored ``(D, H, W)`` array,
rows and columns in stored order) or anatomical: a
:class:`~datamint.geometry_planes.PlaneView` turns item ``index`` (counted toward S, A
or R) into the stored slice and puts its rows and columns in the display convention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from datamint.geometry import PLANES as AXIS_NAMES  # axes 0, 1, 2 of a (D, H, W) array
from datamint.geometry_planes import PlaneView

if TYPE_CHECKING:
    from datamint.storage.slice_cache import StoredVolume

__all__ = ["AXIS_NAMES", "Region"]


@dataclass(frozen=True)
class Region:
    """Which part of a ``(D, H, W)`` resource an item shows.

    Attributes:
        axis: None for the whole volume; else the stored axis sliced (0 depth, 1 height,
            2 width).
        index: The slice: the stored index along ``axis`` without ``view``, the item's
            anatomical index with one.
        view: How an anatomical plane maps onto the stored array (slice order, rows,
            columns, flips); None for raw slices and whole volumes.
    """

    axis: int | None = None
    index: int = 0
    view: PlaneView | None = None

    def stored_index_in(self, dhw: Sequence[int]) -> int:
        """The index along ``axis`` of a stored ``(D, H, W)`` array of shape ``dhw``."""
        if self.view is None:
            return self.index
        return self.view.stored_index(self.index, tuple(dhw))

    def view_length(self, dhw: Sequence[int]) -> int:
        """The number of slices along ``axis`` (the stored size; views do not change it)."""
        return int(tuple(dhw)[self.axis]) if self.axis is not None else 1

    def spatial_shape(self, dhw: Sequence[int]) -> tuple[int, ...]:
        """The item's spatial shape for a resource of shape ``dhw``."""
        if self.axis is None:
            return tuple(dhw)
        if self.view is not None:
            return self.view.plane_shape(tuple(dhw))
        return tuple(n for i, n in enumerate(dhw) if i != self.axis)

    def take_all(self, arrays: Sequence[np.ndarray | StoredVolume]) -> list[np.ndarray]:
        """:meth:`take` of each of ``arrays``, all of the same ``(..., D, H, W)`` shape
        (an item's image and masks): the slice and its layout are worked out once."""
        out: list[np.ndarray] = []
        if self.axis is None or not arrays:
            for array in arrays:
                out.append(np.asarray(array))
            return out
        first = arrays[0]
        axis = first.ndim - 3 + self.axis
        k = self.stored_index_in(first.shape[-3:])
        view = self.view
        for array in arrays:
            out.append(np.take(array, k, axis=axis))
        if view is None:
            return out
        # the plane keeps the stored order of the two other axes: rows are the second
        # of them when row_axis is the larger
        swap = view.row_axis > 3 - self.axis - view.row_axis
        rows = slice(None, None, -1 if view.row_flip else 1)
        cols = slice(None, None, -1 if view.col_flip else 1)
        for i, plane in enumerate(out):
            out[i] = (np.swapaxes(plane, -1, -2) if swap else plane)[..., rows, cols]
        return out

    def take(self, array: np.ndarray | StoredVolume) -> np.ndarray:
        """Cut this region from an array (or a stored volume) whose last three axes are
        ``(D, H, W)``; a slice reads only that slice of a stored volume."""
        return self.take_all([array])[0]
