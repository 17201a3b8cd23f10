"""Downloaded files are re-checked when their bytes change in place, and what was decoded
from corrupted bytes goes with them (read path and ``datamint cache verify`` alike).

Files come from the reference server over HTTP (the demo project). The damage rewrites a
pixel byte of a native DICOM in place and puts its mtime back: the file still decodes,
to one wrong pixel, which is exactly what must never reach training silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from datamint.api import Api
from datamint.cli.main import app
from datamint.exceptions import DatamintWarning
from datamint.readers import read_file
from datamint.storage.array_cache import ArrayCache
from datamint.storage.file_cache import FileCache
from datamint.storage.slice_cache import SliceCache

from .client_support import flip_keeping_mtime

pytestmark = pytest.mark.reliability

FILENAME = "images2d/mr_liver_overlay.dcm"  # Explicit VR Little Endian: bytes are pixels


@pytest.fixture
def api(demo_server: Any) -> Iterator[Api]:
    with Api(demo_server.url, demo_server.api_key, check_connection=False) as client:
        yield client


@pytest.fixture
def record(api: Api, demo_server: Any) -> dict[str, Any]:
    resources = api.get_project_resources(demo_server.project_id)
    return next(r for r in resources if r["filename"] == FILENAME)


def _damage(path: Path) -> None:
    flip_keeping_mtime(path, path.stat().st_size - 1000)  # one pixel of the last rows


def _decode_into_caches(root: Path, path: Path, record: dict[str, Any]) -> list[Path]:
    """Decode ``path`` as a dataset would, into the npy and b2nd caches, keyed by the
    record's sha256; return the two sidecars."""
    array = read_file(path).array
    key = {"op": "image", "content": record["sha256"], "reader": "dicom", "reader_version": "3"}
    ArrayCache(root).get_or_build(key, lambda: (array, {}))
    SliceCache(root, "b2nd").volume(key, lambda: (array, {}))
    return sorted((root / "arrays").rglob("*.json"))


def test_download_damaged_in_place_is_downloaded_again(
    api: Api, record: dict[str, Any], tmp_path: Path
) -> None:
    cache = FileCache(tmp_path)
    path = cache.resource_file(api, record)
    pristine = path.read_bytes()
    _damage(path)
    with pytest.warns(DatamintWarning, match=rf"cache entry {path} is corrupted \(data sha256"):
        again = cache.resource_file(api, record)
    assert again.read_bytes() == pristine
    assert cache.resource_file(api, record).read_bytes() == pristine  # a hit, no warning


def test_check_content_rehashes_even_when_the_inode_state_matches(
    api: Api, record: dict[str, Any], tmp_path: Path
) -> None:
    """The fast hit test trusts an unchanged inode state; ``check_content`` does not."""
    cache = FileCache(tmp_path)
    path = cache.resource_file(api, record)
    _damage(path)
    meta_path = path.parent / "meta.json"
    meta = json.loads(meta_path.read_text())
    st = path.stat()  # forge the state the hit test compares, as bit rot would leave it
    meta.update(data_mtime_ns=st.st_mtime_ns, data_ctime_ns=st.st_ctime_ns, data_ino=st.st_ino)
    meta_path.write_text(json.dumps(meta))
    assert cache.has_resource_file(record)
    with pytest.warns(DatamintWarning, match="is corrupted"):
        checked = cache.resource_file(api, record, check_content=True)
    assert checked.read_bytes() == api_bytes(api, record, tmp_path)


def api_bytes(api: Api, record: dict[str, Any], tmp_path: Path) -> bytes:
    """The file as the server sends it, downloaded outside the cache."""
    dest = tmp_path / "direct"
    api.download_resource_file(record["id"], dest, expected_sha256=record["sha256"])
    return dest.read_bytes()


def test_verify_removes_arrays_decoded_from_a_corrupted_download(
    api: Api, record: dict[str, Any], tmp_path: Path
) -> None:
    cache = FileCache(tmp_path)
    path = cache.resource_file(api, record)
    good = read_file(path).array
    _damage(path)
    bad = read_file(path).array
    assert int((bad != good).sum()) == 1  # the damage decodes silently to one wrong pixel
    sidecars = _decode_into_caches(tmp_path, path, record)
    assert len(sidecars) == 2

    result = CliRunner().invoke(app, ["cache", "verify", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "data sha256" in result.output and "does not match meta.json" in result.output
    for sidecar in sidecars:
        rel = sidecar.relative_to(tmp_path)
        assert f"removed (decoded from a corrupted download): {rel}" in result.output
        assert not sidecar.exists()
    assert "1 bad, removed" in result.output and "with 2 decoded arrays derived" in result.output
    left = [p.name for p in (tmp_path / "arrays").rglob("*") if p.is_file()]
    assert left and all(name.endswith(".lock") for name in left), left  # only locks remain

    fresh = cache.resource_file(api, record)  # downloaded again, decodes right
    np.testing.assert_array_equal(read_file(fresh).array, good)


def test_reading_a_corrupted_download_removes_arrays_decoded_from_it(
    api: Api, record: dict[str, Any], tmp_path: Path
) -> None:
    cache = FileCache(tmp_path)
    path = cache.resource_file(api, record)
    _damage(path)
    sidecars = _decode_into_caches(tmp_path, path, record)
    with pytest.warns(DatamintWarning, match="2 decoded arrays derived from it removed too"):
        fresh = cache.resource_file(api, record)
    assert not any(s.exists() for s in sidecars)
    assert fresh.read_bytes() == api_bytes(api, record, tmp_path)
