"""Building worklist records (annotation sets) from request bodies.

Used by ``POST /annotationsets``, by ``POST /projects`` (which creates the project's first
worklist from ``annotation_set`` and ``segmentationData``) and by the folder importer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from datamint.schema import ANNOTATION_TYPES
from datamint.server.errors import ApiError
from datamint.server.timeutil import format_us, now_us

if TYPE_CHECKING:  # pydantic comes with the server extra; the importers do not need it
    from datamint.server.models import SegmentationData

__all__ = ["PALETTE", "build_worklist", "groups_from_definitions", "label_specs"]

#: Colours given to segmentation classes that come without one (RGBA).
PALETTE: tuple[tuple[int, int, int, int], ...] = (
    (230, 25, 75, 255),
    (60, 180, 75, 255),
    (255, 225, 25, 255),
    (0, 130, 200, 255),
    (245, 130, 48, 255),
    (145, 30, 180, 255),
    (70, 240, 240, 255),
    (240, 50, 230, 255),
)


def groups_from_definitions(data: SegmentationData | None) -> dict[str, Any]:
    """Turn ``segmentationData.definitions`` into the served ``groups`` mapping.

    Args:
        data: The request's segmentation data, or ``None``.

    Returns:
        ``{identifier: {"index": int (1-based), "color": [r, g, b, a]}}``.

    Raises:
        ApiError: 422 when an identifier or an index is used twice, or a colour is not
            3 or 4 integers in 0..255.
    """
    groups: dict[str, Any] = {}
    used: dict[int, str] = {}
    for definition in data.definitions if data is not None else []:
        name, index = definition.identifier, definition.index
        if name in groups:
            raise ApiError(422, f"segmentation class {name!r} is defined twice")
        if index in used:
            raise ApiError(
                422, f"segmentation index {index} is used by both {used[index]!r} and {name!r}"
            )
        color = definition.color
        if color is not None and (
            len(color) not in (3, 4) or not all(0 <= int(c) <= 255 for c in color)
        ):
            raise ApiError(422, f"color of {name!r} must be 3 or 4 integers in 0..255")
        if color is None:
            color = list(PALETTE[(index - 1) % len(PALETTE)])
        elif len(color) == 3:
            color = [*color, 255]
        used[index] = name
        groups[name] = {"index": index, "color": [int(c) for c in color]}
    return groups


def label_specs(labels: Iterable[Any] | None, scope: str) -> list[dict[str, Any]]:
    """Turn ``image_labels`` / ``frame_labels`` (names or spec objects) into label specs.

    Args:
        labels: Names, or dicts with at least ``identifier`` (or ``name``).
        scope: ``image`` or ``frame``.

    Returns:
        AnnotationSpecs ``{type: "label", scope, identifier, required: False}``.

    Raises:
        ApiError: 422 for an entry that is neither a name nor such an object.
    """
    specs = []
    for label in labels or []:
        if isinstance(label, str) and label:
            specs.append({"type": "label", "scope": scope, "identifier": label, "required": False})
        elif isinstance(label, dict) and isinstance(
            label.get("identifier", label.get("name")), str
        ):
            spec = dict(label)
            spec["identifier"] = spec.pop("name", None) or spec["identifier"]
            spec.update(type="label", scope=scope)
            spec.setdefault("required", False)
            specs.append(spec)
        else:
            raise ApiError(
                422, f"{scope}_labels: expected names or objects, got {str(label)[:80]!r}"
            )
    return specs


def check_specs(specs: Sequence[Any]) -> list[dict[str, Any]]:
    """Validate AnnotationSpecs: a known type, a non-empty identifier, a scope.

    Returns:
        The specs with ``scope`` (default ``image``) and ``required`` (default False) set.

    Raises:
        ApiError: 422 naming the first bad spec and field.
    """
    checked = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ApiError(422, f"annotations[{i}]: expected an AnnotationSpec object")
        if spec.get("type") not in ANNOTATION_TYPES:
            raise ApiError(
                422, f"annotations[{i}].type: unknown type {str(spec.get('type'))[:40]!r}"
            )
        if not isinstance(spec.get("identifier"), str) or not spec["identifier"]:
            raise ApiError(422, f"annotations[{i}].identifier: a non-empty string is required")
        if spec.get("scope", "image") not in ("image", "frame"):
            raise ApiError(422, f"annotations[{i}].scope: expected 'image' or 'frame'")
        checked.append({"scope": "image", "required": False, **spec})
    return checked


def build_worklist(
    *,
    name: str,
    project_id: str,
    creator: str,
    resource_ids: Sequence[str],
    specs: Sequence[Any] = (),
    annotators: Iterable[Any] = (),
    segmentation: SegmentationData | None = None,
    description: str | None = None,
    worklist_id: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build a full worklist record and its segmentation group.

    Args:
        name: Worklist name.
        project_id: The owning project.
        creator: Email of the user creating it (an annotator too).
        resource_ids: Canonical ids of its resources.
        specs: AnnotationSpecs (validated here).
        annotators: Emails or ``{email, status?, expertise_level?}`` objects.
        segmentation: Its segmentation classes.
        description: Free text.
        worklist_id: Id to use; a new UUID4 when ``None``.

    Returns:
        ``(record, groups)``.

    Raises:
        ApiError: 422 for an invalid spec, annotator or segmentation definition.
    """
    people: dict[str, dict[str, Any]] = {creator: {"email": creator, "status": "active"}}
    for person in annotators:
        entry = {"email": person} if isinstance(person, str) else person
        if not isinstance(entry, dict) or "@" not in str(entry.get("email", "")):
            raise ApiError(422, f"annotators: expected emails, got {str(person)[:80]!r}")
        email = str(entry["email"]).strip().lower()
        people[email] = {**entry, "email": email, "status": entry.get("status", "active")}
    groups = groups_from_definitions(segmentation)
    value_type = segmentation.segmentationValueType if segmentation else "single_label"
    record = {
        "id": worklist_id or str(uuid.uuid4()),
        "name": name,
        "project_id": project_id,
        "description": description,
        "status": "open",
        "created_by": creator,
        "created_at": format_us(now_us()),
        "annotators": list(people.values()),
        "annotations": check_specs(list(specs)),
        "resource_ids": list(resource_ids),
        "segmentation_group": {"segmentation_value_type": value_type, "groups": groups},
    }
    return record, groups
