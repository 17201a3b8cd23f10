"""Strict JSON parsing of request input: what the server cannot store or send back is refused.

Python's :func:`json.loads` accepts more than JSON (RFC 8259): ``NaN``, ``Infinity``,
numbers that overflow to ``inf`` (``1e999999``) and ``\\udcff`` escapes that make strings
with lone UTF-16 surrogates, none of which can be written back as JSON or UTF-8.
:func:`loads_strict` refuses them, and integers outside the signed 64-bit range (SQLite's
integers), with a :class:`StrictJsonError` the server answers as 422.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["INT_RANGE", "StrictJsonError", "loads_strict"]

#: Integers outside this range are refused (SQLite stores signed 64-bit integers).
INT_RANGE = (-(1 << 63), (1 << 63) - 1)


class StrictJsonError(ValueError):
    """The text is not JSON the server accepts; the message says why and where."""


def _reject_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not a JSON number (non-finite numbers are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError(f"number {text[:40]} is out of range (it overflows to infinity)")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > 20:
        raise StrictJsonError(f"integer {text[:40]}... is out of range (at most 64-bit)")
    value = int(text)
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise StrictJsonError(f"integer {text} is out of range (at most 64-bit)")
    return value


def loads_strict(data: bytes | str) -> Any:
    """Parse JSON, refusing what cannot be stored or served back.

    Args:
        data: UTF-8 bytes (as received) or text.

    Returns:
        The parsed value (dicts, lists, str, int, float, bool, None).

    Raises:
        StrictJsonError: For invalid UTF-8, invalid JSON, ``NaN``/``Infinity``, a number
            that overflows, an integer outside the 64-bit range, a string holding a lone
            surrogate (``"\\udcff"``), or nesting too deep to parse.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StrictJsonError(f"body is not valid UTF-8 (byte {exc.start})") from None
    else:
        text = data
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except StrictJsonError:
        raise
    except json.JSONDecodeError as exc:
        raise StrictJsonError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise StrictJsonError("JSON nested too deeply") from None
    except ValueError as exc:
        raise StrictJsonError(f"not valid JSON: {exc}") from None
    try:
        # Lone surrogates survive json.loads but not UTF-8 encoding (pairs were combined).
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise StrictJsonError(
            "a string holds a lone UTF-16 surrogate (e.g. \\udcff); send valid Unicode"
        ) from None
    except RecursionError:
        raise StrictJsonError("JSON nested too deeply") from None
    return value
