"""Disk cache of the raw file bytes of resources and segmentation annotations.

Each entry is a folder (see :mod:`datamint.storage.layout`) holding ``data``, the bytes
exactly as the server sent them, and ``meta.json``::

    {"entity_type": "resource", "entity_id": "...", "resource_id": "...",
     "version_hash": "...", "version_info": {...}, "size": 1234, "sha256": "...",
     "etag": "..." | null, "data_mtime_ns": ..., "cached_at": "2026-01-01T00:00:00.000000Z"}

Both files are written atomically, ``data`` first. A hit needs a readable ``meta.json``
for the same id and version, and a ``data`` whose size equals ``meta.size``. When
``data``'s modification time differs from the one recorded at download, its sha256 is
computed (once per process per file state) and must equal ``meta.sha256``. Anything else
is a miss, downloaded again under the entry's lock (checked again once the lock is held,
so concurrent threads and processes download each file once).

Failures leave nothing behind: when a download fails for good (network, verification,
offline miss, interruption), the entry's ``data``, ``data.incomplete`` and ``meta.json``
are removed before the error propagates. Only a process killed mid-download can leave a
``data.incomplete``; the next download of that entry resumes it and verifies the result,
and :meth:`FileCache.verify` removes it when no download holds the lock.

File names sent by the server are never used: entries are named by entity id (checked to
be one safe path component) and version hash only.

Modules, one job each: ``entry`` (one entry folder: its files, ``meta.json``, the hit
test, removal), ``download`` (filling a missing entry under its lock), ``maintenance``
(walking, verifying and removing entries) and ``cache`` (:class:`FileCache`, which names
the entries and ties the three together).
"""

from __future__ import annotations

from datamint.storage.file_cache.cache import FileCache
from datamint.storage.file_cache.entry import DATA_NAME as DATA_NAME
from datamint.storage.file_cache.entry import HASH_CHUNK_BYTES as HASH_CHUNK_BYTES
from datamint.storage.file_cache.entry import LOCK_TIMEOUT_S as LOCK_TIMEOUT_S
from datamint.storage.file_cache.entry import META_NAME as META_NAME
from datamint.storage.file_cache.entry import PARTIAL_NAME as PARTIAL_NAME
from datamint.storage.file_cache.maintenance import ENTRY_KINDS as ENTRY_KINDS
from datamint.storage.file_cache.maintenance import CacheEntry, VerifyReport

__all__ = ["CacheEntry", "FileCache", "VerifyReport"]
