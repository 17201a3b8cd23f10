"""Worklist (annotation set) routes (contract/API.md §4.5)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from datamint.server.deps import StoreDep, UserDep, require_project, require_worklist

__all__ = ["router"]

router = APIRouter(tags=["worklists"])


def _list_item(record: dict[str, Any]) -> dict[str, Any]:
    item = {"worklist_id": record["id"], "worklist_name": record["name"]}
    item.update({k: v for k, v in record.items() if k not in ("id", "name")})
    return item


@router.get("/projects/{project_id}/worklists", response_model=None)
def project_worklists(store: StoreDep, user: UserDep, project_id: str) -> list[dict[str, Any]]:
    """Return a project's worklists as a bare array.

    Each item carries ``worklist_id``, ``worklist_name``, ``annotators`` and
    ``annotations`` (the label specs), plus the worklist's other keys.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.

    Returns:
        Worklist list items, in import order.
    """
    project = require_project(store, user, project_id)
    return [_list_item(record) for record in store.project_worklists(project["id"])]


@router.get("/annotationsets/{worklist_id}", response_model=None)
def get_worklist(store: StoreDep, user: UserDep, worklist_id: str) -> dict[str, Any]:
    """Return one full worklist (``id``, ``name``, ``annotators``, ``annotations``, ...).

    Args:
        store: The store.
        user: The authenticated user.
        worklist_id: The worklist's UUID.

    Returns:
        The worklist record.
    """
    record, _ = require_worklist(store, user, worklist_id)
    return record


@router.get("/annotationsets/{worklist_id}/segmentation-group", response_model=None)
def segmentation_group(store: StoreDep, user: UserDep, worklist_id: str) -> dict[str, Any]:
    """Return the segmentation classes of a worklist.

    Args:
        store: The store.
        user: The authenticated user.
        worklist_id: The worklist's UUID.

    Returns:
        ``{"groups": {name: {"index": int (1-based), "color": [r, g, b, a]}}}``; ``groups``
        is empty when the worklist defines none.
    """
    _, groups = require_worklist(store, user, worklist_id)
    return {"groups": groups or {}}
