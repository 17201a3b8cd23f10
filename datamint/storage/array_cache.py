"""Decoded arrays on disk: one ``.npy`` per entry with a JSON sidecar, read memory-mapped.

Layout under the cache root::

    arrays/<key[:2]>/<key>.npy    the array (NumPy format, C order)
    arrays/<key[:2]>/<key>.json   {"key_fields", "shape", "dtype", "nbytes", "extra"}

The sidecar is written after the array, both atomically, under a per-key lock;
an entry counts only when both exist and agree. A damaged entry is removed and
rebuilt. No pickle is ever written or read (``allow_pickle=False``).
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
from datamint.storage.locks import key_lock

__all__ = ["ArrayCache"]

_LOG = logging.getLogger(__name__)

Builder = Callable[[], tuple[np.ndarray, dict[str, Any]]]


class ArrayCache:
    """A disk cache of decoded arrays shared by every process using the same root.

    Args:
        root: The cache root; entries go under ``root / "arrays"``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / "arrays" / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def _load(self, key: str) -> tuple[np.ndarray, dict[str, Any]] | None:
        npy, sidecar = self._paths(key)
        if not (npy.exists() and sidecar.exists()):
            return None
        try:
            meta = json.loads(sidecar.read_text("utf-8"))
            array = np.load(npy, mmap_mode="r", allow_pickle=False)
            if list(array.shape) != meta["shape"] or str(array.dtype) != meta["dtype"]:
                raise ValueError("array does not match its sidecar")
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            _LOG.warning("cache entry %s is damaged (%s); rebuilding it", npy, exc)
            for path in (sidecar, npy):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            return None
        return array, meta.get("extra", {})

    def get_or_build(
        self, key_fields: Mapping[str, Any], build: Builder
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Return the cached array for ``key_fields``, building and storing it on a miss.

        Concurrent callers for one key meet at its lock: one builds, the others wait and
        then read the stored entry.

        Args:
            key_fields: Everything that determines the array (see :func:`cache_key`).
            build: Called on a miss; returns the array and a JSON-serialisable dict of
                extra facts to keep beside it.

        Returns:
            ``(array, extra)``; the array is a read-only memory map.

        Raises:
            OSError: If the entry cannot be written.
        """
        key = cache_key(key_fields)
        found = self._load(key)
        if found is not None:
            self.hits += 1
            return found
        npy, sidecar = self._paths(key)
        with key_lock(npy):
            found = self._load(key)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            array, extra = build()
            array = np.ascontiguousarray(array)
            with atomic_open(npy) as fh:
                np.save(fh, array, allow_pickle=False)
            meta = {
                "key_fields": dict(key_fields),
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "nbytes": int(array.nbytes),
                "extra": extra,
            }
            atomic_write_text(sidecar, json.dumps(meta, sort_keys=True))
        found = self._load(key)
        if found is None:  # pragma: no cover - only if another process deleted it meanwhile
            return array, extra
        return found

    def __getstate__(self) -> dict[str, Any]:
        return {"root": str(self.root)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"])  # type: ignore[misc]
