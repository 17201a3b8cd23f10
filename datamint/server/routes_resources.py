"""Resource routes (contract/API.md §4.3): the filtered list, one resource, its file."""

from __future__ import annotations

import json
import mimetypes
from datetime import date
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from datamint.server.deps import MAX_PAGE, StoreDep, UserDep, page, require_resource
from datamint.server.errors import ApiError
from datamint.server.files import blob_response
from datamint.server.timeutil import parse_iso

__all__ = ["router"]

router = APIRouter(tags=["resources"])

_ORDER_FIELDS = ("modality", "created_by", "published_by", "published_on", "filename", "created_at")


def _parse_filter(text: str | None, name: str, default_type: str) -> tuple[list[str], str] | None:
    """Parse ``{"items": [...], "filterType": "union"|"intersection"}`` (or a plain value)."""
    if text is None or text == "":
        return None
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if isinstance(value, dict):
        items, kind = value.get("items", []), value.get("filterType", default_type)
    elif isinstance(value, list):
        items, kind = value, default_type
    else:
        items, kind = [value], default_type
    if not isinstance(items, list) or kind not in ("union", "intersection"):
        raise ApiError(
            422,
            f'{name}: expected JSON text {{"items": [...], "filterType": '
            f'"union"|"intersection"}}, got {text[:200]!r}',
        )
    return [str(item) for item in items], str(kind)


def _matches(values: set[str], wanted: tuple[list[str], str] | None) -> bool:
    if wanted is None:
        return True
    items, kind = wanted
    if kind == "intersection":
        return all(item in values for item in items)
    return any(item in values for item in items)


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return parse_iso(text).date()
    except ValueError:
        raise ApiError(422, f"{name}: {text[:100]!r} is not a date (YYYY-MM-DD)") from None


def _created_day(record: dict[str, Any]) -> date | None:
    try:
        return parse_iso(str(record.get("created_at"))).date()
    except ValueError:
        return None


@router.get("/resources", response_model=None)
def search_resources(
    store: StoreDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
    status: str = "",
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    modality: str | None = None,
    mimetype: str | None = None,
    filename: str | None = None,
    channel_name: str | None = None,
    order_field: str | None = None,
    order_by_asc: bool = False,
    deleted: str = "exclude",
    project: str | None = None,
    tags: str | None = None,
) -> dict[str, Any]:
    """List the resources of the user's projects, filtered and paged.

    Args:
        store: The store.
        user: The authenticated user.
        offset: Index of the first resource.
        limit: Page size, up to 5000; everything when absent.
        status: ``""`` (any), ``inbox`` or ``published``.
        from_: Earliest ``created_at`` day, ``YYYY-MM-DD`` (inclusive).
        to: Latest ``created_at`` day, ``YYYY-MM-DD`` (inclusive).
        modality: Exact modality, case-insensitive.
        mimetype: Exact mimetype, case-insensitive.
        filename: Case-insensitive substring of the filename.
        channel_name: Exact ``upload_channel``.
        order_field: One of modality, created_by, published_by, published_on, filename,
            created_at; import order when absent.
        order_by_asc: Ascending order (default descending) when ``order_field`` is given.
        deleted: ``exclude`` (default), ``include`` or ``only``.
        project: JSON text ``{"items": [names], "filterType": "intersection"}`` (a plain
            project name is accepted too).
        tags: JSON text ``{"items": [tags], "filterType": "union"}``.

    Returns:
        ``{"data": [{"resources": [...]}], "totalCount": N}``; N counts every match.

    Raises:
        ApiError: 422 for an unknown status, deleted mode, order field or a bad filter.
    """
    if status not in ("", "inbox", "published"):
        raise ApiError(422, f"status: expected '', 'inbox' or 'published', got {status[:50]!r}")
    if deleted not in ("exclude", "include", "only"):
        raise ApiError(422, f"deleted: expected exclude, include or only, got {deleted[:50]!r}")
    if order_field is not None and order_field not in _ORDER_FIELDS:
        raise ApiError(422, f"order_field: expected one of {', '.join(_ORDER_FIELDS)}")
    project_filter = _parse_filter(project, "project", "intersection")
    tag_filter = _parse_filter(tags, "tags", "union")
    first_day, last_day = _day(from_, "from"), _day(to, "to")
    member_of = store.member_project_ids(user)
    names = {p["id"]: p["name"] for p in store.list_projects(member_of)}
    selected: list[dict[str, Any]] = []
    for record, project_ids in store.resources_in_projects(member_of):
        is_deleted = bool(record.get("deleted"))
        if (deleted == "exclude" and is_deleted) or (deleted == "only" and not is_deleted):
            continue
        if status and record.get("status") != status:
            continue
        if modality and str(record.get("modality") or "").lower() != modality.lower():
            continue
        if mimetype and str(record.get("mimetype") or "").lower() != mimetype.lower():
            continue
        if filename and filename.lower() not in str(record.get("filename") or "").lower():
            continue
        if channel_name and record.get("upload_channel") != channel_name:
            continue
        if not _matches({names[pid] for pid in project_ids if pid in names}, project_filter):
            continue
        if not _matches({str(t) for t in record.get("tags") or []}, tag_filter):
            continue
        if first_day or last_day:
            day = _created_day(record)
            if day is None or (first_day and day < first_day) or (last_day and day > last_day):
                continue
        selected.append(record)
    if order_field is not None:
        present = [r for r in selected if r.get(order_field) is not None]
        missing = [r for r in selected if r.get(order_field) is None]
        present.sort(key=lambda r: (str(r[order_field]), r["id"]), reverse=not order_by_asc)
        selected = present + missing
    return {
        "data": [{"resources": page(selected, offset, limit)}],
        "totalCount": len(selected),
    }


@router.get("/resources/{resource_id}", response_model=None)
def get_resource(store: StoreDep, user: UserDep, resource_id: str) -> dict[str, Any]:
    """Return one resource (deleted ones too, with ``deleted: true``).

    Args:
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.

    Returns:
        The Resource record.
    """
    record, _ = require_resource(store, user, resource_id)
    return record


@router.api_route("/resources/{resource_id}/file", methods=["GET", "HEAD"], response_model=None)
def resource_file(request: Request, store: StoreDep, user: UserDep, resource_id: str) -> Response:
    """Return the raw bytes of a resource's stored file (a ZIP archive for a DICOM series).

    Args:
        request: The request (Range, If-Range, If-None-Match are honoured).
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.

    Returns:
        200 (whole file), 206 (one range) or 304, with ``ETag: "<sha256>"``.
    """
    record, sha = require_resource(store, user, resource_id)
    filename = str(record.get("filename") or record["id"])
    is_archive = len(record.get("files") or []) > 1  # stored as a ZIP by the importer
    name = PurePosixPath(filename.rstrip("/")).name or record["id"]
    if is_archive:
        media_type, name = "application/zip", f"{name}.zip"
    else:
        media_type = str(
            record.get("mimetype") or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
    return blob_response(
        request, store.blob_path(sha), sha, media_type, name, f"resource {record['id']}"
    )
