"""Content-addressed file storage of the reference server.

Each file is kept once, at ``<store_dir>/blobs/<sha[:2]>/<sha>``, named by the sha256 of its
bytes and written atomically (a temp file beside the target, then ``os.replace``). Content
that has to be built (a series archive) is staged under ``<store_dir>/tmp`` first. Nothing is
written outside ``store_dir``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from datamint.storage.atomic import atomic_open

__all__ = ["BlobStore", "StagedFile", "hash_file"]

_CHUNK_BYTES = 1 << 20
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return the sha256 and size of a file, read in 1 MiB chunks.

    Args:
        path: The file.

    Returns:
        ``(sha256 hex, size in bytes)``.

    Raises:
        OSError: If the file cannot be read.
    """
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class StagedFile:
    """A file being received under ``<store_dir>/tmp``, hashed while it is written.

    Args:
        tmp_dir: The store's staging folder (created when missing).
    """

    def __init__(self, tmp_dir: Path) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.path = tmp_dir / f"upload-{uuid.uuid4().hex}"
        self._fh: BinaryIO | None = open(self.path, "xb")  # noqa: SIM115 - closed in close()
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        """Append ``data`` to the file and to its hash.

        Args:
            data: The next bytes.
        """
        assert self._fh is not None, "write() after close()"
        self._fh.write(data)
        self._digest.update(data)
        self.size += len(data)

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    @property
    def sha256(self) -> str:
        """Hex sha256 of what was written so far."""
        return self._digest.hexdigest()

    def discard(self) -> None:
        """Close and delete the staging file (idempotent)."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class BlobStore:
    """Files named by their sha256 under ``<store_dir>/blobs``.

    Args:
        store_dir: The store folder (``blobs/`` and ``tmp/`` are created inside it).
    """

    def __init__(self, store_dir: str | os.PathLike[str]) -> None:
        self.root = Path(store_dir) / "blobs"
        self.tmp_dir = Path(store_dir) / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Return the path of the blob with this content hash.

        Args:
            sha256: 64 lower-case hex digits.

        Returns:
            ``<store_dir>/blobs/<sha[:2]>/<sha>`` (it may not exist).

        Raises:
            ValueError: If ``sha256`` is not 64 lower-case hex digits.
        """
        if not _SHA_RE.match(sha256):
            raise ValueError(f"{sha256!r} is not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Copy a file in (a no-op when the same content is there already).

        Args:
            source: The file to copy.

        Returns:
            ``(sha256 hex, size in bytes)`` of the content.

        Raises:
            OSError: If the file cannot be read or the blob written.
        """
        sha, size = hash_file(source)
        target = self.path(sha)
        if not (target.exists() and target.stat().st_size == size):
            with open(source, "rb") as src, atomic_open(target) as dst:
                for chunk in iter(lambda: src.read(_CHUNK_BYTES), b""):
                    dst.write(chunk)
        return sha, size

    def stage(self) -> StagedFile:
        """Start receiving a file under ``<store_dir>/tmp`` (see :meth:`put_staged`).

        Returns:
            A :class:`StagedFile` to write into.
        """
        return StagedFile(self.tmp_dir)

    def put_staged(self, staged: StagedFile) -> tuple[str, int]:
        """Move a fully received staging file to its content address.

        Args:
            staged: A :class:`StagedFile` (closed here).

        Returns:
            ``(sha256 hex, size in bytes)`` of the content.

        Raises:
            OSError: If the move fails; the staging file is removed.
        """
        staged.close()
        sha, size = staged.sha256, staged.size
        target = self.path(sha)
        try:
            if target.exists() and target.stat().st_size == size:
                staged.discard()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged.path, target)
        finally:
            staged.discard()
        return sha, size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data`` (a no-op when the same content is there already).

        Args:
            data: The file content.

        Returns:
            ``(sha256 hex, size in bytes)``.

        Raises:
            OSError: If the blob cannot be written.
        """
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if not (target.exists() and target.stat().st_size == len(data)):
            with atomic_open(target) as fh:
                fh.write(data)
        return sha, len(data)

    def put_built(self, build: Callable[[BinaryIO], None]) -> tuple[str, int]:
        """Store content produced by ``build`` (e.g. a ZIP archive).

        ``build`` writes into a staging file under ``<store_dir>/tmp`` (it may seek); the
        file is then hashed and moved to its content address.

        Args:
            build: Called once with a seekable binary file opened for writing.

        Returns:
            ``(sha256 hex, size in bytes)`` of the content.

        Raises:
            OSError: If staging or the final move fails; nothing is left behind.
        """
        staging = self.tmp_dir / f"build-{uuid.uuid4().hex}"
        try:
            with atomic_open(staging) as fh:
                build(fh)
            sha, size = hash_file(staging)
            target = self.path(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
        return sha, size
