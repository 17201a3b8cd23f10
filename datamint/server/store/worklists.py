"""Worklists (annotation sets) and their segmentation groups."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from datamint.server.store.annotations import AnnotationsRepo
from datamint.server.store.db import Database
from datamint.server.store.resources import dumps
from datamint.server.timeutil import format_us, now_us

__all__ = ["WorklistsRepo"]


class WorklistsRepo:
    """Worklist records, each belonging to one project.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def upsert(
        conn: sqlite3.Connection,
        project_id: str,
        record: dict[str, Any],
        groups: dict[str, Any] | None,
        position: int | None = None,
    ) -> None:
        """Insert or replace a worklist inside an open write transaction.

        Args:
            conn: A connection inside a write transaction.
            project_id: The owning project.
            record: The full worklist record (``id``, ``name``, ``annotators``, ...).
            groups: ``{name: {"index", "color"}}`` or ``None``.
            position: Listing position; after the project's last worklist when ``None``.
        """
        if position is None:
            row = conn.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM worklists WHERE project_id = ?",
                (project_id,),
            ).fetchone()
            existing = conn.execute(
                "SELECT position FROM worklists WHERE id = ?", (record["id"],)
            ).fetchone()
            position = int(existing[0] if existing is not None else row[0])
        conn.execute(
            "INSERT INTO worklists (id, project_id, record, segmentation_group, position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "project_id = excluded.project_id, record = excluded.record, "
            "segmentation_group = excluded.segmentation_group, position = excluded.position",
            (
                record["id"],
                project_id,
                dumps(record),
                None if groups is None else json.dumps(groups),
                position,
            ),
        )

    def save(self, project_id: str, record: dict[str, Any], groups: dict[str, Any] | None) -> None:
        """Insert or replace one worklist in its own transaction.

        Args:
            project_id: The owning project.
            record: The full worklist record.
            groups: Its segmentation group, or ``None``.
        """
        with self.db.write() as conn:
            self.upsert(conn, project_id, record, groups)

    def for_project(self, project_id: str) -> list[dict[str, Any]]:
        """Return the full worklist records of a project, in listing order.

        Args:
            project_id: The project's id.

        Returns:
            Worklist records (``id``, ``name``, ``annotators``, ``annotations``, ...).
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT record FROM worklists WHERE project_id = ? ORDER BY position, id",
                (project_id,),
            ).fetchall()
        return [json.loads(row["record"]) for row in rows]

    def get(self, worklist_id: str) -> tuple[dict[str, Any], dict[str, Any] | None, str] | None:
        """Return a worklist, its segmentation group and its project id.

        Args:
            worklist_id: The worklist's id.

        Returns:
            ``(record, groups or None, project_id)``, or ``None`` when unknown.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT record, segmentation_group, project_id FROM worklists WHERE id = ?",
                (worklist_id,),
            ).fetchone()
        if row is None:
            return None
        group = None if row["segmentation_group"] is None else json.loads(row["segmentation_group"])
        return json.loads(row["record"]), group, str(row["project_id"])

    def set_groups(
        self,
        worklist_id: str,
        groups: dict[str, Any],
        value_type: str,
        renames: dict[str, str] | None = None,
        email: str = "",
    ) -> list[str]:
        """Replace a worklist's segmentation group, applying renames (one transaction).

        The record's ``segmentation_group`` key is rewritten to match. Each rename
        ``old -> new`` also renames the segmentation annotations labelled ``old`` on the
        worklist's resources (those of the worklist, or without a worklist): each becomes
        a new annotation version (new id, same file, ``replaces`` the old id) and the old
        one is soft-deleted, so caches keyed on annotation ids never see a stale label.

        Args:
            worklist_id: An existing worklist.
            groups: ``{name: {"index": int, "color": [r, g, b, a] or None}}``.
            value_type: ``single_label`` or ``multi_label``.
            renames: ``{old identifier: new identifier}``, already validated.
            email: The user making the change (``deleted_by`` of replaced annotations).

        Returns:
            The ids of the annotation versions created by the renames.
        """
        stamp = format_us(now_us())
        created: list[str] = []
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT record, project_id FROM worklists WHERE id = ?", (worklist_id,)
            ).fetchone()
            record = json.loads(row["record"])
            record["segmentation_group"] = {
                "segmentation_value_type": value_type,
                "groups": groups,
            }
            conn.execute(
                "UPDATE worklists SET record = ?, segmentation_group = ? WHERE id = ?",
                (dumps(record), json.dumps(groups), worklist_id),
            )
            for old, new in (renames or {}).items():
                for aid in self._labelled(conn, record, str(row["project_id"]), old):
                    fresh = AnnotationsRepo.new_version(
                        conn, aid, {"identifier": new}, email, stamp
                    )
                    created.append(fresh["id"])
        return created

    @staticmethod
    def _labelled(
        conn: sqlite3.Connection, record: dict[str, Any], project_id: str, identifier: str
    ) -> list[str]:
        resource_ids = record.get("resource_ids")
        if not resource_ids:
            resource_ids = [
                str(r[0])
                for r in conn.execute(
                    "SELECT resource_id FROM project_resources WHERE project_id = ?",
                    (project_id,),
                )
            ]
        rows = conn.execute(
            "SELECT id, record FROM annotations WHERE deleted = 0 AND type = 'segmentation' "
            "AND resource_id IN (SELECT value FROM json_each(?)) "
            "AND (worklist_id IS NULL OR worklist_id = ?) ORDER BY seq",
            (json.dumps(list(resource_ids)), record["id"]),
        ).fetchall()
        return [
            str(r["id"])
            for r in rows
            if (json.loads(r["record"]).get("identifier") or json.loads(r["record"]).get("name"))
            == identifier
        ]

    def update_record(self, worklist_id: str, record: dict[str, Any]) -> None:
        """Store a changed worklist record, keeping its group and position (one transaction).

        Args:
            worklist_id: An existing worklist.
            record: Its full new record.
        """
        with self.db.write() as conn:
            conn.execute(
                "UPDATE worklists SET record = ? WHERE id = ?", (dumps(record), worklist_id)
            )
