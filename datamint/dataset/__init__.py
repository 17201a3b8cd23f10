"""PyTorch datasets over Datamint projects."""

from datamint.dataset.base import DatamintBaseDataset, DatamintDatasetException
from datamint.dataset.factory import build_dataset
from datamint.dataset.image_dataset import ImageDataset, detection_collate_fn
from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.dataset.sliced_dataset import SlicedVolumeDataset
from datamint.dataset.sliced_video_dataset import SlicedVideoDataset
from datamint.dataset.video_dataset import VideoDataset
from datamint.dataset.volume_dataset import VolumeDataset
from datamint.splits.result import SplitResult

__all__ = [
    "DatamintBaseDataset",
    "DatamintDatasetException",
    "ImageDataset",
    "MultiFrameDataset",
    "SlicedVideoDataset",
    "SlicedVolumeDataset",
    "SplitResult",
    "VideoDataset",
    "VolumeDataset",
    "build_dataset",
    "detection_collate_fn",
]
