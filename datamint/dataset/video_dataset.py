"""``VideoDataset``: ultrasound cine loops and other videos."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datamint.dataset.item_index import SliceSpec
from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.entities import Resource
from datamint.schema import ResourceKind

if TYPE_CHECKING:
    from datamint.dataset.sliced_video_dataset import SlicedVideoDataset

__all__ = ["VideoDataset"]


class VideoDataset(MultiFrameDataset):
    """A dataset of videos (resources of the video kind).

    Items: ``image`` ``(3, F, H, W)`` (RGB, decoded frame order; float32 by default,
    ``image_dtype="stored"`` keeps uint8); ``masks`` per annotator ``(N, F, H, W)`` uint8
    or semantic ``(L+1, F, H, W)``, frame-scoped masks placed at their ``frame_index``;
    ``spacing`` and ``affine`` in pixel units (videos carry no position); other keys as
    for volumes. Arguments are those of :class:`~datamint.dataset.base.DatamintBaseDataset`.
    """

    def _accepts(self, resource: Resource) -> bool:
        return resource.kind is ResourceKind.VIDEO

    def frame_by_frame(self) -> SlicedVideoDataset:
        """A 2-D view with one item per frame, sharing every setting of this dataset."""
        from datamint.dataset.sliced_video_dataset import SlicedVideoDataset

        return self._derive(slices=SliceSpec.of(0, frames=True), cls=SlicedVideoDataset)
