"""A 3-D patch of a volume: a box of voxels, cut with padding where it leaves the volume.

:class:`PatchRegion` has the API of :class:`~datamint.dataset.regions.Region` that the
item path uses (``axis``, ``index``, ``view``, ``take``, ``spatial_shape``), so the item
builder and the annotation processor cut the image and every mask with it.

Positions follow the voxel index ``(d, h, w)`` of the stored ``(D, H, W)`` array (no
reorientation). A patch starts at ``start`` and spans ``size`` voxels; a start below 0 or
a stop beyond the volume is padded: the image with the patch's fill value, masks with 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = ["PatchRegion", "grid_starts", "parse_overlap", "parse_size", "random_start"]


def parse_size(size: int | Sequence[int]) -> tuple[int, int, int]:
    """A patch size ``(D, H, W)`` from one int (a cube) or three ints, all >= 1.

    Raises:
        ValueError: For anything else (names the value).
    """
    values = (size, size, size) if isinstance(size, int | np.integer) else tuple(size)
    if len(values) != 3 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise ValueError(f"patch size must be one or three positive ints (D, H, W); got {size!r}")
    return (int(values[0]), int(values[1]), int(values[2]))


def parse_overlap(overlap: float | Sequence[float], size: Sequence[int]) -> tuple[int, int, int]:
    """Grid overlap in voxels per axis.

    Args:
        overlap: Ints are voxels; floats in ``[0, 1)`` are fractions of the patch size
            (rounded to the nearest voxel), as MONAI's ``sliding_window_inference``. One
            value for every axis, or three.
        size: The patch size ``(D, H, W)``.

    Returns:
        ``(od, oh, ow)`` with ``0 <= o < size`` on each axis.

    Raises:
        ValueError: For a negative overlap, a fraction of 1 or more, or an overlap that
            leaves no step (``o >= size``).
    """
    values = [overlap] * 3 if isinstance(overlap, int | float | np.number) else list(overlap)
    if len(values) != 3:
        raise ValueError(f"overlap must be one value or three (D, H, W); got {overlap!r}")
    out = []
    for value, n in zip(values, size, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"overlap must be numbers; got {overlap!r}")
        if isinstance(value, float | np.floating):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"a fractional overlap must be in [0, 1); got {overlap!r}")
            voxels = round(float(value) * n)
        else:
            voxels = int(value)
        if not 0 <= voxels < n:
            raise ValueError(
                f"overlap {overlap!r} gives {voxels} voxels on an axis of patch size {n}; "
                f"it must be in [0, {n})"
            )
        out.append(voxels)
    return (out[0], out[1], out[2])


def grid_starts(extent: int, size: int, overlap: int) -> np.ndarray:
    """Starts of the grid patches along one axis, int64 ``(n,)``.

    Patches step by ``size - overlap`` from 0; the last one is flush with the volume's
    edge (``extent - size``), so every voxel is covered. An axis shorter than the patch
    has one patch at 0, padded past the edge.
    """
    if extent <= size:
        return np.zeros(1, dtype=np.int64)
    step = size - overlap
    n = math.ceil((extent - size) / step) + 1
    return np.minimum(np.arange(n, dtype=np.int64) * step, extent - size)


def random_start(
    rng: np.random.Generator,
    dhw: Sequence[int],
    size: Sequence[int],
    centre: Sequence[int] | None = None,
) -> tuple[int, int, int]:
    """The start of a random patch, as nnU-Net's data loader draws it.

    Per axis, with ``lo = min(0, extent - size)`` and ``hi = max(0, extent - size)``: a
    uniform start in ``[lo, hi]`` (every position where the patch fits; on an axis
    shorter than the patch, the volume lands at a random offset inside it), or, with
    ``centre``, ``clip(centre - size // 2, lo, hi)``: centred on that voxel, shifted
    to stay inside the volume, so the voxel is always in the patch.
    """
    start = []
    for axis, (extent, n) in enumerate(zip(dhw, size, strict=True)):
        lo, hi = min(0, extent - n), max(0, extent - n)
        if centre is None:
            start.append(int(rng.integers(lo, hi + 1)))
        else:
            start.append(int(np.clip(int(centre[axis]) - n // 2, lo, hi)))
    return (start[0], start[1], start[2])


@dataclass(frozen=True)
class PatchRegion:
    """A box of ``size`` voxels starting at ``start`` in a ``(D, H, W)`` volume.

    Attributes:
        start: ``(d0, h0, w0)``; may be negative (padded before the volume).
        size: ``(D, H, W)`` of the patch.
        index: The patch's number within its volume (``metainfo["index"]``).
        dhw: The volume shape the patch was placed in (checked against the file).
        foreground: Whether it was drawn centred on a foreground voxel.
        fill: The image's value outside the volume; None: the volume's minimum.
    """

    start: tuple[int, int, int]
    size: tuple[int, int, int]
    index: int = 0
    dhw: tuple[int, int, int] | None = None
    foreground: bool = False
    fill: float | None = None

    axis: ClassVar[None] = None  # the item path's Region API: not a slice ...
    view: ClassVar[None] = None  # ... and no anatomical view

    @property
    def stop(self) -> tuple[int, int, int]:
        """``start + size``: one past the last voxel, per axis."""
        return (
            self.start[0] + self.size[0],
            self.start[1] + self.size[1],
            self.start[2] + self.size[2],
        )

    @property
    def location(self) -> np.ndarray:
        """int64 ``(6,)``: ``(d0, h0, w0, d1, h1, w1)``, start and stop (as TorchIO's
        ``location``), in voxels of the stored volume."""
        return np.array([*self.start, *self.stop], dtype=np.int64)

    def stored_index_in(self, dhw: Sequence[int]) -> int:
        """0: a patch is not a slice (kept for the Region API)."""
        return 0

    def view_length(self, dhw: Sequence[int]) -> int:
        """1 (the Region API)."""
        return 1

    def spatial_shape(self, dhw: Sequence[int]) -> tuple[int, ...]:
        """The item's spatial shape: ``size``, whatever the volume."""
        return tuple(self.size)

    def needs_padding(self, dhw: Sequence[int]) -> bool:
        """Whether part of the patch lies outside a volume of shape ``dhw``."""
        return any(a < 0 or b > n for a, b, n in zip(self.start, self.stop, dhw, strict=True))

    def _clipped(self, dhw: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        lo = tuple(min(max(a, 0), n) for a, n in zip(self.start, dhw, strict=True))
        hi = tuple(min(max(b, 0), n) for b, n in zip(self.stop, dhw, strict=True))
        return lo, hi

    def shift_affine(self, affine: np.ndarray) -> np.ndarray:
        """The patch's affine from its volume's: the same index columns, the translation
        moved to voxel ``start`` (``A @ (d0, h0, w0, 1)``). A new float64 ``(4, 4)``."""
        out = np.array(affine, dtype=np.float64)
        out[:3, 3] = out[:3, :3] @ np.asarray(self.start, dtype=np.float64) + out[:3, 3]
        return out

    def take_plane(self, plane: np.ndarray, fill: Any = 0) -> np.ndarray:
        """The patch's rows and columns of one ``(H, W)`` plane of the volume, as a new
        ``(size[1], size[2])`` array padded with ``fill`` (a frame mask inside a patch)."""
        rows_cols = PatchRegion((0, self.start[1], self.start[2]), (1, self.size[1], self.size[2]))
        return np.asarray(rows_cols.take(plane[None], fill)[0])

    def take(self, array: Any, fill: Any = 0, dtype: Any = None) -> np.ndarray:
        """Cut the patch from an array whose last three axes are ``(D, H, W)``.

        Reads only the box: a :class:`~datamint.storage.slice_cache.StoredVolume` through
        its chunked layout (``read_box``), a memory map through its pages.

        Args:
            array: ``(..., D, H, W)``: an ndarray, a memory map or a ``StoredVolume``.
            fill: The value of voxels outside the volume (masks: 0).
            dtype: The result's dtype (default: the array's).

        Returns:
            A new writable ``(..., *size)`` array.

        Raises:
            ValueError: If ``fill`` cannot be held exactly by the result's dtype.
        """
        dhw = tuple(int(n) for n in array.shape[-3:])
        lo, hi = self._clipped(dhw)
        dtype = np.dtype(array.dtype if dtype is None else dtype)
        if hasattr(array, "read_box"):  # a new array of dtype
            part = array.read_box(lo, hi, dtype)
            if not self.needs_padding(dhw):
                return part  # type: ignore[no-any-return]
        else:
            part = array[..., lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
            if not self.needs_padding(dhw):
                return np.array(part, dtype=dtype)
        value = np.array(fill).astype(dtype)
        if not np.array_equal(value, np.array(fill), equal_nan=True):
            raise ValueError(f"pad value {fill!r} cannot be held exactly by {dtype}")
        out = np.full((*part.shape[:-3], *self.size), value, dtype=dtype)
        at: tuple[slice, ...] = tuple(
            slice(a - s, b - s) for a, b, s in zip(lo, hi, self.start, strict=True)
        )
        where: tuple[Any, ...] = (Ellipsis, *at)
        out[where] = part
        return out
