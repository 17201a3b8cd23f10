"""Looking after the entries on disk: walking them, re-hashing them against ``meta.json``
(:class:`VerifyReport`), and removing them, each under its lock."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from datamint.exceptions import CacheError
from datamint.storage.file_cache.entry import (
    DATA_NAME,
    LOCK_TIMEOUT_S,
    META_NAME,
    discard_entry,
    file_sha256,
    read_meta,
)
from datamint.storage.layout import FILES_DIR, safe_component
from datamint.storage.locks import key_lock

__all__ = [
    "ENTRY_KINDS",
    "CacheEntry",
    "VerifyReport",
    "remove_entries",
    "verify_entries",
    "walk_entries",
]

ENTRY_KINDS = ("resources", "annotations")


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
        corrupt_contents: sha256 digests (recorded and actual) of files whose ``data``
            failed its size or sha256 check.
        derived_removed: Sidecars of the decoded arrays and layouts removed because they
            were derived from such a file.
    """

    checked: int = 0
    ok: int = 0
    bad: list[tuple[Path, str]] = field(default_factory=list)
    removed_bytes: int = 0
    busy: list[Path] = field(default_factory=list)
    corrupt_contents: set[str] = field(default_factory=set)
    derived_removed: list[Path] = field(default_factory=list)


def walk_entries(
    root: Path, kind: str | None, entity_ids: Collection[str] | None
) -> Iterator[CacheEntry]:
    """The entries under ``root/files`` (see :meth:`FileCache.iter_entries`).

    Raises:
        ValueError: If ``kind`` is not one of :data:`ENTRY_KINDS`.
    """
    if kind is not None and kind not in ENTRY_KINDS:
        raise ValueError(f"kind must be one of {ENTRY_KINDS}, got {kind!r}")
    for k in (kind,) if kind else ENTRY_KINDS:
        base = root / FILES_DIR / k
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
                yield _entry_at(k, id_dir.name, entry)


def _entry_at(kind: str, entity_id: str, path: Path) -> CacheEntry:
    """Read one entry folder's state now."""
    try:
        data_bytes: int | None = (path / DATA_NAME).stat().st_size
    except OSError:
        data_bytes = None
    return CacheEntry(kind, entity_id, path, read_meta(path), data_bytes)


def _check_entry(entry: CacheEntry) -> tuple[str | None, set[str]]:
    """Re-hash one entry: why it is bad (``None`` when intact), and the content sha256s
    (recorded and actual) when its ``data`` is corrupted."""
    meta = entry.meta
    names = set()
    with contextlib.suppress(OSError):
        names = set(os.listdir(entry.path))
    if meta is None:
        return "meta.json is missing or unreadable", set()
    if meta.get("entity_id") != entry.entity_id or meta.get("version_hash") != entry.path.name:
        return "meta.json names another entity or version", set()
    if entry.data_bytes is None:
        return "data is missing", set()
    recorded = {meta["sha256"]} if isinstance(meta.get("sha256"), str) else set()
    if entry.data_bytes != meta.get("size"):
        return f"data has {entry.data_bytes} bytes, meta.json says {meta.get('size')}", recorded
    digest = file_sha256(entry.path / DATA_NAME)
    if digest != meta.get("sha256"):
        why = f"data sha256 {digest} does not match meta.json {meta.get('sha256')}"
        return why, recorded | {digest}
    if names - {DATA_NAME, META_NAME}:
        return f"left-over files {sorted(names - {DATA_NAME, META_NAME})}", set()
    return None, set()


def verify_entries(entries: Iterable[CacheEntry], *, remove: bool) -> VerifyReport:
    """Check each entry under its lock, skipping busy ones (see :meth:`FileCache.verify`)."""
    report = VerifyReport()
    for entry in entries:
        report.checked += 1
        try:
            with key_lock(entry.path, timeout_s=0):
                if not entry.path.is_dir():  # removed meanwhile
                    report.checked -= 1
                    continue
                why, contents = _check_entry(_entry_at(entry.kind, entry.entity_id, entry.path))
                if why is None:
                    report.ok += 1
                    continue
                report.bad.append((entry.path, why))
                report.corrupt_contents |= contents
                if remove:
                    report.removed_bytes += discard_entry(entry.path)
        except filelock.Timeout:
            report.busy.append(entry.path)
    return report


def remove_entries(entries: Iterable[CacheEntry]) -> tuple[int, int]:
    """Remove each entry under its lock; ``(entries removed, bytes removed)``.

    Raises:
        CacheError: If a download holds an entry's lock for over an hour.
    """
    count = removed = 0
    for entry in entries:
        try:
            with key_lock(entry.path, timeout_s=LOCK_TIMEOUT_S):
                removed += discard_entry(entry.path)
                count += 1
        except filelock.Timeout as exc:
            raise CacheError(f"timed out waiting for the lock of cache entry {entry.path}") from exc
    return count, removed
