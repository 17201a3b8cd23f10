"""ISO-8601 UTC timestamps as the server writes and reads them.

The server *emits* one format, UTC with microseconds and ``Z``:
``2026-11-21T14:53:43.660946Z``. It *parses* any ISO-8601 date-time (fractional seconds of
any length or none, ``Z`` or a numeric offset, or a naive value taken as UTC) and plain
``YYYY-MM-DD`` dates. Comparisons are done on integer microseconds since the epoch, never on
strings, so ``...:00Z`` and ``...:00.000Z`` compare equal.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["format_us", "now_us", "parse_iso", "to_iso", "to_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?)?$"
)


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 date or date-time into an aware UTC ``datetime``.

    Args:
        text: e.g. ``2026-04-21T13:09:34.912Z``, ``2026-11-21T14:53:43.660946Z``,
            ``2026-11-21T12:00:00+01:00``, ``2026-11-21T12:00:00`` (taken as UTC) or
            ``2026-11-21`` (midnight UTC). Digits beyond microseconds are truncated.

    Returns:
        The instant, with ``tzinfo=timezone.utc``.

    Raises:
        ValueError: If ``text`` is not an ISO-8601 date or date-time; the message quotes it.
    """
    match = _ISO_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not an ISO-8601 timestamp (expected e.g. 2026-11-21T14:53:43.660946Z)"
        )
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    value = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=tz,
    )
    return value.astimezone(timezone.utc)


def to_us(text: str) -> int:
    """Return the instant of an ISO-8601 string as integer microseconds since the epoch (UTC).

    Args:
        text: Any value :func:`parse_iso` accepts.

    Returns:
        Microseconds since 1970-01-01T00:00:00Z.

    Raises:
        ValueError: If ``text`` cannot be parsed.
    """
    delta = parse_iso(text) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_us(micros: int) -> str:
    """Format microseconds since the epoch as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Args:
        micros: Microseconds since 1970-01-01T00:00:00Z.

    Returns:
        The UTC timestamp with exactly six fractional digits and a ``Z``.
    """
    value = _EPOCH + timedelta(microseconds=micros)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_iso(text: str) -> str:
    """Normalise any ISO-8601 string to the server's format (microseconds, ``Z``).

    Args:
        text: Any value :func:`parse_iso` accepts.

    Returns:
        e.g. ``2026-11-21T12:00:00.000000Z`` for ``2026-11-21T12:00:00Z``.

    Raises:
        ValueError: If ``text`` cannot be parsed.
    """
    return format_us(to_us(text))


def now_us() -> int:
    """Return the current time as integer microseconds since the epoch (UTC)."""
    delta = datetime.now(timezone.utc) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
