"""Fault injection for tests: a pure ASGI middleware with a programmable plan.

Wrap the reference server's app with a :class:`FaultInjector`, program faults from the
test, and read the per-path request counters::

    faults = FaultInjector()
    with running_server(store_dir, wrap_app=faults.wrap) as server:
        faults.fail_with_status(r"/resources/[^/]+/file$", status=503, times=1)
        faults.drop_connection(r"/file$", after_bytes=4096, times=1)
        faults.add_latency(r"^/projects", seconds=0.2)
        ...
        assert faults.count(r"/resources/[^/]+/file$") == 3

Faults, each applied to the first ``times`` requests whose path matches a regular
expression (``re.search``; ``times=None``: every one), for one HTTP method (``"GET"`` by
default; ``None``: any):

- **status**: answer ``status`` (e.g. 503) with ``Retry-After`` and a JSON body
  ``{"message": ...}`` without calling the app;
- **drop**: pass the response through until ``after_bytes`` body bytes are sent, then break
  the connection mid-body (the client sees a truncated body: a protocol error);
- **latency**: wait ``seconds`` before the request reaches the app; with
  ``chunk_bytes``/``chunk_delay_s`` the body is also re-chunked and sent slowly.

Every request is counted before any fault applies, and recorded with its ``Range`` header,
status and the fault it met; counters are thread-safe (the server runs in another thread).
Only HTTP requests are touched; the path excludes the query string.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio

__all__ = ["FaultInjector", "FaultRule", "RequestRecord"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class FaultRule:
    """One programmed fault.

    Attributes:
        pattern: Regular expression searched in the request path.
        method: HTTP method it applies to; ``None`` for any.
        times: How many matching requests it applies to; ``None`` for all.
        status: Status to answer instead of calling the app, or ``None``.
        retry_after_s: ``Retry-After`` seconds sent with ``status``; ``None`` sends none.
        drop_after_bytes: Break the connection after this many body bytes, or ``None``.
        latency_s: Seconds to wait before the app sees the request.
        chunk_bytes: Re-chunk the body into pieces of at most this many bytes.
        chunk_delay_s: Seconds to wait before each body piece.
        applied: How many requests it has applied to so far.
    """

    pattern: str
    method: str | None = "GET"
    times: int | None = 1
    status: int | None = None
    retry_after_s: float | None = None
    drop_after_bytes: int | None = None
    latency_s: float = 0.0
    chunk_bytes: int | None = None
    chunk_delay_s: float = 0.0
    applied: int = 0

    def __post_init__(self) -> None:
        self._regex = re.compile(self.pattern)

    def matches(self, method: str, path: str) -> bool:
        """Tell whether the rule applies to this request now (not yet used up)."""
        if self.times is not None and self.applied >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._regex.search(path) is not None


@dataclass
class RequestRecord:
    """One request seen by the middleware, logged as it arrives.

    Attributes:
        method: HTTP method.
        path: Path, without the query string.
        range: The ``Range`` header, or ``None``.
        status: The status sent; ``None`` until the response starts.
        fault: ``"status"``, ``"drop"``, ``"latency"`` (joined by ``+``), or ``None``.
    """

    method: str
    path: str
    range: str | None
    status: int | None
    fault: str | None


class FaultInjector:
    """A fault plan plus request counters, shared by a test and the server thread.

    Use :meth:`wrap` as ``running_server(..., wrap_app=injector.wrap)``; program faults
    with :meth:`fail_with_status`, :meth:`drop_connection`, :meth:`add_latency` (or
    :meth:`add`), read :meth:`count` and :attr:`requests`, and :meth:`reset` between tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._requests: list[RequestRecord] = []

    # ------------------------------------------------------------------ plan

    def add(self, rule: FaultRule) -> FaultRule:
        """Add a rule to the plan.

        Args:
            rule: The fault.

        Returns:
            The same rule (its ``applied`` counter is live).
        """
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_with_status(
        self,
        pattern: str,
        status: int = 503,
        *,
        times: int | None = 1,
        retry_after_s: float | None = 0.0,
        method: str | None = "GET",
    ) -> FaultRule:
        """Answer ``status`` to the first ``times`` matching requests.

        Args:
            pattern: Regular expression searched in the path.
            status: HTTP status to answer, e.g. 503.
            times: How many requests; ``None`` for all.
            retry_after_s: ``Retry-After`` value in seconds; ``None`` sends no header.
            method: HTTP method; ``None`` for any.

        Returns:
            The rule added.
        """
        return self.add(
            FaultRule(pattern, method, times, status=status, retry_after_s=retry_after_s)
        )

    def drop_connection(
        self,
        pattern: str,
        *,
        after_bytes: int,
        times: int | None = 1,
        method: str | None = "GET",
    ) -> FaultRule:
        """Break the first ``times`` matching responses after ``after_bytes`` body bytes.

        Args:
            pattern: Regular expression searched in the path.
            after_bytes: Body bytes sent before the connection breaks (0: none).
            times: How many requests; ``None`` for all.
            method: HTTP method; ``None`` for any.

        Returns:
            The rule added.
        """
        return self.add(FaultRule(pattern, method, times, drop_after_bytes=int(after_bytes)))

    def add_latency(
        self,
        pattern: str,
        seconds: float,
        *,
        times: int | None = None,
        chunk_bytes: int | None = None,
        chunk_delay_s: float = 0.0,
        method: str | None = "GET",
    ) -> FaultRule:
        """Slow matching requests down.

        Args:
            pattern: Regular expression searched in the path.
            seconds: Wait before the app sees the request, in seconds.
            times: How many requests; ``None`` (default) for all.
            chunk_bytes: Re-chunk response bodies into pieces of at most this many bytes.
            chunk_delay_s: Wait before each piece, in seconds.
            method: HTTP method; ``None`` for any.

        Returns:
            The rule added.
        """
        return self.add(
            FaultRule(
                pattern,
                method,
                times,
                latency_s=float(seconds),
                chunk_bytes=chunk_bytes,
                chunk_delay_s=float(chunk_delay_s),
            )
        )

    def reset(self) -> None:
        """Remove every rule and forget every request."""
        with self._lock:
            self._rules.clear()
            self._requests.clear()

    def clear_rules(self) -> None:
        """Remove every rule; keep the request log."""
        with self._lock:
            self._rules.clear()

    # ------------------------------------------------------------------ counters

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def count(self, pattern: str | None = None, method: str | None = "GET") -> int:
        """Count the requests seen whose path matches.

        Args:
            pattern: Regular expression searched in the path; all paths when ``None``.
            method: HTTP method; ``None`` for any.

        Returns:
            The number of requests.
        """
        regex = re.compile(pattern) if pattern is not None else None
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (regex is None or regex.search(r.path))
        )

    def counts(self, method: str | None = "GET") -> dict[str, int]:
        """Count the requests per path.

        Args:
            method: HTTP method; ``None`` for any.

        Returns:
            ``{path: count}``.
        """
        out: dict[str, int] = {}
        for r in self.requests:
            if method is None or r.method == method.upper():
                out[r.path] = out.get(r.path, 0) + 1
        return out

    # ------------------------------------------------------------------ ASGI

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """Return ``app`` wrapped by this injector (a pure ASGI middleware).

        Args:
            app: The ASGI application, e.g. ``create_app(store_dir)``.

        Returns:
            The wrapping ASGI application.
        """
        injector = self

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            await injector._handle(app, scope, receive, send)

        return middleware

    def _select(
        self, method: str, path: str
    ) -> tuple[FaultRule | None, FaultRule | None, list[FaultRule]]:
        """Pick the rules for one request and mark them applied (under the lock)."""
        status_rule = drop_rule = None
        slow: list[FaultRule] = []
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.status is not None:
                    if status_rule is None:
                        status_rule = rule
                        rule.applied += 1
                elif rule.drop_after_bytes is not None:
                    if drop_rule is None:
                        drop_rule = rule
                        rule.applied += 1
                else:
                    slow.append(rule)
                    rule.applied += 1
        return status_rule, drop_rule, slow

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def _set_status(self, record: RequestRecord, status: int) -> None:
        with self._lock:
            record.status = status

    async def _handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        method = str(scope.get("method", "GET")).upper()
        path = str(scope.get("path", ""))
        range_header = None
        for name, value in scope.get("headers") or ():
            if name.lower() == b"range":
                range_header = value.decode("latin-1")
        status_rule, drop_rule, slow = self._select(method, path)
        faults = [
            name
            for name, on in (("latency", bool(slow)), ("status", status_rule), ("drop", drop_rule))
            if on
        ]
        record = RequestRecord(method, path, range_header, None, "+".join(faults) or None)
        self._record(record)
        latency = sum(rule.latency_s for rule in slow)
        if latency > 0:
            await anyio.sleep(latency)
        if status_rule is not None:
            self._set_status(record, int(status_rule.status or 503))
            await self._send_status(send, status_rule, path)
            return
        chunk_rules = [r for r in slow if r.chunk_bytes or r.chunk_delay_s]
        chunk_bytes = min((r.chunk_bytes for r in chunk_rules if r.chunk_bytes), default=None)
        chunk_delay_s = sum(r.chunk_delay_s for r in chunk_rules)
        budget = [drop_rule.drop_after_bytes if drop_rule else None]
        dropped: list[bool] = []

        async def faulty_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._set_status(record, int(message["status"]))
                await send(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            if dropped:
                return  # the rest of the body goes nowhere
            body = bytes(message.get("body", b""))
            more = bool(message.get("more_body", False))
            if budget[0] is not None and len(body) >= budget[0]:
                # Send what the budget allows, then swallow the rest: the app returns with
                # the response incomplete and the server closes the connection.
                if budget[0] > 0:
                    await send(
                        {"type": "http.response.body", "body": body[: budget[0]], "more_body": True}
                    )
                dropped.append(True)
                return
            if budget[0] is not None:
                budget[0] -= len(body)
            if chunk_bytes or chunk_delay_s:
                step = chunk_bytes or max(1, len(body))
                pieces = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
                for i, piece in enumerate(pieces):
                    if chunk_delay_s:
                        await anyio.sleep(chunk_delay_s)
                    last = i == len(pieces) - 1
                    await send(
                        {"type": "http.response.body", "body": piece, "more_body": more or not last}
                    )
                return
            await send(message)

        # Returning without completing the response makes the server close the
        # connection: the client sees a body shorter than its Content-Length.
        await app(scope, receive, faulty_send)

    @staticmethod
    async def _send_status(send: Send, rule: FaultRule, path: str) -> None:
        body = json.dumps({"message": f"injected fault: status {rule.status} for {path}"}).encode(
            "utf-8"
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        if rule.retry_after_s is not None:
            headers.append((b"retry-after", _seconds_text(rule.retry_after_s).encode("ascii")))
        await send(
            {"type": "http.response.start", "status": int(rule.status or 503), "headers": headers}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}"
