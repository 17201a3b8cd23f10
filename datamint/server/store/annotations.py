"""Annotation records: search, soft deletes and replaced segmentation files.

An annotation is visible when its resource is (:class:`~.resources.Visibility`). Searches
return ``seq`` values in insertion order, like resource listings. Editing a segmentation's
file never rewrites the annotation in place: the edit is a new annotation (new id, new
``associated_file``, new ``created_at``) and the old one is soft-deleted.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from datamint.server.store.db import Database
from datamint.server.store.resources import Visibility, dumps
from datamint.server.timeutil import format_us, now_us, to_us

__all__ = ["INSERT_SQL", "AnnotationFilter", "AnnotationsRepo", "blob_location"]


#: Inserts one annotation row; values from :meth:`AnnotationsRepo.row_values`.
INSERT_SQL = (
    "INSERT INTO annotations (id, resource_id, record, blob_sha256, deleted, type, "
    "created_by_lc, status, source, worklist_id, created_at_us) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def blob_location(sha: str) -> str:
    """Return the store-relative location of a blob, as sent in ``associated_file``.

    Args:
        sha: The blob's sha256.

    Returns:
        ``blobs/<sha[:2]>/<sha>``.
    """
    return f"blobs/{sha[:2]}/{sha}"


def _us(value: Any) -> int | None:
    try:
        return None if value is None else to_us(str(value))
    except ValueError:
        return None


@dataclass
class AnnotationFilter:
    """Filters of ``POST /annotations/search``, already validated.

    Attributes:
        resource_ids: Only annotations on these resources; ``None`` means any.
        annotation_type: Exact ``type``.
        annotator: ``created_by``, case-insensitive.
        status: Exact ``status``.
        source: Exact ``source``.
        worklist_id: Exact ``annotation_worklist_id``.
        project_ids: Only annotations on resources of these projects (``dataset_id``).
        from_us: Earliest ``created_at`` (inclusive), microseconds since the epoch.
        to_us: Latest ``created_at`` (exclusive).
        deleted: ``exclude``, ``include`` or ``only``.
    """

    resource_ids: list[str] | None = None
    annotation_type: str | None = None
    annotator: str | None = None
    status: str | None = None
    source: str | None = None
    worklist_id: str | None = None
    project_ids: list[str] | None = None
    from_us: int | None = None
    to_us: int | None = None
    deleted: str = "exclude"


class AnnotationsRepo:
    """Annotation records and the hashes of their files.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def row_values(record: dict[str, Any], sha: str | None) -> tuple[Any, ...]:
        """Return the column values of an annotation row, in :data:`INSERT_SQL` order.

        Args:
            record: The full Annotation record.
            sha: The blob hash of its file, or ``None``.

        Returns:
            A tuple for ``INSERT_SQL``.
        """
        return (
            record["id"],
            record["resource_id"],
            dumps(record),
            sha,
            int(record.get("deleted_at") is not None),
            record.get("type"),
            None if record.get("created_by") is None else str(record["created_by"]).lower(),
            record.get("status"),
            record.get("source"),
            record.get("annotation_worklist_id"),
            _us(record.get("created_at")),
        )

    @staticmethod
    def upsert(conn: sqlite3.Connection, record: dict[str, Any], sha: str | None) -> None:
        """Insert or replace an annotation (keyed by id; its ``seq`` is kept).

        Args:
            conn: A connection inside a write transaction.
            record: The full Annotation record.
            sha: The blob hash of its file, or ``None`` for annotations without a file.
        """
        conn.execute(
            INSERT_SQL + " ON CONFLICT(id) DO UPDATE SET "
            "resource_id = excluded.resource_id, record = excluded.record, "
            "blob_sha256 = excluded.blob_sha256, deleted = excluded.deleted, "
            "type = excluded.type, created_by_lc = excluded.created_by_lc, "
            "status = excluded.status, source = excluded.source, "
            "worklist_id = excluded.worklist_id, created_at_us = excluded.created_at_us",
            AnnotationsRepo.row_values(record, sha),
        )

    def create_many(self, records: Sequence[dict[str, Any]]) -> list[str]:
        """Insert new annotations (without files) in one transaction.

        Args:
            records: Full Annotation records with fresh ids.

        Returns:
            Their ids, in order.
        """
        with self.db.write() as conn:
            for record in records:
                self.upsert(conn, record, None)
        return [record["id"] for record in records]

    def get(self, annotation_id: str) -> tuple[dict[str, Any], str | None] | None:
        """Return an annotation and its blob hash.

        Args:
            annotation_id: The annotation's id.

        Returns:
            ``(record, blob_sha256 or None)``, or ``None`` when unknown.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT record, blob_sha256 FROM annotations WHERE id = ?", (annotation_id,)
            ).fetchone()
        return None if row is None else (json.loads(row["record"]), row["blob_sha256"])

    def on_resources(
        self, resource_ids: Iterable[str], *, include_deleted: bool = True
    ) -> list[dict[str, Any]]:
        """Return every annotation on these resources, in insertion order.

        Args:
            resource_ids: Resource ids.
            include_deleted: Also return soft-deleted annotations.

        Returns:
            Annotation records.
        """
        sql = "SELECT record FROM annotations WHERE resource_id IN (SELECT value FROM json_each(?))"
        if not include_deleted:
            sql += " AND deleted = 0"
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY seq", (json.dumps(list(resource_ids)),)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def attach_file(
        self, annotation_id: str, sha: str, size: int, file_name: str, email: str
    ) -> dict[str, Any]:
        """Give an annotation its file; a replaced file makes a new annotation.

        An annotation without a file gets it in place. One that already has a file is
        soft-deleted (``deleted_at``, ``deleted_by``) and a copy with a new id, the new
        file and a new ``created_at`` is inserted, in the same transaction.

        Args:
            annotation_id: An existing annotation.
            sha: Blob hash of the new file.
            size: Its size in bytes.
            file_name: The uploaded file's name (kept as ``file``).
            email: The user making the change.

        Returns:
            The annotation record now current (the copy when one was made).

        Raises:
            KeyError: If the annotation does not exist.
        """
        stamp = format_us(now_us())
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT record, blob_sha256 FROM annotations WHERE id = ?", (annotation_id,)
            ).fetchone()
            if row is None:
                raise KeyError(annotation_id)
            record = json.loads(row["record"])
            if row["blob_sha256"] is not None:
                old = dict(record, deleted_at=stamp, deleted_by=email)
                self.upsert(conn, old, row["blob_sha256"])
                record = dict(record, id=str(uuid.uuid4()), created_at=stamp, replaces=old["id"])
            record.update(file=file_name, associated_file=blob_location(sha), sha256=sha, size=size)
            self.upsert(conn, record, sha)
        return record

    @staticmethod
    def new_version(
        conn: sqlite3.Connection,
        annotation_id: str,
        changes: dict[str, Any],
        email: str,
        stamp: str,
    ) -> dict[str, Any]:
        """Replace an annotation by a new version inside an open transaction.

        The old row is soft-deleted (``deleted_at``, ``deleted_by``); a copy with a new
        id, a new ``created_at``, ``replaces`` naming the old id and ``changes`` applied
        is inserted. Its file (``associated_file``, blob) is shared with the old row.

        Args:
            conn: A connection inside a write transaction.
            annotation_id: A current (not deleted) annotation.
            changes: Keys to set on the new version (e.g. ``{"identifier": "liver"}``).
            email: The user making the change.
            stamp: The transaction's timestamp (ISO, ``Z``).

        Returns:
            The new version's record.

        Raises:
            KeyError: If the annotation does not exist.
        """
        row = conn.execute(
            "SELECT record, blob_sha256 FROM annotations WHERE id = ?", (annotation_id,)
        ).fetchone()
        if row is None:
            raise KeyError(annotation_id)
        record = json.loads(row["record"])
        AnnotationsRepo.upsert(
            conn, dict(record, deleted_at=stamp, deleted_by=email), row["blob_sha256"]
        )
        fresh = dict(record, **changes, id=str(uuid.uuid4()), created_at=stamp)
        fresh.update(replaces=annotation_id, deleted_at=None)
        fresh.pop("deleted_by", None)
        if "identifier" in changes:
            fresh.pop("name", None)  # the wire alias of identifier would disagree
        AnnotationsRepo.upsert(conn, fresh, row["blob_sha256"])
        return fresh

    def edit(
        self, annotation_id: str, changes: dict[str, Any], email: str, *, new_version: bool
    ) -> dict[str, Any]:
        """Change an annotation in one transaction, in place or as a new version.

        Args:
            annotation_id: A current annotation.
            changes: Keys to set.
            email: The user making the change (``updated_by`` on in-place edits).
            new_version: Make a new annotation id and soft-delete the old one (content
                changes make a new version) instead of updating in place.

        Returns:
            The annotation record now current.

        Raises:
            KeyError: If the annotation does not exist.
        """
        stamp = format_us(now_us())
        with self.db.write() as conn:
            if new_version:
                return self.new_version(conn, annotation_id, changes, email, stamp)
            row = conn.execute(
                "SELECT record, blob_sha256 FROM annotations WHERE id = ?", (annotation_id,)
            ).fetchone()
            if row is None:
                raise KeyError(annotation_id)
            record = dict(json.loads(row["record"]), **changes)
            record.update(updated_at=stamp, updated_by=email)
            self.upsert(conn, record, row["blob_sha256"])
        return record

    def soft_delete(self, annotation_ids: Sequence[str], email: str) -> list[str]:
        """Mark annotations deleted (``deleted_at``, ``deleted_by``), in one transaction.

        Already deleted annotations keep their first ``deleted_at``.

        Args:
            annotation_ids: Existing annotation ids.
            email: The user deleting them.

        Returns:
            The ids that were newly deleted.
        """
        stamp = format_us(now_us())
        deleted: list[str] = []
        with self.db.write() as conn:
            for aid in dict.fromkeys(annotation_ids):
                row = conn.execute(
                    "SELECT record, blob_sha256 FROM annotations WHERE id = ? AND deleted = 0",
                    (aid,),
                ).fetchone()
                if row is not None:
                    record = dict(json.loads(row["record"]), deleted_at=stamp, deleted_by=email)
                    self.upsert(conn, record, row["blob_sha256"])
                    deleted.append(aid)
        return deleted

    def search_seqs(self, visibility: Visibility, flt: AnnotationFilter) -> array:
        """Return the ``seq`` of every visible annotation that passes ``flt``, in order.

        Args:
            visibility: The user's visibility.
            flt: The filters.

        Returns:
            ``array('q')`` of seqs, in insertion order.
        """
        visible_sql, params = visibility.resource_ids_sql()
        where = [f"a.resource_id IN ({visible_sql})"]
        if flt.resource_ids is not None:
            where.append("a.resource_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(flt.resource_ids))
        if flt.project_ids is not None:
            where.append(
                "a.resource_id IN (SELECT resource_id FROM project_resources "
                "WHERE project_id IN (SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(flt.project_ids))
        if flt.deleted == "exclude":
            where.append("a.deleted = 0")
        elif flt.deleted == "only":
            where.append("a.deleted = 1")
        for column, value in (
            ("a.type", flt.annotation_type),
            ("a.created_by_lc", None if flt.annotator is None else flt.annotator.lower()),
            ("a.status", flt.status),
            ("a.source", flt.source),
            ("a.worklist_id", flt.worklist_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if flt.from_us is not None:
            where.append("a.created_at_us >= ?")
            params.append(flt.from_us)
        if flt.to_us is not None:
            where.append("a.created_at_us < ?")
            params.append(flt.to_us)
        sql = f"SELECT a.seq FROM annotations a WHERE {' AND '.join(where)} ORDER BY a.seq"
        with self.db.read() as conn:
            return array("q", (row[0] for row in conn.execute(sql, params)))

    def records_by_seq(self, seqs: Sequence[int]) -> list[str]:
        """Return stored JSON texts for these seqs, in the given order.

        Args:
            seqs: Seqs from :meth:`search_seqs`.

        Returns:
            JSON texts.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT a.record FROM json_each(?) j JOIN annotations a ON a.seq = j.value "
                "ORDER BY j.key",
                (json.dumps(list(seqs)),),
            ).fetchall()
        return [str(row[0]) for row in rows]
