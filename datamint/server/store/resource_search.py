"""Filtered, ordered resource listings (``GET /resources``).

A listing returns the integer ``seq`` of each match in listing order, so that pages can be
cut from a cached listing and fetched by ``seq`` without re-running the filter.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from typing import Any

from datamint.server.store.db import Database
from datamint.server.store.resources import Visibility

__all__ = ["ORDER_FIELDS", "ResourceFilter", "search_seqs"]

#: ``order_field`` values of ``GET /resources`` and the column each sorts on.
ORDER_FIELDS = {
    "modality": "modality_lc",
    "created_by": "created_by",
    "published_by": "published_by",
    "published_on": "published_on",
    "filename": "filename",
    "created_at": "created_at_us",
}


def _lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


@dataclass
class ResourceFilter:
    """Filters of ``GET /resources``, already validated.

    Attributes:
        status: ``""`` (any), ``inbox`` or ``published``.
        deleted: ``exclude``, ``include`` or ``only``.
        from_us: Earliest ``created_at`` (inclusive), microseconds since the epoch.
        to_us: Latest ``created_at`` (exclusive), microseconds since the epoch.
        modality: Exact modality, case-insensitive.
        mimetype: Exact mimetype, case-insensitive.
        filename: Case-insensitive substring of the filename.
        channel: Exact ``upload_channel``.
        project_ids: ``(ids, "union"|"intersection")``; ``None`` means no filter.
        tags: ``(tags, "union"|"intersection")``; ``None`` means no filter.
        order_field: A key of :data:`ORDER_FIELDS`, or ``None`` for insertion order.
        ascending: Sort direction when ``order_field`` is given.
    """

    status: str = ""
    deleted: str = "exclude"
    from_us: int | None = None
    to_us: int | None = None
    modality: str | None = None
    mimetype: str | None = None
    filename: str | None = None
    channel: str | None = None
    project_ids: tuple[list[str], str] | None = None
    tags: tuple[list[str], str] | None = None
    order_field: str | None = None
    ascending: bool = False


def _set_clause(column_sql: str, values: tuple[list[str], str], params: list[Any]) -> list[str]:
    """``r.id IN (...)`` clauses for a union (one clause) or intersection (one per value)."""
    items, kind = values
    if kind == "union":
        params.append(json.dumps(items))
        return [f"r.id IN ({column_sql} IN (SELECT value FROM json_each(?)))"]
    clauses = []
    for item in items:
        params.append(item)
        clauses.append(f"r.id IN ({column_sql} = ?)")
    return clauses


def search_seqs(db: Database, visibility: Visibility, flt: ResourceFilter) -> array:
    """Return the ``seq`` of every visible resource that passes ``flt``, in order.

    Args:
        db: The store's database.
        visibility: The user's visibility.
        flt: The filters and ordering.

    Returns:
        ``array('q')`` of seqs, in listing order.
    """
    visible_sql, params = visibility.resource_clause("r")
    where = [visible_sql]
    if flt.deleted == "exclude":
        where.append("r.deleted = 0")
    elif flt.deleted == "only":
        where.append("r.deleted = 1")
    for column, value in (
        ("r.status", flt.status or None),
        ("r.modality_lc", _lower(flt.modality)),
        ("r.mimetype_lc", _lower(flt.mimetype)),
        ("r.channel", flt.channel),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.filename:
        where.append("instr(lower(r.filename), ?) > 0")
        params.append(flt.filename.lower())
    if flt.from_us is not None:
        where.append("r.created_at_us >= ?")
        params.append(flt.from_us)
    if flt.to_us is not None:
        where.append("r.created_at_us < ?")
        params.append(flt.to_us)
    if flt.project_ids is not None:
        where += _set_clause(
            "SELECT resource_id FROM project_resources WHERE project_id",
            flt.project_ids,
            params,
        )
    if flt.tags is not None:
        where += _set_clause("SELECT resource_id FROM resource_tags WHERE tag", flt.tags, params)
    order = "r.seq"
    if flt.order_field is not None:
        column = "r." + ORDER_FIELDS[flt.order_field]
        direction = "ASC" if flt.ascending else "DESC"
        order = f"({column} IS NULL), {column} {direction}, r.id {direction}"
    sql = f"SELECT r.seq FROM resources r WHERE {' AND '.join(where)} ORDER BY {order}"
    with db.read() as conn:
        return array("q", (row[0] for row in conn.execute(sql, params)))
