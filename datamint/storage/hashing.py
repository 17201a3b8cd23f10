"""File hashing: the one sha256 helper of the caches and downloads."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["CHUNK_BYTES", "file_sha256", "hash_file"]

CHUNK_BYTES = 1 << 20
"""Bytes read per chunk (1 MiB)."""


def hash_file(path: str | os.PathLike[str], hasher: _Hash | None = None) -> tuple[_Hash, int]:
    """Feed a file's bytes into a hash, :data:`CHUNK_BYTES` at a time.

    Args:
        path: The file.
        hasher: A ``hashlib`` object to update (e.g. to go on hashing a download as
            more bytes arrive); a new ``hashlib.sha256()`` when ``None``.

    Returns:
        ``(hasher, size)``: the updated hash and the number of bytes read.

    Raises:
        OSError: If the file cannot be read.
    """
    hasher = hashlib.sha256() if hasher is None else hasher
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            hasher.update(chunk)
            size += len(chunk)
    return hasher, size


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hash a file now.

    Args:
        path: The file.

    Returns:
        Its sha256, 64 lowercase hex digits.

    Raises:
        OSError: If the file cannot be read.
    """
    return hash_file(path)[0].hexdigest()
