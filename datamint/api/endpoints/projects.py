"""Project endpoints: ``GET /projects`` (all pages), one project, a project by name, and
a project's resources."""

from __future__ import annotations

from typing import Any

from datamint.api.connection import Connection, check_id
from datamint.exceptions import ItemNotFoundError
from datamint.storage.record_table import RecordTable

__all__ = ["MAX_NAMES_IN_ERROR", "ProjectEndpoints"]

MAX_NAMES_IN_ERROR = 10
"""Most project names listed when a name matches none."""


class ProjectEndpoints(Connection):
    """The project methods of :class:`~datamint.api.client.Api`."""

    def get_projects(self, include_archived: bool = True) -> list[dict[str, Any]]:
        """List the projects, all pages (``GET /projects``).

        Args:
            include_archived: Also list archived projects (``includeArchived=true``).

        Returns:
            Project records.

        Raises:
            DatamintException: The mapped error of a failed request.
        """
        params = {"includeArchived": True} if include_archived else {}
        return self._get_paged("/projects", "projects", params=params)

    def get_project(self, project_id: str) -> dict[str, Any]:
        """Fetch one project (``GET /projects/{id}``).

        Args:
            project_id: Project UUID.

        Returns:
            The project record.

        Raises:
            ItemNotFoundError: If the server has no such project.
            ValidationError: If the id is not a safe path component.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        return self._get_object(f"/projects/{pid}", entity=f"project {pid}")

    def get_project_by_name(self, name: str) -> dict[str, Any]:
        """Find a project by exact name, archived ones included.

        Args:
            name: The project name, compared exactly (case and spaces count).

        Returns:
            The first project whose ``name`` equals ``name``.

        Raises:
            ItemNotFoundError: If none matches; the message lists up to 10 available names.
            DatamintException: The mapped error of a failed request.
        """
        projects = self.get_projects(include_archived=True)
        for project in projects:
            if project.get("name") == name:
                return project
        names = sorted({str(p.get("name")) for p in projects})
        shown = ", ".join(repr(n) for n in names[:MAX_NAMES_IN_ERROR])
        more = (
            f" and {len(names) - MAX_NAMES_IN_ERROR} more"
            if len(names) > MAX_NAMES_IN_ERROR
            else ""
        )
        raise ItemNotFoundError(
            f"project {name!r} not found on {self.server_url}. "
            + (f"Available projects: {shown}{more}." if names else "This key sees no project.")
        )

    def get_project_resources(self, project_id: str) -> RecordTable:
        """List every resource of a project (``GET /projects/{id}/resources``, not paged).

        The server sends one bare array; it is read element by element as it arrives
        and kept as compact JSON texts, so a project of 500 000 resources never exists
        as one string or as a list of dicts (see :mod:`datamint.api.json_stream`).

        Args:
            project_id: Project UUID.

        Returns:
            Resource records, in server order: a
            :class:`~datamint.storage.record_table.RecordTable` (a sequence of dicts,
            each decoded when indexed).

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure, or a list that is not
                JSON objects.
        """
        pid = check_id(project_id, "project")
        return self._get_records(f"/projects/{pid}/resources", "resources", entity=f"project {pid}")
