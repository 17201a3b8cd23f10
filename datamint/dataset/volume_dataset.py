"""``VolumeDataset`` (CT/MR volumes, DICOM series and multi-frame DICOM) and its 2-D view
``SlicedVolumeDataset`` (one item per slice)."""

from __future__ import annotations

from typing import Any

from datamint.dataset.item_index import SliceSpec
from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.entities import Resource

__all__ = ["SlicedVolumeDataset", "VolumeDataset"]


class VolumeDataset(MultiFrameDataset):
    """A dataset of volumes: DICOM (series, multi-frame and single files) and NIfTI resources.

    Items: ``image`` ``(C, D, H, W)`` in the file's storage order (a NIfTI stored
    ``(X, Y, Z)`` becomes ``(1, Z, Y, X)``), float32 by default; ``masks`` per annotator
    ``(N, D, H, W)`` uint8 with ``mask_labels``, or semantic ``(L+1, D, H, W)``;
    ``image_labels``; ``image_categories``; ``spacing`` ``(3,)`` mm along ``(D, H, W)``;
    ``affine`` ``(4, 4)`` float64 from the item's index ``(d, h, w)`` to RAS mm;
    ``metainfo`` (see ``item_format``).

    A project's PNG/JPEG images and videos are left out (see ``prepared.excluded``);
    single-frame DICOM and NIfTI are volumes of depth 1. Arguments are those of
    :class:`~datamint.dataset.base.DatamintBaseDataset`.

    Example::

        ds = VolumeDataset(project="demo", return_as_semantic_segmentation=True,
                           semantic_seg_merge_strategy="mode")
        axial = ds.slice("axial")        # 2-D items (C, H, W)
    """

    def _accepts(self, resource: Resource) -> bool:
        return resource.kind.is_volume

    def slice(self, axis: str | int = "axial") -> SlicedVolumeDataset:
        """A 2-D view: one item per slice along ``axis``.

        Args:
            axis: ``'axial'`` (0, depth), ``'coronal'`` (1, height) or ``'sagittal'``
                (2, width) of the ``(D, H, W)`` array.

        Returns:
            A :class:`~datamint.dataset.sliced_dataset.SlicedVolumeDataset` sharing this
            dataset's settings, prepared state and split attributes.

        Raises:
            ValueError: For any other axis.
        """
        return self._derive(slices=SliceSpec.of(axis), cls=SlicedVolumeDataset)


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
