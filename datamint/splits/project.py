"""Project splits kept on the server, replayable at any past instant."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datamint.api.reader import ProjectReader

__all__ = ["project_assignments", "utc_now_iso"]


def utc_now_iso() -> str:
    """Now in UTC as ISO-8601 with microseconds and ``Z``, e.g. ``2026-11-21T14:53:43.660946Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def project_assignments(
    api: ProjectReader, project_id: str, as_of_timestamp: str | None
) -> dict[str, str]:
    """Map resource id -> split name from ``GET /projects/{pid}/splits``.

    Args:
        api: The client (online, offline or recording).
        project_id: The project.
        as_of_timestamp: Passed through verbatim; None asks for the current rows.

    Returns:
        resource id -> split name (rows without a resource id are ignored).
    """
    rows = api.get_project_splits(project_id, as_of_timestamp=as_of_timestamp)
    return {str(r["resource_id"]): str(r["split_name"]) for r in rows if r.get("resource_id")}
