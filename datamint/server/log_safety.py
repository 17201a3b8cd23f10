"""Log lines that user input cannot forge: control characters are escaped.

A request path such as ``/x%0a2026-01-01 INFO datamint.server: GET / 200`` reaches the
server decoded, newline included. :class:`EscapingFilter` renders each record's message and
replaces every control character (C0, DEL, C1, the Unicode line and paragraph separators
and the bidirectional overrides) by a visible escape such as ``\\x0a`` or ``\\u2028``, so one
record is always one line. Traceback lines keep their line breaks but are escaped the same
way and prefixed with ``"  | "``, so no line of a traceback can pass for a log line.

The server installs the filter on the ``datamint.server`` logger; ``datamint serve`` also
puts it on its log handler, which uvicorn's own loggers share.
"""

from __future__ import annotations

import logging
import re

__all__ = ["EscapingFilter", "escape_control", "install"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """Return ``text`` with every control character replaced by a visible escape.

    Args:
        text: Any text (a request path, an email, an exception message).

    Returns:
        The text on one line: ``"\\n"`` becomes ``"\\x0a"``, U+2028 becomes ``"\\u2028"``.
        Backslashes are left alone, so escaping twice changes nothing.
    """
    return _CONTROL.sub(_escape_one, text)


class EscapingFilter(logging.Filter):
    """A logging filter that escapes control characters in messages and tracebacks."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Render and escape ``record``'s message (once); always keep the record.

        Args:
            record: The record being logged.

        Returns:
            ``True``.
        """
        if getattr(record, "datamint_escaped", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's error path
            return True
        record.msg, record.args = escape_control(message), None
        if record.exc_info and not record.exc_text:
            text = self._formatter.formatException(record.exc_info)
            record.exc_text = "\n".join("  | " + escape_control(line) for line in text.split("\n"))
        record.datamint_escaped = True
        return True


def install(target: logging.Logger | logging.Handler) -> None:
    """Add an :class:`EscapingFilter` to a logger or handler (once).

    Args:
        target: The logger (records logged on it) or handler (every record it emits).
    """
    if not any(isinstance(f, EscapingFilter) for f in target.filters):
        target.addFilter(EscapingFilter())
