"""What both importers share: derived ids, metadata and version stamps.

- Ids an import derives are UUIDv5 of a fixed namespace and a path-like name, so importing
  the same thing twice gives the same ids.
- (A DICOM series, several files, is stored as ONE multi-frame DICOM:
  :func:`datamint.server.series_dicom.build_series_dicom`.)
- A resource whose ``metadata`` lacks ``frame_count``/``width``/``height`` gets them from
  its file's header (:func:`~datamint.server.metadata.derive_metadata`).
- Re-importing changed content must change what clients key their caches on:
  :func:`keep_or_restamp` keeps the stored ``created_at`` when the content is the
  same and moves it to now when the content changed.
- Every imported file's header is read (:func:`datamint.readers.read_header`) and the
  files no reader can read are listed in a :class:`ReadCheck`: they are imported anyway
  (their records and annotations stay consistent), and ``datamint import`` prints one
  warning per file and their count.
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamint.readers import FileHint, read_header
from datamint.server.metadata import derive_metadata
from datamint.server.timeutil import format_us, now_us, to_us

__all__ = [
    "ID_NAMESPACE",
    "ReadCheck",
    "derive_id",
    "fill_metadata",
    "header_problem",
    "keep_or_restamp",
]

#: Namespace of the UUIDv5 ids derived by imports.
ID_NAMESPACE = uuid.UUID("6f1c3c3e-4b8a-5d0e-9a57-2f2b6c1d9e40")


def derive_id(*parts: str) -> str:
    """Return the UUIDv5 of ``"/".join(parts)`` in :data:`ID_NAMESPACE`.

    Args:
        parts: What identifies the entity, e.g. ``("folder", project name, relative path)``.

    Returns:
        A UUID string, the same for the same parts.
    """
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(parts)))


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


def header_problem(
    path: Path, filename: str, mimetype: str | None = None, storage: str | None = None
) -> str | None:
    """Read a file's header as datasets will; say why it cannot be read, else ``None``.

    Args:
        path: The stored file (a ZIP archive for a DICOM series).
        filename: The name to show instead of ``path`` (the file's path in the import).
        mimetype: The record's mimetype, a hint for the reader.
        storage: The record's storage name, a hint too.

    Returns:
        ``"<error type>: <message>"`` for any reader failure, naming ``filename``.
    """
    try:
        with warnings.catch_warnings():  # odd tags are the reader's business, not a refusal
            warnings.simplefilter("ignore")
            read_header(path, FileHint(filename=filename, mimetype=mimetype, storage=storage))
    except Exception as exc:  # any reader failure makes the file unreadable
        return f"{type(exc).__name__}: {str(exc).replace(str(path), filename)}"
    return None


@dataclass
class ReadCheck:
    """The headers an import read, and the files that could not be read.

    Attributes:
        checked: Files whose header was read.
        unreadable: ``"<path in the import>: <why>"`` per file no reader could read.
    """

    checked: int = 0
    unreadable: list[str] = field(default_factory=list)

    def check(
        self, path: Path, filename: str, mimetype: str | None = None, storage: str | None = None
    ) -> str | None:
        """Read one file's header (:func:`header_problem`); record it when it fails.

        Returns:
            Why it cannot be read, or ``None``.
        """
        self.checked += 1
        problem = header_problem(path, filename, mimetype, storage)
        if problem is not None:
            self.unreadable.append(f"{filename}: {problem}")
        return problem

    def summary(self) -> str:
        """One line: how many of the files read could not be."""
        return (
            f"{len(self.unreadable)} of {self.checked} imported files could not be read "
            "(imported anyway; datasets cannot decode them)"
        )
