"""The SQLite database of a store: schema, connections, one transaction per write.

- WAL journal: readers never wait for the writer; one writer at a time (``BEGIN IMMEDIATE``).
- A connection is opened per call, so the store can be shared by the server's threads.
- Every write transaction bumps ``meta.generation``; listing caches key on it, so a
  cached listing is never served after any write (from this process or another one).
- Records are JSON objects kept exactly as the wire sends them,
  with the columns that filters and ordering need pulled out beside them.
- Schema 3 (this one) keys project names by owner (``UNIQUE (owner, name)``: two users may
  each have a project called "lungs") and counts each user's uploaded bytes
  (``upload_usage``). A schema-2 store is migrated in place when it is opened.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

from datamint.exceptions import ValidationError

__all__ = ["SCHEMA_VERSION", "Database", "canonical_uuid", "normalise_email"]

SCHEMA_VERSION = 3

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
    owner TEXT NOT NULL DEFAULT '',
    record TEXT NOT NULL,
    UNIQUE (owner, name)
);
CREATE INDEX IF NOT EXISTS projects_by_name ON projects (name);
CREATE TABLE IF NOT EXISTS upload_usage (email TEXT PRIMARY KEY, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    project_id TEXT NOT NULL REFERENCES projects(id),
    email TEXT NOT NULL,
    PRIMARY KEY (project_id, email)
);
CREATE INDEX IF NOT EXISTS members_by_email ON members (email);
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL,
    blob_sha256 TEXT NOT NULL,
    owner TEXT,
    deleted INTEGER NOT NULL,
    status TEXT,
    modality_lc TEXT,
    mimetype_lc TEXT,
    filename TEXT,
    channel TEXT,
    created_at_us INTEGER,
    created_by TEXT,
    published_by TEXT,
    published_on TEXT
);
CREATE INDEX IF NOT EXISTS resources_by_owner ON resources (owner);
CREATE TABLE IF NOT EXISTS resource_tags (
    resource_id TEXT NOT NULL REFERENCES resources(id),
    tag TEXT NOT NULL,
    PRIMARY KEY (resource_id, tag)
);
CREATE INDEX IF NOT EXISTS resource_tags_by_tag ON resource_tags (tag);
CREATE TABLE IF NOT EXISTS project_resources (
    project_id TEXT NOT NULL REFERENCES projects(id),
    resource_id TEXT NOT NULL REFERENCES resources(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource_id)
);
CREATE INDEX IF NOT EXISTS project_resources_by_resource
    ON project_resources (resource_id, project_id);
CREATE INDEX IF NOT EXISTS project_resources_by_position
    ON project_resources (project_id, position);
CREATE TABLE IF NOT EXISTS annotations (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    record TEXT NOT NULL,
    blob_sha256 TEXT,
    deleted INTEGER NOT NULL,
    type TEXT,
    created_by_lc TEXT,
    status TEXT,
    source TEXT,
    worklist_id TEXT,
    created_at_us INTEGER
);
CREATE INDEX IF NOT EXISTS annotations_by_resource ON annotations (resource_id, seq);
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
CREATE TABLE IF NOT EXISTS frame_ranges (
    seq INTEGER PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    identifier TEXT NOT NULL,
    ranges TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    created_by TEXT,
    deleted_at_us INTEGER,
    deleted_by TEXT
);
CREATE INDEX IF NOT EXISTS frame_ranges_current
    ON frame_ranges (resource_id) WHERE deleted_at_us IS NULL;
"""

#: Schema 2 → 3: rebuild ``projects`` with an ``owner`` column (the lower-cased
#: ``created_by``) and names unique per owner, following SQLite's "make other kinds of
#: table schema changes" procedure (foreign keys off, copy, drop, rename, check).
_MIGRATE_2_TO_3 = """
CREATE TABLE projects_v3 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    record TEXT NOT NULL,
    UNIQUE (owner, name)
);
INSERT INTO projects_v3 (id, name, owner, record)
    SELECT id, name, lower(trim(COALESCE(json_extract(record, '$.created_by'), ''))), record
    FROM projects;
DROP TABLE projects;
ALTER TABLE projects_v3 RENAME TO projects;
"""

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def canonical_uuid(value: object) -> str | None:
    """Return the canonical lower-case form of a UUID, or ``None`` when it is not one.

    The common hyphenated form is checked with a regex (fast enough for 100 000 ids in
    one request body); other spellings that :class:`uuid.UUID` accepts are parsed by it.

    Args:
        value: Any JSON value or path segment.

    Returns:
        ``"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`` in lower case, or ``None``.
    """
    if not isinstance(value, str):
        return None
    if _UUID_RE.match(value):
        return value.lower()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def normalise_email(email: str) -> str:
    """Return ``email`` stripped and lower-cased.

    Args:
        email: An email address.

    Returns:
        The normalised address.

    Raises:
        ValidationError: If it has no ``@``, contains spaces or exceeds 320 characters.
    """
    value = str(email).strip().lower()
    if "@" not in value or len(value) > 320 or any(ch.isspace() for ch in value):
        raise ValidationError(f"{email!r} is not an email address")
    return value


class Database:
    """Connections and transactions on ``<store_dir>/store.sqlite3``.

    Args:
        path: The database file; created with the current schema when missing.

    Raises:
        ValidationError: If the file holds another schema version (a newer datamint's,
            or schema 1 of the first reference server, which must be re-imported). A
            schema-2 file is migrated in place.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with contextlib.closing(self._open()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            old = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
            ).fetchone()
            row = None
            if old is not None:
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and int(row["value"]) == 2:
                _migrate_2_to_3(conn)
                row = None
            if row is not None and int(row["value"]) != SCHEMA_VERSION:
                raise ValidationError(
                    f"store {path} has schema version {row['value']}; this datamint reads "
                    f"version {SCHEMA_VERSION}: "
                    + (
                        "upgrade datamint"
                        if int(row["value"]) > SCHEMA_VERSION
                        else "re-create the store with `datamint import` into a new folder"
                    )
                )
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0')")

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Open a connection for reads (each statement sees the latest commit).

        Yields:
            A connection whose rows are :class:`sqlite3.Row`; closed on exit.
        """
        with contextlib.closing(self._open()) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Run one write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``.

        The store generation is bumped inside the transaction. Any exception rolls
        everything back and propagates.

        Yields:
            The connection inside the open transaction.
        """
        with contextlib.closing(self._open()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def generation(self) -> int:
        """Return the number of write transactions committed so far (any process).

        Returns:
            A counter that changes whenever any record changes.
        """
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row["value"])


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    """Migrate an open schema-2 database to schema 3 in one transaction.

    Args:
        conn: A connection outside any transaction (foreign keys are switched off for the
            rebuild and on again after it).

    Raises:
        ValidationError: If the rebuilt tables break a foreign key (nothing is changed).
    """
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _MIGRATE_2_TO_3.split(";"):
                if statement.strip():
                    conn.execute(statement)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise ValidationError(
                    f"cannot migrate the store to schema 3: {len(broken)} broken references"
                )
            conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
