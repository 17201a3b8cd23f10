"""Content checks of decoded cache entries: CRC-32 checksums, sealed sidecars, and the
warning issued when an entry fails its check.

Every decoded entry records checksums of its own bytes in its JSON sidecar when it is
written, and the sidecar records a checksum of itself (its *seal*), so neither a flipped
data byte nor an edited sidecar can pass unseen. Checks run on read (per file for
``.npy`` arrays when opened, per chunk for slice layouts when the chunk is read) and in
``datamint cache verify``. CRC-32 (zlib) is used: it catches every burst of up to 32
flipped bits and any other accidental damage with probability 1 - 2**-32, at several
GB/s (``benchmarks/bench_checksums.py``). It is a guard against accidents, not against
tampering. An entry that fails is quarantined (removed) under its lock, a
:class:`~datamint.exceptions.DatamintWarning` names it, and the cache rebuilds it.
"""

from __future__ import annotations

import json
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datamint.exceptions import DatamintWarning

__all__ = [
    "CRC_BLOCK_BYTES",
    "SEAL_KEY",
    "crc32_bytes",
    "crc32_file",
    "seal",
    "seal_problem",
    "warn_corrupted",
]

CRC_BLOCK_BYTES = 1 << 20
"""Bytes read at a time while checksumming a file."""

SEAL_KEY = "sidecar_crc32"
"""The sidecar key holding the CRC-32 of the sidecar's other keys (canonical JSON)."""


def crc32_bytes(data: bytes | bytearray | memoryview) -> int:
    """CRC-32 (zlib, unsigned) of a buffer."""
    return zlib.crc32(data) & 0xFFFFFFFF


def crc32_file(path: Path) -> int:
    """CRC-32 (zlib, unsigned) of a whole file, read in 1 MiB blocks.

    Raises:
        OSError: If the file cannot be read.
    """
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(CRC_BLOCK_BYTES):
            crc = zlib.crc32(block, crc)
    return crc & 0xFFFFFFFF


def _canonical(meta: Mapping[str, Any]) -> bytes:
    kept = {k: v for k, v in meta.items() if k != SEAL_KEY}
    return json.dumps(kept, sort_keys=True, separators=(",", ":")).encode("utf-8")


def seal(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``meta`` with :data:`SEAL_KEY` set to the CRC-32 of its other keys.

    Args:
        meta: A JSON-serialisable sidecar.

    Returns:
        A new dict, ready to be written.
    """
    return {**meta, SEAL_KEY: crc32_bytes(_canonical(meta))}


def seal_problem(meta: Any) -> str | None:
    """Say why a parsed sidecar is not intact, or ``None`` when its seal matches.

    Args:
        meta: The parsed JSON.

    Returns:
        ``"no checksum"`` for a sidecar written without one (an older datamint), a
        mismatch message, or ``None``.
    """
    if not isinstance(meta, dict):
        return "the sidecar is not a JSON object"
    if SEAL_KEY not in meta:
        return "no checksum (written by an older datamint)"
    if meta[SEAL_KEY] != crc32_bytes(_canonical(meta)):
        return "the sidecar does not match its own checksum"
    return None


def warn_corrupted(path: Path, why: str, *, rebuilt: str = "rebuilt", stacklevel: int = 3) -> None:
    """Warn that a cache entry failed its content check and was removed to be rebuilt.

    Args:
        path: The entry's data file (or folder), named in the message.
        why: What failed.
        rebuilt: How it comes back (``"rebuilt"``, ``"downloaded again"``).
        stacklevel: Passed to :func:`warnings.warn`.
    """
    message = f"cache entry {path} is corrupted ({why}); it was removed and is {rebuilt}"
    warnings.warn(message, DatamintWarning, stacklevel=stacklevel)
