"""Users, their API keys (stored as sha256 only) and project membership."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable

from datamint.exceptions import ItemNotFoundError
from datamint.server.auth import generate_key, hash_key
from datamint.server.store.db import Database, normalise_email
from datamint.server.timeutil import format_us, now_us

__all__ = ["USER_ID_NAMESPACE", "UsersRepo", "user_id_of"]

#: Namespace of the UUIDv5 user ids derived from emails (``GET /projects/{id}/members``).
USER_ID_NAMESPACE = uuid.UUID("0b7f0d0e-8a44-5f55-b6d2-5f7a3c1e2d90")


def user_id_of(email: str) -> str:
    """Return the stable user id (UUIDv5 of the lower-cased email).

    Args:
        email: The user's email.

    Returns:
        A UUID string.
    """
    return str(uuid.uuid5(USER_ID_NAMESPACE, email.strip().lower()))


class UsersRepo:
    """Users, keys and members.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

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
        email = normalise_email(email)
        key = generate_key()
        stamp = format_us(now_us())
        with self.db.write() as conn:
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
            key: A plaintext API key as received (hashed here, never stored or logged).

        Returns:
            The user's email, or ``None``.
        """
        with self.db.read() as conn:
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
        email = normalise_email(email)
        with self.db.write() as conn:
            if (
                conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone()
                is None
            ):
                raise ItemNotFoundError(f"project {project_id} not found in {self.db.path.parent}")
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
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT project_id FROM members WHERE email = ?", (email.strip().lower(),)
            ).fetchall()
        return {str(row["project_id"]) for row in rows}

    def members(self, project_id: str) -> list[str]:
        """Return the member emails of a project, sorted.

        Args:
            project_id: The project's id.

        Returns:
            Emails, sorted.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT email FROM members WHERE project_id = ? ORDER BY email", (project_id,)
            ).fetchall()
        return [str(row["email"]) for row in rows]

    def list_users(self) -> list[dict[str, object]]:
        """Return every user with the number of keys issued and the projects joined.

        Returns:
            ``{"email", "created_at", "keys", "project_ids"}`` per user, sorted by email;
            ``keys`` counts every key issued (all stay valid), ``project_ids`` is sorted.
            Emails that are members of a project but never got a key are listed too,
            with ``created_at`` None and ``keys`` 0.
        """
        with self.db.read() as conn:
            users = {
                str(row["email"]): {"email": str(row["email"]), "created_at": row["created_at"]}
                for row in conn.execute("SELECT email, created_at FROM users")
            }
            keys = dict(
                conn.execute("SELECT email, COUNT(*) FROM api_keys GROUP BY email").fetchall()
            )
            memberships = conn.execute(
                "SELECT email, project_id FROM members ORDER BY project_id"
            ).fetchall()
        projects: dict[str, list[str]] = {}
        for row in memberships:
            projects.setdefault(str(row["email"]), []).append(str(row["project_id"]))
            users.setdefault(str(row["email"]), {"email": str(row["email"]), "created_at": None})
        return [
            {
                **users[email],
                "keys": int(keys.get(email, 0)),
                "project_ids": projects.get(email, []),
            }
            for email in sorted(users)
        ]

    @staticmethod
    def insert_members(conn: sqlite3.Connection, project_id: str, emails: Iterable[str]) -> None:
        """Add members inside an open write transaction (idempotent).

        Args:
            conn: The transaction's connection.
            project_id: The project's id.
            emails: Normalised emails.
        """
        conn.executemany(
            "INSERT OR IGNORE INTO members (project_id, email) VALUES (?, ?)",
            [(project_id, email) for email in emails],
        )
