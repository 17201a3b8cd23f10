"""``FileCache``: the public face of the file cache. It names each record's entry (entity
id and version hash), answers hit tests and metadata lookups, and hands downloads and
maintenance to :mod:`.download` and :mod:`.maintenance`."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from datamint.storage.file_cache.download import Downloaded, Downloader, fill_entry
from datamint.storage.file_cache.entry import is_valid, read_meta
from datamint.storage.file_cache.maintenance import (
    CacheEntry,
    VerifyReport,
    remove_entries,
    verify_entries,
    walk_entries,
)
from datamint.storage.integrity import warn_corrupted
from datamint.storage.layout import (
    annotation_version_info,
    file_entry_dir,
    record_sha256,
    resource_version_info,
    safe_component,
    version_hash,
)
from datamint.storage.values import int_or_none

__all__ = ["FileCache"]


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
        """Pickle as the root only (so spawned DataLoader workers find the same entries)."""
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
        return is_valid(entry, rid)

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
        return is_valid(entry, aid)

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
        return read_meta(entry) if is_valid(entry, rid) else None

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
        return read_meta(entry) if is_valid(entry, aid) else None

    # ------------------------------------------------------------------ corruption

    def _corrupted(self, data: Path, why: str, contents: set[str]) -> None:
        """A cached ``data`` failed its check (it is already removed): drop the decoded
        arrays derived from its content and warn, naming it."""
        from datamint.storage.decoded_maintenance import remove_derived

        derived = remove_derived(self.root, contents)
        note = f"; {len(derived)} decoded arrays derived from it removed too" if derived else ""
        warn_corrupted(data, why + note, rebuilt="downloaded again", stacklevel=5)

    # ------------------------------------------------------------------ fetch

    def resource_file(
        self, api: Downloader, resource: Mapping[str, Any], *, check_content: bool = False
    ) -> Path:
        """Return the local path of the resource's file bytes, downloading on a miss.

        The download is checked against the record's ``size`` and ``sha256`` (else the
        server's sha256 ETag). A cached file is a hit when it has its recorded size and
        inode state (size, mtime, ctime, inode), else when its sha256 still matches; one
        that fails is removed with the decoded arrays derived from it and downloaded
        again, with a warning.

        Args:
            api: The :class:`datamint.api.Api` to download with.
            resource: Resource record (``id``, ``created_at``, ``deleted_at``, ``size``,
                optionally ``sha256``).
            check_content: Re-hash the cached file now even when its inode state is
                unchanged (one sequential read; worth it right before decoding the file).

        Returns:
            Path of the ``data`` file; read it, never write it.

        Raises:
            ValidationError: If the id is not a safe path component.
            IntegrityError: If the download fails verification.
            CacheError: If another process held the entry's lock for over an hour.
            DatamintException: The API's mapped error for a failed download.

        Warns:
            DatamintWarning: If the cached file was corrupted (it is downloaded again).
        """
        rid, entry, info = self._resource_entry(resource)

        def fetch(dest: Path) -> Downloaded:
            return api.download_resource_file(
                rid,
                dest,
                expected_size=int_or_none(resource.get("size")),
                expected_sha256=record_sha256(resource),
            )

        return fill_entry(
            entry,
            rid,
            "resource",
            info,
            fetch,
            {"resource_id": rid},
            full_check=check_content,
            on_corrupt=self._corrupted,
        )

    def segmentation_file(
        self, api: Downloader, annotation: Mapping[str, Any], *, check_content: bool = False
    ) -> Path:
        """Return the local path of an annotation's segmentation file, downloading on a miss.

        Hits and corruption as in :meth:`resource_file`.

        Args:
            api: The :class:`datamint.api.Api` to download with.
            annotation: Annotation record (``id``, ``resource_id``, ``created_at``,
                ``deleted_at``, ``associated_file``, optionally ``sha256`` and ``size``).
            check_content: Re-hash the cached file now even when its inode state is
                unchanged.

        Returns:
            Path of the ``data`` file; read it, never write it.

        Raises:
            ValidationError: If an id is not a safe path component.
            IntegrityError: If the download fails verification.
            CacheError: If another process held the entry's lock for over an hour.
            DatamintException: The API's mapped error for a failed download.

        Warns:
            DatamintWarning: If the cached file was corrupted (it is downloaded again).
        """
        aid, entry, info = self._annotation_entry(annotation)
        rid = safe_component(annotation.get("resource_id"), "resource id")

        def fetch(dest: Path) -> Downloaded:
            return api.download_segmentation_file(
                rid,
                aid,
                dest,
                expected_size=int_or_none(annotation.get("size")),
                expected_sha256=record_sha256(annotation),
            )

        return fill_entry(
            entry,
            aid,
            "annotation",
            info,
            fetch,
            {"resource_id": rid},
            full_check=check_content,
            on_corrupt=self._corrupted,
        )

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
        return walk_entries(self.root, kind, entity_ids)

    def verify(
        self,
        *,
        remove: bool = True,
        kind: str | None = None,
        entity_ids: Collection[str] | None = None,
    ) -> VerifyReport:
        """Re-hash every cached file against its ``meta.json``; remove the bad entries.

        Bad means: ``meta.json`` missing or unreadable, ``data`` missing, of another size,
        or of another sha256, or left-over partial/temp files (a ``data.incomplete`` kept
        for a resume included). Each entry is checked under its lock; entries whose lock is
        held (a download in progress) are skipped. With ``remove``, the decoded arrays
        derived from a corrupted ``data`` (keyed by its content sha256) are removed too.

        Args:
            remove: Delete bad entries (the next access downloads them again).
            kind: ``"resources"`` or ``"annotations"``; both when ``None``.
            entity_ids: Only entries of these ids; all when ``None``.

        Returns:
            A :class:`VerifyReport`.

        Raises:
            OSError: If a file cannot be read or removed.
            CacheError: If a decode held a derived entry's lock for over ten minutes.
        """
        report = verify_entries(self.iter_entries(kind, entity_ids), remove=remove)
        if remove and report.corrupt_contents:
            from datamint.storage.decoded_maintenance import remove_derived

            report.derived_removed = remove_derived(self.root, report.corrupt_contents)
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
        return remove_entries(list(self.iter_entries(kind, entity_ids)))
