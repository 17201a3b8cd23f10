"""Dataset info routes: one DatasetInfo per project the user is in.

Each project has a ``dataset_id``; its DatasetInfo lists the project's non-deleted
resources. ``updated_at`` is the latest ``created_at`` among them (or the project's).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from datamint.server.deps import ERROR_RESPONSES, StoreDep, UserDep, parse_path_id
from datamint.server.errors import not_found
from datamint.server.models import DatasetInfo
from datamint.server.store import ProjectStore
from datamint.server.timeutil import format_us, to_us

__all__ = ["router"]

router = APIRouter(tags=["datasets"], responses=ERROR_RESPONSES)


def _infos(store: ProjectStore, user: str) -> list[dict[str, Any]]:
    infos = []
    for project in store.projects.list(store.users.member_project_ids(user)):
        resources = store.resources.project_records(project["id"])
        stamps = [to_us(r["created_at"]) for r in resources if r.get("created_at")]
        updated = format_us(max(stamps)) if stamps else project.get("created_at")
        infos.append(
            {
                "id": project.get("dataset_id") or project["id"],
                "name": project["name"],
                "created_at": project.get("created_at"),
                "created_by": project.get("created_by"),
                "description": project.get("description"),
                "customer_id": "local",
                "updated_at": updated,
                "total_resource": len(resources),
                "resource_ids": [r["id"] for r in resources],
                "project_id": project["id"],
            }
        )
    return infos


@router.get("/datasets", response_model=list[DatasetInfo])
def list_datasets(store: StoreDep, user: UserDep) -> list[dict[str, Any]]:
    """List the DatasetInfo of every project the user is a member of (a bare array).

    Args:
        store: The store.
        user: The authenticated user.

    Returns:
        ``[{id, name, created_at, created_by, description, customer_id, updated_at,
        total_resource, resource_ids, project_id}]`` ordered by project name.
    """
    return _infos(store, user)


@router.get("/datasets/{dataset_id}", response_model=DatasetInfo)
def get_dataset(store: StoreDep, user: UserDep, dataset_id: str) -> dict[str, Any]:
    """Return one DatasetInfo.

    Args:
        store: The store.
        user: The authenticated user.
        dataset_id: The dataset's UUID (a project's ``dataset_id``).

    Returns:
        The DatasetInfo.

    Raises:
        ApiError: 404 when no project of the user has this dataset.
    """
    wanted = parse_path_id(dataset_id, "dataset")
    for info in _infos(store, user):
        if info["id"] == wanted:
            return info
    raise not_found("dataset", wanted)
