"""``SlicedVolumeDataset``: 2-D slices of volumes along one axis."""

from __future__ import annotations

from typing import Any

from datamint.dataset.slicing import SlicedMixin
from datamint.dataset.volume_dataset import VolumeDataset

__all__ = ["SlicedVolumeDataset"]


class SlicedVolumeDataset(SlicedMixin, VolumeDataset):
    """One item per slice of each volume along ``slice_axis`` (contract §7.2).

    Build it with ``VolumeDataset(...).slice(axis)`` or directly with the
    ``VolumeDataset`` arguments plus ``slice_axis``. Items: ``image`` ``(C, h, w)``;
    ``masks`` per author ``(N, h, w)`` uint8 (or semantic ``(L+1, h, w)``); ``metainfo``
    ``{'slice_axis', 'slice_index', 'parent', 'geometry'}`` where ``parent`` is the volume's
    metainfo and ``geometry`` the slice's :class:`~datamint.geometry.Geometry` (2-D spacing
    and the RAS position of pixel (0, 0) in mm; None when the file has no geometry);
    the other keys as for volumes. ``len`` is the sum over volumes of their size along
    the axis, read from metadata without downloading. ``subset()`` and ``split()``
    select volumes, so the slices of one volume stay together.

    Args:
        *args: As :class:`~datamint.dataset.volume_dataset.VolumeDataset`.
        slice_axis: ``'axial'`` (default), ``'coronal'``, ``'sagittal'`` or 0/1/2.
        **kwargs: As :class:`~datamint.dataset.volume_dataset.VolumeDataset`.

    Raises:
        ValueError: For an unknown axis.
    """

    def __init__(self, *args: Any, slice_axis: str | int = "axial", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_axis(slice_axis)
