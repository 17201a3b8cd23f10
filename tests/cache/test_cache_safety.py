"""Nothing outside the cache root, nothing partial after a failure, verify and settings."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from datamint.api import Api
from datamint.api.download import DownloadResult
from datamint.api.offline import OfflineApi
from datamint.exceptions import OfflineCacheMissError, ValidationError
from datamint.settings import ENV_CACHE_DIR, ENV_OFFLINE, cache_root, offline_requested
from datamint.storage.file_cache import FileCache
from datamint.storage.locks import key_lock
from datamint.storage.manifest import find_manifest, write_manifest

from .support import assert_nothing_partial, entry_files, sha256_of

EVIL_NAMES = ("../../../evil", "/tmp/evil", "..\\..\\evil", "sub/../../evil")


def _files_outside(tmp_path: Path, root: Path) -> set[Path]:
    return {p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(root)}


@pytest.mark.parametrize("filename", EVIL_NAMES)
def test_server_file_names_are_never_used_as_paths(
    api: Api, demo_records: dict, tmp_path: Path, filename: str
) -> None:
    root = tmp_path / "cache"
    before = _files_outside(tmp_path, root)
    resource = {**demo_records["resources"][0], "filename": filename}
    annotation = {**demo_records["segmentations"][0], "file": filename, "filename": filename}
    cache = FileCache(root)
    path = cache.resource_file(api, resource)
    assert path.is_relative_to(root) and path.name == "data"
    assert sha256_of(path) == resource["sha256"]
    assert cache.segmentation_file(api, annotation).is_relative_to(root)
    manifest_file = write_manifest(
        root, project={"id": "p1", "name": filename}, resources=[resource],
        annotations=[annotation], server_url=api.server_url,
    )  # fmt: skip
    assert manifest_file.is_relative_to(root)
    assert find_manifest(root, filename).resources[0]["filename"] == filename
    offline = OfflineApi(root)
    assert cache.resource_file(offline, offline.get_project_resources("p1")[0]) == path
    assert _files_outside(tmp_path, root) == before
    assert not [p for p in tmp_path.parent.rglob("evil*")]
    assert_nothing_partial(root)


@pytest.mark.parametrize("bad_id", ["../../x", "a/b", "..", ".x", "", None, 7])
def test_unsafe_ids_from_the_server_write_nothing(
    api: Api, demo_records: dict, tmp_path: Path, bad_id: Any
) -> None:
    cache = FileCache(tmp_path / "cache")
    with pytest.raises(ValidationError):
        cache.resource_file(api, {**demo_records["resources"][0], "id": bad_id})
    with pytest.raises(ValidationError):
        cache.segmentation_file(api, {**demo_records["segmentations"][0], "resource_id": bad_id})
    with pytest.raises(ValidationError):
        write_manifest(tmp_path / "cache", project={"id": "p"}, resources=[{"id": bad_id}])
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


class _InterruptedApi:
    """Writes half a partial download, then is interrupted (Ctrl-C)."""

    def download_resource_file(self, rid, dest, *, expected_size=None, expected_sha256=None):
        dest.with_name(dest.name + ".incomplete").write_bytes(b"half")
        raise KeyboardInterrupt


class _GoodApi:
    content = b"pixels" * 100

    def download_resource_file(self, rid, dest, *, expected_size=None, expected_sha256=None):
        dest.write_bytes(self.content)
        return DownloadResult(
            dest, len(self.content), hashlib.sha256(self.content).hexdigest(), None
        )


RECORD = {"id": "r-1", "created_at": "2026-01-01T00:00:00Z", "deleted_at": None, "size": 600}


def test_an_interrupted_download_leaves_only_its_partial_bytes(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        cache.resource_file(_InterruptedApi(), RECORD)
    (partial,) = entry_files(tmp_path)  # no data, no meta.json: kept for a resume
    assert partial.name == "data.incomplete" and partial.read_bytes() == b"half"
    assert not cache.has_resource_file(RECORD)
    assert cache.resource_file(_GoodApi(), RECORD).read_bytes() == _GoodApi.content


def test_an_offline_miss_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OfflineCacheMissError, match="r-1"):
        FileCache(tmp_path / "c").resource_file(OfflineApi(tmp_path / "c"), RECORD)
    assert entry_files(tmp_path / "c") == []


def _damage(entry: Path, how: str) -> None:
    if how == "truncated":
        (entry / "data").write_bytes(b"x")
    elif how == "flipped":
        data = entry / "data"
        data.write_bytes(b"\0" * data.stat().st_size)
    elif how == "no-meta":
        (entry / "meta.json").unlink()
    elif how == "no-data":
        (entry / "data").unlink()
    elif how == "stray-partial":
        (entry / "data.incomplete").write_bytes(b"abc")
    elif how == "stray-temp":
        (entry / ".meta.json.123.tmp").write_bytes(b"{")
    elif how == "bad-meta":
        (entry / "meta.json").write_text("[]")


@pytest.mark.parametrize(
    "how", ["truncated", "flipped", "no-meta", "no-data", "stray-partial", "stray-temp", "bad-meta"]
)
def test_verify_removes_bad_entries(tmp_path: Path, how: str) -> None:
    cache = FileCache(tmp_path)
    good = {**RECORD, "id": "r-good"}
    cache.resource_file(_GoodApi(), good)
    entry = cache.resource_file(_GoodApi(), RECORD).parent
    _damage(entry, how)
    report = cache.verify(remove=False)
    assert (report.checked, report.ok, len(report.bad)) == (2, 1, 1)
    assert report.bad[0][0] == entry and report.removed_bytes == 0
    report = cache.verify()
    assert len(report.bad) == 1
    assert not entry.exists()
    assert cache.has_resource_file(good)
    assert cache.verify().bad == []
    assert_nothing_partial(tmp_path)


def test_verify_skips_an_entry_being_downloaded(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    entry = cache.resource_file(_GoodApi(), RECORD).parent
    (entry / "data.incomplete").write_bytes(b"in flight")
    with key_lock(entry, timeout_s=1):
        report = cache.verify()
    assert report.busy == [entry] and report.bad == []
    assert (entry / "data.incomplete").exists()


def test_remove_entities(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.resource_file(_GoodApi(), RECORD)
    cache.resource_file(_GoodApi(), {**RECORD, "size": None})  # a second version
    cache.resource_file(_GoodApi(), {**RECORD, "id": "r-2"})
    entries, removed = cache.remove_entities("resources", ["r-1"])
    assert entries == 2 and removed > 2 * len(_GoodApi.content)  # data and meta.json
    assert [e.entity_id for e in cache.iter_entries()] == ["r-2"]
    with pytest.raises(ValueError):
        list(cache.iter_entries("arrays"))


def test_meta_lookup_without_download(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    assert cache.resource_meta(RECORD) is None
    cache.resource_file(_GoodApi(), RECORD)
    meta = cache.resource_meta(RECORD)
    assert meta is not None and meta["sha256"] == hashlib.sha256(_GoodApi.content).hexdigest()
    assert json.loads(
        (tmp_path / "files/resources/r-1" / meta["version_hash"] / "meta.json").read_text()
    )


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), ("", False), ("0", False), ("off", False), ("No", False),
     ("1", True), ("true", True), ("YES", True), (" on ", True)],
)  # fmt: skip
def test_offline_requested(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    if value is None:
        monkeypatch.delenv(ENV_OFFLINE, raising=False)
    else:
        monkeypatch.setenv(ENV_OFFLINE, value)
    assert offline_requested() is expected


def test_offline_requested_refuses_typos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_OFFLINE, "ture")
    with pytest.raises(ValidationError, match="DATAMINT_OFFLINE='ture'"):
        offline_requested()


def test_cache_root_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "here"))
    assert cache_root() == tmp_path / "here"
    monkeypatch.setenv(ENV_CACHE_DIR, "  ")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache_root() == tmp_path / "xdg" / "datamint"
