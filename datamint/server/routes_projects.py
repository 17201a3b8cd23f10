"""Project routes (contract/API.md §4.2).

``GET /projects``, ``GET /projects/{id}`` and ``GET /projects/{id}/resources``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from datamint.server.deps import (
    MAX_PAGE,
    StoreDep,
    UserDep,
    page,
    require_project,
)

__all__ = ["router"]

router = APIRouter(tags=["projects"])


@router.get("/projects", response_model=None)
def list_projects(
    store: StoreDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
) -> dict[str, list[dict[str, Any]]]:
    """List the projects the user is a member of, ordered by name.

    Args:
        store: The store.
        user: The authenticated user.
        offset: Index of the first project.
        limit: Page size, up to 5000; all projects when absent.
        include_archived: Also list archived projects.

    Returns:
        ``{"data": [Project, ...]}``.
    """
    projects = store.list_projects(store.member_project_ids(user))
    if not include_archived:
        projects = [p for p in projects if not p.get("archived")]
    return {"data": page(projects, offset, limit)}


@router.get("/projects/{project_id}", response_model=None)
def get_project(store: StoreDep, user: UserDep, project_id: str) -> dict[str, Any]:
    """Return one project.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.

    Returns:
        The Project record.
    """
    return require_project(store, user, project_id)


@router.get("/projects/{project_id}/resources", response_model=None)
def project_resources(store: StoreDep, user: UserDep, project_id: str) -> list[dict[str, Any]]:
    """Return every (non-deleted) resource of a project, as a bare array, not paged.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.

    Returns:
        Full Resource records, in import order.
    """
    project = require_project(store, user, project_id)
    return store.project_resources(project["id"])
