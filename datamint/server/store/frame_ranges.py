"""Frame ranges of a resource, per label identifier (``/annotations/{rid}/frame-ranges``).

Rows are versioned like split assignments: a ``PUT`` soft-deletes the resource's current
rows (``deleted_at_us``, ``deleted_by``) and inserts the new set, in one transaction, so
the history stays in the store. Ranges are ``[first, last]`` frame indices, inclusive.
"""

from __future__ import annotations

import json
from typing import Any

from datamint.server.store.db import Database
from datamint.server.timeutil import format_us, now_us

__all__ = ["FrameRangesRepo"]


class FrameRangesRepo:
    """Current and past frame ranges of resources.

    Args:
        db: The store's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def replace(
        self, resource_id: str, ranges: dict[str, list[list[int]]], email: str
    ) -> dict[str, Any]:
        """Replace the frame ranges of a resource (one transaction).

        Args:
            resource_id: An existing resource.
            ranges: ``{identifier: [[first, last], ...]}``, already validated and merged.
            email: The user making the change.

        Returns:
            The new state, as :meth:`current` returns it.
        """
        stamp = now_us()
        with self.db.write() as conn:
            conn.execute(
                "UPDATE frame_ranges SET deleted_at_us = ?, deleted_by = ? "
                "WHERE resource_id = ? AND deleted_at_us IS NULL",
                (stamp, email, resource_id),
            )
            conn.executemany(
                "INSERT INTO frame_ranges (resource_id, identifier, ranges, created_at_us, "
                "created_by) VALUES (?, ?, ?, ?, ?)",
                [
                    (resource_id, identifier, json.dumps(spans), stamp, email)
                    for identifier, spans in sorted(ranges.items())
                ],
            )
        return {
            "resource_id": resource_id,
            "ranges": {k: ranges[k] for k in sorted(ranges)},
            "updated_at": format_us(stamp),
            "updated_by": email,
        }

    def current(self, resource_id: str) -> dict[str, Any]:
        """Return the current frame ranges of a resource.

        Args:
            resource_id: The resource's id.

        Returns:
            ``{"resource_id", "ranges": {identifier: [[first, last], ...]}, "updated_at",
            "updated_by"}``; ``ranges`` is empty and the others ``None`` when none were set.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT identifier, ranges, created_at_us, created_by FROM frame_ranges "
                "WHERE resource_id = ? AND deleted_at_us IS NULL ORDER BY identifier",
                (resource_id,),
            ).fetchall()
        latest = max(rows, key=lambda row: row["created_at_us"], default=None)
        return {
            "resource_id": resource_id,
            "ranges": {str(row["identifier"]): json.loads(row["ranges"]) for row in rows},
            "updated_at": None if latest is None else format_us(latest["created_at_us"]),
            "updated_by": None if latest is None else latest["created_by"],
        }
