"""The three ProjectReader implementations agree with the Protocol, call for call.

Api (HTTP), OfflineApi (manifests) and ManifestRecorder (records what it forwards) are
interchangeable in dataset preparation and the file cache; these tests hold their
signatures equal (names, kinds, defaults) and the recorder to its table, so that a read
added to preparation cannot silently bypass the recorder or offline use.
"""

from __future__ import annotations

import inspect
from typing import Protocol

import pytest

import datamint.storage.manifest as storage_manifest
from datamint.api import Api, ManifestRecorder, OfflineApi, ProjectReader
from datamint.api.recorder import FORWARDED
from datamint.api.recording import RECORDED

IMPLEMENTATIONS = [Api, OfflineApi, ManifestRecorder]


def protocol_methods(protocol: type) -> list[str]:
    """Public methods declared by ``protocol`` and the Protocols it extends."""
    names = set()
    for klass in protocol.__mro__:
        if klass in (object, Protocol) or not getattr(klass, "_is_protocol", False):
            continue
        names |= {n for n, v in vars(klass).items() if callable(v) and not n.startswith("_")}
    return sorted(names)


METHODS = protocol_methods(ProjectReader)


def shape(function: object) -> list[tuple[str, inspect._ParameterKind, object]]:
    """Parameter names, kinds and defaults (annotations left out: return types differ,
    e.g. ``DownloadResult`` against ``Downloaded``)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_protocol_covers_preparation_and_the_file_cache() -> None:
    assert METHODS == [
        "download_resource_file",
        "download_segmentation_file",
        "get_annotation_set",
        "get_project",
        "get_project_by_name",
        "get_project_resources",
        "get_project_splits",
        "get_project_worklists",
        "get_resource",
        "get_segmentation_group",
        "search_annotations",
    ]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", METHODS)
def test_signatures_equal_the_protocol(implementation: type, method: str) -> None:
    assert shape(getattr(implementation, method)) == shape(getattr(ProjectReader, method))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_implementations_are_runtime_readers(implementation: type) -> None:
    # Structural check at runtime too: every Protocol member is present.
    missing = [m for m in METHODS if not callable(getattr(implementation, m, None))]
    assert missing == []


def test_recorder_records_or_forwards_each_method_and_nothing_else() -> None:
    assert sorted([*RECORDED, *FORWARDED]) == METHODS
    assert not set(RECORDED) & set(FORWARDED)


def test_recorder_has_no_getattr_fallback() -> None:
    assert "__getattr__" not in vars(ManifestRecorder)
    assert not hasattr(ManifestRecorder, "__getattr__")
    with pytest.raises(AttributeError):
        ManifestRecorder(OfflineApi("/nonexistent")).get_resource_split  # noqa: B018


def test_old_storage_names_import_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="datamint.api.offline.OfflineApi"):
        assert storage_manifest.OfflineApi is OfflineApi
    with pytest.warns(DeprecationWarning, match="datamint.api.recorder.ManifestRecorder"):
        assert storage_manifest.ManifestRecorder is ManifestRecorder
    with pytest.warns(DeprecationWarning, match="CacheManifest"):
        assert storage_manifest.ProjectManifest is storage_manifest.CacheManifest
