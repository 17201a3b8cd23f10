"""Filling a missing entry: download ``data`` under the entry's lock (checking for a hit
again once it is held), then write ``meta.json``; a failure leaves nothing behind."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import filelock

from datamint.exceptions import CacheError
from datamint.storage.atomic import atomic_write_text
from datamint.storage.file_cache.entry import (
    DATA_NAME,
    LOCK_TIMEOUT_S,
    META_NAME,
    discard_entry,
    is_valid,
)
from datamint.storage.locks import key_lock
from datamint.storage.values import utc_now_iso

__all__ = ["Downloaded", "Downloader", "fill_entry"]


class Downloader(Protocol):
    """What the cache needs from :class:`datamint.api.Api`."""

    def download_resource_file(
        self,
        resource_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> Downloaded: ...

    def download_segmentation_file(
        self,
        resource_id: str,
        annotation_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> Downloaded: ...


class Downloaded(Protocol):
    """What a download returns (e.g. :class:`~datamint.api.download.DownloadResult`);
    read-only, so frozen dataclasses match."""

    @property
    def size(self) -> int:
        """Size in bytes."""
        ...

    @property
    def sha256(self) -> str:
        """Lowercase hex sha256 of the bytes."""
        ...

    @property
    def etag(self) -> str | None:
        """The server's ``ETag``, or ``None``."""
        ...


def fill_entry(
    entry: Path,
    entity_id: str,
    entity_type: str,
    info: dict[str, Any],
    fetch: Callable[[Path], Downloaded],
    extra: dict[str, Any],
) -> Path:
    """Return the entry's ``data``, running ``fetch(data)`` first unless it is a hit.

    Raises:
        CacheError: If another process held the entry's lock for over an hour.
        BaseException: Whatever ``fetch`` raised, once the entry is removed.
    """
    data = entry / DATA_NAME
    if is_valid(entry, entity_id):
        return data
    try:
        with key_lock(entry, timeout_s=LOCK_TIMEOUT_S):
            if is_valid(entry, entity_id):
                return data
            entry.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                (entry / META_NAME).unlink()
            try:
                result = fetch(data)
                st = data.stat()
                meta = {
                    "entity_type": entity_type,
                    "entity_id": entity_id,
                    **extra,
                    "version_hash": entry.name,
                    "version_info": info,
                    "size": result.size,
                    "sha256": result.sha256,
                    "etag": result.etag,
                    "data_mtime_ns": st.st_mtime_ns,
                    "cached_at": utc_now_iso(),
                }
                atomic_write_text(entry / META_NAME, json.dumps(meta, indent=2, sort_keys=True))
            except BaseException:
                # The entry was invalid before this download; leave nothing of it.
                discard_entry(entry)
                raise
    except filelock.Timeout as exc:
        raise CacheError(
            f"timed out after {LOCK_TIMEOUT_S:.0f} s waiting for the lock of cache entry "
            f"{entry}; another process may be stuck downloading {entity_type} {entity_id}"
        ) from exc
    return data
