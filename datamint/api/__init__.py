"""HTTP client of the Datamint REST API.

- :mod:`datamint.api.reader`: :class:`ProjectReader`, the reads that dataset preparation
  and the file cache make, implemented by the three clients below;
- :mod:`datamint.api.client`: :class:`Api`, one method per endpoint, returning plain JSON;
- :mod:`datamint.api.endpoints`: those methods, one mixin per endpoint group;
- :mod:`datamint.api.transport`: :class:`RetryTransport`, retries with backoff;
- :mod:`datamint.api.paging`: the unwrap rule and the offset/limit loop;
- :mod:`datamint.api.errors`: HTTP status to exception, mapped once;
- :mod:`datamint.api.download`: resumable, verified downloads (:class:`DownloadResult`);
- :mod:`datamint.api.offline`: :class:`OfflineApi`, the reads answered from the cache's
  manifests (``offline_source``: the manifests it loads; ``offline_refusals``: what it
  refuses);
- :mod:`datamint.api.recorder`: :class:`ManifestRecorder`, a reader that records what it
  forwards (``recording``: what it remembers, and the table of how);
- :mod:`datamint.api.sync`: a project's manifest and files into the cache, in parallel
  (``datamint download``).
"""

from __future__ import annotations

from datamint.api.client import Api
from datamint.api.download import DownloadResult
from datamint.api.offline import OfflineApi
from datamint.api.reader import ProjectReader
from datamint.api.recorder import ManifestRecorder
from datamint.api.transport import RetryTransport

__all__ = [
    "Api",
    "DownloadResult",
    "ManifestRecorder",
    "OfflineApi",
    "ProjectReader",
    "RetryTransport",
]
