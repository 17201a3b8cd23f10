"""A whole project written in one transaction: what ``datamint import`` produces."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from datamint.server.store.annotations import AnnotationsRepo
from datamint.server.store.db import Database, normalise_email
from datamint.server.store.projects import ProjectsRepo
from datamint.server.store.resources import ResourcesRepo
from datamint.server.store.splits import SplitsRepo
from datamint.server.store.users import UsersRepo
from datamint.server.store.worklists import WorklistsRepo
from datamint.server.timeutil import format_us, now_us

__all__ = ["ProjectBundle", "save_bundle"]


@dataclass
class ProjectBundle:
    """Everything one project import writes, in one transaction.

    Attributes:
        project: The Project record; ``id`` and ``name`` required.
        resources: ``(record, blob_sha256)`` pairs, in listing order.
        annotations: ``(record, blob_sha256 or None)`` pairs, in listing order.
        worklists: ``(record, segmentation_group or None)`` pairs; ``segmentation_group`` is
            the ``{name: {"index", "color"}}`` mapping served by the segmentation-group route.
        splits: split rows ``{id, split_name, resource_id, created_at_us, created_by,
            deleted_at_us, deleted_by}`` (timestamps as integer microseconds).
        members: emails made members of the project.
        retire_resources: ids of stored resources to soft-delete (gone from the source).
        retire_annotations: ids of stored annotations to soft-delete (gone or replaced).
    """

    project: dict[str, Any]
    resources: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    annotations: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    worklists: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    splits: list[dict[str, Any]] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    retire_resources: list[str] = field(default_factory=list)
    retire_annotations: list[str] = field(default_factory=list)


def _retire(conn: Any, table: str, ids: list[str], stamp: str) -> None:
    for entity_id in ids:
        row = conn.execute(
            f"SELECT record, blob_sha256 FROM {table} WHERE id = ? AND deleted = 0", (entity_id,)
        ).fetchone()
        if row is None:
            continue
        record = json.loads(row["record"])
        record.update(deleted_at=stamp, deleted_by=None)
        if table == "resources":
            record["deleted"] = True
            ResourcesRepo.upsert(conn, record, str(row["blob_sha256"]))
        else:
            AnnotationsRepo.upsert(conn, record, row["blob_sha256"])


def save_bundle(db: Database, bundle: ProjectBundle) -> None:
    """Insert or replace a whole project in one transaction (records keyed by id).

    Blobs must have been stored before. Saving the same bundle twice leaves the store as
    after the first save.

    Args:
        db: The store's database.
        bundle: The project, its resources, annotations, worklists, splits and members.

    Raises:
        EntityAlreadyExistsError: If another project has the same name.
        sqlite3.IntegrityError: If a split bundle has two current rows for one resource.
        ValidationError: If a member email is invalid.
    """
    project = bundle.project
    pid = project["id"]
    members = [normalise_email(email) for email in bundle.members]
    with db.write() as conn:
        ProjectsRepo.upsert(conn, project)
        for position, (record, sha) in enumerate(bundle.resources):
            ResourcesRepo.upsert(conn, record, sha)
            conn.execute(
                "INSERT INTO project_resources (project_id, resource_id, position) "
                "VALUES (?, ?, ?) ON CONFLICT(project_id, resource_id) "
                "DO UPDATE SET position = excluded.position",
                (pid, record["id"], position),
            )
        for record, file_sha in bundle.annotations:
            AnnotationsRepo.upsert(conn, record, file_sha)
        for position, (record, group) in enumerate(bundle.worklists):
            WorklistsRepo.upsert(conn, pid, record, group, position)
        for row in bundle.splits:
            SplitsRepo.upsert(conn, pid, row)
        UsersRepo.insert_members(conn, pid, members)
        stamp = format_us(now_us())
        _retire(conn, "annotations", bundle.retire_annotations, stamp)
        _retire(conn, "resources", bundle.retire_resources, stamp)
