"""Is the cache root on this node's own disk? A check against network filesystems.

Cache entries are guarded by lock files beside them (:mod:`datamint.storage.locks`,
``filelock``). Those locks coordinate the processes of **one** machine; over NFS, SMB,
Lustre and other network filesystems ``flock`` is emulated, slow, or silently local, so
two nodes sharing one cache root could both download or decode an entry, or read it half
written. Each node of a multi-node job therefore keeps its own cache root on local disk
(``DATAMINT_CACHE_DIR=/local/scratch/...``). :func:`warn_if_network_filesystem` warns
once per root when a cache root lies on a filesystem type known to be networked, read
from ``/proc/self/mounts`` (Linux; elsewhere nothing is checked).
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

from datamint.exceptions import DatamintWarning

__all__ = [
    "NETWORK_FILESYSTEMS",
    "filesystem_type",
    "is_network_filesystem",
    "warn_if_network_filesystem",
]

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "lustre",
        "gpfs",
        "beegfs",
        "ceph",
        "fuse.ceph",
        "glusterfs",
        "fuse.glusterfs",
        "fuse.sshfs",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.juicefs",
        "panfs",
        "wekafs",
        "orangefs",
        "pvfs2",
    }
)
"""Filesystem types (as in ``/proc/self/mounts``) whose locks do not coordinate nodes."""

MOUNTS_PATH = Path("/proc/self/mounts")
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _unescape(field: str) -> str:
    """Undo the octal escapes of ``/proc/self/mounts`` (``\\040`` is a space)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def filesystem_type(path: str | os.PathLike[str], mounts_text: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (the longest mount point above it).

    Args:
        path: A file or folder; need not exist (its nearest existing parent is used).
        mounts_text: Text in the format of ``/proc/self/mounts``; read from there when
            ``None``.

    Returns:
        E.g. ``"ext4"``, ``"nfs4"``, ``"tmpfs"``; ``None`` when the mount table cannot
        be read (not Linux).
    """
    if mounts_text is None:
        try:
            mounts_text = MOUNTS_PATH.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    target = Path(os.path.abspath(path))
    if mounts_text is None or not target.anchor:
        return None
    best: tuple[int, str] | None = None
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = Path(_unescape(parts[1]))
        if target == mount_point or mount_point in target.parents:
            depth = len(mount_point.parts)
            if best is None or depth >= best[0]:
                best = (depth, parts[2])
    return None if best is None else best[1]


def is_network_filesystem(path: str | os.PathLike[str], mounts_text: str | None = None) -> bool:
    """Whether ``path`` lies on a filesystem type in :data:`NETWORK_FILESYSTEMS`.

    Args:
        path: A file or folder.
        mounts_text: As :func:`filesystem_type`.

    Returns:
        True for NFS, SMB, Lustre, GPFS, BeeGFS, Ceph, ...; False for local types and
        when the mount table cannot be read.
    """
    fstype = filesystem_type(path, mounts_text)
    return fstype is not None and fstype.lower() in NETWORK_FILESYSTEMS


def warn_if_network_filesystem(root: str | os.PathLike[str]) -> bool:
    """Warn (once per root and process) when a cache root is on a network filesystem.

    Args:
        root: The cache root.

    Returns:
        True when it is on one (and a :class:`DatamintWarning` was issued, the first
        time).
    """
    if not is_network_filesystem(root):
        return False
    key = os.path.abspath(root)
    with _warned_lock:
        first = key not in _warned
        _warned.add(key)
    if first:
        warnings.warn(
            f"the cache root {key} is on a network filesystem ({filesystem_type(root)}); "
            "its file locks do not coordinate several nodes. Give each node its own cache "
            "on local disk (DATAMINT_CACHE_DIR), see docs/scaling.md",
            DatamintWarning,
            stacklevel=2,
        )
    return True
