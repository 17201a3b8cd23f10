"""Project split assignments: versioned rows, never removed.

Re-assigning a resource soft-deletes its current row and inserts a new one, so
``as_of_timestamp`` replays any past state.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from typing import Any

from datamint.exceptions import ItemNotFoundError
from datamint.server.store.db import Database
from datamint.server.timeutil import format_us, now_us

__all__ = ["SplitsRepo"]


def _split_row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "split_name": row["split_name"],
        "project_id": row["project_id"],
        "resource_id": row["resource_id"],
        "created_at": format_us(row["created_at_us"]),
        "created_by": row["created_by"],
        "deleted_at": None if row["deleted_at_us"] is None else format_us(row["deleted_at_us"]),
        "deleted_by": row["deleted_by"],
    }


class SplitsRepo:
    """Split rows of every project.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def upsert(conn: sqlite3.Connection, project_id: str, row: dict[str, Any]) -> None:
        """Insert or replace one split row (keyed by id) inside an open transaction.

        Args:
            conn: A connection inside a write transaction.
            project_id: The project's id.
            row: ``{id, resource_id, split_name, created_at_us, created_by?,
                deleted_at_us?, deleted_by?}`` (timestamps as integer microseconds).

        Raises:
            sqlite3.IntegrityError: If it would give a resource two current rows.
        """
        conn.execute(
            "INSERT INTO splits (id, project_id, resource_id, split_name, created_at_us, "
            "created_by, deleted_at_us, deleted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET resource_id = excluded.resource_id, "
            "split_name = excluded.split_name, created_at_us = excluded.created_at_us, "
            "created_by = excluded.created_by, deleted_at_us = excluded.deleted_at_us, "
            "deleted_by = excluded.deleted_by",
            (
                row["id"],
                project_id,
                row["resource_id"],
                row["split_name"],
                row["created_at_us"],
                row.get("created_by"),
                row.get("deleted_at_us"),
                row.get("deleted_by"),
            ),
        )

    def list_splits(
        self, project_id: str, *, as_of_us: int | None = None, split_name: str | None = None
    ) -> list[dict[str, Any]]:
        """Return a project's split rows: current ones, or as they stood at an instant.

        Args:
            project_id: The project's id.
            as_of_us: When given (microseconds since the epoch, UTC), the rows with
                ``created_at <= T`` and (``deleted_at`` null or ``> T``); otherwise the rows
                with ``deleted_at`` null.
            split_name: When given, only rows of that split.

        Returns:
            Split rows ``{id, split_name, project_id, resource_id, created_at, created_by,
            deleted_at, deleted_by}``, ordered by ``created_at`` then id.
        """
        sql = "SELECT * FROM splits WHERE project_id = ?"
        params: list[Any] = [project_id]
        if as_of_us is None:
            sql += " AND deleted_at_us IS NULL"
        else:
            sql += " AND created_at_us <= ? AND (deleted_at_us IS NULL OR deleted_at_us > ?)"
            params += [as_of_us, as_of_us]
        if split_name is not None:
            sql += " AND split_name = ?"
            params.append(split_name)
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY created_at_us, id", params).fetchall()
        return [_split_row(row) for row in rows]

    def current_split(self, project_id: str, resource_id: str) -> dict[str, Any] | None:
        """Return the current split row of one resource, or ``None`` when unassigned.

        Args:
            project_id: The project's id.
            resource_id: The resource's id.

        Returns:
            The split row, or ``None``.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM splits WHERE project_id = ? AND resource_id = ? "
                "AND deleted_at_us IS NULL",
                (project_id, resource_id),
            ).fetchone()
        return None if row is None else _split_row(row)

    def assign_split(
        self, project_id: str, resource_ids: Iterable[str], split_name: str, email: str
    ) -> list[dict[str, Any]]:
        """Assign resources to a split, versioning their rows, atomically.

        Each resource's current row, if any, is soft-deleted (``deleted_at``, ``deleted_by``)
        and a new row inserted, stamped with the same instant. That instant is strictly
        later than every timestamp already in the project's split rows, so snapshots
        (``as_of``) taken before it never see the new rows.

        Args:
            project_id: The project's id.
            resource_ids: Resources of that project (duplicates are ignored); may be empty.
            split_name: Name of the split, e.g. ``"train"``.
            email: The user making the assignment (``created_by`` / ``deleted_by``).

        Returns:
            The new rows, in request order.

        Raises:
            ItemNotFoundError: If a resource is not in the project; nothing is changed.
        """
        wanted = list(dict.fromkeys(resource_ids))
        created: list[dict[str, Any]] = []
        with self.db.write() as conn:
            for rid in wanted:
                hit = conn.execute(
                    "SELECT 1 FROM project_resources WHERE project_id = ? AND resource_id = ?",
                    (project_id, rid),
                ).fetchone()
                if hit is None:
                    raise ItemNotFoundError(f"resource {rid} not found in project {project_id}")
            if not wanted:
                return created
            latest = conn.execute(
                "SELECT MAX(MAX(created_at_us), COALESCE(MAX(deleted_at_us), 0)) "
                "FROM splits WHERE project_id = ?",
                (project_id,),
            ).fetchone()[0]
            stamp = max(now_us(), (latest or 0) + 1)
            for rid in wanted:
                conn.execute(
                    "UPDATE splits SET deleted_at_us = ?, deleted_by = ? "
                    "WHERE project_id = ? AND resource_id = ? AND deleted_at_us IS NULL",
                    (stamp, email, project_id, rid),
                )
                row_id = str(uuid.uuid4())
                conn.execute(
                    "INSERT INTO splits (id, project_id, resource_id, split_name, created_at_us, "
                    "created_by) VALUES (?, ?, ?, ?, ?, ?)",
                    (row_id, project_id, rid, split_name, stamp, email),
                )
                created.append(
                    {
                        "id": row_id,
                        "split_name": split_name,
                        "project_id": project_id,
                        "resource_id": rid,
                        "created_at": format_us(stamp),
                        "created_by": email,
                        "deleted_at": None,
                        "deleted_by": None,
                    }
                )
        return created
