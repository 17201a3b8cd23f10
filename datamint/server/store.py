"""The reference server's store: SQLite records plus content-addressed blobs.

Layout on disk (nothing is written outside ``store_dir``)::

    <store_dir>/store.sqlite3            records (WAL mode; one transaction per write)
    <store_dir>/blobs/<sha[:2]>/<sha>    file contents, named by their sha256, written atomically
    <store_dir>/tmp/                     staging for blobs that are built (series archives)

Blobs are handled by :class:`~datamint.server.blobs.BlobStore` (``store.blobs``).
Records are JSON objects kept as the wire sends them (contract/API.md §4), with a few
columns pulled out for filtering. API keys are stored as their sha256 only.

A connection is opened per store call, so a ``ProjectStore`` can be shared by the threads of
the server; SQLite's WAL lets readers run while one writer commits.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamint.exceptions import ItemNotFoundError, ValidationError
from datamint.server.auth import generate_key, hash_key
from datamint.server.blobs import BlobStore
from datamint.server.timeutil import format_us, now_us

__all__ = ["ProjectBundle", "ProjectStore"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    key_sha256 TEXT PRIMARY KEY,
    email TEXT NOT NULL REFERENCES users(email),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    project_id TEXT NOT NULL REFERENCES projects(id),
    email TEXT NOT NULL,
    PRIMARY KEY (project_id, email)
);
CREATE TABLE IF NOT EXISTS resources (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS project_resources (
    project_id TEXT NOT NULL REFERENCES projects(id),
    resource_id TEXT NOT NULL REFERENCES resources(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource_id)
);
CREATE TABLE IF NOT EXISTS annotations (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    record TEXT NOT NULL,
    blob_sha256 TEXT,
    deleted INTEGER NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS annotations_by_resource ON annotations (resource_id, position);
CREATE TABLE IF NOT EXISTS worklists (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    record TEXT NOT NULL,
    segmentation_group TEXT,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS splits (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    resource_id TEXT NOT NULL REFERENCES resources(id),
    split_name TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    created_by TEXT,
    deleted_at_us INTEGER,
    deleted_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS splits_one_current
    ON splits (project_id, resource_id) WHERE deleted_at_us IS NULL;
"""


@dataclass
class ProjectBundle:
    """Everything one project import writes, in one transaction.

    Attributes:
        project: The Project record (contract §4.2); ``id`` and ``name`` required.
        resources: ``(record, blob_sha256)`` pairs, in listing order.
        annotations: ``(record, blob_sha256 or None)`` pairs, in listing order.
        worklists: ``(record, segmentation_group or None)`` pairs; ``segmentation_group`` is
            the ``{name: {"index", "color"}}`` mapping served by the segmentation-group route.
        splits: split rows ``{id, split_name, resource_id, created_at_us, created_by,
            deleted_at_us, deleted_by}`` (timestamps as integer microseconds).
        members: emails made members of the project.
    """

    project: dict[str, Any]
    resources: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    annotations: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    worklists: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    splits: list[dict[str, Any]] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


def _normalise_email(email: str) -> str:
    value = email.strip().lower()
    if "@" not in value or len(value) > 320 or any(ch.isspace() for ch in value):
        raise ValidationError(f"{email!r} is not an email address")
    return value


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


class ProjectStore:
    """Records and blobs of the reference server, in one folder.

    Args:
        store_dir: Folder of the store; created (with its database) when missing.

    Raises:
        ValidationError: If the folder holds a database of a newer, unknown schema version.
        OSError: If the folder cannot be created.
    """

    def __init__(self, store_dir: str | os.PathLike[str]) -> None:
        self.store_dir = Path(store_dir)
        self.db_path = self.store_dir / "store.sqlite3"
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.store_dir)
        self.blob_dir = self.blobs.root
        with contextlib.closing(self._open()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row["value"]) > SCHEMA_VERSION:
                raise ValidationError(
                    f"store {self.db_path} has schema version {row['value']}; this datamint "
                    f"reads up to {SCHEMA_VERSION}: upgrade datamint"
                )

    # -- connections -------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with contextlib.closing(self._open()) as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on error)."""
        with contextlib.closing(self._open()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- users and members -------------------------------------------------------------

    def create_user(self, email: str) -> str:
        """Create the user when new and issue a new API key for it.

        Only the key's sha256 is stored; the plaintext is returned once and cannot be
        recovered. Earlier keys of the same user stay valid.

        Args:
            email: The user's email (case-insensitive; stored lower-cased).

        Returns:
            The new plaintext API key (URL-safe text, 43 characters).

        Raises:
            ValidationError: If ``email`` is not an email address.
        """
        email = _normalise_email(email)
        key = generate_key()
        stamp = format_us(now_us())
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO users (email, created_at) VALUES (?, ?)", (email, stamp)
            )
            conn.execute(
                "INSERT INTO api_keys (key_sha256, email, created_at) VALUES (?, ?, ?)",
                (hash_key(key), email, stamp),
            )
        return key

    def user_for_key(self, key: str) -> str | None:
        """Return the email of the user owning ``key``, or ``None`` for an unknown key.

        Args:
            key: A plaintext API key as received (it is hashed, never stored or logged).

        Returns:
            The user's email, or ``None``.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT email FROM api_keys WHERE key_sha256 = ?", (hash_key(key),)
            ).fetchone()
        return None if row is None else str(row["email"])

    def add_member(self, project_id: str, email: str) -> None:
        """Make ``email`` a member of the project (idempotent).

        Args:
            project_id: An existing project's id.
            email: The user's email; the user need not exist yet.

        Raises:
            ItemNotFoundError: If the project does not exist.
            ValidationError: If ``email`` is not an email address.
        """
        email = _normalise_email(email)
        with self._write() as conn:
            if (
                conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone()
                is None
            ):
                raise ItemNotFoundError(f"project {project_id} not found in {self.store_dir}")
            conn.execute(
                "INSERT OR IGNORE INTO members (project_id, email) VALUES (?, ?)",
                (project_id, email),
            )

    def member_project_ids(self, email: str) -> set[str]:
        """Return the ids of the projects ``email`` is a member of.

        Args:
            email: The user's email.

        Returns:
            A set of project ids (empty when none).
        """
        with self._read() as conn:
            rows = conn.execute(
                "SELECT project_id FROM members WHERE email = ?", (email.strip().lower(),)
            ).fetchall()
        return {str(row["project_id"]) for row in rows}

    # -- blobs -----------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        """Return the path of the blob with this content hash (see :meth:`BlobStore.path`).

        Args:
            sha256: 64 lower-case hex digits.

        Returns:
            ``<store_dir>/blobs/<sha[:2]>/<sha>`` (it may not exist).

        Raises:
            ValueError: If ``sha256`` is not 64 lower-case hex digits.
        """
        return self.blobs.path(sha256)

    # -- import ------------------------------------------------------------------------

    def project_id_by_name(self, name: str) -> str | None:
        """Return the id of the project called ``name`` (exact match), or ``None``.

        Args:
            name: Project name.

        Returns:
            The project id, or ``None`` when no project has that name.
        """
        with self._read() as conn:
            row = conn.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row["id"])

    def save_project(self, bundle: ProjectBundle) -> None:
        """Insert or replace a whole project in one transaction (records keyed by id).

        Blobs must have been stored before (see :meth:`BlobStore.put_file`). Saving the same
        bundle twice leaves the store as after the first save.

        Args:
            bundle: The project, its resources, annotations, worklists, splits and members.

        Raises:
            sqlite3.IntegrityError: If a split bundle has two current rows for one resource.
            ValidationError: If a member email is invalid.
        """
        project = bundle.project
        pid = project["id"]
        members = [_normalise_email(email) for email in bundle.members]
        with self._write() as conn:
            conn.execute(
                "INSERT INTO projects (id, name, record) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record",
                (pid, project["name"], json.dumps(project)),
            )
            for position, (record, sha) in enumerate(bundle.resources):
                conn.execute(
                    "INSERT INTO resources (id, record, blob_sha256, deleted) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET record = excluded.record, "
                    "blob_sha256 = excluded.blob_sha256, deleted = excluded.deleted",
                    (record["id"], json.dumps(record), sha, int(bool(record.get("deleted")))),
                )
                conn.execute(
                    "INSERT INTO project_resources (project_id, resource_id, position) "
                    "VALUES (?, ?, ?) ON CONFLICT(project_id, resource_id) "
                    "DO UPDATE SET position = excluded.position",
                    (pid, record["id"], position),
                )
            for position, (record, file_sha) in enumerate(bundle.annotations):
                conn.execute(
                    "INSERT INTO annotations (id, resource_id, record, blob_sha256, deleted, "
                    "position) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "resource_id = excluded.resource_id, record = excluded.record, "
                    "blob_sha256 = excluded.blob_sha256, deleted = excluded.deleted, "
                    "position = excluded.position",
                    (
                        record["id"],
                        record["resource_id"],
                        json.dumps(record),
                        file_sha,
                        int(record.get("deleted_at") is not None),
                        position,
                    ),
                )
            for position, (record, group) in enumerate(bundle.worklists):
                conn.execute(
                    "INSERT INTO worklists (id, project_id, record, segmentation_group, position) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "project_id = excluded.project_id, record = excluded.record, "
                    "segmentation_group = excluded.segmentation_group, "
                    "position = excluded.position",
                    (
                        record["id"],
                        pid,
                        json.dumps(record),
                        None if group is None else json.dumps(group),
                        position,
                    ),
                )
            for row in bundle.splits:
                conn.execute(
                    "INSERT INTO splits (id, project_id, resource_id, split_name, created_at_us, "
                    "created_by, deleted_at_us, deleted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET resource_id = excluded.resource_id, "
                    "split_name = excluded.split_name, created_at_us = excluded.created_at_us, "
                    "created_by = excluded.created_by, deleted_at_us = excluded.deleted_at_us, "
                    "deleted_by = excluded.deleted_by",
                    (
                        row["id"],
                        pid,
                        row["resource_id"],
                        row["split_name"],
                        row["created_at_us"],
                        row.get("created_by"),
                        row.get("deleted_at_us"),
                        row.get("deleted_by"),
                    ),
                )
            conn.executemany(
                "INSERT OR IGNORE INTO members (project_id, email) VALUES (?, ?)",
                [(pid, email) for email in members],
            )

    # -- projects ----------------------------------------------------------------------

    def _project_record(self, conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(row["record"])
        count = conn.execute(
            "SELECT COUNT(*) FROM project_resources pr JOIN resources r ON r.id = pr.resource_id "
            "WHERE pr.project_id = ? AND r.deleted = 0",
            (row["id"],),
        ).fetchone()[0]
        record["resource_count"] = int(count)
        return record

    def list_projects(self, project_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Return the Project records with these ids, ordered by name then id.

        Args:
            project_ids: Ids to return (unknown ones are skipped).

        Returns:
            Project records with a live ``resource_count`` (non-deleted resources).
        """
        ids = sorted(set(project_ids))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT id, record FROM projects WHERE id IN ({','.join('?' * len(ids))}) "
                "ORDER BY name, id",
                ids,
            ).fetchall()
            return [self._project_record(conn, row) for row in rows]

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        """Return one Project record, or ``None`` when unknown.

        Args:
            project_id: The project's id.

        Returns:
            The record with a live ``resource_count``, or ``None``.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT id, record FROM projects WHERE id = ?", (project_id,)
            ).fetchone()
            return None if row is None else self._project_record(conn, row)

    # -- resources ---------------------------------------------------------------------

    def project_resources(
        self, project_id: str, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Return the Resource records of a project, in import order.

        Args:
            project_id: The project's id.
            include_deleted: Also return resources marked deleted.

        Returns:
            Resource records (contract §4.3).
        """
        sql = (
            "SELECT r.record FROM project_resources pr JOIN resources r ON r.id = pr.resource_id "
            "WHERE pr.project_id = ?"
        )
        if not include_deleted:
            sql += " AND r.deleted = 0"
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY pr.position, r.id", (project_id,)).fetchall()
        return [json.loads(row["record"]) for row in rows]

    def resources_in_projects(
        self, project_ids: Iterable[str]
    ) -> list[tuple[dict[str, Any], list[str]]]:
        """Return every resource of these projects once, with the ids of its projects.

        Args:
            project_ids: Projects to look in (typically those the user is a member of).

        Returns:
            ``(record, [project_id, ...])`` pairs, deleted resources included, ordered by
            project name, position, then id.
        """
        ids = sorted(set(project_ids))
        with self._read() as conn:
            rows = conn.execute(
                "SELECT r.id, r.record, pr.project_id FROM project_resources pr "
                "JOIN resources r ON r.id = pr.resource_id JOIN projects p ON p.id = pr.project_id "
                f"WHERE pr.project_id IN ({','.join('?' * len(ids))}) "
                "ORDER BY p.name, p.id, pr.position, r.id",
                ids,
            ).fetchall()
        found: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for row in rows:
            if row["id"] in found:
                found[row["id"]][1].append(row["project_id"])
            else:
                found[row["id"]] = (json.loads(row["record"]), [row["project_id"]])
        return list(found.values())

    def get_resource(self, resource_id: str) -> tuple[dict[str, Any], str, list[str]] | None:
        """Return a resource with its blob hash and the ids of the projects holding it.

        Args:
            resource_id: The resource's id.

        Returns:
            ``(record, blob_sha256, [project_id, ...])``, or ``None`` when unknown.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT record, blob_sha256 FROM resources WHERE id = ?", (resource_id,)
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
        )

    # -- annotations -------------------------------------------------------------------

    def get_annotation(
        self, annotation_id: str
    ) -> tuple[dict[str, Any], str | None, list[str]] | None:
        """Return an annotation with its blob hash and the projects holding its resource.

        Args:
            annotation_id: The annotation's id.

        Returns:
            ``(record, blob_sha256 or None, [project_id, ...])``, or ``None`` when unknown.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT record, blob_sha256, resource_id FROM annotations WHERE id = ?",
                (annotation_id,),
            ).fetchone()
            if row is None:
                return None
            projects = conn.execute(
                "SELECT project_id FROM project_resources WHERE resource_id = ?",
                (row["resource_id"],),
            ).fetchall()
        return (
            json.loads(row["record"]),
            row["blob_sha256"],
            [str(p["project_id"]) for p in projects],
        )

    def annotations_in_projects(
        self,
        project_ids: Iterable[str],
        *,
        resource_ids: Iterable[str] | None = None,
        deleted: str = "exclude",
    ) -> list[dict[str, Any]]:
        """Return the annotations on resources of these projects, in import order.

        Args:
            project_ids: Projects whose resources are visible.
            resource_ids: When given, only annotations on these resources.
            deleted: ``"exclude"`` (default), ``"include"`` or ``"only"``.

        Returns:
            Annotation records (contract §4.4), each once.
        """
        ids = sorted(set(project_ids))
        sql = (
            "SELECT DISTINCT a.id, a.record, a.position FROM annotations a "
            "JOIN project_resources pr ON pr.resource_id = a.resource_id "
            f"WHERE pr.project_id IN ({','.join('?' * len(ids))})"
        )
        params: list[Any] = list(ids)
        if resource_ids is not None:
            wanted = sorted(set(resource_ids))
            sql += f" AND a.resource_id IN ({','.join('?' * len(wanted))})"
            params += wanted
        if deleted == "exclude":
            sql += " AND a.deleted = 0"
        elif deleted == "only":
            sql += " AND a.deleted = 1"
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY a.position, a.id", params).fetchall()
        return [json.loads(row["record"]) for row in rows]

    # -- worklists ---------------------------------------------------------------------

    def project_worklists(self, project_id: str) -> list[dict[str, Any]]:
        """Return the full worklist records of a project, in import order.

        Args:
            project_id: The project's id.

        Returns:
            Worklist records (``id``, ``name``, ``annotators``, ``annotations``, ...).
        """
        with self._read() as conn:
            rows = conn.execute(
                "SELECT record FROM worklists WHERE project_id = ? ORDER BY position, id",
                (project_id,),
            ).fetchall()
        return [json.loads(row["record"]) for row in rows]

    def get_worklist(
        self, worklist_id: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None, str] | None:
        """Return a worklist, its segmentation group and its project id.

        Args:
            worklist_id: The worklist's id.

        Returns:
            ``(record, groups or None, project_id)``, or ``None`` when unknown.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT record, segmentation_group, project_id FROM worklists WHERE id = ?",
                (worklist_id,),
            ).fetchone()
        if row is None:
            return None
        group = None if row["segmentation_group"] is None else json.loads(row["segmentation_group"])
        return json.loads(row["record"]), group, str(row["project_id"])

    # -- splits ------------------------------------------------------------------------

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
        with self._read() as conn:
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
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM splits WHERE project_id = ? AND resource_id = ? "
                "AND deleted_at_us IS NULL",
                (project_id, resource_id),
            ).fetchone()
        return None if row is None else _split_row(row)

    def assign_split(
        self, project_id: str, resource_ids: Iterable[str], split_name: str, email: str
    ) -> list[dict[str, Any]]:
        """Assign resources to a split, versioning their rows (contract §4.6), atomically.

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
        with self._write() as conn:
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
