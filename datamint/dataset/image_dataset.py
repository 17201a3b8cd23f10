"""``ImageDataset``: 2-D images (X-ray, single-slice CT/MR, ultrasound stills, photos)."""

from __future__ import annotations

from datamint.dataset.collate import detection_collate_fn
from datamint.dataset.volume_dataset import VolumeDataset
from datamint.entities import Resource
from datamint.schema import ResourceKind

__all__ = ["ImageDataset", "detection_collate_fn"]


class ImageDataset(VolumeDataset):
    """A dataset of 2-D images: a :class:`VolumeDataset` of depth-1 resources, that axis squeezed.

    Holds PNG/JPEG images and every DICOM/NIfTI resource whose ``metadata.frame_count``
    is 1. Items: ``image`` ``(C, H, W)`` (float32 by default); ``masks`` per annotator
    ``(N, H, W)`` uint8 with ``mask_labels`` (int32 class codes), or semantic
    ``(L+1, H, W)``; ``boxes`` / ``box_labels`` with ``return_boxes=True``;
    ``image_labels``; ``image_categories``; ``spacing`` ``(2,)`` mm (row, column; 1.0 for
    PNG/JPEG); ``affine`` ``(4, 4)`` over ``(0, row, column)`` to RAS mm; ``metainfo``
    (see ``item_format`` in :class:`~datamint.dataset.base.DatamintBaseDataset`, whose
    arguments it takes).

    Raises:
        InvalidResourceError: On access, if a resource decodes to more than one frame.
    """

    _single_frame = True

    def _accepts(self, resource: Resource) -> bool:
        kind = resource.kind
        if kind is ResourceKind.IMAGE:
            return True
        if not kind.is_volume:
            return False
        try:
            return resource.depth == 1
        except ValueError:
            return False
