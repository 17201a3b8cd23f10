"""Resource write routes: upload, replace, publish, tags, delete.

- ``POST /resources`` takes the existing client's multipart form (``resource`` file,
  ``mimetype``, ``channel``, ``modality``, ``tags`` comma-separated, ``metadata`` JSON,
  ``bypass_inbox``, ``source_filepath``) plus, as our extension, ``project_id`` to put the
  new resource straight into a project. The uploader always sees its own uploads.
  Metadata (``frame_count``, ``width``, ``height``, ...) is derived from the file's header.
- A DICOM series, sent as several ``resource`` file parts or as one ZIP archive of its
  files, becomes ONE resource stored as one multi-frame DICOM, as the platform stores it
  (:mod:`datamint.server.series_dicom`; ``mimetype`` ``application/dicom``, ``files``
  listing the sources); a series that breaks a series rule or is not CT, MR or PET is a
  422 naming the problem. A ZIP holding one DICOM file gives that file; a ZIP without
  DICOM files is stored as sent.
- ``PUT /resources/{id}/file`` replaces the content: new ``sha256``, ``size`` and
  ``created_at``, same id.
- Deletes are soft: ``deleted: true`` with ``deleted_at`` and ``deleted_by``.
"""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from datamint.exceptions import InvalidResourceError
from datamint.server.deps import (
    ERROR_RESPONSES,
    StoreDep,
    UserDep,
    more_errors,
    parse_body_ids,
    parse_path_id,
    require_project,
    require_resource,
)
from datamint.server.errors import ApiError
from datamint.server.listing import json_response
from datamint.server.metadata import derive_metadata, describe_upload
from datamint.server.models import Resource, ResourceIds, TagsBody
from datamint.server.series_dicom import Source, build_series_dicom, zip_dicom_members
from datamint.server.store import ProjectStore
from datamint.server.strict_json import StrictJsonError, loads_strict
from datamint.server.timeutil import format_us, now_us
from datamint.server.uploads import UploadForm, multipart_body, upload_form

__all__ = ["router"]

router = APIRouter(tags=["resources"], responses=ERROR_RESPONSES)

_UPLOAD_FIELDS = {
    "resource": {"type": "string", "format": "binary"},
    "mimetype": {"type": "string"},
    "channel": {"type": "string"},
    "modality": {"type": "string"},
    "tags": {"type": "string", "description": "comma-separated"},
    "metadata": {"type": "string", "description": "JSON object"},
    "bypass_inbox": {"type": "string", "enum": ["true", "false"]},
    "source_filepath": {"type": "string"},
    "project_id": {"type": "string", "format": "uuid"},
}


def _json_object(text: str | None, name: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = loads_strict(text)
    except StrictJsonError as exc:
        raise ApiError(422, f"{name}: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(422, f"{name}: expected a JSON object")
    return value


def _series_name(names: list[str]) -> str:
    """A series' filename: the folder its files share (``"a/b/"``), else ``"series/"``."""
    folders = {str(PurePosixPath(name).parent) for name in names}
    folder = folders.pop() if len(folders) == 1 else "."
    return "series/" if folder in (".", "") else f"{folder}/"


def _store_series(
    store: ProjectStore, files: list[tuple[str, Source]], what: str
) -> tuple[str, int]:
    try:
        return store.blobs.put_built(lambda out: build_series_dicom(files, out, what=what))
    except ValueError as exc:  # InvalidResourceError, UnsupportedFormatError
        raise ApiError(422, str(exc)) from None


def _is_zip(path: Path) -> bool:
    """A ZIP archive: a local file header first (APPNOTE 4.3.7) and a readable directory."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return False
    return zipfile.is_zipfile(path)


def _store_upload(
    store: ProjectStore, form: UploadForm
) -> tuple[str, int, str, str | None, list[dict[str, Any]]]:
    """Store the uploaded file(s): ``(sha256, size, filename, mimetype, files)``.

    Several file parts, or one ZIP archive holding DICOM files, are a DICOM series, merged
    into one multi-frame DICOM (``files`` lists the sources); a ZIP holding one DICOM file
    gives that file; in these cases ``mimetype`` is ``application/dicom``. Anything else is
    kept as sent, ``mimetype`` then being ``None`` (the client's declaration applies).

    Raises:
        ApiError: 422 for a series that cannot be merged, or a corrupt ZIP archive.
    """
    uploads = form.all_files("resource", "file") or [form.file("resource", "file")]
    for upload in uploads:
        upload.staged.close()
    if len(uploads) > 1:
        names = [u.filename or f"part{i}" for i, u in enumerate(uploads)]
        filename = _series_name(names)
        sources: list[tuple[str, Source]] = [
            (name, u.staged.path) for name, u in zip(names, uploads, strict=True)
        ]
        sha, size = _store_series(store, sources, filename)
        files = [
            {"path": name, "sha256": u.staged.sha256, "size": u.staged.size}
            for name, u in zip(names, uploads, strict=True)
        ]
        return sha, size, filename, "application/dicom", files
    upload = uploads[0]
    filename = upload.filename or "upload"
    if _is_zip(upload.staged.path):
        try:
            members = zip_dicom_members(upload.staged.path, what=filename)
        except InvalidResourceError as exc:
            raise ApiError(422, str(exc)) from None
        if len(members) == 1:  # a series of one file: that file
            member, data = members[0]
            sha, size = store.blobs.put_bytes(data)
            return sha, size, PurePosixPath(member).name, "application/dicom", []
        if members:
            name = PurePosixPath(filename).name
            series = f"{name[:-4] if name.lower().endswith('.zip') else name}/"
            sha, size = _store_series(store, list(members), series)
            files = [
                {"path": member, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                for member, data in members
            ]
            return sha, size, series, "application/dicom", files
    sha, size = store.blobs.put_staged(upload.staged)
    return sha, size, filename, None, []


def _create_from_upload(store: ProjectStore, user: str, form: UploadForm) -> dict[str, Any]:
    fields = form.fields
    project_id = None
    if fields.get("project_id"):
        project_id = require_project(store, user, fields["project_id"])["id"]
    extra_metadata = _json_object(fields.get("metadata"), "metadata")
    upload = form.file("resource", "file")
    sha, size, filename, merged_type, files = _store_upload(store, form)
    declared = merged_type or fields.get("mimetype") or upload.content_type
    mimetype, storage = describe_upload(filename, declared)
    derived = derive_metadata(store.blob_path(sha), filename, mimetype, storage)
    published = fields.get("bypass_inbox", "false").strip().lower() == "true"
    stamp = format_us(now_us())
    tags = [t.strip() for t in fields.get("tags", "").split(",") if t.strip()]
    rid = str(uuid.uuid4())
    record = {
        "id": rid,
        "resource_uri": f"/resources/{rid}/file",
        "storage": storage,
        "location": f"blobs/{sha[:2]}/{sha}",
        "upload_channel": fields.get("channel") or "default",
        "upload_mechanism": fields.get("source") or "api",
        "filename": filename,
        "source_filepath": fields.get("source_filepath"),
        "mimetype": mimetype,
        "modality": fields.get("modality") or derived.modality,
        "status": "published" if published else "inbox",
        "published": published,
        "published_on": stamp if published else None,
        "published_by": user if published else None,
        "created_at": stamp,
        "created_by": user,
        "customer_id": "local",
        "deleted": False,
        "deleted_at": None,
        "deleted_by": None,
        "tags": list(dict.fromkeys(tags)),
        "metadata": {**derived.metadata, **extra_metadata},
        "size": size,
        "sha256": sha,
        "user_info": {"firstname": user.split("@")[0], "lastname": ""},
        **derived.record_keys,
    }
    if files:
        record["files"] = files
    with store.db.write() as conn:
        store.resources.upsert(conn, record, sha, owner=user)
        if project_id is not None:
            store.projects.link_resources(conn, project_id, [rid])
    return record


@router.post(
    "/resources",
    status_code=201,
    response_model=Resource,
    openapi_extra=multipart_body(_UPLOAD_FIELDS, ["resource"]),
    responses=more_errors(
        s413="too many parts, an oversized text field, a file over the upload limit or "
        "over the user's quota"
    ),
)
async def upload_resource(request: Request, store: StoreDep, user: UserDep) -> Response:
    """Upload one file as a new resource (multipart ``resource`` field, or ``file``);
    several files, or a ZIP of DICOM files, as one series (module docstring).

    Args:
        request: The multipart request.
        store: The store.
        user: The authenticated user (``created_by``; sees the resource from now on).

    Returns:
        The new Resource (status 201); ``id`` is what the existing client reads.

    Raises:
        ApiError: 422 for a missing file or malformed field; 404 for a ``project_id``
            the user cannot see.
    """
    async with upload_form(request, store, user) as form:
        record = await run_in_threadpool(_create_from_upload, store, user, form)
    return json_response(record, 201)


def _replace_file(store: ProjectStore, user: str, rid: str, form: UploadForm) -> dict[str, Any]:
    record, _ = require_resource(store, user, rid)
    upload = form.file("file", "resource")
    sha, size = store.blobs.put_staged(upload.staged)
    derived = derive_metadata(
        store.blob_path(sha), record["filename"], record["mimetype"], record["storage"]
    )
    stamp = format_us(now_us())

    def change(current: dict[str, Any]) -> bool:
        current.update(sha256=sha, size=size, created_at=stamp, location=f"blobs/{sha[:2]}/{sha}")
        current["metadata"] = {**(current.get("metadata") or {}), **derived.metadata}
        current.pop("files", None)  # a replaced series is one uploaded file now
        return True

    store.resources.modify([record["id"]], change, sha=sha)
    found = store.resources.get(record["id"])
    assert found is not None
    return found[0]


@router.put(
    "/resources/{resource_id}/file",
    response_model=Resource,
    openapi_extra=multipart_body({"file": {"type": "string", "format": "binary"}}, ["file"]),
    responses=more_errors(
        s413="too many parts, an oversized text field, a file over the upload limit or "
        "over the user's quota"
    ),
)
async def replace_resource_file(
    request: Request, store: StoreDep, user: UserDep, resource_id: str
) -> Response:
    """Replace a resource's content; ``sha256``, ``size`` and ``created_at`` change.

    Args:
        request: The multipart request (``file``).
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.

    Returns:
        The updated Resource.
    """
    rid = parse_path_id(resource_id, "resource")
    require_resource(store, user, rid)
    async with upload_form(request, store, user) as form:
        record = await run_in_threadpool(_replace_file, store, user, rid, form)
    return json_response(record)


def _publish(user: str) -> Any:
    stamp = format_us(now_us())

    def change(record: dict[str, Any]) -> bool:
        if record.get("status") == "published" or record.get("deleted"):
            return False
        record.update(status="published", published=True, published_on=stamp, published_by=user)
        return True

    return change


@router.post(
    "/resources/{resource_id}/publish",
    response_model=Resource,
    responses=more_errors(s400="the resource is not in the inbox (already published)"),
)
def publish_resource(store: StoreDep, user: UserDep, resource_id: str) -> Response:
    """Publish a resource in the inbox.

    Args:
        store: The store.
        user: The authenticated user (``published_by``).
        resource_id: The resource's UUID.

    Returns:
        The published Resource.

    Raises:
        ApiError: 400 ``"Resource must be in inbox status to be approved"`` (the existing
            client treats it as "already published").
    """
    record, _ = require_resource(store, user, resource_id)
    if not store.resources.modify([record["id"]], _publish(user)):
        raise ApiError(400, f"Resource must be in inbox status to be approved ({record['id']})")
    return json_response(require_resource(store, user, record["id"])[0])


def _require_all(store: ProjectStore, user: str, ids: list[str]) -> None:
    for rid in ids:
        require_resource(store, user, rid)


@router.post("/resources/bulk-publish", response_model=dict[str, list[str]])
def bulk_publish(store: StoreDep, user: UserDep, body: ResourceIds) -> dict[str, list[str]]:
    """Publish many resources; those already published are skipped.

    Args:
        store: The store.
        user: The authenticated user.
        body: ``{"resource_ids": [...]}``.

    Returns:
        ``{"published": [ids], "skipped": [ids]}``.
    """
    ids = parse_body_ids(body.resource_ids, "resource_ids")
    _require_all(store, user, ids)
    published = store.resources.modify(ids, _publish(user))
    return {"published": published, "skipped": [rid for rid in ids if rid not in published]}


def _set_tags(tags: list[str]) -> Any:
    unique = list(dict.fromkeys(str(tag).strip() for tag in tags if str(tag).strip()))

    def change(record: dict[str, Any]) -> bool:
        changed = record.get("tags") != unique
        record["tags"] = unique
        return changed

    return change


@router.put("/resources/{resource_id}/tags", response_model=Resource)
def set_tags(store: StoreDep, user: UserDep, resource_id: str, body: TagsBody) -> Response:
    """Replace a resource's tags (duplicates and blanks dropped, order kept).

    Args:
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.
        body: ``{"tags": [...]}``.

    Returns:
        The updated Resource.
    """
    record, _ = require_resource(store, user, resource_id)
    store.resources.modify([record["id"]], _set_tags(body.tags))
    return json_response(require_resource(store, user, record["id"])[0])


@router.put("/resources/tags", response_model=dict[str, list[str]])
def set_tags_bulk(store: StoreDep, user: UserDep, body: TagsBody) -> dict[str, list[str]]:
    """Replace the tags of many resources (``{"resource_ids": [...], "tags": [...]}``).

    Args:
        store: The store.
        user: The authenticated user.
        body: The ids and the tags.

    Returns:
        ``{"resource_ids": [ids changed]}``.
    """
    ids = parse_body_ids(body.resource_ids or [], "resource_ids")
    _require_all(store, user, ids)
    return {"resource_ids": store.resources.modify(ids, _set_tags(body.tags))}


def _soft_delete(user: str) -> Any:
    stamp = format_us(now_us())

    def change(record: dict[str, Any]) -> bool:
        if record.get("deleted"):
            return False
        record.update(deleted=True, deleted_at=stamp, deleted_by=user)
        return True

    return change


@router.delete("/resources", response_model=dict[str, list[str]])
def delete_resources(
    store: StoreDep,
    user: UserDep,
    resource_ids: Annotated[str, Query(description="comma-separated resource ids")],
) -> dict[str, list[str]]:
    """Soft-delete resources (``deleted``, ``deleted_at``, ``deleted_by``); idempotent.

    Args:
        store: The store.
        user: The authenticated user.
        resource_ids: Comma-separated ids, as the existing client sends them.

    Returns:
        ``{"deleted": [ids newly deleted]}``.

    Raises:
        ApiError: 422 for a malformed id; 404 (a resource the user cannot
            see) before anything is changed.
    """
    ids = parse_body_ids([v.strip() for v in resource_ids.split(",") if v.strip()], "resource_ids")
    _require_all(store, user, ids)
    return {"deleted": store.resources.modify(ids, _soft_delete(user))}


@router.delete("/resources/{resource_id}", response_model=dict[str, list[str]])
def delete_resource(store: StoreDep, user: UserDep, resource_id: str) -> dict[str, list[str]]:
    """Soft-delete one resource; idempotent.

    Args:
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.

    Returns:
        ``{"deleted": [id]}``, or ``{"deleted": []}`` when it already was.
    """
    record, _ = require_resource(store, user, resource_id)
    return {"deleted": store.resources.modify([record["id"]], _soft_delete(user))}
