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

The plan itself (rules, request log, counters) is
:class:`~datamint.testing.fault_plan.FaultPlan`; this module is the middleware that
applies it, and re-exports :class:`FaultRule` and :class:`RequestRecord`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from datamint.testing.fault_plan import FaultPlan, FaultRule, RequestRecord

__all__ = ["FaultInjector", "FaultPlan", "FaultRule", "RequestRecord"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FaultInjector(FaultPlan):
    """A fault plan plus request counters, shared by a test and the server thread.

    Use :meth:`wrap` as ``running_server(..., wrap_app=injector.wrap)``; program faults
    with :meth:`fail_with_status`, :meth:`drop_connection`, :meth:`add_latency` (or
    :meth:`add`), read :meth:`count` and :attr:`requests`, and :meth:`reset` between tests.
    """

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
