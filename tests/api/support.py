"""Constants and helpers shared by the API tests."""

from __future__ import annotations

import threading

import httpx

URL = "http://datamint.test"
KEY = "test-key-0123456789"


class CountingTransport(httpx.BaseTransport):
    """Wraps a transport and records every request and the status it got."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.exchanges: list[tuple[httpx.Request, int]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        with self._lock:
            self.exchanges.append((request, response.status_code))
        return response

    @property
    def count(self) -> int:
        return len(self.exchanges)

    def close(self) -> None:
        self.inner.close()
