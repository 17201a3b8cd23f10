"""Resource records: who may see them, their reads and their writes.

A resource is visible to a user when it belongs to one of the user's projects, or when the
user uploaded it (``owner``; imported resources have none). Filtered listings live in
:mod:`.resource_search`; they return ``seq`` numbers that :meth:`ResourcesRepo.records_by_seq`
turns into records.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from datamint.server.store.db import Database
from datamint.server.timeutil import format_us, to_us

__all__ = ["INSERT_SQL", "ResourcesRepo", "Visibility", "dumps"]

#: Inserts one resource row; values from :meth:`ResourcesRepo.row_values`.
INSERT_SQL = (
    "INSERT INTO resources (id, record, blob_sha256, owner, deleted, status, modality_lc, "
    "mimetype_lc, filename, channel, created_at_us, created_by, published_by, published_on) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def dumps(record: dict[str, Any]) -> str:
    """Serialise a record the way it is stored and sent (compact JSON).

    Args:
        record: A JSON-compatible dict.

    Returns:
        Compact JSON text.
    """
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _us(value: Any) -> int | None:
    try:
        return None if value is None else to_us(str(value))
    except ValueError:
        return None


def _lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


@dataclass(frozen=True)
class Visibility:
    """What one user may see: their email and the ids of their projects.

    Attributes:
        email: The authenticated user (lower case).
        project_ids: Ids of the projects the user is a member of.
    """

    email: str
    project_ids: frozenset[str]

    def resource_clause(self, alias: str) -> tuple[str, list[Any]]:
        """SQL condition "resource ``alias`` is visible", with its parameters."""
        return (
            f"({alias}.owner = ? OR EXISTS (SELECT 1 FROM project_resources vis "
            f"WHERE vis.resource_id = {alias}.id "
            "AND vis.project_id IN (SELECT value FROM json_each(?))))",
            [self.email, json.dumps(sorted(self.project_ids))],
        )

    def resource_ids_sql(self) -> tuple[str, list[Any]]:
        """SQL selecting the ids of every visible resource, with its parameters."""
        return (
            "SELECT id FROM resources WHERE owner = ? UNION SELECT resource_id FROM "
            "project_resources WHERE project_id IN (SELECT value FROM json_each(?))",
            [self.email, json.dumps(sorted(self.project_ids))],
        )


class ResourcesRepo:
    """Resource records and their files' hashes.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes (inside a caller's transaction) ------------------------------------------

    @staticmethod
    def row_values(record: dict[str, Any], sha: str, owner: str | None = None) -> tuple[Any, ...]:
        """Return the column values of a resource row, in :data:`INSERT_SQL` order.

        Args:
            record: The full Resource record.
            sha: The blob hash of its file.
            owner: The uploader, or ``None``.

        Returns:
            A tuple for ``INSERT_SQL``.
        """
        return (
            record["id"],
            dumps(record),
            sha,
            owner,
            int(bool(record.get("deleted"))),
            record.get("status"),
            _lower(record.get("modality")),
            _lower(record.get("mimetype")),
            record.get("filename"),
            record.get("upload_channel"),
            _us(record.get("created_at")),
            record.get("created_by"),
            record.get("published_by"),
            record.get("published_on"),
        )

    @staticmethod
    def upsert(
        conn: sqlite3.Connection, record: dict[str, Any], sha: str, owner: str | None = None
    ) -> None:
        """Insert or replace a resource (keyed by id; its ``seq`` is kept) and its tags.

        Args:
            conn: A connection inside a write transaction.
            record: The full Resource record.
            sha: The blob hash of its file.
            owner: The uploader, who sees it outside projects; ``None`` keeps the stored one.
        """
        conn.execute(
            INSERT_SQL + " ON CONFLICT(id) DO UPDATE SET record = excluded.record, "
            "blob_sha256 = excluded.blob_sha256, owner = COALESCE(excluded.owner, owner), "
            "deleted = excluded.deleted, status = excluded.status, "
            "modality_lc = excluded.modality_lc, mimetype_lc = excluded.mimetype_lc, "
            "filename = excluded.filename, channel = excluded.channel, "
            "created_at_us = excluded.created_at_us, created_by = excluded.created_by, "
            "published_by = excluded.published_by, published_on = excluded.published_on",
            ResourcesRepo.row_values(record, sha, owner),
        )
        conn.execute("DELETE FROM resource_tags WHERE resource_id = ?", (record["id"],))
        tags = dict.fromkeys(str(tag) for tag in record.get("tags") or [])
        conn.executemany(
            "INSERT INTO resource_tags (resource_id, tag) VALUES (?, ?)",
            [(record["id"], tag) for tag in tags],
        )

    def modify(
        self,
        resource_ids: Sequence[str],
        change: Callable[[dict[str, Any]], bool],
        *,
        sha: str | None = None,
    ) -> list[str]:
        """Apply ``change`` to resources in one transaction; store those it changed.

        Args:
            resource_ids: Ids of existing resources (unknown ones are skipped).
            change: Mutates a record in place; returns whether it changed anything.
            sha: New blob hash for every changed resource (a replaced file).

        Returns:
            Ids of the resources that changed, in request order.
        """
        changed: list[str] = []
        with self.db.write() as conn:
            for rid in dict.fromkeys(resource_ids):
                row = conn.execute(
                    "SELECT record, blob_sha256 FROM resources WHERE id = ?", (rid,)
                ).fetchone()
                if row is None:
                    continue
                record = json.loads(row["record"])
                if change(record):
                    self.upsert(conn, record, sha or str(row["blob_sha256"]))
                    changed.append(rid)
        return changed

    # -- reads ---------------------------------------------------------------------------

    def get(self, resource_id: str) -> tuple[dict[str, Any], str, list[str], str | None] | None:
        """Return a resource with its blob hash, its project ids and its owner.

        Args:
            resource_id: The resource's id.

        Returns:
            ``(record, blob_sha256, [project_id, ...], owner)``, or ``None`` when unknown.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT record, blob_sha256, owner FROM resources WHERE id = ?", (resource_id,)
            ).fetchone()
            if row is None:
                return None
            projects = conn.execute(
                "SELECT project_id FROM project_resources WHERE resource_id = ?", (resource_id,)
            ).fetchall()
        return (
            json.loads(row["record"]),
            str(row["blob_sha256"]),
            [str(p["project_id"]) for p in projects],
            row["owner"],
        )

    def get_many(self, resource_ids: Iterable[str]) -> dict[str, tuple[dict[str, Any], str]]:
        """Return the stored records and blob hashes of these ids (unknown ones are absent).

        Args:
            resource_ids: Ids to look up.

        Returns:
            ``{id: (record, blob_sha256)}``.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, record, blob_sha256 FROM resources "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(resource_ids)),),
            ).fetchall()
        return {row["id"]: (json.loads(row["record"]), str(row["blob_sha256"])) for row in rows}

    def visible_ids(self, visibility: Visibility, resource_ids: Iterable[str]) -> set[str]:
        """Return which of ``resource_ids`` exist and are visible to the user.

        Args:
            visibility: The user's visibility.
            resource_ids: Canonical ids.

        Returns:
            The visible subset.
        """
        sql, params = visibility.resource_ids_sql()
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT value FROM json_each(?) WHERE value IN ({sql})",
                [json.dumps(list(resource_ids)), *params],
            ).fetchall()
        return {str(row[0]) for row in rows}

    def project_records_json(self, project_id: str, *, include_deleted: bool = False) -> list[str]:
        """Return a project's Resource records as stored JSON texts, in project order.

        Args:
            project_id: The project's id.
            include_deleted: Also return soft-deleted resources.

        Returns:
            JSON texts (one Resource object each).
        """
        sql = (
            "SELECT r.record FROM project_resources pr JOIN resources r ON r.id = pr.resource_id "
            "WHERE pr.project_id = ?"
        )
        if not include_deleted:
            sql += " AND r.deleted = 0"
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY pr.position", (project_id,)).fetchall()
        return [str(row[0]) for row in rows]

    def project_records(
        self, project_id: str, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Return a project's Resource records, parsed, in project order.

        Args:
            project_id: The project's id.
            include_deleted: Also return soft-deleted resources.

        Returns:
            Resource records.
        """
        return [
            json.loads(text)
            for text in self.project_records_json(project_id, include_deleted=include_deleted)
        ]

    def records_by_seq(self, seqs: Sequence[int]) -> list[str]:
        """Return stored JSON texts for these seqs, in the given order.

        Args:
            seqs: Seqs from :func:`.resource_search.search_seqs`.

        Returns:
            JSON texts (rows removed meanwhile are skipped).
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT r.record FROM json_each(?) j JOIN resources r ON r.seq = j.value "
                "ORDER BY j.key",
                (json.dumps(list(seqs)),),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def channels(self, visibility: Visibility) -> list[dict[str, Any]]:
        """Return the upload channels of the visible, non-deleted resources.

        Args:
            visibility: The user's visibility.

        Returns:
            ``[{channel_name, resource_count, created_at}]`` sorted by name; ``created_at``
            is that of the channel's earliest resource.
        """
        visible_sql, params = visibility.resource_ids_sql()
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT channel, COUNT(*) AS n, MIN(created_at_us) AS first FROM resources "
                f"WHERE id IN ({visible_sql}) AND deleted = 0 AND channel IS NOT NULL "
                "GROUP BY channel ORDER BY channel",
                params,
            ).fetchall()
        return [
            {
                "channel_name": row["channel"],
                "resource_count": int(row["n"]),
                "created_at": None if row["first"] is None else format_us(row["first"]),
            }
            for row in rows
        ]
