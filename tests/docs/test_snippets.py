"""Every fenced ```python block of README.md and docs/*.md runs, against a real demo server.

The blocks of one file run in order in one namespace, as a reader would paste them.
Each file gets its own demo server (``datamint.testing.demo_server``: a fresh store, so a
page may save a split) with ``DATAMINT_API_URL`` / ``DATAMINT_API_KEY`` /
``DATAMINT_CACHE_DIR`` set, which is how the pages' ``project="demo"`` finds it; the
cache is shared by all files so each volume is decoded once. The working directory is
the repository root (pages read ``datamint/demo/data/...``). A block written as a
doctest (``>>>`` lines) is run by :mod:`doctest`, its printed output compared
(ELLIPSIS, NORMALIZE_WHITESPACE). A block that cannot run here must be fenced as
```text (or ```bash for shell commands).
"""

from __future__ import annotations

import doctest
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from datamint.testing import demo_server

REPO = Path(__file__).resolve().parents[2]
PAGES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w.+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)


@dataclass(frozen=True)
class Block:
    """One fenced python block: where it starts and its dedented source."""

    page: str
    line: int
    source: str


def python_blocks(page: str) -> list[Block]:
    """The ```python blocks of ``page``, in order (indented fences in lists included).

    Args:
        page: Path relative to the repository root.

    Returns:
        The blocks, each dedented by its fence's indentation.
    """
    text = (REPO / page).read_text(encoding="utf-8")  # REPO / an absolute path is that path
    blocks = []
    for match in FENCE.finditer(text):
        if match.group("lang") != "python":
            continue
        indent = len(match.group("indent"))
        lines = [line[indent:] for line in match.group("body").splitlines()]
        line = text.count("\n", 0, match.start()) + 2
        blocks.append(Block(page, line, "\n".join(lines) + "\n"))
    return blocks


def run_block(block: Block, namespace: dict[str, Any]) -> None:
    """Run one block in ``namespace``: exec, or doctest when it holds ``>>>`` prompts.

    Raises:
        AssertionError: When a doctest's output differs (the report is the message).
    """
    name = f"{block.page}:{block.line}"
    if re.search(r"^>>> ", block.source, re.M):
        test = doctest.DocTestParser().get_doctest(
            block.source, namespace, name, str(REPO / block.page), block.line - 1
        )
        runner = doctest.DocTestRunner(
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
        )
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        assert runner.failures == 0, "".join(report)
        return
    exec(compile(block.source, name, "exec"), namespace)


def test_pages_have_python_blocks() -> None:
    assert python_blocks("README.md")
    assert sum(len(python_blocks(page)) for page in PAGES) >= 15


def test_only_python_fences_are_run_and_doctests_are_checked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```text\nnot python\n```\n\n1. a step\n\n   ```python\n   x = 1\n   ```\n\n"
        "```python\n>>> x + 1\n3\n```\n",
        encoding="utf-8",
    )
    blocks = python_blocks(str(page))
    assert [b.source for b in blocks] == ["x = 1\n", ">>> x + 1\n3\n"]
    assert [b.line for b in blocks] == [8, 12]
    namespace: dict[str, Any] = {}
    run_block(blocks[0], namespace)
    with pytest.raises(AssertionError, match=r"Expected:\s+3\s+Got:\s+2"):
        run_block(blocks[1], namespace)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("snippet-cache")


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)])
def test_snippets_run(
    page: str, shared_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO)
    namespace: dict[str, Any] = {"__name__": "__snippet__"}
    with demo_server(cache_dir=shared_cache), warnings.catch_warnings():
        # As in a user's session: warnings are shown, not raised.
        warnings.simplefilter("default")
        for block in python_blocks(page):
            try:
                run_block(block, namespace)
            except Exception as exc:
                raise AssertionError(
                    f"the python block at {block.page}:{block.line} failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
