"""Per-key inter-process locks, built on :mod:`filelock`.

Workers that want the same cache entry meet at its lock: the first builds it, the
others wait, then find it built (callers re-check after acquiring).
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock

__all__ = ["key_lock"]

DEFAULT_LOCK_TIMEOUT_S = 600.0


def key_lock(path: str | os.PathLike[str], timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> FileLock:
    """Return the lock guarding ``path`` (a file or folder inside the cache root).

    The lock file is ``<path>.lock`` beside it.

    Args:
        path: The guarded entry.
        timeout_s: Seconds to wait before :class:`filelock.Timeout` is raised.

    Returns:
        A :class:`filelock.FileLock`, to be used as a context manager.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock", timeout=timeout_s)
