"""datamint: annotated medical images (DICOM, NIfTI, video, PNG/JPEG) from a project to PyTorch.

Importing ``datamint`` is cheap and has no side effects: the documented names are
loaded on first attribute access.

Example::

    from datamint import VolumeDataset
    ds = VolumeDataset(project="demo", return_as_semantic_segmentation=True,
                       semantic_seg_merge_strategy="mode").slice("axial")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Api": "datamint.api.client",
    "Context": "datamint.catalog",
    "DatamintBaseDataset": "datamint.dataset.base",
    "DatamintDatasetException": "datamint.exceptions",
    "ImageDataset": "datamint.dataset.image_dataset",
    "MultiFrameDataset": "datamint.dataset.multiframe_dataset",
    "SlicedVideoDataset": "datamint.dataset.sliced_video_dataset",
    "SlicedVolumeDataset": "datamint.dataset.sliced_dataset",
    "SplitResult": "datamint.splits.result",
    "VideoDataset": "datamint.dataset.video_dataset",
    "VolumeDataset": "datamint.dataset.volume_dataset",
    "build_dataset": "datamint.dataset.factory",
    "find_dataset": "datamint.catalog",
    "get_dataset": "datamint.catalog",
    "prepare_dataset": "datamint.catalog",
}
_SUBMODULES = ("dataset", "variants")

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name == "Dataset":  # deprecated alias of the old project-folder dataset
        from datamint.dataset import dataset as _deprecated

        return _deprecated.DatamintDataset
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"datamint.{name}")
    raise AttributeError(f"module 'datamint' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
