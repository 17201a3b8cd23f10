"""Split endpoints: a project's split rows (current or as of an instant), assigning
resources to a split, and one resource's split."""

from __future__ import annotations

from typing import Any

from datamint.api.connection import Connection, check_id
from datamint.api.paging import unwrap_items
from datamint.exceptions import ItemNotFoundError

__all__ = ["SplitEndpoints"]


class SplitEndpoints(Connection):
    """The split methods of :class:`~datamint.api.client.Api`."""

    def get_project_splits(
        self,
        project_id: str,
        *,
        split_name: str | None = None,
        as_of_timestamp: str | None = None,
    ) -> list[dict[str, Any]]:
        """List a project's split assignments (``GET /projects/{id}/splits``).

        Args:
            project_id: Project UUID.
            split_name: Only rows of this split; not sent when ``None``.
            as_of_timestamp: ISO-8601 UTC instant, passed through verbatim: the rows as
                they stood then. Not sent when ``None`` (current rows).

        Returns:
            Split rows ``{id, split_name, project_id, resource_id, created_at, ...}``.

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        params = {"split_name": split_name, "as_of_timestamp": as_of_timestamp}
        payload = self._get_json(f"/projects/{pid}/splits", params=params, entity=f"project {pid}")
        return unwrap_items(payload, "splits")

    def assign_split(self, project_id: str, resource_ids: list[str], split_name: str) -> None:
        """Assign resources to a split (``POST /projects/{id}/splits``); never retried.

        The request is sent even when ``resource_ids`` is empty.

        Args:
            project_id: Project UUID.
            resource_ids: Resources to assign.
            split_name: Split name, e.g. ``"train"``.

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        self._request(
            "POST",
            f"/projects/{pid}/splits",
            json_body={"resource_ids": list(resource_ids), "split_name": split_name},
            entity=f"project {pid}",
        )

    def get_resource_split(self, project_id: str, resource_id: str) -> dict[str, Any] | None:
        """Fetch a resource's current split row (``GET /projects/{pid}/resources/{rid}/split``).

        Args:
            project_id: Project UUID.
            resource_id: Resource UUID.

        Returns:
            The split row, or ``None`` when the server answers 404 or an empty body.

        Raises:
            DatamintException: The mapped error of a failure other than 404.
        """
        pid = check_id(project_id, "project")
        rid = check_id(resource_id, "resource")
        try:
            payload = self._get_json(
                f"/projects/{pid}/resources/{rid}/split", entity=f"split of resource {rid}"
            )
        except ItemNotFoundError:
            return None
        return payload or None
