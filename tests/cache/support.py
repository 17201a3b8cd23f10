"""Checks shared by the cache tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FILE_ROUTE = r"^/(resources/[^/]+|annotations/[^/]+/annotations/[^/]+)/file$"
"""Paths of the two file routes (resource files and segmentation files)."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_nothing_partial(root: Path) -> None:
    """No partial download, temp file or ``data`` without a matching ``meta.json``."""
    files = root / "files"
    if not files.exists():
        return
    for path in files.rglob("*"):
        assert not path.name.endswith((".incomplete", ".tmp")), f"left behind: {path}"
        if path.is_file() and path.name == "data":
            meta_path = path.parent / "meta.json"
            assert meta_path.is_file(), f"{path} has no meta.json"
            meta = json.loads(meta_path.read_text())
            assert meta["size"] == path.stat().st_size, path
            assert meta["sha256"] == sha256_of(path), path
        if path.is_file() and path.name == "meta.json":
            assert (path.parent / "data").is_file(), f"{path} has no data"


def entry_files(root: Path) -> list[Path]:
    """Every file under ``root/files`` except lock files."""
    base = root / "files"
    if not base.exists():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
