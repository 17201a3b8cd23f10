"""Annotation write routes.

- ``POST /annotations/{rid}/annotations``: a list of create records; answers their ids.
- ``POST /annotations/{rid}/annotations/{aid}/file``: the mask of a segmentation. The
  first file is attached in place; a later one is an edit, which (as on the hosted
  platform) creates a NEW annotation and soft-deletes the old one.
- ``POST /annotations/{rid}/segmentations/file``: a (multi-label) mask plus
  ``segmentation_map`` ``{value: name}``; one annotation per name.
- ``POST /annotations/delete-batch``: soft deletes (``deleted_at``, ``deleted_by``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from starlette.concurrency import run_in_threadpool

from datamint.schema import ANNOTATION_TYPES
from datamint.server.deps import (
    ERROR_RESPONSES,
    StoreDep,
    UserDep,
    more_errors,
    parse_body_id,
    parse_body_ids,
    parse_path_id,
    require_annotation,
    require_resource,
)
from datamint.server.errors import ApiError, not_found
from datamint.server.listing import json_response
from datamint.server.masks import split_segmentation
from datamint.server.models import Annotation, AnnotationCreate, DeleteBatch
from datamint.server.store import ProjectStore
from datamint.server.store.annotations import AnnotationsRepo, blob_location
from datamint.server.strict_json import loads_strict
from datamint.server.timeutil import format_us, now_us
from datamint.server.uploads import UploadForm, multipart_body, upload_form

__all__ = ["router"]

router = APIRouter(tags=["annotations"], responses=ERROR_RESPONSES)


def _new_record(
    resource: dict[str, Any], spec: AnnotationCreate, user: str, stamp: str, index: int
) -> dict[str, Any]:
    where = f"[{index}]"
    identifier = spec.identifier or spec.name
    if not identifier:
        raise ApiError(422, f"{where}.identifier: a non-empty identifier (label name) is required")
    if spec.type not in ANNOTATION_TYPES:
        raise ApiError(
            422, f"{where}.type: {spec.type[:40]!r} is not one of {', '.join(ANNOTATION_TYPES)}"
        )
    scope = spec.scope or ("image" if spec.frame_index is None else "frame")
    if scope == "frame" and spec.frame_index is None:
        raise ApiError(422, f"{where}.frame_index: required when scope is 'frame'")
    frames = (resource.get("metadata") or {}).get("frame_count")
    if scope == "frame" and frames is not None and spec.frame_index >= int(frames):  # type: ignore[operator]
        raise ApiError(
            422, f"{where}.frame_index: {spec.frame_index} is out of range ({frames} frames)"
        )
    worklist = spec.annotation_worklist_id
    extras = spec.model_dump(
        exclude={"identifier", "name", "import_author", "model_id", "scope", "frame_index"}
    )
    return {
        **extras,
        "id": str(uuid.uuid4()),
        "resource_id": resource["id"],
        "identifier": identifier,
        "type": spec.type,
        "scope": scope,
        "frame_index": spec.frame_index if scope == "frame" else None,
        "created_by": spec.import_author or user,
        "created_by_model": spec.model_id,
        "created_at": stamp,
        "deleted_at": None,
        "associated_file": None,
        "file": None,
        "source": spec.source or ("model_pipeline" if spec.model_id else "manual"),
        "status": spec.status or "new",
        "annotation_worklist_id": None
        if worklist is None
        else parse_body_id(worklist, f"{where}.annotation_worklist_id"),
    }


@router.post("/annotations/{resource_id}/annotations", status_code=201, response_model=list[str])
def create_annotations(
    store: StoreDep,
    user: UserDep,
    resource_id: str,
    body: Annotated[list[AnnotationCreate] | AnnotationCreate, Body()],
) -> list[str]:
    """Create annotations on a resource (one transaction); answers their ids in order.

    Args:
        store: The store.
        user: The authenticated user (``created_by`` unless ``import_author`` is given).
        resource_id: The resource's UUID.
        body: A list of create records ``{type, identifier, scope?, frame_index?, value?,
            geometry?, annotation_worklist_id?, import_author?, model_id?, source?}`` (a
            single object is accepted too).

    Returns:
        The new annotation ids (status 201).

    Raises:
        ApiError: 422 for an unknown type, a missing identifier or a frame out of range.
    """
    resource, _ = require_resource(store, user, resource_id)
    specs = body if isinstance(body, list) else [body]
    stamp = format_us(now_us())
    records = [_new_record(resource, spec, user, stamp, i) for i, spec in enumerate(specs)]
    return store.annotations.create_many(records)


def _attach(store: ProjectStore, user: str, rid: str, aid: str, form: UploadForm) -> dict[str, Any]:
    record, _ = require_annotation(store, user, aid)
    resource, _ = require_resource(store, user, rid)
    if record["resource_id"] != resource["id"]:
        raise not_found("annotation", record["id"], f"it is not on resource {resource['id']}")
    if record.get("deleted_at") is not None:
        raise ApiError(409, f"annotation {record['id']} is deleted; create a new one")
    if record.get("type") != "segmentation":
        raise ApiError(
            422,
            f"annotation {record['id']} is a {record.get('type')}: only segmentations have files",
        )
    upload = form.file("file")
    split_segmentation(
        upload.staged.path, upload.filename, None, resource, record.get("frame_index")
    )
    sha, size = store.blobs.put_staged(upload.staged)
    return store.annotations.attach_file(record["id"], sha, size, upload.filename or "mask", user)


@router.post(
    "/annotations/{resource_id}/annotations/{annotation_id}/file",
    response_model=Annotation,
    openapi_extra=multipart_body({"file": {"type": "string", "format": "binary"}}, ["file"]),
    responses=more_errors(
        s409="the annotation is deleted",
        s413="too many multipart parts, a file over the upload limit or over the user's quota",
    ),
)
async def upload_annotation_file(
    request: Request, store: StoreDep, user: UserDep, resource_id: str, annotation_id: str
) -> Response:
    """Attach a mask to a segmentation; a second upload is an edit (new annotation id).

    Args:
        request: The multipart request (``file``: PNG/JPEG or NIfTI, one label).
        store: The store.
        user: The authenticated user.
        resource_id: The annotated resource's UUID.
        annotation_id: The segmentation annotation's UUID.

    Returns:
        The current annotation: the same id on a first upload; a new id (with ``replaces``
        naming the old, now deleted one) when the annotation already had a file.

    Raises:
        ApiError: 422 when the file is not a mask of the resource's shape; 409 when the
            annotation is deleted.
    """
    rid = parse_path_id(resource_id, "resource")
    aid = parse_path_id(annotation_id, "annotation")
    require_annotation(store, user, aid)
    async with upload_form(request, store, user) as form:
        record = await run_in_threadpool(_attach, store, user, rid, aid, form)
    return json_response(record)


def _segmentation_map(text: str | None) -> dict[int, str] | None:
    if not text:
        return None
    try:
        raw = loads_strict(text)
        mapping = {int(k): str(v) for k, v in raw.items()}
    except (AttributeError, TypeError, ValueError):
        raise ApiError(
            422, 'segmentation_map: expected JSON {"<int value>": "<name>", ...}'
        ) from None
    if not mapping or any(k == 0 or not v for k, v in mapping.items()):
        raise ApiError(422, "segmentation_map: needs non-zero values and non-empty names")
    return mapping


def _create_segmentations(store: ProjectStore, user: str, rid: str, form: UploadForm) -> list[str]:
    resource, _ = require_resource(store, user, rid)
    fields = form.fields
    mapping = _segmentation_map(fields.get("segmentation_map"))
    identifier = fields.get("identifier") or fields.get("name")
    if mapping is None and not identifier:
        raise ApiError(
            422, "send segmentation_map {value: name} (or identifier for a one-label file)"
        )
    frame_index = None
    if fields.get("frame_index"):
        try:
            frame_index = int(fields["frame_index"])
        except ValueError:
            raise ApiError(422, "frame_index: expected an integer") from None
        if frame_index < 0:
            raise ApiError(422, "frame_index: must be >= 0")
    worklist = fields.get("annotation_worklist_id")
    upload = form.file("file")
    parts = split_segmentation(upload.staged.path, upload.filename, mapping, resource, frame_index)
    stamp = format_us(now_us())
    created: list[tuple[dict[str, Any], str]] = []
    for part in parts:
        if part.data is None:
            sha, size = store.blobs.put_staged(upload.staged)
        else:
            sha, size = store.blobs.put_bytes(part.data)
        record = {
            "id": str(uuid.uuid4()),
            "resource_id": resource["id"],
            "identifier": part.identifier or identifier,
            "type": "segmentation",
            "scope": "image" if frame_index is None else "frame",
            "frame_index": frame_index,
            "value": None,
            "created_by": user,
            "created_by_model": fields.get("model_id") or None,
            "created_at": stamp,
            "deleted_at": None,
            "source": fields.get("source")
            or ("model_pipeline" if fields.get("model_id") else "imported"),
            "status": "new",
            "imported_from": fields.get("imported_from") or None,
            "annotation_worklist_id": None
            if not worklist
            else parse_body_id(worklist, "annotation_worklist_id"),
            "file": part.filename,
            "associated_file": blob_location(sha),
            "sha256": sha,
            "size": size,
        }
        created.append((record, sha))
    with store.db.write() as conn:
        for record, sha in created:
            AnnotationsRepo.upsert(conn, record, sha)
    return [record["id"] for record, _ in created]


@router.post(
    "/annotations/{resource_id}/segmentations/file",
    status_code=201,
    response_model=list[str],
    openapi_extra=multipart_body(
        {
            "file": {"type": "string", "format": "binary"},
            "segmentation_map": {"type": "string", "description": 'JSON {"1": "name"}'},
            "identifier": {"type": "string"},
            "frame_index": {"type": "string", "pattern": "^[0-9]+$"},
            "model_id": {"type": "string"},
            "annotation_worklist_id": {"type": "string", "format": "uuid"},
            "source": {"type": "string"},
            "imported_from": {"type": "string"},
        },
        ["file"],
    ),
    responses=more_errors(
        s413="too many parts, an oversized text field, a file over the upload limit or "
        "over the user's quota"
    ),
)
async def upload_segmentations(
    request: Request, store: StoreDep, user: UserDep, resource_id: str
) -> list[str]:
    """Create segmentation annotations from one mask file, one per label.

    Args:
        request: The multipart request: ``file`` (NIfTI or PNG), ``segmentation_map``
            (JSON ``{value: name}``) or ``identifier``, optional ``frame_index`` (frame
            scope), ``model_id``, ``annotation_worklist_id``, ``source``, ``imported_from``.
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.

    Returns:
        The new annotation ids (status 201); labels absent from the file make none.
    """
    rid = parse_path_id(resource_id, "resource")
    require_resource(store, user, rid)
    async with upload_form(request, store, user) as form:
        return await run_in_threadpool(_create_segmentations, store, user, rid, form)


@router.post("/annotations/delete-batch", response_model=dict[str, list[str]])
def delete_batch(store: StoreDep, user: UserDep, body: DeleteBatch) -> dict[str, list[str]]:
    """Soft-delete annotations; all are checked before any is changed. Idempotent.

    Args:
        store: The store.
        user: The authenticated user (``deleted_by``).
        body: ``{"ids": [...]}``.

    Returns:
        ``{"deleted": [ids newly deleted]}``.
    """
    ids = parse_body_ids(body.ids, "ids")
    for aid in ids:
        require_annotation(store, user, aid)
    return {"deleted": store.annotations.soft_delete(ids, user)}
