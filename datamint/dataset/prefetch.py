"""Download a dataset's files into the disk cache ahead of training, in parallel."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from datamint.exceptions import DownloadError

__all__ = ["PrefetchReport", "prefetch_files"]

_LOG = logging.getLogger(__name__)


@dataclass
class PrefetchReport:
    """What a prefetch did.

    Attributes:
        cached: Files that were already in the cache.
        downloaded: Files fetched now.
        failed: ``(description, error)`` for each file that could not be fetched.
    """

    cached: int = 0
    downloaded: int = 0
    failed: list[tuple[str, BaseException]] = field(default_factory=list)


@dataclass(frozen=True)
class FileJob:
    """One file to fetch: a description for messages, a hit test and the fetch."""

    what: str
    is_cached: Callable[[], bool]
    fetch: Callable[[], Any]


def prefetch_files(jobs: Sequence[FileJob], *, max_workers: int = 4, progress: bool = True) -> PrefetchReport:
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
        exc = DownloadError(f"{len(report.failed)} of {len(jobs)} files could not be fetched:\n{lines}")
        exc.report = report  # type: ignore[attr-defined]
        raise exc
    return report
