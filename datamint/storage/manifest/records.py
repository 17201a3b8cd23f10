"""The server records a manifest stores: plain dicts from records or entities, and the
predicates that pick the records whose files a training run needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datamint.exceptions import ValidationError
from datamint.schema import annotation_field

__all__ = ["as_record", "is_deleted", "is_segmentation", "worklist_id_of"]


def as_record(value: Any, what: str) -> dict[str, Any]:
    """A plain dict from a record or an entity (anything with a ``record`` mapping)."""
    if isinstance(value, Mapping):
        return dict(value)
    record = getattr(value, "record", None)
    if isinstance(record, Mapping):
        return dict(record)
    raise ValidationError(f"{what} must be a JSON object or an entity, got {type(value).__name__}")


def is_deleted(record: Mapping[str, Any]) -> bool:
    """Tell whether the server marked the record deleted."""
    return bool(record.get("deleted")) or record.get("deleted_at") is not None


def is_segmentation(record: Mapping[str, Any]) -> bool:
    """Tell whether an annotation record is a segmentation (it has a file)."""
    return bool(annotation_field(record, "type") == "segmentation")


def worklist_id_of(item: Mapping[str, Any]) -> str | None:
    """The id of a worklist list item (``id``, else ``worklist_id``), or ``None``."""
    value = item.get("id") or item.get("worklist_id")
    return None if value is None else str(value)
