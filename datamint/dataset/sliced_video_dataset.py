"""``SlicedVideoDataset``: one item per video frame."""

from __future__ import annotations

from typing import Any

from datamint.dataset.item_index import SliceSpec
from datamint.dataset.video_dataset import VideoDataset

__all__ = ["SlicedVideoDataset"]


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
