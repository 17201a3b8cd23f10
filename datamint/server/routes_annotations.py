"""Annotation routes (contract/API.md §4.4): search, one annotation, its file."""

from __future__ import annotations

import mimetypes
from datetime import date
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from datamint.server.deps import (
    StoreDep,
    UserDep,
    page,
    parse_body_id,
    parse_paging,
    parse_path_id,
    require_annotation,
    require_resource,
)
from datamint.server.errors import ApiError, not_found
from datamint.server.files import blob_response
from datamint.server.timeutil import parse_iso

__all__ = ["router"]

router = APIRouter(tags=["annotations"])

_DELETED_MODES = ("exclude", "include", "only")


def _day(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return parse_iso(str(value)).date()
    except ValueError:
        raise ApiError(422, f"{name}: {str(value)[:100]!r} is not a date (YYYY-MM-DD)") from None


def _wanted_resources(body: dict[str, Any]) -> list[str] | None:
    ids: list[str] | None = None
    if body.get("resource_ids") is not None:
        if not isinstance(body["resource_ids"], list):
            raise ApiError(422, "resource_ids: expected a list of resource ids")
        ids = [parse_body_id(rid, "resource_ids") for rid in body["resource_ids"]]
    if body.get("resource_id") is not None:
        ids = [*(ids or []), parse_body_id(body["resource_id"], "resource_id")]
    return ids


@router.post("/annotations/search", response_model=None)
def search_annotations(
    store: StoreDep,
    user: UserDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    """Search the annotations on the user's resources.

    By default every status, source, worklist and project is returned, and no deleted
    annotation (contract §4.4). Every returned annotation's ``resource_id`` is one of the
    requested ids when ``resource_ids``/``resource_id`` are given.

    Args:
        store: The store.
        user: The authenticated user.
        body: JSON object; keys ``resource_id``, ``resource_ids``, ``annotation_type``,
            ``annotatorEmail``, ``from``/``to`` (``YYYY-MM-DD``, on ``created_at``),
            ``dataset_id``, ``annotation_worklist_id``, ``status``, ``source``, ``deleted``
            (``exclude``/``include``/``only``), ``load_ai_segmentations`` (accepted,
            ignored), and paging ``offset``/``limit`` as integers or numeric strings.

    Returns:
        ``{"data": [{"annotations": [...]}], "totalCount": N}``.

    Raises:
        ApiError: 422 for a malformed body, id, date, paging value or deleted mode.
    """
    body = body or {}
    offset, limit = parse_paging(body.get("offset"), body.get("limit"))
    deleted = str(body.get("deleted") or "exclude")
    if deleted not in _DELETED_MODES:
        raise ApiError(422, f"deleted: expected exclude, include or only, got {deleted[:50]!r}")
    first_day, last_day = _day(body.get("from"), "from"), _day(body.get("to"), "to")
    member_of = store.member_project_ids(user)
    found = store.annotations_in_projects(
        member_of, resource_ids=_wanted_resources(body), deleted=deleted
    )
    dataset_resources: set[str] | None = None
    if body.get("dataset_id") is not None:
        dataset_resources = set()
        for project in store.list_projects(member_of):
            if project.get("dataset_id") == body["dataset_id"]:
                dataset_resources.update(
                    r["id"] for r in store.project_resources(project["id"], include_deleted=True)
                )
    equal_keys = {
        "annotation_type": "type",
        "annotation_worklist_id": "annotation_worklist_id",
        "status": "status",
        "source": "source",
    }
    annotator = str(body.get("annotatorEmail") or "").lower()
    selected: list[dict[str, Any]] = []
    for record in found:
        if any(
            body.get(key) is not None and record.get(field) != body[key]
            for key, field in equal_keys.items()
        ):
            continue
        if annotator and str(record.get("created_by") or "").lower() != annotator:
            continue
        if dataset_resources is not None and record["resource_id"] not in dataset_resources:
            continue
        if first_day or last_day:
            try:
                day = parse_iso(str(record.get("created_at"))).date()
            except ValueError:
                continue
            if (first_day and day < first_day) or (last_day and day > last_day):
                continue
        selected.append(record)
    return {
        "data": [{"annotations": page(selected, offset, limit)}],
        "totalCount": len(selected),
    }


@router.get("/annotations/{annotation_id}", response_model=None)
def get_annotation(store: StoreDep, user: UserDep, annotation_id: str) -> dict[str, Any]:
    """Return one annotation (deleted ones too, with ``deleted_at`` set).

    Args:
        store: The store.
        user: The authenticated user.
        annotation_id: The annotation's UUID.

    Returns:
        The Annotation record.
    """
    record, _ = require_annotation(store, user, annotation_id)
    return record


@router.api_route(
    "/annotations/{resource_id}/annotations/{annotation_id}/file",
    methods=["GET", "HEAD"],
    response_model=None,
)
def annotation_file(
    request: Request, store: StoreDep, user: UserDep, resource_id: str, annotation_id: str
) -> Response:
    """Return the raw bytes of an annotation's file (a segmentation mask).

    Args:
        request: The request (Range, If-Range, If-None-Match are honoured).
        store: The store.
        user: The authenticated user.
        resource_id: UUID of the annotated resource (first, as in the existing client).
        annotation_id: The annotation's UUID.

    Returns:
        200, 206 or 304 with ``ETag: "<sha256>"``.

    Raises:
        ApiError: 404 when the annotation is not on that resource or has no file.
    """
    rid = parse_path_id(resource_id, "resource")
    record, sha = require_annotation(store, user, annotation_id)
    if record["resource_id"] != rid:
        raise not_found("annotation", record["id"], f"it is not on resource {rid}")
    require_resource(store, user, rid)
    if sha is None:
        raise not_found(
            "file of annotation", record["id"], f"a {record.get('type')} annotation has no file"
        )
    name = PurePosixPath(str(record.get("file") or record["id"])).name
    lower = name.lower()
    if lower.endswith((".nii", ".nii.gz")):
        media_type = "application/x-nifti"
    else:
        media_type = mimetypes.guess_type(lower)[0] or "application/octet-stream"
    return blob_response(
        request, store.blob_path(sha), sha, media_type, name, f"annotation {record['id']}"
    )
