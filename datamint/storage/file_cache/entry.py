"""One entry folder on disk: the names of its files, its ``meta.json``, the hit test
(size, then sha256 when ``data``'s inode state changed since download), and its removal."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, NamedTuple

from datamint.storage.hashing import CHUNK_BYTES as HASH_CHUNK_BYTES
from datamint.storage.hashing import file_sha256

__all__ = [
    "DATA_NAME",
    "HASH_CHUNK_BYTES",
    "LOCK_TIMEOUT_S",
    "META_NAME",
    "PARTIAL_NAME",
    "EntryState",
    "discard_entry",
    "entry_state",
    "file_sha256",
    "fingerprint",
    "is_valid",
    "read_meta",
]

DATA_NAME = "data"
META_NAME = "meta.json"
PARTIAL_NAME = DATA_NAME + ".incomplete"
LOCK_TIMEOUT_S = 3600.0
"""Longest wait for another process downloading the same entry, in seconds."""


# (pid, path, size, mtime_ns, ctime_ns, inode) -> sha256 of files hashed in this process.
_hashed: dict[tuple[int, str, int, int, int, int], str] = {}
_hashed_lock = threading.Lock()

FINGERPRINT_KEYS = ("size", "data_mtime_ns", "data_ctime_ns", "data_ino")
"""The ``meta.json`` keys of ``data``'s inode state at download (:func:`fingerprint`)."""


def fingerprint(st: os.stat_result) -> dict[str, int]:
    """The inode state that the hit test compares: size, mtime, ctime and inode number.

    Any write to a file changes its ctime, and no user-level call (``touch``,
    ``os.utime``) can set ctime back, so a file rewritten in place with its mtime
    restored still differs here and gets re-hashed.
    """
    return {
        "size": st.st_size,
        "data_mtime_ns": st.st_mtime_ns,
        "data_ctime_ns": st.st_ctime_ns,
        "data_ino": st.st_ino,
    }


def _sha256_of(path: Path, st: os.stat_result) -> str:
    """The sha256 of a file, hashed once per process per inode state."""
    key = (os.getpid(), str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
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


class EntryState(NamedTuple):
    """What the hit test found.

    Attributes:
        ok: ``data`` is intact: the hit test passed.
        corrupt: Why ``data`` does not match its ``meta.json`` (size or sha256), or
            ``None``. An entry that is neither ok nor corrupt is missing or incomplete.
        sha256: The content sha256 ``meta.json`` records, when it is readable.
        actual_sha256: The sha256 ``data`` has now, when the test computed a differing one.
    """

    ok: bool
    corrupt: str | None = None
    sha256: str | None = None
    actual_sha256: str | None = None


def entry_state(entry: Path, entity_id: str, *, full: bool = False) -> EntryState:
    """Run the hit test of one entry.

    A hit needs a readable ``meta.json`` for ``entity_id`` and this version, and a
    ``data`` of the recorded size; when ``data``'s inode state (:func:`fingerprint`)
    differs from the one recorded at download (or ``full`` is set), its sha256 must
    equal the recorded one. Without ``full`` the hash is computed once per process per
    inode state.

    Args:
        entry: The entry folder.
        entity_id: The id its ``meta.json`` must name.
        full: Hash ``data`` now whatever its inode state (a check before decoding it).

    Returns:
        An :class:`EntryState`.
    """
    meta = read_meta(entry)
    if meta is None or meta.get("entity_id") != entity_id:
        return EntryState(False)
    if meta.get("version_hash") != entry.name:
        return EntryState(False)
    expected = meta.get("sha256") if isinstance(meta.get("sha256"), str) else None
    try:
        st = (entry / DATA_NAME).stat()
    except OSError:
        return EntryState(False, None, expected)
    if st.st_size != meta.get("size"):
        why = f"data has {st.st_size} bytes, meta.json says {meta.get('size')}"
        return EntryState(False, why, expected)
    if not full and all(meta.get(k) == v for k, v in fingerprint(st).items()):
        return EntryState(True, None, expected)
    if expected is None:
        return EntryState(False)
    try:
        digest = file_sha256(entry / DATA_NAME) if full else _sha256_of(entry / DATA_NAME, st)
    except OSError:
        return EntryState(False, None, expected)
    if digest != expected:
        why = f"data sha256 {digest} does not match meta.json {expected}"
        return EntryState(False, why, expected, digest)
    return EntryState(True, None, expected)


def is_valid(entry: Path, entity_id: str) -> bool:
    """Tell whether the entry is a hit for ``entity_id`` (:func:`entry_state`)."""
    return entry_state(entry, entity_id).ok


def discard_entry(entry: Path, *, keep_partial: bool = False) -> int:
    """Remove an entry folder's files (meta first, so readers see a miss) and the folder.

    Args:
        entry: The entry folder.
        keep_partial: Keep ``data.incomplete`` (bytes received by a failed download, for
            the next download to resume), and so the folder.

    Returns:
        Bytes removed.
    """
    removed = 0
    names = [META_NAME, DATA_NAME, PARTIAL_NAME]
    with contextlib.suppress(OSError):
        names += sorted(n for n in os.listdir(entry) if n not in names)
    if keep_partial:
        names.remove(PARTIAL_NAME)
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
