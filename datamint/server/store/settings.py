"""Store settings (limits read by the server when it starts) and per-user upload usage.

Settings live in the ``meta`` table as ``setting.<name>`` rows; a setting never written has
its default. ``datamint server settings --store DIR --set NAME=BYTES`` changes one; a
running server reads them when it starts.

==========================  =========  ======================================================
setting                     default    what it bounds
==========================  =========  ======================================================
``max_json_body_bytes``     8 MiB      every request body that is not multipart (JSON, ...)
``max_upload_bytes``        1 GiB      each uploaded file (``POST /resources``, ``PUT
                                       /resources/{id}/file``, annotation files)
``user_quota_bytes``        10 GiB     bytes one user may upload in total
==========================  =========  ======================================================

A request over a limit is answered 413 with a message naming the limit and the setting.
Usage counts every uploaded file the store kept (deleting a resource is soft and gives
nothing back); the store owner raises the quota to let a user upload more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from datamint.exceptions import ValidationError
from datamint.server.store.db import Database

__all__ = ["SETTING_NAMES", "SettingsRepo", "StoreSettings", "UsageRepo"]

_MIB = 1 << 20
_GIB = 1 << 30
_PREFIX = "setting."


@dataclass(frozen=True)
class StoreSettings:
    """The limits of a store, in bytes (see the module docstring).

    Attributes:
        max_json_body_bytes: Largest request body that is not multipart.
        max_upload_bytes: Largest uploaded file.
        user_quota_bytes: Most bytes one user may upload in total.
    """

    max_json_body_bytes: int = 8 * _MIB
    max_upload_bytes: int = 1 * _GIB
    user_quota_bytes: int = 10 * _GIB


#: Names accepted by :meth:`SettingsRepo.set`, in display order.
SETTING_NAMES = tuple(f.name for f in fields(StoreSettings))


class SettingsRepo:
    """Read and write :class:`StoreSettings` in the store's ``meta`` table.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self) -> StoreSettings:
        """Return the current settings (defaults for those never set).

        Returns:
            The settings.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT key, value FROM meta WHERE key LIKE ?", (_PREFIX + "%",)
            ).fetchall()
        stored = {str(row["key"])[len(_PREFIX) :]: int(row["value"]) for row in rows}
        return StoreSettings(**{k: v for k, v in stored.items() if k in SETTING_NAMES})

    def set(self, name: str, value: int) -> StoreSettings:
        """Change one setting.

        Args:
            name: One of :data:`SETTING_NAMES`.
            value: The new value in bytes, >= 0.

        Returns:
            The settings after the change.

        Raises:
            ValidationError: If the name is unknown or the value negative.
        """
        if name not in SETTING_NAMES:
            raise ValidationError(
                f"unknown store setting {name!r}; known: {', '.join(SETTING_NAMES)}"
            )
        if int(value) < 0:
            raise ValidationError(f"store setting {name} must be >= 0 bytes, got {value}")
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_PREFIX + name, str(int(value))),
            )
        return self.get()

    def as_dict(self) -> dict[str, int]:
        """Return the current settings as ``{name: bytes}``.

        Returns:
            Every setting, in :data:`SETTING_NAMES` order.
        """
        return asdict(self.get())


class UsageRepo:
    """Bytes each user has uploaded (table ``upload_usage``).

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def used_bytes(self, email: str) -> int:
        """Return how many bytes ``email`` has uploaded so far.

        Args:
            email: The user's email (case-insensitive).

        Returns:
            Bytes, 0 for a user who never uploaded.
        """
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT bytes FROM upload_usage WHERE email = ?", (email.strip().lower(),)
            ).fetchone()
        return 0 if row is None else int(row["bytes"])

    def charge(self, email: str, size_bytes: int) -> None:
        """Add ``size_bytes`` to the user's usage (one write transaction).

        Args:
            email: The user's email (case-insensitive).
            size_bytes: Bytes the store kept for the user's upload, >= 0.
        """
        if size_bytes <= 0:
            return
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO upload_usage (email, bytes) VALUES (?, ?) "
                "ON CONFLICT(email) DO UPDATE SET bytes = bytes + excluded.bytes",
                (email.strip().lower(), int(size_bytes)),
            )
