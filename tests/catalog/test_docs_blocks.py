"""Every ```python block of docs/variants.md and docs/scaling.md runs against the demo server.

The blocks of one page run in order in one namespace, with ``DATAMINT_API_URL`` and
``DATAMINT_API_KEY`` pointing at the demo server and the cache in the test's folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["variants.md", "scaling.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: str) -> list[str]:
    """The ```python blocks of a page, in order."""
    return _BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page, demo_server, monkeypatch, tmp_path):
    blocks = python_blocks(page)
    assert blocks, f"{page} has no python block"
    monkeypatch.setenv("DATAMINT_API_URL", demo_server.url)
    monkeypatch.setenv("DATAMINT_API_KEY", demo_server.api_key)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page}"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{page} block {number}", "exec")
        exec(code, namespace)
