"""Leftovers of a store: orphaned staging files and blobs no record references.

- :func:`clean_staging` removes the staging folders (``<store_dir>/tmp/<session>/``) of
  processes that are gone, e.g. a server killed with ``kill -9`` in the middle of an
  upload. A live process holds its session's lock, so its files are never touched.
- :func:`collect_garbage` removes blobs that no resource or annotation references (a file
  replaced by ``PUT /resources/{id}/file``, a dataset archive after its download token
  expired), and temp files left by an interrupted atomic write, once they are older than
  ``min_age_s`` (default :data:`DEFAULT_MIN_AGE_S`, longer than a download token lives).
- :func:`remove_unreferenced` removes blobs a failed import created.

The server runs :func:`clean_staging` and :func:`collect_garbage` when it starts;
``datamint server gc --store DIR`` runs them on demand.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from datamint.server.blobs import SESSION_LOCK_SUFFIX, BlobStore
from datamint.server.dataset_zip import TOKEN_TTL_S
from datamint.server.store import ProjectStore

__all__ = [
    "DEFAULT_MIN_AGE_S",
    "GcReport",
    "clean_staging",
    "collect_garbage",
    "referenced_blobs",
    "remove_unreferenced",
]

#: Unreferenced blobs younger than this (seconds) are kept: twice a download token's life,
#: so a dataset archive is never removed while its token may still be used, and a blob
#: written just before its record is committed is never taken.
DEFAULT_MIN_AGE_S = 2 * TOKEN_TTL_S


@dataclass
class GcReport:
    """What a clean-up removed.

    Attributes:
        staging_files: Orphaned staging files removed (in session folders or loose).
        blobs_removed: Unreferenced blobs removed.
        bytes_freed: Bytes of the removed blobs and staging files.
        blobs_kept: Blobs left in place (referenced, or too young to remove).
    """

    staging_files: int = 0
    blobs_removed: int = 0
    bytes_freed: int = 0
    blobs_kept: int = 0

    def __str__(self) -> str:
        return (
            f"removed {self.blobs_removed} unreferenced blobs and {self.staging_files} "
            f"staging files ({self.bytes_freed} bytes); kept {self.blobs_kept} blobs"
        )


def _size_of_tree(path: Path) -> tuple[int, int]:
    files = total = 0
    for entry in path.rglob("*"):
        with contextlib.suppress(OSError):
            if entry.is_file() and not entry.is_symlink():
                files += 1
                total += entry.stat().st_size
    return files, total


def clean_staging(blobs: BlobStore, report: GcReport | None = None) -> GcReport:
    """Remove staging left by processes that are gone.

    A session folder is removed when its lock file can be taken (its process has ended);
    files directly under ``tmp/`` (the layout of older versions) are removed too.

    Args:
        blobs: The store's blobs (its ``staging_root`` is cleaned).
        report: A report to add to; a new one when ``None``.

    Returns:
        The report, with ``staging_files`` and ``bytes_freed`` counted.
    """
    report = report if report is not None else GcReport()
    root = blobs.staging_root
    if not root.is_dir():
        return report
    for entry in sorted(root.iterdir()):
        if entry.name.endswith(SESSION_LOCK_SUFFIX):
            continue
        if entry.is_dir() and not entry.is_symlink():
            lock = FileLock(str(entry) + SESSION_LOCK_SUFFIX, timeout=0, thread_local=False)
            try:
                lock.acquire()
            except Timeout:
                continue  # a live process owns it
            try:
                files, size = _size_of_tree(entry)
                shutil.rmtree(entry, ignore_errors=True)
                report.staging_files += files
                report.bytes_freed += size
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock.lock_file)
            finally:
                lock.release()
        else:
            with contextlib.suppress(OSError):
                size = entry.lstat().st_size
                entry.unlink()
                report.staging_files += 1
                report.bytes_freed += size
    for stale in root.glob("*" + SESSION_LOCK_SUFFIX):
        session = stale.with_name(stale.name[: -len(SESSION_LOCK_SUFFIX)])
        if session.exists():
            continue
        lock = FileLock(str(stale), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            continue
        try:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        finally:
            lock.release()
    return report


def referenced_blobs(store: ProjectStore) -> set[str]:
    """Return the sha256 of every blob a resource or annotation references (deleted ones too).

    Args:
        store: The store.

    Returns:
        Hex digests.
    """
    with store.db.read() as conn:
        rows = conn.execute(
            "SELECT blob_sha256 FROM resources UNION "
            "SELECT blob_sha256 FROM annotations WHERE blob_sha256 IS NOT NULL"
        ).fetchall()
    return {str(row[0]) for row in rows}


def collect_garbage(
    store: ProjectStore, min_age_s: float = DEFAULT_MIN_AGE_S, *, staging: bool = True
) -> GcReport:
    """Remove orphaned staging and the unreferenced blobs older than ``min_age_s``.

    Args:
        store: The store.
        min_age_s: Seconds since a blob was last written or reused before it may go.
        staging: Also run :func:`clean_staging`.

    Returns:
        What was removed and kept.
    """
    report = clean_staging(store.blobs) if staging else GcReport()
    referenced = referenced_blobs(store)
    cutoff_ns = time.time_ns() - int(min_age_s * 1e9)
    for shard in sorted(store.blobs.root.iterdir()):
        if not shard.is_dir() or shard.is_symlink():
            continue
        for blob in sorted(shard.iterdir()):
            try:
                info = blob.lstat()
            except FileNotFoundError:
                continue
            if blob.name in referenced or info.st_mtime_ns > cutoff_ns:
                if not blob.name.startswith("."):
                    report.blobs_kept += 1
                continue
            with contextlib.suppress(FileNotFoundError):
                blob.unlink()
                report.bytes_freed += info.st_size
                if blob.name.startswith("."):  # an interrupted atomic write
                    report.staging_files += 1
                else:
                    report.blobs_removed += 1
        with contextlib.suppress(OSError):
            shard.rmdir()  # only when empty
    return report


def remove_unreferenced(store: ProjectStore, created: Iterable[tuple[str, int]]) -> int:
    """Remove blobs a failed operation created, unless something references them now.

    A blob whose modification time changed since it was created (someone stored the same
    content meanwhile) is kept.

    Args:
        store: The store.
        created: ``(sha256, st_mtime_ns)`` pairs from :meth:`BlobStore.recording`.

    Returns:
        How many blobs were removed.
    """
    created = list(created)
    if not created:
        return 0
    referenced = referenced_blobs(store)
    removed = 0
    for sha, mtime_ns in created:
        if sha in referenced:
            continue
        path = store.blobs.path(sha)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime_ns == mtime_ns:
                path.unlink()
                removed += 1
    return removed
