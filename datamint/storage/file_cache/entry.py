"""One entry folder on disk: the names of its files, its ``meta.json``, the hit test
(size, then sha256 when ``data`` changed since download), and its removal."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from datamint.storage.hashing import CHUNK_BYTES as HASH_CHUNK_BYTES
from datamint.storage.hashing import file_sha256

__all__ = [
    "DATA_NAME",
    "HASH_CHUNK_BYTES",
    "LOCK_TIMEOUT_S",
    "META_NAME",
    "PARTIAL_NAME",
    "discard_entry",
    "file_sha256",
    "is_valid",
    "read_meta",
]

DATA_NAME = "data"
META_NAME = "meta.json"
PARTIAL_NAME = DATA_NAME + ".incomplete"
LOCK_TIMEOUT_S = 3600.0
"""Longest wait for another process downloading the same entry, in seconds."""


# (pid, path, size, mtime_ns) -> sha256 of files hashed in this process.
_hashed: dict[tuple[int, str, int, int], str] = {}
_hashed_lock = threading.Lock()


def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    """The sha256 of a file, hashed once per process per ``(size, mtime_ns)`` state."""
    key = (os.getpid(), str(path), size, mtime_ns)
    cached = _hashed.get(key)
    if cached is not None:
        return cached
    digest = file_sha256(path)
    with _hashed_lock:
        _hashed[key] = digest
    return digest


def read_meta(entry: Path) -> dict[str, Any] | None:
    """The entry's parsed ``meta.json``, or ``None`` when missing, unreadable or not an object."""
    try:
        meta = json.loads((entry / META_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def is_valid(entry: Path, entity_id: str) -> bool:
    """Tell whether the entry is a hit for ``entity_id`` (see the package docstring)."""
    meta = read_meta(entry)
    if meta is None or meta.get("entity_id") != entity_id:
        return False
    if meta.get("version_hash") != entry.name:
        return False
    try:
        st = (entry / DATA_NAME).stat()
    except OSError:
        return False
    if st.st_size != meta.get("size"):
        return False
    if st.st_mtime_ns == meta.get("data_mtime_ns"):
        return True
    expected = meta.get("sha256")
    if not isinstance(expected, str):
        return False
    try:
        return _sha256_of(entry / DATA_NAME, st.st_size, st.st_mtime_ns) == expected
    except OSError:
        return False


def discard_entry(entry: Path) -> int:
    """Remove an entry folder's files (meta first, so readers see a miss) and the folder.

    Returns:
        Bytes removed.
    """
    removed = 0
    names = [META_NAME, DATA_NAME, PARTIAL_NAME]
    with contextlib.suppress(OSError):
        names += sorted(n for n in os.listdir(entry) if n not in names)
    for name in names:
        path = entry / name
        try:
            size = path.stat().st_size
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += size
        except FileNotFoundError:
            continue
    with contextlib.suppress(OSError):
        entry.rmdir()
    with contextlib.suppress(OSError):
        entry.parent.rmdir()  # the entity folder, when no other version (or lock) is left
    return removed
