"""``VideoDataset`` (ultrasound cine loops and other videos) and its 2-D view
``SlicedVideoDataset`` (one item per frame)."""

from __future__ import annotations

from typing import Any

from datamint.dataset.item_index import SliceSpec
from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.entities import Resource
from datamint.schema import ResourceKind

__all__ = ["SlicedVideoDataset", "VideoDataset"]


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
        return self._derive(slices=SliceSpec.of(0, frames=True), cls=SlicedVideoDataset)


class SlicedVideoDataset(VideoDataset):
    """One item per frame of each video.

    Build it with ``VideoDataset(...).frame_by_frame()`` or directly with the
    ``VideoDataset`` arguments. Items: ``image`` ``(3, H, W)``; ``masks`` per annotator
    ``(N, H, W)`` uint8 with ``mask_labels``, or semantic ``(L+1, H, W)``; ``spacing``
    and ``affine`` in pixel units; ``metainfo`` with ``plane`` ``"frame"`` and ``index``
    the frame. ``len`` is the sum of the videos' frame counts from metadata.

    Args:
        *args: The positional arguments of :class:`~datamint.dataset.base.DatamintBaseDataset`.
        **kwargs: Its keyword arguments.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slices = SliceSpec.of(0, frames=True)

    @property
    def slice_axis_index(self) -> int:
        """Always 0: frames."""
        return 0

    @property
    def slice_axis_name(self) -> str:
        """Always ``'frame'``."""
        return "frame"
