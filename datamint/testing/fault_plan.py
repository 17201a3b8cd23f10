"""The fault plan of :mod:`datamint.testing.faults`: rules, and the log of requests seen.

A :class:`FaultPlan` holds the rules a test programs (:class:`FaultRule`) and a
:class:`RequestRecord` of every request, behind one lock (the server runs in another
thread). It is pure data and bookkeeping; the ASGI middleware that applies it to a
running app is :class:`datamint.testing.faults.FaultInjector`, a ``FaultPlan`` with a
``wrap`` method. Rule semantics (status, drop, latency) are described there.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

__all__ = ["FaultPlan", "FaultRule", "RequestRecord"]


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


class FaultPlan:
    """The programmed faults plus request counters, shared by a test and the server thread.

    Program faults with :meth:`fail_with_status`, :meth:`drop_connection`,
    :meth:`add_latency` (or :meth:`add`), read :meth:`count` and :attr:`requests`, and
    :meth:`reset` between tests. :class:`~datamint.testing.faults.FaultInjector` adds the
    middleware that applies the plan.
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

    # ------------------------------------------------------------------ for the middleware

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
