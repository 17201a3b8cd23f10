"""``VolumeDataset``: CT/MR volumes, DICOM series and multi-frame DICOM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.entities import Resource

if TYPE_CHECKING:
    from datamint.dataset.sliced_dataset import SlicedVolumeDataset

__all__ = ["VolumeDataset"]


class VolumeDataset(MultiFrameDataset):
    """A dataset of volumes: resources of the DICOM, NIfTI and volume kinds (contract §5.1).

    Items (contract §7.2): ``image`` ``(C, D, H, W)`` (a NIfTI stored ``(X, Y, Z)``
    becomes ``(1, Z, Y, X)`` float64); ``metainfo`` (NIfTI: ``{'affine', 'header',
    'shape'}``; DICOM: the pydicom ``Dataset`` without pixel data); ``masks`` per author
    ``(N, D, H, W)`` uint8, or semantic ``(L+1, D, H, W)``; ``mask_labels``;
    ``image_labels``; ``image_categories``; ``annotations``; ``resource``.

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
            dataset's settings and prepared state.

        Raises:
            ValueError: For any other axis.
        """
        from datamint.dataset.sliced_dataset import SlicedVolumeDataset

        return SlicedVolumeDataset.from_dataset(self, axis)
