"""``SlicedVideoDataset``: one item per video frame."""

from __future__ import annotations

from typing import Any

from datamint.dataset.slicing import SlicedMixin
from datamint.dataset.video_dataset import VideoDataset

__all__ = ["SlicedVideoDataset"]


class SlicedVideoDataset(SlicedMixin, VideoDataset):
    """One item per frame of each video (contract §7.2).

    Build it with ``VideoDataset(...).frame_by_frame()`` or directly with the
    ``VideoDataset`` arguments. Items: ``image`` ``(3, H, W)`` uint8; ``masks`` per
    author ``(N, H, W)`` uint8 or semantic ``(L+1, H, W)`` (the keys are ``masks`` and
    ``mask_labels`` as in every class); ``metainfo`` ``{'slice_axis': 'frame',
    'slice_index': frame, 'parent': None, 'geometry': ...}`` (a video frame's geometry is
    in pixels, see :mod:`datamint.geometry`). ``len`` is the sum of the videos' frame
    counts from metadata.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_axis(0)

    def _set_axis(self, axis: str | int) -> None:
        super()._set_axis(0)
        self.slice_axis_name = "frame"
