"""``SlicedVideoDataset``: one item per video frame.

The class lives in :mod:`datamint.dataset.video_dataset` next to the dataset it
slices (each returns the other); this module keeps the import path.
"""

from datamint.dataset.video_dataset import SlicedVideoDataset

__all__ = ["SlicedVideoDataset"]
