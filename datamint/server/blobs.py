"""Content-addressed file storage of the reference server.

Each file is kept once, at ``<store_dir>/blobs/<sha[:2]>/<sha>``, named by the sha256 of its
bytes and written atomically (a temp file beside the target, then ``os.replace``). Content
that has to be built (a series archive) or received (an upload) is staged first, in a
folder of the open store, ``<store_dir>/tmp/session-<uuid>/``, that exists while something
is being staged and whose lock file ``<store_dir>/tmp/session-<uuid>.lock`` the process
holds meanwhile. When the process dies (even by ``kill -9``) the lock goes with it, and
the server removes such orphaned staging when it starts
(:func:`datamint.server.maintenance.clean_staging`). Nothing is written outside
``store_dir``.

Blobs no record references any more (a replaced file, an archive after its token expired)
are removed by :func:`datamint.server.maintenance.collect_garbage`, only once they are
older than a grace period: storing content that is already there refreshes the blob's
modification time, so a blob about to be referenced again is never taken.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock

from datamint.storage.atomic import atomic_open

__all__ = ["SESSION_LOCK_SUFFIX", "BlobStore", "StagedFile", "hash_file"]

#: Suffix of the lock file beside each staging session folder.
SESSION_LOCK_SUFFIX = ".lock"

#: Blobs created in the current context, when someone records them (see ``recording``).
_RECORDER: contextvars.ContextVar[list[tuple[str, int]] | None] = contextvars.ContextVar(
    "datamint_blob_recorder", default=None
)

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


class _StagingSession:
    """The staging folder ``<store_dir>/tmp/session-<uuid>`` of one open store.

    It exists while something is being staged: the first user creates it and takes its
    lock file (held by this process until released; the OS drops it if the process dies),
    the last one removes both. Thread-safe.

    Args:
        root: ``<store_dir>/tmp``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._guard = threading.Lock()
        self._users = 0
        self._folder: Path | None = None
        self._lock: FileLock | None = None

    def enter(self) -> Path:
        """Start using the folder (creating it and taking its lock when first used).

        Returns:
            The session folder.
        """
        with self._guard:
            if self._folder is None:
                self.root.mkdir(parents=True, exist_ok=True)
                folder = self.root / f"session-{uuid.uuid4().hex}"
                lock = FileLock(str(folder) + SESSION_LOCK_SUFFIX, timeout=0, thread_local=False)
                lock.acquire()
                folder.mkdir()
                self._folder, self._lock = folder, lock
            self._users += 1
            return self._folder

    def leave(self) -> None:
        """Stop using the folder; the last user removes it and releases its lock."""
        with self._guard:
            self._users -= 1
            if self._users > 0 or self._folder is None or self._lock is None:
                return
            folder, lock = self._folder, self._lock
            self._folder = self._lock = None
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock.lock_file)
            lock.release()


class StagedFile:
    """A file being received under ``<store_dir>/tmp/<session>``, hashed while it is written.

    Args:
        session: The store's staging session (entered here, left by :meth:`discard`).
    """

    def __init__(self, session: _StagingSession) -> None:
        self._session: _StagingSession | None = session
        folder = session.enter()
        self.path = folder / f"upload-{uuid.uuid4().hex}"
        try:
            self._fh: BinaryIO | None = open(self.path, "xb")  # noqa: SIM115 - see close()
        except BaseException:
            self._session = None
            session.leave()
            raise
        self._digest = hashlib.sha256()
        self.size = 0
        #: Set by :meth:`BlobStore.put_staged` once the content is in the store.
        self.stored = False

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
        """Close and delete the staging file, and leave the session (idempotent)."""
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        session, self._session = self._session, None
        if session is not None:
            session.leave()


class BlobStore:
    """Files named by their sha256 under ``<store_dir>/blobs``.

    Args:
        store_dir: The store folder (``blobs/`` and ``tmp/`` are created inside it).
    """

    def __init__(self, store_dir: str | os.PathLike[str]) -> None:
        self.root = Path(store_dir) / "blobs"
        self.staging_root = Path(store_dir) / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self._staging = _StagingSession(self.staging_root)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[tuple[str, int]]]:
        """Record the blobs this context creates (not those that were there already).

        Used by the importers to remove what a failed import wrote. Other threads and
        requests are not recorded (the record lives in a context variable).

        Yields:
            A list filled with ``(sha256, st_mtime_ns)`` of each blob created inside.
        """
        created: list[tuple[str, int]] = []
        token = _RECORDER.set(created)
        try:
            yield created
        finally:
            _RECORDER.reset(token)

    def _created(self, sha: str, target: Path) -> None:
        recorder = _RECORDER.get()
        if recorder is not None:
            with contextlib.suppress(OSError):
                recorder.append((sha, target.stat().st_mtime_ns))

    @staticmethod
    def _reuse(target: Path, size: int) -> bool:
        """Return whether ``target`` already holds ``size`` bytes; if so, mark it fresh."""
        try:
            if target.stat().st_size != size:
                return False
            with contextlib.suppress(PermissionError):  # a store we may read but not touch
                os.utime(target)  # a blob in use again must not look old to the collector
        except FileNotFoundError:
            return False
        return True

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
        if not self._reuse(target, size):
            with open(source, "rb") as src, atomic_open(target) as dst:
                for chunk in iter(lambda: src.read(_CHUNK_BYTES), b""):
                    dst.write(chunk)
            self._created(sha, target)
        return sha, size

    def stage(self) -> StagedFile:
        """Start receiving a file under ``<store_dir>/tmp/<session>`` (see :meth:`put_staged`).

        Returns:
            A :class:`StagedFile` to write into.
        """
        return StagedFile(self._staging)

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
            if not self._reuse(target, size):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged.path, target)
                self._created(sha, target)
            staged.stored = True
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
        if not self._reuse(target, len(data)):
            with atomic_open(target) as fh:
                fh.write(data)
            self._created(sha, target)
        return sha, len(data)

    def put_built(self, build: Callable[[BinaryIO], None]) -> tuple[str, int]:
        """Store content produced by ``build`` (e.g. a ZIP archive).

        ``build`` writes into a staging file under ``<store_dir>/tmp/<session>`` (it may
        seek); the file is then hashed and moved to its content address.

        Args:
            build: Called once with a seekable binary file opened for writing.

        Returns:
            ``(sha256 hex, size in bytes)`` of the content.

        Raises:
            OSError: If staging or the final move fails; nothing is left behind.
        """
        staging = self._staging.enter() / f"build-{uuid.uuid4().hex}"
        try:
            with atomic_open(staging) as fh:
                build(fh)
            sha, size = hash_file(staging)
            target = self.path(sha)
            if not self._reuse(target, size):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging, target)
                self._created(sha, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
            self._staging.leave()
        return sha, size
