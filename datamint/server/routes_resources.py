"""Resource read routes: the filtered list, channels, one resource,
its file.

``GET /resources`` filters and orders in SQL; the ordered matches are cached per user and
filter for the current store generation (:class:`~datamint.server.listing.ListingCache`),
so paging through 100 000 resources runs the filter once.
"""

from __future__ import annotations

import json
import mimetypes
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from datamint.server.deps import (
    ERROR_RESPONSES,
    MAX_PAGE,
    CacheDep,
    StoreDep,
    UserDep,
    page_of,
    require_resource,
)
from datamint.server.errors import ApiError
from datamint.server.files import blob_response
from datamint.server.listing import json_page, json_response
from datamint.server.models import ChannelPage, Resource, ResourcePage
from datamint.server.series_dicom import series_suffix
from datamint.server.store.resource_search import ORDER_FIELDS, ResourceFilter, search_seqs
from datamint.server.timeutil import parse_iso, to_us

__all__ = ["router"]

router = APIRouter(tags=["resources"], responses=ERROR_RESPONSES)

_DAY_US = int(timedelta(days=1).total_seconds() * 1_000_000)


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


def _day_us(text: str | None, name: str) -> int | None:
    if not text:
        return None
    try:
        day = parse_iso(text).date()
    except ValueError:
        raise ApiError(422, f"{name}: {text[:100]!r} is not a date (YYYY-MM-DD)") from None
    return to_us(day.isoformat())


@router.get("/resources", response_model=ResourcePage)
def search_resources(
    store: StoreDep,
    user: UserDep,
    cache: CacheDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
    status: Annotated[str, Query(pattern="^(|inbox|published)$")] = "",
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    modality: str | None = None,
    mimetype: str | None = None,
    filename: str | None = None,
    channel_name: str | None = None,
    order_field: Annotated[str | None, Query(pattern="^(" + "|".join(ORDER_FIELDS) + ")$")] = None,
    order_by_asc: bool = False,
    deleted: Annotated[str, Query(pattern="^(exclude|include|only)$")] = "exclude",
    project: str | None = None,
    tags: str | None = None,
) -> Response:
    """List the resources the user can see, filtered and paged.

    Args:
        store: The store.
        user: The authenticated user.
        cache: The listing cache.
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
            created_at; insertion order when absent. Missing values sort last.
        order_by_asc: Ascending order (default descending) when ``order_field`` is given.
        deleted: ``exclude`` (default), ``include`` or ``only``.
        project: JSON text ``{"items": [names], "filterType": "intersection"}`` (a plain
            project name is accepted too).
        tags: JSON text ``{"items": [tags], "filterType": "union"}``.

    Returns:
        ``{"data": [{"resources": [...]}], "totalCount": N}``; N counts every match.

    Raises:
        ApiError: 422 for a malformed date or filter.
    """
    visibility = store.visibility(user)
    flt = ResourceFilter(
        status=status,
        deleted=deleted,
        from_us=_day_us(from_, "from"),
        modality=modality,
        mimetype=mimetype,
        filename=filename,
        channel=channel_name,
        tags=_parse_filter(tags, "tags", "union"),
        order_field=order_field,
        ascending=order_by_asc,
    )
    last_day = _day_us(to, "to")
    flt.to_us = None if last_day is None else last_day + _DAY_US
    names = _parse_filter(project, "project", "intersection")
    if names is not None:
        found = store.projects.ids_by_name(names[0], visibility.project_ids)
        if names[1] == "intersection" and len(found) < len(set(names[0])):
            return json_page("resources", [], 0)
        flt.project_ids = ([found[name] for name in names[0] if name in found], names[1])
    key = ("resources", visibility, repr(flt))
    seqs = cache.get(key, store.db.generation(), lambda: search_seqs(store.db, visibility, flt))
    rows = store.resources.records_by_seq(page_of(seqs, offset, limit))
    return json_page("resources", rows, len(seqs))


@router.get("/resources/channels", response_model=ChannelPage)
def list_channels(
    store: StoreDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
) -> dict[str, Any]:
    """List the upload channels of the resources the user can see.

    Args:
        store: The store.
        user: The authenticated user.
        offset: Index of the first channel.
        limit: Page size, up to 5000.

    Returns:
        ``{"data": [{"channels": [{channel_name, resource_count, created_at}]}],
        "totalCount": N}``.
    """
    channels = store.resources.channels(store.visibility(user))
    return {"data": [{"channels": page_of(channels, offset, limit)}], "totalCount": len(channels)}


@router.get("/resources/{resource_id}", response_model=Resource)
def get_resource(store: StoreDep, user: UserDep, resource_id: str) -> Response:
    """Return one resource (deleted ones too, with ``deleted: true``).

    Args:
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.

    Returns:
        The Resource record.
    """
    record, _ = require_resource(store, user, resource_id)
    return json_response(record)


@router.head("/resources/{resource_id}/file", include_in_schema=False)
@router.get(
    "/resources/{resource_id}/file",
    response_class=Response,
    responses={
        200: {
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the stored bytes (Content-Type from the resource's mimetype)",
        },
        206: {"content": {"*/*": {}}, "description": "one byte range"},
        304: {"description": "unchanged (If-None-Match)"},
        416: {"description": "range not satisfiable"},
    },
)
def resource_file(request: Request, store: StoreDep, user: UserDep, resource_id: str) -> Response:
    """Return the raw bytes of a resource's stored file (one multi-frame DICOM for a series).

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
    name = PurePosixPath(filename.rstrip("/")).name or record["id"]
    suffix = series_suffix(record, store.blob_path(sha))
    if suffix == ".zip":  # a series stored before series were merged into one DICOM
        media_type, name = "application/zip", f"{name}.zip"
    else:
        name += suffix or ""
        media_type = str(
            record.get("mimetype") or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
    return blob_response(
        request, store.blob_path(sha), sha, media_type, name, f"resource {record['id']}"
    )
