"""Small value normalisers shared by the caches: sizes from records, UTC timestamps."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

__all__ = ["int_or_none", "utc_now_iso"]


def int_or_none(value: Any) -> int | None:
    """Return an int, or a numeric string as an int; anything else (bools too) is ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def utc_now_iso() -> str:
    """Return the current time as ISO-8601 UTC with microseconds and a ``Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
