"""Sync a project into the local cache: its manifest and every file, in parallel.

:func:`sync_project` is what ``datamint download --project NAME`` runs: it fetches what
dataset preparation needs through a
:class:`~datamint.api.recorder.ManifestRecorder`, writes the project manifest, then
downloads every resource file (and segmentation file) that is not cached yet with a
bounded thread pool, and writes the manifest again with the files' hashes. After it, the
project's datasets prepare and load with no server
(:class:`~datamint.api.offline.OfflineApi`).

:func:`fetch_files` is the download half alone (also used by the prefetch benchmark).
It does not import :mod:`datamint.dataset`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamint.api.reader import ProjectReader
from datamint.api.recorder import ManifestRecorder
from datamint.exceptions import DatamintException
from datamint.storage.file_cache import FileCache
from datamint.storage.file_cache.download import Downloader

__all__ = ["FetchReport", "SyncReport", "fetch_files", "sync_project"]

_LOG = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
"""Concurrent downloads of ``datamint download`` (the client keeps up to 20 connections)."""

FileJob = tuple[str, Mapping[str, Any]]
"""``(kind, record)``: ``kind`` is ``"resources"`` or ``"annotations"``."""


def describe_file(kind: str, record: Mapping[str, Any]) -> str:
    """Describe one file for messages.

    Args:
        kind: ``"resources"`` or ``"annotations"``.
        record: The resource or annotation record.

    Returns:
        ``"resource <id> (<filename>)"`` or
        ``"segmentation annotation <id> of resource <rid>"``.
    """
    if kind == "resources":
        return f"resource {record.get('id')} ({record.get('filename')!r})"
    return f"segmentation annotation {record.get('id')} of resource {record.get('resource_id')}"


@dataclass
class FetchReport:
    """What :func:`fetch_files` did.

    Attributes:
        files: Files asked for.
        cached: Files that were already cached intact (nothing sent).
        downloaded: Files fetched now (each verified against size and sha256).
        bytes_downloaded: Their total size, in bytes.
        seconds: Wall time of the whole call, in seconds.
        failed: ``(description, error)`` for each file that could not be fetched; nothing
            partial of them is left in the cache.
    """

    files: int = 0
    cached: int = 0
    downloaded: int = 0
    bytes_downloaded: int = 0
    seconds: float = 0.0
    failed: list[tuple[str, BaseException]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    @property
    def mb_per_s(self) -> float:
        """Download rate in MB/s (10**6 bytes per second) over the whole call."""
        return self.bytes_downloaded / 1e6 / self.seconds if self.seconds > 0 else 0.0


def fetch_files(
    api: Downloader,
    cache: FileCache,
    jobs: Sequence[FileJob],
    *,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
) -> FetchReport:
    """Download every file of ``jobs`` that is not cached, ``workers`` at a time.

    Each file goes through :meth:`FileCache.resource_file` or
    :meth:`FileCache.segmentation_file`: locked per entry (other threads and processes
    wanting the same file wait and reuse it), resumable, verified, atomic. A failure is
    recorded and the other files go on.

    Args:
        api: The client to download with (an :class:`~datamint.api.Api`, or any
            :class:`~datamint.storage.file_cache.download.Downloader`).
        cache: The file cache to fill.
        jobs: ``(kind, record)`` pairs; ``kind`` is ``"resources"`` or ``"annotations"``.
        workers: Concurrent downloads (threads), at least 1.
        progress: Show a tqdm bar (on stderr) while something is missing.

    Returns:
        A :class:`FetchReport`; check ``report.failed``.

    Raises:
        ValueError: If ``workers < 1``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    from tqdm.auto import tqdm

    started = time.perf_counter()
    report = FetchReport(files=len(jobs))
    missing: list[FileJob] = []
    for kind, record in jobs:
        hit = (
            cache.has_resource_file(record)
            if kind == "resources"
            else cache.has_segmentation_file(record)
        )
        if hit:
            report.cached += 1
        else:
            missing.append((kind, record))

    def fetch(job: FileJob) -> int:
        kind, record = job
        if kind == "resources":
            path = cache.resource_file(api, record)
        else:
            path = cache.segmentation_file(api, record)
        return os.stat(path).st_size

    if missing:
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="datamint-fetch") as pool,
            tqdm(total=len(missing), desc="download", unit="file", disable=not progress) as bar,
        ):
            futures = {pool.submit(fetch, job): job for job in missing}
            for future in as_completed(futures):
                kind, record = futures[future]
                error = future.exception()
                if error is None:
                    report.downloaded += 1
                    report.bytes_downloaded += future.result()
                else:
                    what = describe_file(kind, record)
                    _LOG.warning("download of %s failed: %s", what, error)
                    report.failed.append((what, error))
                bar.update(1)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class SyncReport(FetchReport):
    """What :func:`sync_project` did: a :class:`FetchReport` plus the project.

    Attributes:
        project_id: The project's id.
        project_name: Its name.
        server_url: The server it came from.
        manifest_path: Where its manifest was written.
        resources: Resource files listed (resources not deleted).
        segmentations: Segmentation files listed (0 without annotations).
        notes: Things that were skipped, e.g. splits the server would not list.
    """

    project_id: str = ""
    project_name: str = ""
    server_url: str | None = None
    manifest_path: Path | None = None
    resources: int = 0
    segmentations: int = 0
    notes: list[str] = field(default_factory=list)


def sync_project(
    api: ProjectReader,
    project: str,
    *,
    cache_root: str | os.PathLike[str] | None = None,
    include_annotations: bool = True,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
) -> SyncReport:
    """Write a project's manifest and download all its files into the cache.

    Requests, in order: the project by name, its resources, one annotation search for
    every resource that is not deleted, its worklists (and full worklists lacking specs),
    each worklist's segmentation group, its current split rows; then the files.

    Args:
        api: The client: an :class:`~datamint.api.Api` (any
            :class:`~datamint.api.reader.ProjectReader`; its ``server_url``, when it has
            one, goes into the manifest).
        project: The project name (exact).
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
        include_annotations: Also download every segmentation file.
        workers: Concurrent downloads.
        progress: Show a tqdm bar.

    Returns:
        A :class:`SyncReport`; ``report.failed`` lists the files that could not be
        fetched (the manifest is written all the same).

    Raises:
        ItemNotFoundError: If no project has that name.
        DatamintException: If a listing request fails (files failing are reported, not
            raised).
        ValueError: If ``workers < 1``.
    """
    from datamint.settings import cache_root as default_cache_root

    root = Path(cache_root) if cache_root is not None else default_cache_root()
    recorder = ManifestRecorder(api)
    record = recorder.get_project_by_name(project)
    pid = str(record["id"])
    resources = recorder.get_project_resources(pid)
    live_ids = [str(r["id"]) for r in resources if not (r.get("deleted") or r.get("deleted_at"))]
    recorder.search_annotations(live_ids)
    for item in recorder.get_project_worklists(pid):
        wid = item.get("id") or item.get("worklist_id")
        if wid is None:
            continue
        if "annotations" not in item:
            recorder.get_annotation_set(str(wid))
        recorder.get_segmentation_group(str(wid))
    notes = []
    try:
        recorder.get_project_splits(pid)
    except DatamintException as exc:  # splits are optional for training
        notes.append(f"split assignments not synced: {exc}")
        _LOG.warning("split assignments of project %r not synced: %s", project, exc)
    manifest_file = recorder.write(root)
    manifest = recorder.manifest(pid)
    jobs = [
        (kind, rec)
        for kind, rec in manifest.file_records()
        if include_annotations or kind == "resources"
    ]
    cache = FileCache(root)
    fetched = fetch_files(api, cache, jobs, workers=workers, progress=progress)
    manifest_file = recorder.write(root)  # now with the hashes of the downloaded files
    return SyncReport(
        files=fetched.files,
        cached=fetched.cached,
        downloaded=fetched.downloaded,
        bytes_downloaded=fetched.bytes_downloaded,
        seconds=fetched.seconds,
        failed=fetched.failed,
        project_id=pid,
        project_name=str(record.get("name")),
        server_url=manifest.server_url,
        manifest_path=manifest_file,
        resources=sum(1 for kind, _ in jobs if kind == "resources"),
        segmentations=sum(1 for kind, _ in jobs if kind == "annotations"),
        notes=notes,
    )
