"""Download a dataset's files into the disk cache ahead of training, in parallel, and
optionally decode every resource into the decoded-array cache with a process pool."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from datamint.entities import Annotation, Resource
from datamint.exceptions import DownloadError

if TYPE_CHECKING:
    from datamint.dataset.views import DatasetView
    from datamint.storage.file_cache import FileCache
    from datamint.storage.file_cache.download import Downloader

__all__ = ["FileJob", "PrefetchReport", "decode_resources", "download_jobs", "prefetch_files"]

_LOG = logging.getLogger(__name__)


@dataclass
class PrefetchReport:
    """What a prefetch did.

    Attributes:
        cached: Files that were already in the cache.
        downloaded: Files fetched now.
        failed: ``(description, error)`` for each file that could not be fetched.
        decoded: Resources decoded into the array cache now (``prefetch(decode=True)``).
        decode_cached: Resources whose decoded array was already cached.
    """

    cached: int = 0
    downloaded: int = 0
    decoded: int = 0
    decode_cached: int = 0
    failed: list[tuple[str, BaseException]] = field(default_factory=list)


@dataclass(frozen=True)
class FileJob:
    """One file to fetch: a description for messages, a hit test and the fetch."""

    what: str
    is_cached: Callable[[], bool]
    fetch: Callable[[], Any]


def download_jobs(
    files: FileCache,
    api: Downloader,
    resources: Sequence[Resource],
    annotations: Sequence[Sequence[Annotation]] = (),
) -> list[FileJob]:
    """One :class:`FileJob` per resource file, then per distinct segmentation file.

    Args:
        files: The :class:`~datamint.storage.file_cache.FileCache`.
        api: The client the files are downloaded with.
        resources: The resources whose files to fetch.
        annotations: Per resource, annotations whose segmentation files to fetch too
            (empty: none).
    """
    jobs = [
        FileJob(
            f"resource {r.id} ({r.filename})",
            partial(files.has_resource_file, r.record),
            partial(files.resource_file, api, r.record),
        )
        for r in resources
    ]
    seen: set[str] = set()
    for anns in annotations:
        for a in anns:
            if a.is_segmentation and a.id not in seen:
                seen.add(a.id)
                jobs.append(
                    FileJob(
                        f"annotation {a.id} of resource {a.resource_id}",
                        partial(files.has_segmentation_file, a.record),
                        partial(files.segmentation_file, api, a.record),
                    )
                )
    return jobs


def prefetch_files(
    jobs: Sequence[FileJob], *, max_workers: int = 4, progress: bool = True
) -> PrefetchReport:
    """Fetch every job that is not cached, with at most ``max_workers`` at a time.

    Args:
        jobs: The files.
        max_workers: Concurrent downloads (threads).
        progress: Show a tqdm bar when something is missing.

    Returns:
        A report, when every file is cached.

    Raises:
        DownloadError: After every job has run, if any failed; the message lists each
            failure and the report is attached as ``.report``. Files that did arrive stay
            cached.
    """
    report = PrefetchReport()
    missing = []
    for job in jobs:
        if job.is_cached():
            report.cached += 1
        else:
            missing.append(job)
    if missing:
        with (
            ThreadPoolExecutor(max_workers=max_workers) as pool,
            tqdm(total=len(missing), desc="prefetch", unit="file", disable=not progress) as bar,
        ):
            futures = {pool.submit(job.fetch): job for job in missing}
            for future in as_completed(futures):
                job = futures[future]
                error = future.exception()
                if error is None:
                    report.downloaded += 1
                else:
                    _LOG.warning("prefetch of %s failed: %s", job.what, error)
                    report.failed.append((job.what, error))
                bar.update(1)
    if report.failed:
        lines = "\n".join(f"  {what}: {err}" for what, err in report.failed)
        exc = DownloadError(
            f"{len(report.failed)} of {len(jobs)} files could not be fetched:\n{lines}"
        )
        exc.report = report  # type: ignore[attr-defined]
        raise exc
    return report


def _decode_one(dataset: DatasetView, position: int, axis_hint: int | None) -> int:
    """In a pool process: decode resource ``position`` of ``dataset``; returns decodes run (0/1)."""
    loader = dataset.loader

    def runs() -> int:
        slices = loader.slice_cache
        return slices.decodes if slices is not None else loader.array_cache.misses

    before = runs()
    loader.image(dataset.prepared.resource(position), axis_hint=axis_hint)
    return runs() - before


def decode_resources(
    dataset: DatasetView,
    *,
    axis_hint: int | Sequence[int] | None = None,
    max_workers: int = 2,
    progress: bool = True,
    report: PrefetchReport | None = None,
) -> PrefetchReport:
    """Decode every resource of ``dataset`` into its array cache with a process pool.

    Each resource is decoded at most once per node (the cache's per-volume lock); cached
    ones cost a sidecar check. Waits block on the futures (no polling).

    Args:
        dataset: A prepared dataset (pickled to each pool process).
        axis_hint: The spatial axis to lay out first (a sliced view's axis), or one per
            resource (an anatomical plane falls on different stored axes).
        max_workers: Pool processes.
        progress: Show a tqdm bar.
        report: Counts are added to this report (a new one by default).

    Returns:
        The report, with ``decoded`` and ``decode_cached`` filled in.

    Raises:
        DatamintException: The first decode error, re-raised after every job ran.
    """
    report = report or PrefetchReport()
    n = len(dataset.prepared)
    errors: list[BaseException] = []
    with (
        ProcessPoolExecutor(max_workers=max_workers) as pool,
        tqdm(total=n, desc="decode", unit="volume", disable=not progress) as bar,
    ):
        hints = axis_hint if isinstance(axis_hint, Sequence) else [axis_hint] * n
        futures = [pool.submit(_decode_one, dataset, i, hints[i]) for i in range(n)]
        for future in as_completed(futures):
            error = future.exception()
            if error is not None:
                errors.append(error)
            elif future.result():
                report.decoded += 1
            else:
                report.decode_cached += 1
            bar.update(1)
    if errors:
        raise errors[0]
    return report
