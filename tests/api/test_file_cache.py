"""FileCache: layout, hits without downloads, corruption, locking, pickling.

A fake downloader stands in for ``Api`` here; ``test_api_integration.py`` runs the cache
against the reference server.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import time
from pathlib import Path

import pytest

from datamint.api.download import DownloadResult
from datamint.exceptions import DatamintWarning, IntegrityError, ValidationError
from datamint.storage.file_cache import FileCache
from datamint.storage.layout import resource_version_info, version_hash

CONTENT = b"voxels" * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()


class FakeApi:
    """Writes fixed bytes the way Api does (to dest, atomically) and counts calls."""

    def __init__(self, content: bytes = CONTENT, delay_s: float = 0.0) -> None:
        self.content = content
        self.delay_s = delay_s
        self.calls: list[tuple] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def _write(self, dest: Path, expected_size, expected_sha256) -> DownloadResult:
        time.sleep(self.delay_s)
        digest = hashlib.sha256(self.content).hexdigest()
        if expected_sha256 is not None and digest != expected_sha256:
            raise IntegrityError("sha256 mismatch")
        if expected_size is not None and len(self.content) != expected_size:
            raise IntegrityError("size mismatch")
        tmp = dest.with_name(dest.name + ".incomplete")
        tmp.write_bytes(self.content)
        os.replace(tmp, dest)
        return DownloadResult(dest, len(self.content), digest, None)

    def download_resource_file(
        self, resource_id, dest, *, expected_size=None, expected_sha256=None
    ):
        with self._lock:
            self.calls.append(("resource", resource_id))
        return self._write(dest, expected_size, expected_sha256)

    def download_segmentation_file(
        self, resource_id, annotation_id, dest, *, expected_size=None, expected_sha256=None
    ):
        with self._lock:
            self.calls.append(("segmentation", resource_id, annotation_id))
        return self._write(dest, expected_size, expected_sha256)


RESOURCE = {
    "id": "11111111-2222-3333-4444-555555555555",
    "created_at": "2026-04-21T13:09:34.912Z",
    "deleted_at": None,
    "size": len(CONTENT),
    "filename": "ct.nii.gz",
}
ANNOTATION = {
    "id": "aaaaaaaa-2222-3333-4444-555555555555",
    "resource_id": RESOURCE["id"],
    "created_at": "2026-04-21T13:09:34.912Z",
    "deleted_at": None,
    "associated_file": "masks/a.nii.gz",
}


def test_miss_downloads_then_hit_does_not(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path / "c"), FakeApi()
    assert not cache.has_resource_file(RESOURCE)
    path = cache.resource_file(api, RESOURCE)
    assert path.read_bytes() == CONTENT
    assert cache.has_resource_file(RESOURCE)
    assert cache.resource_file(api, RESOURCE) == path
    assert api.calls == [("resource", RESOURCE["id"])]


def test_layout_and_meta(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    path = cache.resource_file(FakeApi(), RESOURCE)
    vhash = version_hash(resource_version_info(RESOURCE))
    entry = tmp_path / "c" / "files" / "resources" / RESOURCE["id"] / vhash
    assert path == entry / "data"
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["entity_id"] == RESOURCE["id"]
    assert meta["entity_type"] == "resource"
    assert meta["version_hash"] == vhash
    assert meta["version_info"] == {
        "created_at": RESOURCE["created_at"],
        "deleted_at": None,
        "size": len(CONTENT),
    }
    assert (meta["size"], meta["sha256"], meta["etag"]) == (len(CONTENT), SHA, None)
    assert meta["cached_at"].endswith("Z")
    assert sorted(p.name for p in entry.iterdir()) == ["data", "meta.json"]


def test_version_change_is_a_new_entry(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path), FakeApi()
    first = cache.resource_file(api, RESOURCE)
    newer = {**RESOURCE, "created_at": "2026-05-01T00:00:00.000Z"}
    assert not cache.has_resource_file(newer)
    second = cache.resource_file(api, newer)
    assert second != first
    assert len(api.calls) == 2


def test_size_as_numeric_string_is_the_same_version(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.resource_file(FakeApi(), RESOURCE)
    assert cache.has_resource_file({**RESOURCE, "size": str(len(CONTENT))})


def test_record_sha256_is_in_the_key_and_verified(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path), FakeApi()
    with_sha = {**RESOURCE, "sha256": SHA.upper()}
    assert resource_version_info(with_sha)["sha256"] == SHA
    path = cache.resource_file(api, with_sha)
    assert "sha256" in json.loads((path.parent / "meta.json").read_text())["version_info"]
    with pytest.raises(IntegrityError):
        cache.resource_file(api, {**RESOURCE, "sha256": "0" * 64})


def test_truncated_data_is_a_miss(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path), FakeApi()
    path = cache.resource_file(api, RESOURCE)
    path.write_bytes(CONTENT[:10])
    assert not cache.has_resource_file(RESOURCE)
    with pytest.warns(DatamintWarning, match="data has 10 bytes"):
        assert cache.resource_file(api, RESOURCE).read_bytes() == CONTENT
    assert len(api.calls) == 2


def test_same_size_rewrite_is_caught_by_the_hash(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path), FakeApi()
    path = cache.resource_file(api, RESOURCE)
    path.write_bytes(b"X" * len(CONTENT))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert not cache.has_resource_file(RESOURCE)
    with pytest.warns(DatamintWarning, match="data sha256 .* does not match"):
        cache.resource_file(api, RESOURCE)
    assert path.read_bytes() == CONTENT
    assert len(api.calls) == 2


def test_touched_but_intact_data_is_still_a_hit(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path), FakeApi()
    path = cache.resource_file(api, RESOURCE)
    os.utime(path, ns=(0, 123_456_789))
    assert cache.has_resource_file(RESOURCE)
    cache.resource_file(api, RESOURCE)
    assert len(api.calls) == 1


@pytest.mark.parametrize("damage", ["delete meta", "garbage meta", "delete data", "other id"])
def test_damaged_entry_is_a_miss(tmp_path: Path, damage: str) -> None:
    cache, api = FileCache(tmp_path), FakeApi()
    path = cache.resource_file(api, RESOURCE)
    meta = path.parent / "meta.json"
    if damage == "delete meta":
        meta.unlink()
    elif damage == "garbage meta":
        meta.write_text("{not json")
    elif damage == "delete data":
        path.unlink()
    else:
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "entity_id": "zzz"}))
    assert not cache.has_resource_file(RESOURCE)
    assert cache.resource_file(api, RESOURCE).read_bytes() == CONTENT
    assert len(api.calls) == 2


def test_segmentation_file(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path), FakeApi(content=b"mask")
    path = cache.segmentation_file(api, ANNOTATION)
    assert path.read_bytes() == b"mask"
    assert api.calls == [("segmentation", RESOURCE["id"], ANNOTATION["id"])]
    assert path.parent.parent.parent.name == "annotations"
    assert cache.has_segmentation_file(ANNOTATION)
    assert not cache.has_segmentation_file({**ANNOTATION, "associated_file": "other"})
    meta = json.loads((path.parent / "meta.json").read_text())
    assert meta["resource_id"] == RESOURCE["id"]


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "..", ".hidden", "", None, 5])
def test_unsafe_ids_are_rejected(tmp_path: Path, bad_id) -> None:
    cache, api = FileCache(tmp_path / "c"), FakeApi()
    with pytest.raises(ValidationError, match="cannot name a cache entry"):
        cache.resource_file(api, {**RESOURCE, "id": bad_id})
    with pytest.raises(ValidationError, match="cannot name a cache entry"):
        cache.segmentation_file(api, {**ANNOTATION, "resource_id": bad_id})
    assert api.calls == []
    assert not (tmp_path / "c").exists()


def test_concurrent_threads_download_once(tmp_path: Path) -> None:
    cache, api = FileCache(tmp_path), FakeApi(delay_s=0.2)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.resource_file(api, RESOURCE)))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(api.calls) == 1
    assert len(set(results)) == 1
    assert len(results) == 6


def test_pickles_as_its_root(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    cache.resource_file(FakeApi(), RESOURCE)
    assert cache.__reduce__() == (FileCache, (str(tmp_path / "c"),))
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.root == cache.root
    assert clone.has_resource_file(RESOURCE)


class FileCountingApi(FakeApi):
    """A FakeApi whose downloads are counted as files, so processes can share the count."""

    def __init__(self, count_dir: Path) -> None:
        super().__init__(delay_s=0.3)
        self.count_dir = count_dir

    def download_resource_file(
        self, resource_id, dest, *, expected_size=None, expected_sha256=None
    ):
        (self.count_dir / f"download-{os.getpid()}").touch()
        return self._write(dest, expected_size, expected_sha256)


def _fetch_in_child(cache: FileCache, api: FileCountingApi) -> str:
    return str(cache.resource_file(api, RESOURCE))


def test_concurrent_processes_download_once(tmp_path: Path) -> None:
    import multiprocessing

    count_dir = tmp_path / "count"
    count_dir.mkdir()
    cache, api = FileCache(tmp_path / "c"), FileCountingApi(count_dir)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        paths = pool.starmap(_fetch_in_child, [(cache, api)] * 3)
    assert len(set(paths)) == 1
    assert len(list(count_dir.iterdir())) == 1
    assert Path(paths[0]).read_bytes() == CONTENT
