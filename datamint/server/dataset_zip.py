"""Dataset archives: a deterministic ZIP of a dataset's files, and download tokens.

The archive is built once into the blob store (content-addressed), so the same files give
the same bytes, the same sha256 and one blob, and it is served like any stored file
(ETag, Range). Determinism: entries in project order, stored (no compression: images and
volumes are compressed already), timestamps 1980-01-01, mode 0644, Unix attributes.

Layout::

    manifest.json                      {format, dataset_id, project_id, name, resources: [...]}
    files/<resource id>/<file name>    one entry per resource (a DICOM series as <name>.dcm)

Tokens are random UUIDs kept in memory for :data:`TOKEN_TTL_S` seconds, each bound to the
user who asked for it; a restarted server forgets them (ask for a new one).
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from datamint.server.series_dicom import series_suffix
from datamint.server.store import ProjectStore
from datamint.server.timeutil import now_us

__all__ = ["FORMATS", "TOKEN_TTL_S", "DownloadGrant", "DownloadTokens", "build_dataset_zip"]

#: Archive formats of ``GET /datasets/{id}/download/{format}``.
FORMATS = ("zip",)
#: Lifetime of a download token.
TOKEN_TTL_S = 3600
_EPOCH = (1980, 1, 1, 0, 0, 0)
_COPY_BYTES = 1 << 20


def _entry_name(record: dict[str, Any], blob: Path) -> str:
    name = PurePosixPath(str(record.get("filename") or record["id"]).rstrip("/")).name
    name = "".join(ch if ch.isprintable() and ch not in "\\/:" else "_" for ch in name)
    name = (name or "file") + (series_suffix(record, blob) or "")
    return f"files/{record['id']}/{name}"


def _info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    info.file_size = size
    return info


def build_dataset_zip(
    store: ProjectStore, dataset: dict[str, Any], resources: list[tuple[dict[str, Any], str]]
) -> tuple[str, int]:
    """Build (or find) the archive of a dataset in the blob store.

    Args:
        store: The store.
        dataset: ``{dataset_id, project_id, name}`` for the manifest.
        resources: ``(record, blob sha256)`` of each resource, in order.

    Returns:
        ``(sha256, size)`` of the archive blob.
    """
    entries = []
    for record, sha in resources:
        entries.append(
            {
                "id": record["id"],
                "filename": record.get("filename"),
                "mimetype": record.get("mimetype"),
                "sha256": sha,
                "size": store.blob_path(sha).stat().st_size,
                "path": _entry_name(record, store.blob_path(sha)),
            }
        )
    manifest = {"format": "datamint-dataset-zip", "format_version": 1, **dataset}
    manifest["resources"] = entries

    def build(fh: BinaryIO) -> None:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
            text = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
            with archive.open(_info("manifest.json", len(text)), "w") as out:
                out.write(text)
            for entry in entries:
                info = _info(entry["path"], entry["size"])
                big = entry["size"] >= 1 << 31
                with (
                    open(store.blob_path(entry["sha256"]), "rb") as src,
                    archive.open(info, "w", force_zip64=big) as out,
                ):
                    shutil.copyfileobj(src, out, _COPY_BYTES)

    return store.blobs.put_built(build)


@dataclass(frozen=True)
class DownloadGrant:
    """What a token gives access to.

    Attributes:
        email: The user the token was issued to.
        sha256: The archive blob.
        filename: Name for ``Content-Disposition``.
        expires_us: Expiry, microseconds since the epoch.
    """

    email: str
    sha256: str
    filename: str
    expires_us: int


class DownloadTokens:
    """In-memory download tokens (thread-safe), expiring after ``ttl_s`` seconds.

    Args:
        ttl_s: Lifetime of each token.
    """

    def __init__(self, ttl_s: int = TOKEN_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._grants: dict[str, DownloadGrant] = {}
        self._lock = threading.Lock()

    def issue(self, email: str, sha256: str, filename: str) -> tuple[str, DownloadGrant]:
        """Issue a new token (expired ones are dropped).

        Args:
            email: The user asking.
            sha256: The archive blob.
            filename: Download name.

        Returns:
            ``(token, grant)``.
        """
        now = now_us()
        grant = DownloadGrant(email, sha256, filename, now + self.ttl_s * 1_000_000)
        token = str(uuid.uuid4())
        with self._lock:
            for key in [k for k, g in self._grants.items() if g.expires_us <= now]:
                del self._grants[key]
            self._grants[token] = grant
        return token, grant

    def get(self, token: str, email: str) -> DownloadGrant | None:
        """Return the live grant of ``token`` for ``email``, or ``None``.

        Args:
            token: The token as sent.
            email: The authenticated user (another user's token is not theirs).

        Returns:
            The grant, or ``None`` when unknown, expired or issued to someone else.
        """
        with self._lock:
            grant = self._grants.get(token)
        if grant is None or grant.expires_us <= now_us() or grant.email != email:
            return None
        return grant
