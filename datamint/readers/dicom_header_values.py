"""Value decoders for raw DICOM element bytes, as the header scanner returns them.

Each ``*_value`` decoder turns a raw value into what pydicom reports for a clean,
single-valued element (trailing space/NUL padding removed, PS3.5 6.2), and returns
``None`` for anything else (several values, non-ASCII bytes, a malformed number), so the
caller can fall back to pydicom.
"""

from __future__ import annotations

import math
import re

__all__ = ["decimal_values", "integer_value", "text_value", "uint16_value"]


def uint16_value(raw: bytes) -> int | None:
    """A US value (PS3.5 6.2): one little-endian uint16, or ``None`` unless ``raw`` is
    exactly 2 bytes (empty, or several values)."""
    return int.from_bytes(raw, "little") if len(raw) == 2 else None


def text_value(raw: bytes) -> str | None:
    """A single CS, UI or LO value as pydicom gives it: ASCII, trailing spaces and NULs
    removed (leading ones kept); ``None`` for non-ASCII bytes or several values."""
    try:
        value = raw.decode("ascii").rstrip(" \x00")
    except UnicodeDecodeError:
        return None
    return None if "\\" in value else value


# PS3.5 6.2 DS: optional sign, digits with an optional point, optional exponent; spaces
# around. Python's float() accepts more ("nan", "1_0"), hence the pattern first.
_DECIMALS = re.compile(
    rb" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *"
    rb"(?:\\ *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *)*"
)


def decimal_values(raw: bytes) -> tuple[float, ...] | None:
    """A DS value (PS3.5 6.2: decimal strings separated by backslashes) as floats.

    Returns:
        One float per value, or ``None`` if a value is empty, not a decimal number
        (``nan``, ``inf`` included), or too large for a finite float. Trailing spaces
        and NULs are padding.
    """
    text = raw.rstrip(b" \x00")
    if _DECIMALS.fullmatch(text) is None:
        return None
    numbers = tuple(map(float, text.split(b"\\")))
    return numbers if math.isfinite(sum(numbers)) else None


def integer_value(raw: bytes) -> int | None:
    """A single IS value (PS3.5 6.2: an optionally signed decimal integer), or ``None``
    when empty, several values, or not an integer."""
    text = raw.rstrip(b" \x00").strip(b" ")
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    if not digits.isdigit():
        return None
    return int(text)
