"""Atomic file writes: a unique temp file next to the target, then ``os.replace``.

A reader never sees a half-written file: either the old content or the new one.
On any failure the temp file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text"]


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[BinaryIO]:
    """Open a temp file for binary writing that replaces ``target`` on success.

    Args:
        target: Final path. Its parent folder is created if missing.
        fsync: Flush the data to disk before the rename (slower, survives power loss).

    Yields:
        A binary file object; write the whole content to it.

    Raises:
        OSError: If the folder cannot be created or the rename fails; the target is
            then unchanged and the temp file removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_open`)."""
    with atomic_open(target) as fh:
        fh.write(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically (see :func:`atomic_open`)."""
    atomic_write_bytes(target, text.encode("utf-8"))
