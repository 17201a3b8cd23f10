"""Project split routes: versioned assignments.

Rows are never removed: re-assigning a resource soft-deletes its current row and inserts a
new one, so ``as_of_timestamp`` replays any past state.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from datamint.exceptions import ItemNotFoundError
from datamint.server.deps import (
    ERROR_RESPONSES,
    StoreDep,
    UserDep,
    parse_body_id,
    parse_path_id,
    require_project,
)
from datamint.server.errors import ApiError, not_found
from datamint.server.models import SplitAssignment, SplitRow
from datamint.server.timeutil import to_us

__all__ = ["router"]

router = APIRouter(tags=["splits"], responses=ERROR_RESPONSES)


@router.get("/projects/{project_id}/splits", response_model=list[SplitRow])
def list_splits(
    store: StoreDep,
    user: UserDep,
    project_id: str,
    split_name: str | None = None,
    as_of_timestamp: str | None = None,
) -> list[dict[str, Any]]:
    """Return a project's split rows as a bare array.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.
        split_name: Only rows of this split.
        as_of_timestamp: ISO-8601 instant (``Z`` or offset; fractional seconds optional);
            the rows as they stood then: ``created_at <= T`` and (``deleted_at`` null or
            ``> T``). Without it, the current rows.

    Returns:
        Split rows ``{id, split_name, project_id, resource_id, created_at, created_by,
        deleted_at, deleted_by}`` ordered by ``created_at``.

    Raises:
        ApiError: 422 when ``as_of_timestamp`` is not ISO-8601.
    """
    project = require_project(store, user, project_id)
    as_of_us = None
    if as_of_timestamp:
        try:
            as_of_us = to_us(as_of_timestamp)
        except ValueError as exc:
            raise ApiError(422, f"as_of_timestamp: {exc}") from None
    return store.splits.list_splits(project["id"], as_of_us=as_of_us, split_name=split_name or None)


@router.post("/projects/{project_id}/splits", status_code=201, response_model=list[SplitRow])
def assign_split(
    store: StoreDep, user: UserDep, project_id: str, body: SplitAssignment
) -> list[dict[str, Any]]:
    """Assign resources to a split; an empty list is valid and changes nothing.

    Args:
        store: The store.
        user: The authenticated user (recorded as ``created_by`` / ``deleted_by``).
        project_id: The project's UUID.
        body: ``{"resource_ids": [...], "split_name": "train"}``.

    Returns:
        The new rows (status 201).

    Raises:
        ApiError: 422 for a malformed id; 404 when a resource is not in the project
            (nothing is changed then).
    """
    project = require_project(store, user, project_id)
    ids = [parse_body_id(rid, "resource_ids") for rid in body.resource_ids]
    try:
        return store.splits.assign_split(project["id"], ids, body.split_name, user)
    except ItemNotFoundError as exc:
        raise ApiError(404, str(exc)) from None


@router.get("/projects/{project_id}/resources/{resource_id}/split", response_model=SplitRow)
def resource_split(
    store: StoreDep, user: UserDep, project_id: str, resource_id: str
) -> dict[str, Any]:
    """Return the current split row of one resource.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.
        resource_id: The resource's UUID.

    Returns:
        The split row.

    Raises:
        ApiError: 404 when the resource is not in the project or has no current split.
    """
    project = require_project(store, user, project_id)
    rid = parse_path_id(resource_id, "resource")
    row = store.splits.current_split(project["id"], rid)
    if row is None:
        raise not_found(
            "split of resource", rid, f"no current split assignment in project {project['id']}"
        )
    return row
