"""Content checks of decoded cache entries: XXH3 checksums, sealed sidecars, and the
warning issued when an entry fails its check.

Every decoded entry records checksums of its own bytes in its JSON sidecar when it is
written, and the sidecar records a checksum of itself (its *seal*), so neither a flipped
data byte nor an edited sidecar can pass unseen. Checks run on read (per file for
``.npy`` arrays when opened, per chunk for slice layouts when the chunk is read) and in
``datamint cache verify``. The checksum is XXH3-64 (the ``xxhash`` package): 64 bits,
so accidental damage goes unseen with probability 2**-64, at several GB/s, a tenth of
the cost of zlib's CRC-32 on a slice-sized chunk (``benchmarks/bench_checksums.py``). It
guards against accidents (disk, copies, stray writes), not against tampering. An entry
that fails is quarantined (removed) under its lock, a
:class:`~datamint.exceptions.DatamintWarning` names it, and the cache rebuilds it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xxhash

from datamint.exceptions import DatamintWarning

__all__ = [
    "BLOCK_BYTES",
    "SEAL_KEY",
    "Checksummer",
    "checksum_bytes",
    "checksum_file",
    "seal",
    "seal_problem",
    "warn_corrupted",
]

BLOCK_BYTES = 1 << 20
"""Bytes read at a time while checksumming a file."""

SEAL_KEY = "sidecar_xxh3"
"""The sidecar key holding the XXH3-64 of the sidecar's other keys (canonical JSON)."""


def checksum_bytes(data: bytes | bytearray | memoryview) -> int:
    """XXH3-64 of a buffer, as an unsigned int (it fits JSON exactly)."""
    return xxhash.xxh3_64_intdigest(data)


def checksum_file(path: Path) -> int:
    """XXH3-64 of a whole file, read in 1 MiB blocks.

    Raises:
        OSError: If the file cannot be read.
    """
    hasher = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK_BYTES):
            hasher.update(block)
    return hasher.intdigest()


class Checksummer:
    """A write-only file wrapper that keeps the XXH3-64 and length of what passes.

    Args:
        fh: The binary file written to.
    """

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self._hasher = xxhash.xxh3_64()
        self.nbytes = 0

    def write(self, data: Any) -> int:
        """Write ``data`` (any buffer) and add it to the checksum."""
        view = memoryview(data).cast("B")
        self._hasher.update(view)
        self.nbytes += len(view)
        return int(self._fh.write(view))

    @property
    def checksum(self) -> int:
        """XXH3-64 of everything written so far."""
        return self._hasher.intdigest()


def _canonical(meta: Mapping[str, Any]) -> bytes:
    kept = {k: v for k, v in meta.items() if k != SEAL_KEY}
    return json.dumps(kept, sort_keys=True, separators=(",", ":")).encode("utf-8")


def seal(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``meta`` with :data:`SEAL_KEY` set to the XXH3-64 of its other keys.

    Args:
        meta: A JSON-serialisable sidecar.

    Returns:
        A new dict, ready to be written.
    """
    return {**meta, SEAL_KEY: checksum_bytes(_canonical(meta))}


def seal_problem(meta: Any) -> str | None:
    """Say why a parsed sidecar is not intact, or ``None`` when its seal matches.

    Args:
        meta: The parsed JSON.

    Returns:
        A message starting with ``"no checksum"`` for a sidecar written without one (an
        older datamint), a mismatch message, or ``None``.
    """
    if not isinstance(meta, dict):
        return "the sidecar is not a JSON object"
    if SEAL_KEY not in meta:
        return "no checksum (written by an older datamint)"
    if meta[SEAL_KEY] != checksum_bytes(_canonical(meta)):
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
