"""Nothing a client sends can forge a log line.

The adversarial run wrote a fake log line with an unauthenticated path holding ``%0a``.
The request log now writes the path as sent (percent-encoded), and every message of the
``datamint.server`` logger has its control characters escaped.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from datamint.server.log_safety import EscapingFilter, escape_control

from .conftest import RelServer

pytestmark = pytest.mark.reliability

FORGED = "2026-01-01 00:00:00,000 INFO datamint.server: GET /projects 200 1.0 ms admin@example.org"


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """What the ``datamint.server`` logger writes, formatted as ``datamint serve`` does.

    The escaping filter is the one the app installs on that logger (tests using this
    fixture also use ``rel``, whose server created the app).
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("datamint.server")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.mark.parametrize("separator", ["%0a", "%0d%0a", "%0d", "%E2%80%A8", "%1b[2J"])
def test_a_path_cannot_forge_a_log_line(
    rel: RelServer, server_log: io.StringIO, separator: str
) -> None:
    path = f"/projects/x{separator}{FORGED.replace(' ', '%20')}"
    response = httpx.get(rel.url + path, trust_env=False)  # no key: logged before any check
    assert response.status_code == 401
    lines = [line for line in server_log.getvalue().splitlines() if "/projects/x" in line]
    assert len(lines) == 1, server_log.getvalue()
    assert all(line.startswith("20") and " datamint.server: " in line for line in lines)
    assert not any(line.startswith(FORGED[:20]) for line in server_log.getvalue().splitlines())
    assert separator in lines[0]  # the path is logged as sent, percent-encoded


def test_tracebacks_cannot_forge_log_lines_either(rel: RelServer, server_log: io.StringIO) -> None:
    logger = logging.getLogger("datamint.server")
    try:
        raise ValueError(f"bad input\n{FORGED}")
    except ValueError:
        logger.exception("unhandled error on %s %s", "GET", "/p\r\nx")
    lines = server_log.getvalue().splitlines()
    assert lines[0].endswith("unhandled error on GET /p\\x0d\\x0ax")
    assert all(line.startswith("  | ") for line in lines[1:]), lines
    assert any(FORGED in line for line in lines[1:])  # still there, but clearly inside


def test_escape_control_is_idempotent_and_keeps_plain_text() -> None:
    assert escape_control("GET /a b/é 200") == "GET /a b/é 200"
    once = escape_control("a\nb\u2028c\x7fd\u202ee")
    assert once == "a\\x0ab\\u2028c\\x7fd\\u202ee"
    assert escape_control(once) == once
    record = logging.LogRecord("datamint.server", logging.INFO, "", 0, "%s", ("x\ny",), None)
    assert EscapingFilter().filter(record) and record.getMessage() == "x\\x0ay"
