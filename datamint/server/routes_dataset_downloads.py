"""Dataset contents and archives.

- ``GET /datasets/{id}/resources?version``: the dataset's resources as a bare array.
  Without ``version`` (or ``latest``) the current, non-deleted ones; with an ISO time
  ``T`` the resources as they stood at ``T``: ``created_at <= T`` and not deleted by then.
- ``GET /datasets/{id}/download/{format}`` builds the archive (``zip``, see
  :mod:`~datamint.server.dataset_zip`) and answers a token; ``GET
  /datasets/download/{token}`` streams it (ETag, Range), for the same user only.

A dataset is a project's ``dataset_id``: a member may read it; for anyone else it does not
exist (404, the message names the dataset only).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from datamint.server.dataset_zip import FORMATS, DownloadTokens, build_dataset_zip
from datamint.server.deps import (
    ERROR_RESPONSES,
    StoreDep,
    UserDep,
    parse_path_id,
    require_project,
)
from datamint.server.errors import ApiError, not_found
from datamint.server.files import blob_response
from datamint.server.listing import json_array
from datamint.server.models import DownloadToken, Resource
from datamint.server.store import ProjectStore
from datamint.server.store.resources import dumps
from datamint.server.timeutil import format_us, to_us

__all__ = ["router"]

router = APIRouter(tags=["datasets"], responses=ERROR_RESPONSES)


def _dataset_project(store: ProjectStore, user: str, dataset_id: str) -> dict[str, Any]:
    did = parse_path_id(dataset_id, "dataset")
    pid = store.projects.id_by_dataset(did)
    if pid is None or pid not in store.users.member_project_ids(user):
        raise not_found("dataset", did)
    return require_project(store, user, pid)


def _tokens(request: Request) -> DownloadTokens:
    tokens: DownloadTokens = request.app.state.download_tokens
    return tokens


def _as_of(records: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    try:
        moment = to_us(version)
    except ValueError:
        raise ApiError(
            422, f"version: {version[:100]!r} is not 'latest' or an ISO-8601 time"
        ) from None
    kept = []
    for record in records:
        created = record.get("created_at")
        deleted = record.get("deleted_at")
        if created and to_us(str(created)) > moment:
            continue
        if deleted and to_us(str(deleted)) <= moment:
            continue
        kept.append(record)
    return kept


@router.get(
    "/datasets/download/{token}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the archive (deterministic ZIP)",
        },
        206: {"content": {"application/zip": {}}, "description": "one byte range"},
        304: {"description": "unchanged (If-None-Match)"},
        416: {"description": "range not satisfiable"},
    },
)
def download_archive(request: Request, store: StoreDep, user: UserDep, token: str) -> Response:
    """Stream a dataset archive for a token from ``GET /datasets/{id}/download/{format}``.

    Args:
        request: The request (Range, If-Range, If-None-Match are honoured).
        store: The store.
        user: The authenticated user (the one the token was issued to).
        token: The token.

    Returns:
        The ZIP archive, with ``ETag: "<sha256>"``.

    Raises:
        ApiError: 404 when the token is unknown, expired or another user's.
    """
    grant = _tokens(request).get(token, user)
    if grant is None:
        raise not_found("download token", token, "unknown or expired; ask for a new one")
    return blob_response(
        request,
        store.blob_path(grant.sha256),
        grant.sha256,
        "application/zip",
        grant.filename,
        f"archive {grant.sha256}",
    )


@router.get("/datasets/{dataset_id}/resources", response_model=list[Resource])
def dataset_resources(
    store: StoreDep, user: UserDep, dataset_id: str, version: str | None = None
) -> Response:
    """Return a dataset's resources as a bare array, now or as they stood at a time.

    Args:
        store: The store.
        user: The authenticated user (a member of the dataset's project).
        dataset_id: The dataset's UUID.
        version: ``latest`` (default) or an ISO-8601 time ``T``: resources created by
            ``T`` and not deleted by then (deleted ones carry ``deleted: true``).

    Returns:
        Resource records, in project order.

    Raises:
        ApiError: 422 for a malformed ``version``.
    """
    project = _dataset_project(store, user, dataset_id)
    if not version or version == "latest":
        return json_array(store.resources.project_records_json(project["id"]))
    records = store.resources.project_records(project["id"], include_deleted=True)
    return json_array([dumps(r) for r in _as_of(records, version)])


@router.get("/datasets/{dataset_id}/download/{archive_format}", response_model=DownloadToken)
def request_download(
    request: Request, store: StoreDep, user: UserDep, dataset_id: str, archive_format: str
) -> dict[str, Any]:
    """Build a dataset's archive and answer a token to download it.

    Args:
        request: The request (for the token registry).
        store: The store.
        user: The authenticated user (a member of the dataset's project).
        dataset_id: The dataset's UUID.
        archive_format: ``zip`` (the only format).

    Returns:
        ``{token, url: "/datasets/download/<token>", format, expires_at, size, sha256}``.

    Raises:
        ApiError: 422 for an unsupported format.
    """
    project = _dataset_project(store, user, dataset_id)
    if archive_format not in FORMATS:
        raise ApiError(
            422, f"format {archive_format[:40]!r} is not supported; use one of {list(FORMATS)}"
        )
    records = store.resources.project_records(project["id"])
    found = store.resources.get_many([r["id"] for r in records])
    dataset = {
        "dataset_id": project.get("dataset_id") or project["id"],
        "project_id": project["id"],
        "name": project["name"],
    }
    sha, size = build_dataset_zip(store, dataset, [(r, found[r["id"]][1]) for r in records])
    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in project["name"]
    )
    token, grant = _tokens(request).issue(user, sha, f"{safe}.zip")
    return {
        "token": token,
        "url": f"/datasets/download/{token}",
        "format": archive_format,
        "expires_at": format_us(grant.expires_us),
        "size": size,
        "sha256": sha,
    }
