"""``ImageDataset``: 2-D images (X-ray, single-slice CT/MR, ultrasound stills, photos)."""

from __future__ import annotations

from typing import Any

from datamint.dataset.collate import detection_collate_fn
from datamint.dataset.regions import Region
from datamint.dataset.volume_dataset import VolumeDataset
from datamint.entities import Resource
from datamint.exceptions import InvalidResourceError
from datamint.schema import ResourceKind

__all__ = ["ImageDataset", "detection_collate_fn"]


class ImageDataset(VolumeDataset):
    """A dataset of 2-D images: a :class:`VolumeDataset` of depth-1 resources, that axis squeezed.

    Holds PNG/JPEG images and every DICOM/NIfTI resource whose ``metadata.frame_count``
    is 1. Items (contract §7.2): ``image`` ``(C, H, W)``; ``metainfo`` None for PNG/JPEG,
    the pydicom ``Dataset`` (without pixel data) for DICOM; ``masks`` per author
    ``(N, H, W)`` uint8, or semantic ``(L+1, H, W)``; ``mask_labels``; ``boxes`` /
    ``box_labels`` with ``return_boxes=True``; ``image_labels``; ``image_categories``;
    ``annotations``; ``resource``. Arguments are those of
    :class:`~datamint.dataset.base.DatamintBaseDataset`.

    Raises:
        InvalidResourceError: On access, if a resource decodes to more than one frame.
    """

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

    def _get_item(self, index: int) -> dict[str, Any]:
        resource = self.prepared.resources[index]
        depth = self.loader.image(resource).shape[1]
        if depth != 1:
            raise InvalidResourceError(
                f"resource {resource.id} ({resource.filename}) has {depth} frames; ImageDataset "
                "needs single-frame images (use VolumeDataset or VideoDataset)"
            )
        return self._make_item(index, Region(axis=0, index=0))
