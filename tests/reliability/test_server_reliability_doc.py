"""docs/reliability.md: every server promise names tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

REPO_ROOT = Path(__file__).resolve().parents[2]


def _server_section() -> list[str]:
    text = (REPO_ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    section = text.split("\n## Server\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_every_server_promise_names_a_test_that_exists() -> None:
    promises = _server_section()
    assert len(promises) >= 20
    for line in promises:
        refs = re.findall(r"`((?:tests/[\w/]+\.py)?)::(\w+)`", line)
        assert refs, line
        current = ""
        for path, name in refs:
            current = path or current
            source = (REPO_ROOT / current).read_text(encoding="utf-8")
            assert f"def {name}(" in source, (current, name)
