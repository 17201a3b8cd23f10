"""Filling a missing entry: download ``data`` under the entry's lock (checking for a hit
again once it is held), then write ``meta.json``. A failure leaves no ``data`` or
``meta.json`` behind; the bytes already received stay in ``data.incomplete`` for the
next download to resume. A ``data`` found corrupted is reported to the cache (which
warns and drops what was decoded from it) before it is downloaded again."""

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
    entry_state,
    fingerprint,
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
    *,
    full_check: bool = False,
    on_corrupt: Callable[[Path, str, set[str]], None] | None = None,
) -> Path:
    """Return the entry's ``data``, running ``fetch(data)`` first unless it is a hit.

    Args:
        entry: The entry folder.
        entity_id: The resource or annotation id its ``meta.json`` names.
        entity_type: ``"resource"`` or ``"annotation"``, for ``meta.json``.
        info: The version fields, for ``meta.json``.
        fetch: Downloads into the given path (resuming ``data.incomplete``).
        extra: More ``meta.json`` keys.
        full_check: Hash ``data`` now even when its inode state is unchanged.
        on_corrupt: Called as ``on_corrupt(data, why, contents)`` when ``data`` failed the
            hit test's size or sha256 check; it was removed and downloaded again (or the
            download failed). It runs once the entry's lock is released, so that it may
            take the locks of decoded entries while a decoder holding one of those waits
            for this entry. ``contents`` holds the recorded and the actual sha256.

    Raises:
        CacheError: If another process held the entry's lock for over an hour.
        BaseException: Whatever ``fetch`` raised, once ``data`` and ``meta.json`` are
            removed (``data.incomplete`` is kept).
    """
    data = entry / DATA_NAME
    if entry_state(entry, entity_id, full=full_check).ok:
        return data
    corrupt: tuple[str, set[str]] | None = None
    try:
        with key_lock(entry, timeout_s=LOCK_TIMEOUT_S):
            state = entry_state(entry, entity_id, full=full_check)
            if state.ok:
                return data
            entry.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                (entry / META_NAME).unlink()
            if state.corrupt is not None:
                discard_entry(entry, keep_partial=True)
                contents = {c for c in (state.sha256, state.actual_sha256) if c}
                corrupt = (state.corrupt, contents)
                entry.mkdir(parents=True, exist_ok=True)
            try:
                result = fetch(data)
                meta = {
                    "entity_type": entity_type,
                    "entity_id": entity_id,
                    **extra,
                    "version_hash": entry.name,
                    "version_info": info,
                    **fingerprint(data.stat()),
                    "size": result.size,
                    "sha256": result.sha256,
                    "etag": result.etag,
                    "cached_at": utc_now_iso(),
                }
                atomic_write_text(entry / META_NAME, json.dumps(meta, indent=2, sort_keys=True))
            except BaseException:
                # The entry was invalid before this download; leave nothing of it but the
                # bytes received, which the next download resumes from.
                discard_entry(entry, keep_partial=True)
                raise
    except filelock.Timeout as exc:
        raise CacheError(
            f"timed out after {LOCK_TIMEOUT_S:.0f} s waiting for the lock of cache entry "
            f"{entry}; another process may be stuck downloading {entity_type} {entity_id}"
        ) from exc
    finally:
        if corrupt is not None and on_corrupt is not None:
            on_corrupt(data, *corrupt)
    return data
