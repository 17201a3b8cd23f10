"""``build_dataset``: pick the dataset class from a sample of the project's resources."""

from __future__ import annotations

import warnings
from typing import Any

from datamint.dataset.base import DatamintBaseDataset
from datamint.entities import Resource
from datamint.exceptions import DatamintDatasetException, DatamintWarning
from datamint.schema import ResourceKind

__all__ = ["build_dataset"]

SAMPLE_SIZE = 5


def build_dataset(project: str, **kwargs: Any) -> DatamintBaseDataset:
    """Build the dataset class that fits a project.

    Sends ``GET /resources?project=<name>&limit=5`` with the ``server_url`` / ``api_key``
    given in ``kwargs`` and classifies the sample by kind: video -> ``VideoDataset``;
    volume -> ``VolumeDataset`` (depth 1 -> ``ImageDataset``); image -> ``ImageDataset``;
    images mixed with volumes -> ``VolumeDataset`` with a warning.

    Args:
        project: The project name.
        **kwargs: Dataset arguments (see ``DatamintBaseDataset``).

    Returns:
        An unprepared dataset.

    Raises:
        DatamintDatasetException: If the project has no resources, or mixes videos
            with other kinds.
    """
    from datamint.api.client import Api
    from datamint.dataset.image_dataset import ImageDataset
    from datamint.dataset.video_dataset import VideoDataset
    from datamint.dataset.volume_dataset import VolumeDataset

    api = Api(
        server_url=kwargs.get("server_url"),
        api_key=kwargs.get("api_key"),
        check_connection=kwargs.get("auto_update", True),
    )
    sample = [Resource(r) for r in api.get_resources(project=project, limit=SAMPLE_SIZE)]
    if not sample:
        raise DatamintDatasetException(
            f"project {project!r} has no resources to build a dataset from"
        )
    kinds = {
        "video"
        if r.kind is ResourceKind.VIDEO
        else "volume"
        if r.kind.is_volume and r.depth > 1
        else "image"
        for r in sample
    }
    if kinds == {"video"}:
        cls: type[DatamintBaseDataset] = VideoDataset
    elif "video" in kinds:
        raise DatamintDatasetException(
            f"project {project!r} mixes videos with other kinds; build VideoDataset and "
            "VolumeDataset/ImageDataset separately"
        )
    elif kinds == {"image"}:
        cls = ImageDataset
    elif kinds == {"volume"}:
        cls = VolumeDataset
    else:
        warnings.warn(
            f"project {project!r} mixes 2-D images and volumes; building a VolumeDataset",
            DatamintWarning,
            stacklevel=2,
        )
        cls = VolumeDataset
    return cls(project=project, **kwargs)
