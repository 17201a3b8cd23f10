"""What both importers share: derived ids, series archives, metadata and version stamps.

- Ids an import derives are UUIDv5 of a fixed namespace and a path-like name, so importing
  the same thing twice gives the same ids.
- A DICOM series (several files) is stored as ONE deterministic ZIP archive.
- A resource whose ``metadata`` lacks ``frame_count``/``width``/``height`` gets them from
  its file's header (:func:`~datamint.server.metadata.derive_metadata`).
- Re-importing changed content must change what clients key their caches on:
  :func:`keep_or_restamp` keeps the stored ``created_at`` when the content is the
  same and moves it to now when the content changed.
"""

from __future__ import annotations

import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from datamint.server.metadata import derive_metadata
from datamint.server.timeutil import format_us, now_us, to_us

__all__ = ["ID_NAMESPACE", "build_series_zip", "derive_id", "fill_metadata", "keep_or_restamp"]

#: Namespace of the UUIDv5 ids derived by imports.
ID_NAMESPACE = uuid.UUID("6f1c3c3e-4b8a-5d0e-9a57-2f2b6c1d9e40")
#: DOS epoch: the earliest ZIP timestamp; used for every entry so archives are reproducible.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK_BYTES = 1 << 20


def derive_id(*parts: str) -> str:
    """Return the UUIDv5 of ``"/".join(parts)`` in :data:`ID_NAMESPACE`.

    Args:
        parts: What identifies the entity, e.g. ``("folder", project name, relative path)``.

    Returns:
        A UUID string, the same for the same parts.
    """
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(parts)))


def build_series_zip(files: list[tuple[str, Path]], out: BinaryIO) -> None:
    """Write the files of a series as a reproducible ZIP archive.

    Entries are stored (ZIP_STORED), sorted by their manifest path, named by base name,
    dated 1980-01-01 00:00:00 with mode 0644, so equal inputs give byte-identical archives.

    Args:
        files: ``(manifest path, file on disk)`` pairs; base names must be unique.
        out: Seekable binary file to write the archive into.

    Raises:
        ValueError: If two files share a base name (the archive would be ambiguous).
        OSError: If a file cannot be read.
    """
    ordered = sorted(files, key=lambda item: item[0])
    names = [PurePosixPath(rel).name for rel, _ in ordered]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"series files share base names {duplicates}; rename them")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, (_, path) in zip(names, ordered, strict=True):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            size = path.stat().st_size
            with (
                open(path, "rb") as src,
                archive.open(info, "w", force_zip64=size >= 0x7FFFFFFF) as dst,
            ):
                for chunk in iter(lambda: src.read(_CHUNK_BYTES), b""):
                    dst.write(chunk)


def fill_metadata(record: dict[str, Any], blob: Path) -> None:
    """Complete a resource's ``metadata`` (and DICOM keys) from its file's header.

    Keys already in the record win; nothing is read when ``metadata`` already has
    ``frame_count``, ``width`` and ``height``.

    Args:
        record: The Resource record (``filename``, ``mimetype``, ``storage`` set).
        blob: The stored file.
    """
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    if all(metadata.get(key) is not None for key in ("frame_count", "width", "height")):
        record["metadata"] = metadata
        return
    derived = derive_metadata(
        blob, record["filename"], record.get("mimetype"), record.get("storage")
    )
    record["metadata"] = {**derived.metadata, **metadata}
    for key, value in {**derived.record_keys, "modality": derived.modality}.items():
        if value is not None and record.get(key) is None:
            record[key] = value


def keep_or_restamp(record: dict[str, Any], stored: dict[str, Any] | None, sha: str) -> None:
    """Set ``created_at`` so that changed content is seen as changed.

    Same content as stored: ``created_at`` defaults to the stored one. Different content:
    ``created_at`` becomes now, unless the import gives a later instant. A new record's
    ``created_at`` defaults to now. ``record`` is changed in place.

    Args:
        record: The record being imported (its ``created_at`` may be set or missing).
        stored: The record of the same id already in the store, or ``None``.
        sha: The sha256 of the content being imported.
    """
    now = format_us(now_us())
    if stored is None:
        record.setdefault("created_at", now)
        return
    if stored.get("sha256") == sha:
        if record.get("created_at") is None:
            record["created_at"] = stored.get("created_at") or now
        return
    previous = stored.get("created_at")
    if record.get("created_at") is None or (
        previous is not None and to_us(str(record["created_at"])) <= to_us(str(previous))
    ):
        record["created_at"] = now
