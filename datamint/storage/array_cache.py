"""Decoded arrays on disk: one ``.npy`` per entry with a JSON sidecar, read memory-mapped.

Layout under the cache root::

    arrays/<key[:2]>/<key>.npy    the array (NumPy format, C order)
    arrays/<key[:2]>/<key>.json   {"key_fields", "shape", "dtype", "nbytes", "extra",
                                   "file_bytes", "xxh3", "sidecar_xxh3"}

The sidecar is written after the array, both atomically, under a per-key lock; an entry
counts only when both exist and agree. Content check: ``xxh3`` is the XXH3-64 checksum of
the whole ``.npy`` file and ``sidecar_xxh3`` that of the sidecar itself
(:mod:`datamint.storage.integrity`); both are checked every time an entry is opened
(one sequential read of the file, which also warms the page cache for the memory map).
An entry that fails is removed under its lock and rebuilt, with a
:class:`~datamint.exceptions.DatamintWarning` naming it; an entry written without
checksums (by an older datamint) is rebuilt quietly. No pickle is ever written or read
(``allow_pickle=False``).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from datamint.storage.atomic import atomic_open, atomic_write_text
from datamint.storage.cache_key import cache_key
from datamint.storage.integrity import (
    Checksummer,
    checksum_file,
    seal,
    seal_problem,
    warn_corrupted,
)
from datamint.storage.locks import key_lock

__all__ = ["ArrayCache", "check_npy_entry"]

_LOG = logging.getLogger(__name__)

Builder = Callable[[], tuple[np.ndarray, dict[str, Any]]]
_NO_CHECKSUM = "no checksum"


def check_npy_entry(npy: Path, meta: Any) -> str | None:
    """Say why an ArrayCache entry is damaged, reading the whole ``.npy`` once.

    Args:
        npy: The array file.
        meta: Its parsed sidecar.

    Returns:
        ``None`` when the sidecar's seal, the file's size and checksum, and the array's
        shape and dtype all match; else the reason (starting with ``"no checksum"`` for
        an entry written without checksums).
    """
    problem = seal_problem(meta)
    if problem is not None:
        return problem
    try:
        size = npy.stat().st_size
        if size != meta["file_bytes"]:
            return f"{npy.name} has {size} bytes, its sidecar says {meta['file_bytes']}"
        if checksum_file(npy) != meta["xxh3"]:
            return f"{npy.name} does not match the checksum in its sidecar"
        array = np.load(npy, mmap_mode="r", allow_pickle=False)
        got = [list(array.shape), str(array.dtype)]
        del array
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{npy.name} is unreadable: {exc}"
    if got != [meta.get("shape"), meta.get("dtype")]:
        return f"{npy.name} is {got}, its sidecar says {[meta.get('shape'), meta.get('dtype')]}"
    return None


class ArrayCache:
    """A disk cache of decoded arrays shared by every process using the same root.

    Args:
        root: The cache root; entries go under ``root / "arrays"``.

    Attributes:
        hits: Entries found intact by this object.
        misses: Entries built by this object.
        quarantined: Entries this object found damaged and removed.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.quarantined = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / "arrays" / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def _check(self, key: str) -> tuple[tuple[np.ndarray, dict[str, Any]] | None, str | None]:
        """``(found, None)`` for an intact entry, ``(None, None)`` when there is none, and
        ``(None, why)`` for a damaged one."""
        npy, sidecar = self._paths(key)
        if not (npy.exists() and sidecar.exists()):
            return None, None
        try:
            meta = json.loads(sidecar.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            return None, f"its sidecar is unreadable: {exc}"
        why = check_npy_entry(npy, meta)
        if why is not None:
            return None, why
        try:
            array = np.load(npy, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:  # replaced or removed meanwhile
            return None, f"{npy.name} is unreadable: {exc}"
        return (array, meta.get("extra", {})), None

    def _quarantine(self, key: str, why: str) -> None:
        """Remove a damaged entry (sidecar first: readers see a miss); warn unless it is
        only an entry written without checksums."""
        npy, sidecar = self._paths(key)
        for path in (sidecar, npy):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if why.startswith(_NO_CHECKSUM):
            _LOG.info("cache entry %s has %s; rebuilding it", npy, why)
            return
        self.quarantined += 1
        warn_corrupted(npy, why, stacklevel=4)

    def get_or_build(
        self, key_fields: Mapping[str, Any], build: Builder
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Return the cached array for ``key_fields``, building and storing it on a miss.

        Concurrent callers for one key meet at its lock: one builds, the others wait and
        then read the stored entry. Every call checks the entry's checksums (module
        docstring).

        Args:
            key_fields: Everything that determines the array (see :func:`cache_key`).
            build: Called on a miss; returns the array and a JSON-serialisable dict of
                extra facts to keep beside it.

        Returns:
            ``(array, extra)``; the array is a read-only memory map.

        Raises:
            OSError: If the entry cannot be written.

        Warns:
            DatamintWarning: If the stored entry failed its content check; it is removed
                and rebuilt.
        """
        key = cache_key(key_fields)
        found, _ = self._check(key)
        if found is not None:
            self.hits += 1
            return found
        npy, sidecar = self._paths(key)
        with key_lock(npy):
            found, why = self._check(key)
            if found is not None:
                self.hits += 1
                return found
            if why is not None:
                self._quarantine(key, why)
            self.misses += 1
            array, extra = build()
            array = np.ascontiguousarray(array)
            with atomic_open(npy) as fh:
                writer = Checksummer(fh)
                np.save(writer, array, allow_pickle=False)
            meta = {
                "key_fields": dict(key_fields),
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "nbytes": int(array.nbytes),
                "extra": extra,
                "file_bytes": writer.nbytes,
                "xxh3": writer.checksum,
            }
            atomic_write_text(sidecar, json.dumps(seal(meta), sort_keys=True))
        found, _ = self._check(key)
        if found is None:  # pragma: no cover - only if another process damaged it meanwhile
            return array, extra
        return found

    def __getstate__(self) -> dict[str, Any]:
        return {"root": str(self.root)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"])  # type: ignore[misc]
