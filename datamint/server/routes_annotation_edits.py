"""Annotation edits: rename or move, approve, frame ranges.

Versioning decision: a change of what an annotation *says* makes a new version.

- ``PATCH /annotations/{id}`` with a new ``identifier`` creates a new annotation (new id,
  new ``created_at``, same file, ``replaces`` the old id) and soft-deletes the old one, as
  an edited mask does; clients keyed on annotation ids never keep a stale label.
  ``project_id`` alone is bookkeeping and is set in place (``updated_at``/``updated_by``).
- ``PATCH /annotations/{id}/approve`` sets ``status: published`` with ``approved_at`` and
  ``approved_by`` in place: the content is unchanged, and status is no cache version field.
- ``PUT /annotations/{rid}/frame-ranges`` replaces the resource's ranges per identifier
  (versioned rows, :mod:`~datamint.server.store.frame_ranges`); ``GET`` returns them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from datamint.server.deps import (
    ERROR_RESPONSES,
    StoreDep,
    UserDep,
    more_errors,
    parse_body_id,
    require_annotation,
    require_project,
    require_resource,
)
from datamint.server.errors import ApiError
from datamint.server.listing import json_response
from datamint.server.models import Annotation, AnnotationPatch, FrameRanges, FrameRangesPut
from datamint.server.store import ProjectStore
from datamint.server.timeutil import format_us, now_us

__all__ = ["merge_ranges", "router"]

router = APIRouter(tags=["annotations"], responses=ERROR_RESPONSES)

_DELETED = more_errors(s409="the annotation is deleted (edit its current version)")


def _current(store: ProjectStore, user: str, annotation_id: str) -> dict[str, Any]:
    record, _ = require_annotation(store, user, annotation_id)
    if record.get("deleted_at") is not None:
        raise ApiError(409, f"annotation {record['id']} is deleted; edit its current version")
    return record


@router.patch("/annotations/{annotation_id}", response_model=Annotation, responses=_DELETED)
def patch_annotation(
    store: StoreDep, user: UserDep, annotation_id: str, body: AnnotationPatch
) -> Response:
    """Rename an annotation or attach it to a project (versioning: module docstring).

    Args:
        store: The store.
        user: The authenticated user.
        annotation_id: The annotation's UUID.
        body: ``{identifier?, project_id?}``; the project must hold the annotated resource.

    Returns:
        The current annotation: a new id when ``identifier`` changed, else the same one.

    Raises:
        ApiError: 409 for a deleted annotation; 422 for a malformed project id or a
            project without the resource; 404 for a project the user cannot see.
    """
    record = _current(store, user, annotation_id)
    changes: dict[str, Any] = {}
    if body.project_id is not None:
        pid = parse_body_id(body.project_id, "project_id")
        project = require_project(store, user, pid)
        if record["resource_id"] not in store.projects.resource_ids(project["id"]):
            raise ApiError(
                422, f"project {project['id']} does not hold resource {record['resource_id']}"
            )
        if record.get("project_id") != project["id"]:
            changes["project_id"] = project["id"]
    label = record.get("identifier") or record.get("name")
    renamed = body.identifier is not None and body.identifier != label
    if renamed:
        changes["identifier"] = body.identifier
    if not changes:
        return json_response(record)
    return json_response(store.annotations.edit(record["id"], changes, user, new_version=renamed))


@router.patch("/annotations/{annotation_id}/approve", response_model=Annotation, responses=_DELETED)
def approve_annotation(store: StoreDep, user: UserDep, annotation_id: str) -> Response:
    """Approve an annotation: ``status: published``, ``approved_at``, ``approved_by``.

    Idempotent: an approved annotation is answered unchanged.

    Args:
        store: The store.
        user: The authenticated user (``approved_by``).
        annotation_id: The annotation's UUID.

    Returns:
        The annotation (same id).

    Raises:
        ApiError: 409 for a deleted annotation.
    """
    record = _current(store, user, annotation_id)
    if record.get("status") == "published" and record.get("approved_at"):
        return json_response(record)
    changes = {"status": "published", "approved_at": format_us(now_us()), "approved_by": user}
    return json_response(store.annotations.edit(record["id"], changes, user, new_version=False))


def merge_ranges(spans: list[list[int]], frames: int | None, identifier: str) -> list[list[int]]:
    """Validate ``[first, last]`` frame ranges (inclusive) and merge overlapping ones.

    Args:
        spans: The ranges as sent.
        frames: The resource's frame count, when known.
        identifier: The label, for messages.

    Returns:
        Sorted, disjoint, non-adjacent ranges.

    Raises:
        ApiError: 422 for a range that is not two integers ``0 <= first <= last``, or that
            ends past the last frame.
    """
    merged: list[list[int]] = []
    for span in sorted(spans):
        if len(span) != 2 or not 0 <= span[0] <= span[1]:
            raise ApiError(
                422, f"ranges[{identifier!r}]: {span} is not [first, last] with 0 <= first <= last"
            )
        if frames is not None and span[1] >= frames:
            raise ApiError(422, f"ranges[{identifier!r}]: {span} ends past frame {frames - 1}")
        if merged and span[0] <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(list(span))
    return merged


@router.put("/annotations/{resource_id}/frame-ranges", response_model=FrameRanges)
def put_frame_ranges(
    store: StoreDep, user: UserDep, resource_id: str, body: FrameRangesPut
) -> dict[str, Any]:
    """Replace the frame ranges of a resource, per label identifier.

    Args:
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.
        body: ``{"ranges": {identifier: [[first, last], ...]}}`` (inclusive, 0-based);
            identifiers left out lose their ranges.

    Returns:
        ``{resource_id, ranges, updated_at, updated_by}``, ranges sorted and merged.

    Raises:
        ApiError: 422 for an empty identifier or a bad range.
    """
    record, _ = require_resource(store, user, resource_id)
    frames = (record.get("metadata") or {}).get("frame_count")
    count = None if frames is None else int(frames)
    ranges = {}
    for identifier, spans in body.ranges.items():
        if not identifier.strip():
            raise ApiError(422, "ranges: identifiers must be non-empty")
        ranges[identifier] = merge_ranges(spans, count, identifier)
    return store.frame_ranges.replace(record["id"], ranges, user)


@router.get("/annotations/{resource_id}/frame-ranges", response_model=FrameRanges)
def get_frame_ranges(store: StoreDep, user: UserDep, resource_id: str) -> dict[str, Any]:
    """Return the current frame ranges of a resource.

    Args:
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.

    Returns:
        ``{resource_id, ranges: {identifier: [[first, last], ...]}, updated_at,
        updated_by}``; ``ranges`` is ``{}`` when none were set.
    """
    record, _ = require_resource(store, user, resource_id)
    return store.frame_ranges.current(record["id"])
