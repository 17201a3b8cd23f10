"""Download and verification modes of ``prefetch``, counted at the server."""

from __future__ import annotations

import os

import pytest

from datamint.dataset import VideoDataset
from datamint.dataset.modes import needed_files
from datamint.exceptions import (
    CacheCorruptedError,
    DatamintWarning,
    OfflineCacheMissError,
    ValidationError,
)
from datamint.storage.file_cache import FileCache
from tests.counting import file_downloads


@pytest.fixture
def videos(counted, faults, tmp_path):
    """The demo videos, with their files and segmentations prefetched (log cleared)."""
    ds = VideoDataset(
        project="demo", server_url=counted.url, api_key=counted.api_key, cache_dir=tmp_path
    )
    ds.prefetch(include_annotations=True, progress=False)
    faults.reset()
    return ds


def _flip_a_byte_keeping_mtime(path):
    """Bit rot: one byte changes, size and modification time do not."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return bytes(data)


def _cached_path(ds, resource):
    return FileCache(ds.cache_root).resource_file(None, resource.record)  # a hit: no download


def test_all_checks_finds_a_flipped_byte_and_downloads_the_file_again(videos, faults):
    resource = videos.resources[0]
    path = _cached_path(videos, resource)
    good = path.read_bytes()
    _flip_a_byte_keeping_mtime(path)

    # (the file cache's own hit check would catch it too, as the inode's ctime changed;
    # all_checks re-hashes every file whatever its inode says)
    with pytest.warns(DatamintWarning, match=f"resource {resource.id}.*sha256"):
        report = videos.prefetch(
            include_annotations=True, progress=False, verification_mode="all_checks"
        )
    assert faults.count(rf"^/resources/{resource.id}/file$") == 1
    assert file_downloads(faults) == 1
    assert report.downloaded == 1
    assert _cached_path(videos, resource).read_bytes() == good

    faults.reset()
    videos.prefetch(include_annotations=True, progress=False, verification_mode="all_checks")
    assert file_downloads(faults) == 0  # everything verified intact


def test_local_files_only_downloads_nothing(videos, faults):
    needed = len(list(needed_files(videos, include_annotations=True)))
    report = videos.prefetch(include_annotations=True, progress=False, local_files_only=True)
    assert (report.cached, report.downloaded) == (needed, 0)
    assert file_downloads(faults) == 0

    missing = videos.resources[1]
    FileCache(videos.cache_root).remove_entities("resources", [missing.id])
    with pytest.raises(OfflineCacheMissError, match=f"1 of .* resource {missing.id}"):
        videos.prefetch(include_annotations=True, progress=False, local_files_only=True)
    assert file_downloads(faults) == 0


def test_all_checks_with_local_files_only_raises_naming_the_file(videos, faults):
    resource = videos.resources[2]
    _flip_a_byte_keeping_mtime(_cached_path(videos, resource))
    with pytest.raises(CacheCorruptedError, match=f"resource {resource.id}"):
        videos.prefetch(progress=False, verification_mode="all_checks", local_files_only=True)
    assert file_downloads(faults) == 0
    assert not FileCache(videos.cache_root).has_resource_file(resource.record)  # never read


def test_force_redownload_fetches_every_file_again(videos, faults):
    report = videos.prefetch(
        include_annotations=True, progress=False, download_mode="force_redownload"
    )
    assert report.cached == 0
    assert file_downloads(faults) == report.downloaded > len(videos.resources)


def test_modes_are_checked(videos):
    with pytest.raises(ValidationError, match="download_mode='sometimes'"):
        videos.prefetch(progress=False, download_mode="sometimes")
    with pytest.raises(ValidationError, match="verification_mode='paranoid'"):
        videos.prefetch(progress=False, verification_mode="paranoid")
    with pytest.raises(ValidationError, match="local_files_only"):
        videos.prefetch(progress=False, download_mode="force_redownload", local_files_only=True)
    offline = VideoDataset(project="demo", offline=True, cache_dir=videos.cache_root)
    with pytest.raises(ValidationError, match="offline dataset"):
        offline.prefetch(progress=False, download_mode="force_redownload")
