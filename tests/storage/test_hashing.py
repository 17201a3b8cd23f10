"""One sha256 helper and one plane-name tuple, shared by every cache and download."""

from __future__ import annotations

import hashlib
from pathlib import Path

from datamint.storage.hashing import CHUNK_BYTES, file_sha256, hash_file


def test_file_sha256_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    data = bytes(range(256)) * (2 * CHUNK_BYTES // 256) + b"end"  # two chunks and a tail
    path = tmp_path / "f"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()


def test_hash_file_goes_on_from_a_given_hash(tmp_path: Path) -> None:
    path = tmp_path / "tail"
    path.write_bytes(b"tail bytes")
    hasher, size = hash_file(path, hashlib.sha256(b"head "))
    assert size == len(b"tail bytes")
    assert hasher.hexdigest() == hashlib.sha256(b"head tail bytes").hexdigest()


def test_each_concept_has_one_home() -> None:
    from datamint.dataset import loading, regions
    from datamint.geometry import PLANES
    from datamint.storage import hashing, slice_cache
    from datamint.storage.file_cache import entry

    assert entry.file_sha256 is loading.file_sha256 is hashing.file_sha256
    assert slice_cache.AXES is regions.AXIS_NAMES is PLANES
