"""Disk cache of the raw file bytes of resources and segmentation annotations.

Each entry is a folder (see :mod:`datamint.storage.layout`) holding ``data``, the bytes
exactly as the server sent them, and ``meta.json``::

    {"entity_type": "resource", "entity_id": "...", "resource_id": "...",
     "version_hash": "...", "version_info": {...}, "size": 1234, "sha256": "...",
     "etag": "..." | null, "data_mtime_ns": ..., "data_ctime_ns": ..., "data_ino": ...,
     "cached_at": "2026-01-01T00:00:00.000000Z"}

Both files are written atomically, ``data`` first. A hit needs a readable ``meta.json``
for the same id and version, and a ``data`` whose size equals ``meta.size``. When
``data``'s inode state (size, mtime, ctime, inode number) differs from the one recorded
at download, its sha256 is computed (once per process per inode state) and must equal
``meta.sha256``; since any write changes a file's ctime and nothing but the kernel sets
it, a file rewritten in place with its mtime put back is re-hashed too. Callers about to
decode a file can ask for the hash whatever the inode state (``check_content=True``).
A ``data`` that fails the size or sha256 check is *corrupted*: it is removed with every
decoded array derived from its content
(:func:`~datamint.storage.decoded_maintenance.remove_derived`), a
:class:`~datamint.exceptions.DatamintWarning` names it, and it is downloaded again.
Anything else that is not a hit is a miss, downloaded under the entry's lock (checked
again once the lock is held, so concurrent threads and processes download each file
once). ``datamint cache verify`` re-hashes every ``data`` and also removes the decoded
arrays derived from a corrupted one.

Failures leave no ``data`` or ``meta.json`` behind: when a download fails for good
(network, server error, verification, offline miss, interruption), both are removed
before the error propagates. The bytes already received stay in ``data.incomplete``
(a failed verification removes it): the next download of that entry resumes from them
with an HTTP ``Range`` request and verifies the result, whether the previous attempt
ended because the server broke the connection or because the process was killed.
:meth:`FileCache.verify` removes a ``data.incomplete`` when no download holds the lock.

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
