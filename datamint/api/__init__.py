"""HTTP client of the Datamint REST API.

- :mod:`datamint.api.client`: :class:`Api`, one method per endpoint, returning plain JSON;
- :mod:`datamint.api.endpoints`: those methods, one mixin per endpoint group;
- :mod:`datamint.api.transport`: :class:`RetryTransport`, retries with backoff;
- :mod:`datamint.api.paging`: the unwrap rule and the offset/limit loop;
- :mod:`datamint.api.errors`: HTTP status to exception, mapped once;
- :mod:`datamint.api.download`: resumable, verified downloads (:class:`DownloadResult`);
- :mod:`datamint.api.sync`: a project's manifest and files into the cache, in parallel
  (``datamint download``).
"""

from __future__ import annotations

from datamint.api.client import Api
from datamint.api.download import DownloadResult
from datamint.api.transport import RetryTransport

__all__ = ["Api", "DownloadResult", "RetryTransport"]
