"""``VolumeDataset``: CT/MR volumes, DICOM series and multi-frame DICOM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datamint.dataset.item_index import SliceSpec
from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.entities import Resource

if TYPE_CHECKING:
    from datamint.dataset.sliced_dataset import SlicedVolumeDataset

__all__ = ["VolumeDataset"]


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
        from datamint.dataset.sliced_dataset import SlicedVolumeDataset

        return self._derive(slices=SliceSpec.of(axis), cls=SlicedVolumeDataset)
