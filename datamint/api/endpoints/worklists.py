"""Worklist endpoints: a project's worklists, one full worklist (annotation set) and its
segmentation group."""

from __future__ import annotations

from typing import Any

from datamint.api.connection import Connection, check_id
from datamint.api.paging import unwrap_items
from datamint.exceptions import DatamintException

__all__ = ["WorklistEndpoints"]


class WorklistEndpoints(Connection):
    """The worklist methods of :class:`~datamint.api.client.Api`."""

    def get_project_worklists(self, project_id: str) -> list[dict[str, Any]]:
        """List a project's worklists (``GET /projects/{id}/worklists``, a bare array).

        Args:
            project_id: Project UUID.

        Returns:
            Worklist records as sent (``worklist_id``, ``worklist_name``, ...).

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        payload = self._get_json(f"/projects/{pid}/worklists", entity=f"project {pid}")
        return unwrap_items(payload, "worklists")

    def get_annotation_set(self, worklist_id: str) -> dict[str, Any]:
        """Fetch one full worklist (``GET /annotationsets/{id}``).

        Args:
            worklist_id: Worklist (annotation set) UUID.

        Returns:
            The worklist record, with ``annotations`` (the specs).

        Raises:
            ItemNotFoundError: If the server has no such worklist.
            DatamintException: The mapped error of another failure.
        """
        wid = check_id(worklist_id, "worklist")
        return self._get_object(f"/annotationsets/{wid}", entity=f"worklist {wid}")

    def get_segmentation_group(self, worklist_id: str) -> dict[str, Any]:
        """Fetch a worklist's segmentation group (``GET /annotationsets/{id}/segmentation-group``).

        Args:
            worklist_id: Worklist UUID.

        Returns:
            ``{"groups": {name: {"index": int (1-based), "color": [r, g, b, a]}}}``; an
            empty body gives ``{"groups": {}}``.

        Raises:
            ItemNotFoundError: If the server has no such worklist.
            DatamintException: The mapped error of another failure.
        """
        wid = check_id(worklist_id, "worklist")
        payload = self._get_json(
            f"/annotationsets/{wid}/segmentation-group", entity=f"worklist {wid}"
        )
        if payload is None:
            return {"groups": {}}
        if not isinstance(payload, dict):
            raise DatamintException(
                f"the segmentation group of worklist {wid} is not a JSON object: {payload!r:.200}"
            )
        return payload
