"""Project records, their resource lists and their live counts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from datamint.exceptions import EntityAlreadyExistsError
from datamint.server.store.db import Database
from datamint.server.store.resources import dumps
from datamint.server.store.users import UsersRepo
from datamint.server.store.worklists import WorklistsRepo

__all__ = ["ProjectsRepo", "project_owner"]


def project_owner(record: dict[str, Any]) -> str:
    """Return the owner of a project record: its ``created_by``, stripped and lower-cased.

    Args:
        record: A Project record.

    Returns:
        The owner's email, or ``""`` when the record names no creator.
    """
    return str(record.get("created_by") or "").strip().lower()


class ProjectsRepo:
    """Projects, the resources they hold, and their members.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _record(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(row["record"])
        count = conn.execute(
            "SELECT COUNT(*) FROM project_resources pr JOIN resources r ON r.id = pr.resource_id "
            "WHERE pr.project_id = ? AND r.deleted = 0",
            (row["id"],),
        ).fetchone()[0]
        record["resource_count"] = int(count)
        return record

    @staticmethod
    def upsert(conn: sqlite3.Connection, record: dict[str, Any]) -> None:
        """Insert or replace a project record inside an open write transaction.

        Names are unique per owner (the lower-cased ``created_by``): two users may each
        have a project of the same name, and a clash never names another user's project.

        Args:
            conn: A connection inside a write transaction.
            record: The Project record (``id`` and ``name`` required); ``resource_count``
                is computed when read and is not stored.

        Raises:
            EntityAlreadyExistsError: If the owner has another project with the same name.
        """
        stored = {k: v for k, v in record.items() if k != "resource_count"}
        owner = project_owner(record)
        try:
            conn.execute(
                "INSERT INTO projects (id, name, owner, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, owner = excluded.owner, "
                "record = excluded.record",
                (record["id"], record["name"], owner, dumps(stored)),
            )
        except sqlite3.IntegrityError:
            whose = f"{owner} already has" if owner else "the store already holds"
            raise EntityAlreadyExistsError(
                f"project name {record['name']!r} is already used: {whose} a project of that name"
            ) from None

    @staticmethod
    def link_resources(
        conn: sqlite3.Connection, project_id: str, resource_ids: Sequence[str]
    ) -> int:
        """Add resources to a project after its last one (inside a transaction; idempotent).

        Args:
            conn: A connection inside a write transaction.
            project_id: The project's id.
            resource_ids: Existing resource ids, in the order to list them.

        Returns:
            How many were newly added.
        """
        start = conn.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM project_resources WHERE project_id = ?",
            (project_id,),
        ).fetchone()[0]
        added = 0
        for rid in dict.fromkeys(resource_ids):
            cursor = conn.execute(
                "INSERT OR IGNORE INTO project_resources (project_id, resource_id, position) "
                "VALUES (?, ?, ?)",
                (project_id, rid, start + added),
            )
            added += cursor.rowcount
        return added

    def create(
        self,
        record: dict[str, Any],
        members: Iterable[str],
        resource_ids: Sequence[str] = (),
        worklist: tuple[dict[str, Any], dict[str, Any] | None] | None = None,
    ) -> None:
        """Create a project with its members, resources and first worklist, atomically.

        Args:
            record: The new Project record.
            members: Normalised member emails.
            resource_ids: Existing resources to put in it.
            worklist: ``(record, groups)`` of a worklist to create with it, or ``None``.

        Raises:
            EntityAlreadyExistsError: If the name or the id is taken.
        """
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM projects WHERE id = ?", (record["id"],)).fetchone():
                raise EntityAlreadyExistsError(f"project {record['id']} already exists")
            self.upsert(conn, record)
            UsersRepo.insert_members(conn, record["id"], members)
            self.link_resources(conn, record["id"], resource_ids)
            if worklist is not None:
                WorklistsRepo.upsert(conn, record["id"], worklist[0], worklist[1])

    def add_resources(self, project_id: str, resource_ids: Sequence[str]) -> int:
        """Add resources to a project in one transaction (idempotent).

        Args:
            project_id: The project's id.
            resource_ids: Existing resource ids.

        Returns:
            How many were newly added.
        """
        with self.db.write() as conn:
            return self.link_resources(conn, project_id, resource_ids)

    def get(self, project_id: str) -> dict[str, Any] | None:
        """Return one Project record with a live ``resource_count``, or ``None``.

        Args:
            project_id: The project's id.

        Returns:
            The record, or ``None`` when unknown.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id, record FROM projects WHERE id = ?", (project_id,)
            ).fetchone()
            return None if row is None else self._record(conn, row)

    def list(self, project_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Return the Project records with these ids, ordered by name then id.

        Args:
            project_ids: Ids to return (unknown ones are skipped).

        Returns:
            Project records with a live ``resource_count`` (non-deleted resources).
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, record FROM projects WHERE id IN (SELECT value FROM json_each(?)) "
                "ORDER BY name, id",
                (json.dumps(sorted(set(project_ids))),),
            ).fetchall()
            return [self._record(conn, row) for row in rows]

    def id_by_name(self, name: str) -> str | None:
        """Return the id of a project called ``name`` (exact match), or ``None``.

        Names are unique per owner only; this store-wide lookup (used by the importers,
        which keep one project per name) returns the first such id in sort order.

        Args:
            name: Project name.

        Returns:
            The project id, or ``None``.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id FROM projects WHERE name = ? ORDER BY id LIMIT 1", (name,)
            ).fetchone()
        return None if row is None else str(row["id"])

    def ids_by_name(self, names: Iterable[str], among: Iterable[str]) -> dict[str, str]:
        """Resolve project names to ids, among the given projects only.

        Args:
            names: Project names.
            among: Project ids the caller may see.

        Returns:
            ``{name: id}`` for the names found.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT name, id FROM projects WHERE name IN (SELECT value FROM json_each(?)) "
                "AND id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(names)), json.dumps(sorted(set(among)))),
            ).fetchall()
        return {str(row["name"]): str(row["id"]) for row in rows}

    def resource_ids(self, project_id: str) -> list[str]:
        """Return the ids of every resource of a project (deleted ones too), in order.

        Args:
            project_id: The project's id.

        Returns:
            Resource ids.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT resource_id FROM project_resources WHERE project_id = ? ORDER BY position",
                (project_id,),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def update(self, project_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Apply ``changes`` to a project record in one transaction.

        Args:
            project_id: The project's id.
            changes: Keys to set (e.g. ``name``, ``description``, ``archived``).

        Returns:
            The updated record with a live ``resource_count``, or ``None`` when unknown.

        Raises:
            EntityAlreadyExistsError: If the new name is used by another project.
        """
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT id, record FROM projects WHERE id = ?", (project_id,)
            ).fetchone()
            if row is None:
                return None
            self.upsert(conn, {**json.loads(row["record"]), **changes})
        return self.get(project_id)

    def id_by_dataset(self, dataset_id: str) -> str | None:
        """Return the id of the project whose ``dataset_id`` (or id) is ``dataset_id``.

        Args:
            dataset_id: A canonical UUID.

        Returns:
            The project id, or ``None``.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id FROM projects WHERE json_extract(record, '$.dataset_id') = ? "
                "OR (id = ? AND json_extract(record, '$.dataset_id') IS NULL) ORDER BY id",
                (dataset_id, dataset_id),
            ).fetchone()
        return None if row is None else str(row["id"])
