"""An annotation: one label, category, box or segmentation by one author."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from datamint.entities.base import Entity
from datamint.schema import annotation_field


class Annotation(Entity):
    """A Datamint annotation, with the client's field names.

    Wire renames are accepted: ``name`` -> ``identifier``, ``type`` -> ``annotation_type``,
    ``added_by`` -> ``created_by``, ``index`` -> ``frame_index``, ``value`` ->
    ``text_value`` (``numeric_value`` for ``integer``/``float`` annotations).
    """

    @property
    def resource_id(self) -> str:
        """Id of the annotated resource."""
        return str(self._record["resource_id"])

    @property
    def identifier(self) -> str:
        """The label, class or category name."""
        return str(annotation_field(self._record, "identifier", ""))

    @property
    def annotation_type(self) -> str:
        """``segmentation``, ``label``, ``category``, ``square`` ..."""
        return str(annotation_field(self._record, "type", ""))

    @property
    def frame_index(self) -> int | None:
        """0-based frame/slice index for frame-scoped annotations, else None."""
        if self.scope == "image":
            return None
        index = annotation_field(self._record, "frame_index")
        return None if index is None else int(index)

    @property
    def scope(self) -> str:
        """``image`` or ``frame``; derived from ``frame_index`` when absent."""
        scope = self._record.get("scope")
        if scope:
            return str(scope)
        return "image" if annotation_field(self._record, "frame_index") is None else "frame"

    @property
    def created_by(self) -> str | None:
        """Author email (``created_by``, or ``added_by``)."""
        return annotation_field(self._record, "created_by")

    @property
    def created_by_model(self) -> str | None:
        """Name of the model that produced it, or None."""
        return self._record.get("created_by_model")

    @property
    def author(self) -> str:
        """``created_by``, else ``created_by_model``, else ``"unknown"``."""
        return self.created_by or self.created_by_model or "unknown"

    @property
    def source(self) -> str | None:
        """``manual``, ``imported``, ``model_pipeline``, ``model_deploy``, or None."""
        return self._record.get("source")

    @property
    def status(self) -> str | None:
        """``new`` or ``published``."""
        return self._record.get("status")

    @property
    def text_value(self) -> Any:
        """The ``value`` field (the category value for ``category``)."""
        return self._record.get("value")

    @property
    def numeric_value(self) -> float | None:
        """The ``value`` of ``integer``/``float`` annotations, as a number."""
        value = self._record.get("value")
        return None if value is None else float(value)

    @property
    def created_at(self) -> str | None:
        """ISO-8601 creation time (part of the cache version)."""
        return self._record.get("created_at")

    @property
    def deleted_at(self) -> str | None:
        """ISO-8601 deletion time, or None."""
        return self._record.get("deleted_at")

    @property
    def associated_file(self) -> str | None:
        """Server name of the segmentation file; changes when the content changes."""
        return self._record.get("associated_file")

    @property
    def geometry(self) -> dict[str, Any] | None:
        """For ``square``: ``{"points": [[x1, y1, z], [x2, y2, z]]}`` in pixels."""
        return self._record.get("geometry")

    @property
    def class_map(self) -> dict[str, str] | None:
        """For multi-label segmentation files: voxel value -> class name, else None."""
        return self._record.get("class_map")

    @property
    def values(self) -> Any:
        """The ``values`` field (server-defined), or None."""
        return self._record.get("values")

    @property
    def annotation_worklist_id(self) -> str | None:
        """The worklist (annotation set) the annotation belongs to."""
        return self._record.get("annotation_worklist_id")

    @cached_property
    def file_version(self) -> tuple[Any, ...]:
        """What identifies one version of the annotation's file: ``(id, created_at,
        deleted_at, associated_file, sha256)``; worked out once per object, for
        per-process memos keyed by file."""
        record = self._record
        return (
            self.id,
            record.get("created_at"),
            record.get("deleted_at"),
            record.get("associated_file"),
            record.get("sha256"),
        )

    @property
    def file(self) -> str | None:
        """The ``file`` field of the record."""
        return self._record.get("file")

    # -- wire-name aliases ---------------------------------------------
    @property
    def added_by(self) -> str | None:
        """Alias of :attr:`created_by` (wire name ``added_by``)."""
        return self.created_by

    @property
    def index(self) -> int | None:
        """Alias of :attr:`frame_index` (wire name ``index``)."""
        return self.frame_index

    @property
    def name(self) -> str:
        """Alias of :attr:`identifier` (wire name ``name``)."""
        return self.identifier

    @property
    def type(self) -> str:
        """Alias of :attr:`annotation_type` (wire name ``type``)."""
        return self.annotation_type

    @property
    def value(self) -> Any:
        """The raw ``value`` field (:attr:`text_value` / :attr:`numeric_value` interpret it)."""
        return self._record.get("value")

    # -- predicates --------------------------------------------------------------------
    @property
    def is_segmentation(self) -> bool:
        """True for ``segmentation`` annotations."""
        return self.annotation_type == "segmentation"

    @property
    def is_label(self) -> bool:
        """True for ``label`` annotations."""
        return self.annotation_type == "label"

    @property
    def is_category(self) -> bool:
        """True for ``category`` annotations."""
        return self.annotation_type == "category"

    @property
    def is_box(self) -> bool:
        """True for ``square`` (bounding box) annotations."""
        return self.annotation_type == "square"

    @property
    def is_frame_scoped(self) -> bool:
        """True when the annotation belongs to one frame/slice (``scope == 'frame'``)."""
        return self.scope == "frame"

    @property
    def is_image_scoped(self) -> bool:
        """True when the annotation covers the whole resource (``scope == 'image'``)."""
        return self.scope == "image"

    @property
    def is_deleted(self) -> bool:
        """True when the server marked it deleted (``deleted_at`` set)."""
        return self.deleted_at is not None

    @property
    def is_model_made(self) -> bool:
        """True for annotations made by a model (``created_by_model`` or a model source)."""
        return bool(self.created_by_model) or self.source in ("model_pipeline", "model_deploy")

    # -- conversions -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Annotation:
        """Build from a server record (either wire spelling of renamed fields)."""
        return cls(record)

    def to_dict(self) -> dict[str, Any]:
        """The record with the canonical wire names (``identifier``, ``type``,
        ``created_by``, ``frame_index``, ``scope``) filled in; unknown keys kept."""
        out = dict(self._record)
        out.update(
            identifier=self.identifier,
            type=self.annotation_type,
            created_by=self.created_by,
            frame_index=self.frame_index,
            scope=self.scope,
        )
        for alias in ("name", "added_by", "index", "annotation_type"):
            out.pop(alias, None)
        return out

    def get_created_datetime(self) -> datetime | None:
        """``created_at`` as an aware :class:`datetime.datetime` (UTC when the string says ``Z``).

        Raises:
            ValueError: If ``created_at`` is not ISO-8601.
        """
        stamp = self.created_at
        if stamp is None:
            return None
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    def __repr__(self) -> str:
        return (
            f"Annotation(id={self._record.get('id')!r}, type={self.annotation_type!r}, "
            f"identifier={self.identifier!r}, author={self.author!r}, "
            f"frame_index={self.frame_index})"
        )
