"""A resource: one image, volume, series or video of a project."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from datamint.entities.base import Entity
from datamint.schema import (
    ResourceKind,
    resource_depth,
    resource_kind,
    resource_patient_id,
    resource_size_hw,
)


class Resource(Entity):
    """A Datamint resource. Build from a ``GET /projects/{id}/resources`` item."""

    @property
    def filename(self) -> str:
        """The uploaded file's name (may contain folders)."""
        return str(self._record.get("filename", ""))

    @property
    def mimetype(self) -> str | None:
        """MIME type as recorded by the server."""
        return self._record.get("mimetype")

    @property
    def storage(self) -> str | None:
        """The server's storage class name, e.g. ``DicomResource``."""
        return self._record.get("storage")

    @property
    def modality(self) -> str | None:
        """DICOM-style modality code (``CT``, ``MR``, ``US`` ...), or None."""
        return self._record.get("modality")

    @property
    def metadata(self) -> dict[str, Any]:
        """The ``metadata`` dict (``frame_count``, ``width``, ``height`` ...), ``{}`` if absent."""
        return dict(self._record.get("metadata") or {})

    @property
    def tags(self) -> list[str]:
        """Tags, ``[]`` if absent."""
        return list(self._record.get("tags") or [])

    @property
    def size(self) -> int | None:
        """Size of the file served by ``/resources/{id}/file``, in bytes."""
        size = self._record.get("size")
        return None if size is None else int(size)

    @property
    def sha256(self) -> str | None:
        """Content sha256 (hex) when the server sends it."""
        return self._record.get("sha256")

    @property
    def created_at(self) -> str | None:
        """ISO-8601 creation time."""
        return self._record.get("created_at")

    @property
    def deleted_at(self) -> str | None:
        """ISO-8601 deletion time, or None."""
        return self._record.get("deleted_at")

    @property
    def patient_id(self) -> str | None:
        """``patient_id``, falling back to ``metadata.PatientID``."""
        return resource_patient_id(self._record)

    @property
    def kind(self) -> ResourceKind:
        """The resource kind (see :func:`datamint.schema.resource_kind`)."""
        return resource_kind(self._record)

    @cached_property
    def file_version(self) -> tuple[Any, ...]:
        """What identifies one version of the resource's file: ``(id, sha256, size,
        created_at, deleted_at)``; worked out once
        per object, for per-process memos keyed by file."""
        return (self.id, self.sha256, self.size, self.created_at, self.deleted_at)

    @property
    def depth(self) -> int:
        """Slices or frames, from metadata. Raises ValueError when unknown."""
        return resource_depth(self._record)

    @property
    def size_hw(self) -> tuple[int, int] | None:
        """``(height, width)`` in pixels from metadata, or None when not recorded."""
        return resource_size_hw(self._record)

    def __repr__(self) -> str:
        rid = self._record.get("id")
        return f"Resource(id={rid!r}, filename={self.filename!r}, kind={self.kind.value})"
