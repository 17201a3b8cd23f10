"""Retries, as a transport that wraps the one moving the bytes.

The httpx way: the client holds policy, a transport moves bytes, and retrying is a
transport around a transport.

:class:`RetryTransport` resends a request after a connection failure, a timeout, a 429 or
a 5xx answer, waiting ``backoff_base_s * 2**attempt`` seconds (capped at
``backoff_max_s``) plus up to ``backoff_base_s`` of random jitter, or the server's
``Retry-After`` when it sends one. Only safe requests are retried: every idempotent method,
and ``POST .../annotations/search`` (a read-only search). Other POSTs and PATCHes go out once.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone

import httpx

__all__ = ["RETRY_STATUSES", "RetryTransport", "is_retryable_request"]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses worth asking again. (501, 505+ are permanent.)"""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

RETRYABLE_POST_SUFFIXES = ("/annotations/search",)
"""POST routes that only read, and so may be resent."""

RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
"""Transport failures worth a retry (not, e.g., an unsupported URL scheme)."""


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def is_retryable_request(request: httpx.Request) -> bool:
    """Tell whether ``request`` may be sent again without side effects.

    Args:
        request: The request.

    Returns:
        True for idempotent methods and for ``POST`` to a path ending in
        ``/annotations/search``.
    """
    method = request.method.upper()
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and request.url.path.rstrip("/").endswith(RETRYABLE_POST_SUFFIXES)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header.

    Args:
        value: The header value: delay seconds, or an HTTP date.
        now: Current time, for HTTP dates (tests); the real clock when ``None``.

    Returns:
        The delay in seconds (never negative), or ``None`` when absent or unparseable.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class RetryTransport(httpx.BaseTransport):
    """A transport that retries transient failures of the transport it wraps.

    Args:
        transport: The transport that moves the bytes, e.g. ``httpx.HTTPTransport()``.
        max_retries: Retries after the first attempt (0 disables retrying).
        backoff_base_s: First backoff delay and jitter range, in seconds.
        backoff_max_s: Cap of the exponential backoff, in seconds.
        max_retry_after_s: Longest ``Retry-After`` honoured, in seconds; a server asking
            for more gets its answer passed on instead of a retry.
        sleep: Function that waits a number of seconds; :func:`time.sleep` when
            ``None`` (tests pass a recorder).

    Raises:
        ValueError: If ``max_retries`` or a delay is negative.

    Example:
        >>> client = httpx.Client(transport=RetryTransport(httpx.HTTPTransport(), max_retries=3))
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        *,
        max_retries: int = 2,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        max_retry_after_s: float = 120.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if max_retries < 0 or backoff_base_s < 0 or backoff_max_s < 0 or max_retry_after_s < 0:
            raise ValueError("max_retries and delays must be >= 0")
        self.transport = transport
        self.max_retries = int(max_retries)
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self.max_retry_after_s = float(max_retry_after_s)
        self._sleep = sleep

    def backoff_s(self, attempt: int) -> float:
        """Return the delay before retry number ``attempt + 1``, in seconds (with jitter).

        Args:
            attempt: Index of the attempt that just failed, from 0.

        Returns:
            ``min(backoff_max_s, backoff_base_s * 2**attempt) + uniform(0, backoff_base_s)``.
        """
        delay = min(self.backoff_max_s, self.backoff_base_s * (2.0**attempt))
        return delay + random.uniform(0.0, self.backoff_base_s)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying transient failures of safe requests.

        Args:
            request: The request to send.

        Returns:
            The first response that is not a retryable status, or the last one when
            retries run out.

        Raises:
            httpx.TransportError: The last transport failure when retries run out, or
                the first one for a request that may not be resent.
        """
        if self.max_retries == 0 or not is_retryable_request(request):
            return self.transport.handle_request(request)
        attempt = 0
        while True:
            try:
                response = self.transport.handle_request(request)
            except RETRYABLE_ERRORS as exc:
                if attempt >= self.max_retries:
                    raise
                delay = self.backoff_s(attempt)
                logger.debug(
                    "retrying %s %s in %.2fs after %s (%d/%d)",
                    request.method, request.url, delay, type(exc).__name__,
                    attempt + 1, self.max_retries,
                )  # fmt: skip
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None and retry_after > self.max_retry_after_s:
                    return response
                delay = self.backoff_s(attempt) if retry_after is None else retry_after
                response.close()
                logger.debug(
                    "retrying %s %s in %.2fs after status %d (%d/%d)",
                    request.method, request.url, delay, response.status_code,
                    attempt + 1, self.max_retries,
                )  # fmt: skip
            (self._sleep or _sleep)(delay)
            attempt += 1

    def close(self) -> None:
        """Close the wrapped transport and its connections."""
        self.transport.close()
