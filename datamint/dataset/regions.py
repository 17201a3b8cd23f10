"""Which part of a resource an item shows: the whole volume, or one slice along an axis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from datamint.geometry import PLANES as AXIS_NAMES  # axes 0, 1, 2 of a (D, H, W) array

__all__ = ["AXIS_NAMES", "Region"]


@dataclass(frozen=True)
class Region:
    """Which part of a ``(D, H, W)`` resource an item shows.

    Attributes:
        axis: None for the whole volume; 0 (axial, depth), 1 (coronal, height) or 2
            (sagittal, width) for one slice.
        index: The slice index along ``axis``.
    """

    axis: int | None = None
    index: int = 0

    def spatial_shape(self, dhw: Sequence[int]) -> tuple[int, ...]:
        """The item's spatial shape for a resource of shape ``dhw``."""
        if self.axis is None:
            return tuple(dhw)
        return tuple(n for i, n in enumerate(dhw) if i != self.axis)

    def take(self, array: np.ndarray) -> np.ndarray:
        """Cut this region from an array whose last three axes are ``(D, H, W)``."""
        if self.axis is None:
            return np.asarray(array)
        return np.take(array, self.index, axis=array.ndim - 3 + self.axis)
