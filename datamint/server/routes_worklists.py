"""Worklist (annotation set) routes.

Reads: the project's worklists (a bare array), one worklist, its segmentation group.
Writes: ``POST /annotationsets`` (in ``project_id``, or in the one project of the user
holding all its resources) and ``PUT /annotationsets/{id}/segmentation-group``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from datamint.server.deps import (
    ERROR_RESPONSES,
    StoreDep,
    UserDep,
    parse_body_ids,
    require_project,
    require_worklist,
)
from datamint.server.errors import ApiError
from datamint.server.listing import json_response
from datamint.server.models import SegmentationGroup, SegmentationGroupPut, Worklist, WorklistCreate
from datamint.server.routes_worklist_edits import parse_renames
from datamint.server.worklist_specs import build_worklist, groups_from_definitions, label_specs

__all__ = ["router"]

router = APIRouter(tags=["worklists"], responses=ERROR_RESPONSES)


def _list_item(record: dict[str, Any]) -> dict[str, Any]:
    item = {"worklist_id": record["id"], "worklist_name": record["name"]}
    item.update({k: v for k, v in record.items() if k not in ("id", "name")})
    return item


@router.get("/projects/{project_id}/worklists", response_model=list[dict[str, Any]])
def project_worklists(store: StoreDep, user: UserDep, project_id: str) -> list[dict[str, Any]]:
    """Return a project's worklists as a bare array.

    Each item carries ``worklist_id``, ``worklist_name``, ``annotators`` and
    ``annotations`` (the label specs), plus the worklist's other keys.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.

    Returns:
        Worklist list items, in import order.
    """
    project = require_project(store, user, project_id)
    return [_list_item(record) for record in store.worklists.for_project(project["id"])]


@router.get("/annotationsets/{worklist_id}", response_model=Worklist)
def get_worklist(store: StoreDep, user: UserDep, worklist_id: str) -> Response:
    """Return one full worklist (``id``, ``name``, ``annotators``, ``annotations``, ...).

    Args:
        store: The store.
        user: The authenticated user.
        worklist_id: The worklist's UUID.

    Returns:
        The worklist record.
    """
    record, _, _ = require_worklist(store, user, worklist_id)
    return json_response(record)


@router.get("/annotationsets/{worklist_id}/segmentation-group", response_model=SegmentationGroup)
def segmentation_group(store: StoreDep, user: UserDep, worklist_id: str) -> dict[str, Any]:
    """Return the segmentation classes of a worklist.

    Args:
        store: The store.
        user: The authenticated user.
        worklist_id: The worklist's UUID.

    Returns:
        ``{"groups": {name: {"index": int (1-based), "color": [r, g, b, a]}}}``; ``groups``
        is empty when the worklist defines none.
    """
    _, groups, _ = require_worklist(store, user, worklist_id)
    return {"groups": groups or {}}


@router.post("/annotationsets", status_code=201, response_model=Worklist)
def create_worklist(store: StoreDep, user: UserDep, body: WorklistCreate) -> Response:
    """Create a worklist in a project.

    Args:
        store: The store.
        user: The authenticated user (its creator and first annotator).
        body: ``{name, resource_ids, project_id?, description?, annotations?, annotators?,
            image_labels?, frame_labels?, segmentation_data?}``. Without ``project_id`` the
            worklist goes to the one project of the user that holds every resource.

    Returns:
        The full worklist (status 201).

    Raises:
        ApiError: 422 when no single project can hold it, or a spec is invalid; 404 for
            ``project_id``; 422 when a resource is not in the project.
    """
    resource_ids = parse_body_ids(body.resource_ids, "resource_ids")
    if body.project_id is not None:
        project_id = require_project(store, user, body.project_id)["id"]
    else:
        candidates = [
            pid
            for pid in sorted(store.users.member_project_ids(user))
            if set(resource_ids) <= set(store.projects.resource_ids(pid))
        ]
        if len(candidates) != 1:
            raise ApiError(
                422,
                f"project_id is required: {len(candidates)} of your projects hold all resource_ids",
            )
        project_id = candidates[0]
    outside = set(resource_ids) - set(store.projects.resource_ids(project_id))
    if outside:
        raise ApiError(422, f"resource {sorted(outside)[0]} is not in project {project_id}")
    specs = [
        *(body.annotations or []),
        *label_specs(body.image_labels, "image"),
        *label_specs(body.frame_labels, "frame"),
    ]
    record, groups = build_worklist(
        name=body.name,
        project_id=project_id,
        creator=user,
        resource_ids=resource_ids,
        specs=specs,
        annotators=body.annotators or [],
        segmentation=body.segmentation_data,
        description=body.description,
    )
    store.worklists.save(project_id, record, groups)
    return json_response(record, 201)


@router.put("/annotationsets/{worklist_id}/segmentation-group", response_model=SegmentationGroup)
def put_segmentation_group(
    store: StoreDep, user: UserDep, worklist_id: str, body: SegmentationGroupPut
) -> dict[str, Any]:
    """Replace a worklist's segmentation classes.

    Args:
        store: The store.
        user: The authenticated user (a member of the worklist's project).
        worklist_id: The worklist's UUID.
        body: ``{"segmentationData": {"segmentationValueType", "definitions":
            [{identifier, color, index}]}, "renames"?: [{"from": old, "to": new}, ...]}``;
            the definitions are the whole new group. Each rename relabels the worklist's
            segmentations ``old`` -> ``new`` as new annotation versions (old ids
            soft-deleted; see :mod:`~datamint.server.routes_worklist_edits`).

    Returns:
        ``{"groups": {...}}`` as now served, plus ``renamed_annotation_ids`` (the new
        versions) when ``renames`` changed any annotation.

    Raises:
        ApiError: 422 when an identifier or an index is used twice, or a rename is invalid.
    """
    record, current, _ = require_worklist(store, user, worklist_id)
    groups = groups_from_definitions(body.segmentationData)
    renames = parse_renames(body.renames, current or {}, groups)
    created = store.worklists.set_groups(
        record["id"], groups, body.segmentationData.segmentationValueType, renames, user
    )
    answer: dict[str, Any] = {"groups": groups}
    if created:
        answer["renamed_annotation_ids"] = created
    return answer
