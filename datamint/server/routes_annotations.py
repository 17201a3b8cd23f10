"""Annotation read routes: search, one annotation, its file.

``POST /annotations/search`` filters in SQL and caches the ordered matches per user and
body (paging excluded) for the current store generation, so a dataset paging through
500 000 annotations with all its resource ids in every body runs the search once.
"""

from __future__ import annotations

import hashlib
import mimetypes
from array import array
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response

from datamint.server.deps import (
    ERROR_RESPONSES,
    CacheDep,
    StoreDep,
    UserDep,
    page_of,
    parse_body_id,
    parse_paging,
    parse_path_id,
    require_annotation,
    require_resource,
)
from datamint.server.errors import ApiError, not_found
from datamint.server.files import blob_response
from datamint.server.listing import json_page, json_response
from datamint.server.models import Annotation, AnnotationPage, AnnotationSearch
from datamint.server.store.annotations import AnnotationFilter
from datamint.server.store.db import canonical_uuid
from datamint.server.timeutil import parse_iso, to_us

__all__ = ["router"]

router = APIRouter(tags=["annotations"], responses=ERROR_RESPONSES)

_DAY_US = int(timedelta(days=1).total_seconds() * 1_000_000)


def _day_us(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return to_us(parse_iso(str(value)).date().isoformat())
    except ValueError:
        raise ApiError(422, f"{name}: {str(value)[:100]!r} is not a date (YYYY-MM-DD)") from None


def _wanted_resources(body: AnnotationSearch) -> list[str] | None:
    ids: list[str] | None = None
    if body.resource_ids is not None:
        ids = []
        for value in body.resource_ids:
            canonical = canonical_uuid(value)
            if canonical is None:
                raise ApiError(422, f"resource_ids: {str(value)[:100]!r} is not a valid UUID")
            ids.append(canonical)
    if body.resource_id is not None:
        ids = [*(ids or []), parse_body_id(body.resource_id, "resource_id")]
    return None if ids is None else sorted(set(ids))


@router.post("/annotations/search", response_model=AnnotationPage)
def search_annotations(
    store: StoreDep,
    user: UserDep,
    cache: CacheDep,
    body: Annotated[AnnotationSearch | None, Body()] = None,
) -> Response:
    """Search the annotations on the resources the user can see.

    By default every status, source, worklist and project is returned, and no deleted
    annotation. With ``resource_ids``/``resource_id`` only those
    resources' annotations are returned. Order: insertion order.

    Args:
        store: The store.
        user: The authenticated user.
        cache: The listing cache.
        body: Filters (``resource_id``, ``resource_ids``, ``annotation_type``,
            ``annotatorEmail``, ``from``/``to`` (``YYYY-MM-DD``, on ``created_at``),
            ``dataset_id``, ``annotation_worklist_id``, ``status``, ``source``, ``deleted``;
            ``load_ai_segmentations`` is accepted and ignored) and paging ``offset``/``limit``
            as integers or numeric strings.

    Returns:
        ``{"data": [{"annotations": [...]}], "totalCount": N}``.

    Raises:
        ApiError: 422 for a malformed id, date or paging value.
    """
    body = body or AnnotationSearch()
    offset, limit = parse_paging(body.offset, body.limit)
    visibility = store.visibility(user)
    project_ids = None
    if body.dataset_id is not None:
        project_ids = [
            p["id"]
            for p in store.projects.list(visibility.project_ids)
            if p.get("dataset_id") == body.dataset_id
        ]
    last_day = _day_us(body.to, "to")
    flt = AnnotationFilter(
        annotation_type=body.annotation_type,
        annotator=body.annotatorEmail or None,
        status=body.status,
        source=body.source,
        worklist_id=body.annotation_worklist_id,
        project_ids=project_ids,
        from_us=_day_us(body.from_, "from"),
        to_us=None if last_day is None else last_day + _DAY_US,
        deleted=body.deleted or "exclude",
    )
    # Key on the ids as sent: a hit means this very body was validated before, so the
    # 100 000 ids a dataset sends with every page are parsed once per listing.
    sent = [*(body.resource_ids or []), "\x00", *([body.resource_id] if body.resource_id else [])]
    digest = hashlib.sha256("\x00".join(map(str, sent)).encode()).hexdigest()
    key = ("annotations", visibility, body.resource_ids is None, repr(flt), digest)

    def compute() -> array:
        flt.resource_ids = _wanted_resources(body)
        return store.annotations.search_seqs(visibility, flt)

    seqs = cache.get(key, store.db.generation(), compute)
    rows = store.annotations.records_by_seq(page_of(seqs, offset, limit))
    return json_page("annotations", rows, len(seqs))


@router.get("/annotations/{annotation_id}", response_model=Annotation)
def get_annotation(store: StoreDep, user: UserDep, annotation_id: str) -> Response:
    """Return one annotation (deleted ones too, with ``deleted_at`` set).

    Args:
        store: The store.
        user: The authenticated user.
        annotation_id: The annotation's UUID.

    Returns:
        The Annotation record.
    """
    record, _ = require_annotation(store, user, annotation_id)
    return json_response(record)


@router.head("/annotations/{resource_id}/annotations/{annotation_id}/file", include_in_schema=False)
@router.get(
    "/annotations/{resource_id}/annotations/{annotation_id}/file",
    response_class=Response,
    responses={
        200: {
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the mask file (PNG or NIfTI)",
        },
        206: {"content": {"*/*": {}}, "description": "one byte range"},
        304: {"description": "unchanged (If-None-Match)"},
        416: {"description": "range not satisfiable"},
    },
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
