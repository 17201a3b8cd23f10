"""``SlicedVolumeDataset``: 2-D slices of volumes along one axis."""

from __future__ import annotations

from typing import Any

from datamint.dataset.item_index import SliceSpec
from datamint.dataset.volume_dataset import VolumeDataset

__all__ = ["SlicedVolumeDataset"]


class SlicedVolumeDataset(VolumeDataset):
    """One item per slice of each volume along ``slice_axis``.

    Build it with ``VolumeDataset(...).slice(axis)`` or directly with the
    ``VolumeDataset`` arguments plus ``slice_axis``. Items: ``image`` ``(C, h, w)``;
    ``masks`` per annotator ``(N, h, w)`` uint8 with ``mask_labels`` (or semantic
    ``(L+1, h, w)``); ``spacing`` ``(2,)`` mm (row, column); ``affine`` ``(4, 4)`` mapping
    ``(0, row, column)`` to RAS mm (column 0 the unit normal of the slice);
    ``metainfo`` with ``plane`` and ``index`` (the slice); other keys as for volumes.
    ``len`` is the sum over volumes of their size along the axis, read from metadata
    without downloading. ``subset()`` and ``split()`` select volumes, so the slices of
    one volume stay together.

    Args:
        *args: As :class:`~datamint.dataset.volume_dataset.VolumeDataset`.
        slice_axis: ``'axial'`` (default), ``'coronal'``, ``'sagittal'`` or 0/1/2.
        **kwargs: As :class:`~datamint.dataset.volume_dataset.VolumeDataset`.

    Raises:
        ValueError: For an unknown axis.
    """

    def __init__(self, *args: Any, slice_axis: str | int = "axial", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slices = SliceSpec.of(slice_axis)

    @property
    def slice_axis_index(self) -> int:
        """The sliced axis of ``(D, H, W)``: 0, 1 or 2."""
        assert self._slices is not None
        return self._slices.axis

    @property
    def slice_axis_name(self) -> str:
        """``'axial'``, ``'coronal'`` or ``'sagittal'``."""
        assert self._slices is not None
        return self._slices.name
