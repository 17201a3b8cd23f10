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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import filelock

from datamint.exceptions import CacheError
from datamint.storage.atomic import atomic_write_text
from datamint.storage.layout import (
    FILES_DIR,
    annotation_version_info,
    file_entry_dir,
    record_sha256,
    resource_version_info,
    safe_component,
    version_hash,
)
from datamint.storage.locks import key_lock

__all__ = ["CacheEntry", "FileCache", "VerifyReport"]

DATA_NAME = "data"
META_NAME = "meta.json"
PARTIAL_NAME = DATA_NAME + ".incomplete"
ENTRY_KINDS = ("resources", "annotations")
LOCK_TIMEOUT_S = 3600.0
"""Longest wait for another process downloading the same entry, in seconds."""

HASH_CHUNK_BYTES = 1 << 20


class _Downloaded(Protocol):
    size: int
    sha256: str
    etag: str | None


class _Downloader(Protocol):
    """What the cache needs from :class:`datamint.api.Api`."""

    def download_resource_file(
        self,
        resource_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> _Downloaded: ...

    def download_segmentation_file(
        self,
        resource_id: str,
        annotation_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> _Downloaded: ...


# (pid, path, size, mtime_ns) -> sha256 of files hashed in this process.
_hashed: dict[tuple[int, str, int, int], str] = {}
_hashed_lock = threading.Lock()


def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    key = (os.getpid(), str(path), size, mtime_ns)
    cached = _hashed.get(key)
    if cached is not None:
        return cached
    hasher = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK_BYTES):
            hasher.update(chunk)
    digest = hasher.hexdigest()
    with _hashed_lock:
        _hashed[key] = digest
    return digest


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _discard_entry(entry: Path) -> int:
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


@dataclass(frozen=True)
class CacheEntry:
    """One downloaded-file entry found on disk.

    Attributes:
        kind: ``"resources"`` or ``"annotations"``.
        entity_id: The resource or annotation id.
        path: The entry folder (``<root>/files/<kind>/<id>/<version_hash>``).
        meta: The parsed ``meta.json``, or ``None`` when missing or unreadable.
        data_bytes: Size of ``data`` in bytes, or ``None`` when it is missing.
    """

    kind: str
    entity_id: str
    path: Path
    meta: dict[str, Any] | None
    data_bytes: int | None


@dataclass
class VerifyReport:
    """What :meth:`FileCache.verify` found.

    Attributes:
        checked: Entries examined.
        ok: Entries whose ``data`` matches the size and sha256 in ``meta.json``.
        bad: ``(entry folder, reason)`` for every damaged or incomplete entry.
        removed_bytes: Bytes deleted (0 with ``remove=False``).
        busy: Entries skipped because a download held their lock.
    """

    checked: int = 0
    ok: int = 0
    bad: list[tuple[Path, str]] = field(default_factory=list)
    removed_bytes: int = 0
    busy: list[Path] = field(default_factory=list)


class FileCache:
    """Raw file bytes of resources and segmentations, on disk under ``root/files/``.

    Safe for several threads and processes sharing one root. Pickles as its root only,
    so spawned DataLoader workers find the same entries.

    Args:
        root: Cache root folder (e.g. :func:`datamint.settings.cache_root`); created
            on first write. Nothing is written outside it.

    Example:
        >>> cache = FileCache(cache_root())  # doctest: +SKIP
        >>> path = cache.resource_file(api, resource)  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        """Show the root."""
        return f"FileCache({str(self.root)!r})"

    def __reduce__(self) -> tuple[type[FileCache], tuple[str]]:
        """Pickle as the root only (contract §14: spawned workers find the same entries)."""
        return (type(self), (str(self.root),))

    # ------------------------------------------------------------------ keys

    def _resource_entry(self, resource: Mapping[str, Any]) -> tuple[str, Path, dict[str, Any]]:
        rid = safe_component(resource.get("id"), "resource id")
        info = resource_version_info(resource)
        return rid, file_entry_dir(self.root, "resources", rid, version_hash(info)), info

    def _annotation_entry(self, annotation: Mapping[str, Any]) -> tuple[str, Path, dict[str, Any]]:
        aid = safe_component(annotation.get("id"), "annotation id")
        info = annotation_version_info(annotation)
        return aid, file_entry_dir(self.root, "annotations", aid, version_hash(info)), info

    # ------------------------------------------------------------------ validity

    @staticmethod
    def _read_meta(entry: Path) -> dict[str, Any] | None:
        try:
            meta = json.loads((entry / META_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def _is_valid(self, entry: Path, entity_id: str) -> bool:
        meta = self._read_meta(entry)
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

    def has_resource_file(self, resource: Mapping[str, Any]) -> bool:
        """Tell whether the resource's current file version is cached and intact.

        Args:
            resource: Resource record (``id`` and its version fields).

        Returns:
            True on a hit; no download happens.

        Raises:
            ValidationError: If the id is not a safe path component.
        """
        rid, entry, _ = self._resource_entry(resource)
        return self._is_valid(entry, rid)

    def has_segmentation_file(self, annotation: Mapping[str, Any]) -> bool:
        """Tell whether the annotation's current segmentation file is cached and intact.

        Args:
            annotation: Annotation record (``id`` and its version fields).

        Returns:
            True on a hit; no download happens.

        Raises:
            ValidationError: If the id is not a safe path component.
        """
        aid, entry, _ = self._annotation_entry(annotation)
        return self._is_valid(entry, aid)

    def resource_meta(self, resource: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return the ``meta.json`` of the resource's cached file, when it is a hit.

        Args:
            resource: Resource record (``id`` and its version fields).

        Returns:
            The metadata (``size`` in bytes, ``sha256``, ``etag``, ``cached_at``, ...), or
            ``None`` when the current version is not cached intact. Nothing is downloaded.

        Raises:
            ValidationError: If the id is not a safe path component.
        """
        rid, entry, _ = self._resource_entry(resource)
        return self._read_meta(entry) if self._is_valid(entry, rid) else None

    def segmentation_meta(self, annotation: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return the ``meta.json`` of an annotation's cached segmentation file, on a hit.

        Args:
            annotation: Annotation record (``id`` and its version fields).

        Returns:
            The metadata, or ``None`` when the current version is not cached intact.

        Raises:
            ValidationError: If the id is not a safe path component.
        """
        aid, entry, _ = self._annotation_entry(annotation)
        return self._read_meta(entry) if self._is_valid(entry, aid) else None

    # ------------------------------------------------------------------ fetch

    def resource_file(self, api: _Downloader, resource: Mapping[str, Any]) -> Path:
        """Return the local path of the resource's file bytes, downloading on a miss.

        The download is checked against the record's ``size`` and ``sha256`` (else the
        server's sha256 ETag).

        Args:
            api: The :class:`datamint.api.Api` to download with.
            resource: Resource record (``id``, ``created_at``, ``deleted_at``, ``size``,
                optionally ``sha256``).

        Returns:
            Path of the ``data`` file; read it, never write it.

        Raises:
            ValidationError: If the id is not a safe path component.
            IntegrityError: If the download fails verification.
            CacheError: If another process held the entry's lock for over an hour.
            DatamintException: The API's mapped error for a failed download.
        """
        rid, entry, info = self._resource_entry(resource)

        def fetch(dest: Path) -> _Downloaded:
            return api.download_resource_file(
                rid,
                dest,
                expected_size=_int_or_none(resource.get("size")),
                expected_sha256=record_sha256(resource),
            )

        return self._get(entry, rid, "resource", info, fetch, {"resource_id": rid})

    def segmentation_file(self, api: _Downloader, annotation: Mapping[str, Any]) -> Path:
        """Return the local path of an annotation's segmentation file, downloading on a miss.

        Args:
            api: The :class:`datamint.api.Api` to download with.
            annotation: Annotation record (``id``, ``resource_id``, ``created_at``,
                ``deleted_at``, ``associated_file``, optionally ``sha256`` and ``size``).

        Returns:
            Path of the ``data`` file; read it, never write it.

        Raises:
            ValidationError: If an id is not a safe path component.
            IntegrityError: If the download fails verification.
            CacheError: If another process held the entry's lock for over an hour.
            DatamintException: The API's mapped error for a failed download.
        """
        aid, entry, info = self._annotation_entry(annotation)
        rid = safe_component(annotation.get("resource_id"), "resource id")

        def fetch(dest: Path) -> _Downloaded:
            return api.download_segmentation_file(
                rid,
                aid,
                dest,
                expected_size=_int_or_none(annotation.get("size")),
                expected_sha256=record_sha256(annotation),
            )

        return self._get(entry, aid, "annotation", info, fetch, {"resource_id": rid})

    def _get(
        self,
        entry: Path,
        entity_id: str,
        entity_type: str,
        info: dict[str, Any],
        fetch: Callable[[Path], _Downloaded],
        extra: dict[str, Any],
    ) -> Path:
        data = entry / DATA_NAME
        if self._is_valid(entry, entity_id):
            return data
        try:
            with key_lock(entry, timeout_s=LOCK_TIMEOUT_S):
                if self._is_valid(entry, entity_id):
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
                        "cached_at": _utc_now_iso(),
                    }
                    atomic_write_text(entry / META_NAME, json.dumps(meta, indent=2, sort_keys=True))
                except BaseException:
                    # The entry was invalid before this download; leave nothing of it.
                    _discard_entry(entry)
                    raise
        except filelock.Timeout as exc:
            raise CacheError(
                f"timed out after {LOCK_TIMEOUT_S:.0f} s waiting for the lock of cache entry "
                f"{entry}; another process may be stuck downloading {entity_type} {entity_id}"
            ) from exc
        return data

    # ------------------------------------------------------------------ maintenance

    def iter_entries(
        self, kind: str | None = None, entity_ids: Collection[str] | None = None
    ) -> Iterator[CacheEntry]:
        """Walk the downloaded-file entries on disk (complete or not).

        Args:
            kind: ``"resources"`` or ``"annotations"``; both when ``None``.
            entity_ids: Only entries of these ids; all when ``None``.

        Yields:
            One :class:`CacheEntry` per version folder, in sorted order.

        Raises:
            ValueError: If ``kind`` is not one of the two kinds.
        """
        if kind is not None and kind not in ENTRY_KINDS:
            raise ValueError(f"kind must be one of {ENTRY_KINDS}, got {kind!r}")
        for k in (kind,) if kind else ENTRY_KINDS:
            base = self.root / FILES_DIR / k
            if entity_ids is not None:
                id_dirs = [base / safe_component(i, "entity id") for i in sorted(set(entity_ids))]
            else:
                try:
                    id_dirs = sorted(p for p in base.iterdir() if p.is_dir())
                except FileNotFoundError:
                    continue
            for id_dir in id_dirs:
                try:
                    versions = sorted(p for p in id_dir.iterdir() if p.is_dir())
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for entry in versions:
                    yield self._entry_at(k, id_dir.name, entry)

    def _entry_at(self, kind: str, entity_id: str, path: Path) -> CacheEntry:
        """Read one entry folder's state now."""
        try:
            data_bytes: int | None = (path / DATA_NAME).stat().st_size
        except OSError:
            data_bytes = None
        return CacheEntry(kind, entity_id, path, self._read_meta(path), data_bytes)

    def _check_entry(self, entry: CacheEntry) -> str | None:
        """Re-hash one entry; return why it is bad, or ``None`` when it is intact."""
        meta = entry.meta
        names = set()
        with contextlib.suppress(OSError):
            names = set(os.listdir(entry.path))
        if meta is None:
            return "meta.json is missing or unreadable"
        if meta.get("entity_id") != entry.entity_id or meta.get("version_hash") != entry.path.name:
            return "meta.json names another entity or version"
        if entry.data_bytes is None:
            return "data is missing"
        if entry.data_bytes != meta.get("size"):
            return f"data has {entry.data_bytes} bytes, meta.json says {meta.get('size')}"
        hasher = hashlib.sha256()
        with (entry.path / DATA_NAME).open("rb") as fh:
            while chunk := fh.read(HASH_CHUNK_BYTES):
                hasher.update(chunk)
        if hasher.hexdigest() != meta.get("sha256"):
            return f"data sha256 {hasher.hexdigest()} does not match meta.json {meta.get('sha256')}"
        if names - {DATA_NAME, META_NAME}:
            return f"left-over files {sorted(names - {DATA_NAME, META_NAME})}"
        return None

    def verify(
        self,
        *,
        remove: bool = True,
        kind: str | None = None,
        entity_ids: Collection[str] | None = None,
    ) -> VerifyReport:
        """Re-hash every cached file against its ``meta.json``; remove the bad entries.

        Bad means: ``meta.json`` missing or unreadable, ``data`` missing, of another size,
        or of another sha256, or left-over partial/temp files. Each entry is checked under
        its lock; entries whose lock is held (a download in progress) are skipped.

        Args:
            remove: Delete bad entries (the next access downloads them again).
            kind: ``"resources"`` or ``"annotations"``; both when ``None``.
            entity_ids: Only entries of these ids; all when ``None``.

        Returns:
            A :class:`VerifyReport`.

        Raises:
            OSError: If a file cannot be read or removed.
        """
        report = VerifyReport()
        for entry in self.iter_entries(kind, entity_ids):
            report.checked += 1
            try:
                with key_lock(entry.path, timeout_s=0):
                    if not entry.path.is_dir():  # removed meanwhile
                        report.checked -= 1
                        continue
                    why = self._check_entry(self._entry_at(entry.kind, entry.entity_id, entry.path))
                    if why is None:
                        report.ok += 1
                        continue
                    report.bad.append((entry.path, why))
                    if remove:
                        report.removed_bytes += _discard_entry(entry.path)
            except filelock.Timeout:
                report.busy.append(entry.path)
        return report

    def remove_entities(self, kind: str, entity_ids: Collection[str]) -> tuple[int, int]:
        """Remove every cached version of the given entities, each under its lock.

        Args:
            kind: ``"resources"`` or ``"annotations"``.
            entity_ids: Resource or annotation ids.

        Returns:
            ``(entries removed, bytes removed)``.

        Raises:
            ValueError: If ``kind`` is not one of the two kinds.
            ValidationError: If an id is not a safe path component.
            CacheError: If a download holds an entry's lock for over an hour.
        """
        entries = removed = 0
        for entry in list(self.iter_entries(kind, entity_ids)):
            try:
                with key_lock(entry.path, timeout_s=LOCK_TIMEOUT_S):
                    removed += _discard_entry(entry.path)
                    entries += 1
            except filelock.Timeout as exc:
                raise CacheError(
                    f"timed out waiting for the lock of cache entry {entry.path}"
                ) from exc
        return entries, removed
