"""Every documented name imports from its documented path (contract §12)."""

import importlib
import warnings

import pytest

import datamint

DOCUMENTED_PATHS = {
    "datamint.dataset.base": ["DatamintBaseDataset", "DatamintDatasetException"],
    "datamint.dataset.multiframe_dataset": ["MultiFrameDataset"],
    "datamint.dataset.image_dataset": ["ImageDataset", "detection_collate_fn"],
    "datamint.dataset.volume_dataset": ["VolumeDataset"],
    "datamint.dataset.video_dataset": ["VideoDataset"],
    "datamint.dataset.sliced_dataset": ["SlicedVolumeDataset"],
    "datamint.dataset.sliced_video_dataset": ["SlicedVideoDataset"],
    "datamint.dataset.annotation": ["Annotation"],
    "datamint.dataset.annotation_processor": ["AnnotationProcessor"],
    "datamint.exceptions": [
        "DatamintException",
        "AuthenticationError",
        "PermissionDeniedError",
        "ItemNotFoundError",
        "ResourceNotFoundError",
        "EntityAlreadyExistsError",
        "DefaultProjectNotSetError",
        "ValidationError",
        "NetworkError",
        "ServerError",
        "ModelNotDeployedError",
        "JobTimeoutError",
    ],
}

DATASET_ALL = [
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


@pytest.mark.parametrize(("module", "names"), DOCUMENTED_PATHS.items())
def test_documented_paths(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_dataset_all_is_the_documented_list():
    import datamint.dataset as ds

    assert sorted(ds.__all__) == sorted(DATASET_ALL)
    for name in DATASET_ALL:
        assert getattr(ds, name) is not None


def test_top_level_names_are_lazy_and_sorted():
    assert datamint.__all__ == sorted(datamint.__all__)
    for name in [
        "Api",
        "ImageDataset",
        "VolumeDataset",
        "VideoDataset",
        "SlicedVolumeDataset",
        "SlicedVideoDataset",
        "MultiFrameDataset",
        "SplitResult",
        "build_dataset",
        "DatamintBaseDataset",
        "DatamintDatasetException",
    ]:
        assert name in datamint.__all__
        assert getattr(datamint, name) is not None
    assert (
        datamint.DatamintDatasetException
        is importlib.import_module("datamint.exceptions").DatamintDatasetException
    )
    assert issubclass(
        datamint.DatamintDatasetException,
        importlib.import_module("datamint.exceptions").DatamintException,
    )
    assert isinstance(datamint.__version__, str)


def test_deprecated_paths_warn_once_and_point_to_the_replacement():
    from datamint.dataset import _legacy

    _legacy._WARNED.clear()
    with pytest.warns(
        DeprecationWarning, match="use datamint.dataset.volume_dataset.VolumeDataset"
    ):
        from datamint.dataset.dataset import DatamintDataset
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from datamint.dataset.dataset import DatamintDataset as again  # second access: silent
    assert again is DatamintDataset
    with pytest.warns(DeprecationWarning, match="base_dataset.DatamintBaseDataset is deprecated"):
        from datamint.dataset.base_dataset import DatamintBaseDataset as Old
    assert issubclass(Old, importlib.import_module("datamint.dataset.volume_dataset").VolumeDataset)
    assert datamint.Dataset is DatamintDataset


def test_legacy_arguments(demo_server, tmp_path):
    from datamint.dataset._legacy import LegacyBaseDataset

    old = LegacyBaseDataset(
        "demo", root=tmp_path, server_url=demo_server.url, api_key=demo_server.api_key
    )
    assert old.project.name == "demo" and old.project_name == "demo" and len(old) == 18
