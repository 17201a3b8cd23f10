"""Split rows in a manifest: collecting them with the queries that produced them, and the
``as_of`` rule that answers ``GET /projects/{id}/splits`` from the stored rows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from datamint.exceptions import OfflineCacheMissError, ValidationError
from datamint.storage.manifest.records import as_record

if TYPE_CHECKING:
    from datamint.storage.manifest.model import CacheManifest

__all__ = ["check_split_times", "collect_split_rows", "instant_us", "stored_splits"]

_INSTANT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def instant_us(value: Any, what: str = "timestamp") -> int:
    """Parse an ISO-8601 instant (``Z``, an offset or none = UTC) to microseconds since 1970.

    Raises:
        ValidationError: If it is not ISO-8601.
    """
    match = _INSTANT_RE.match(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(f"{what} {value!r} is not an ISO-8601 instant")
    year, month, day, hour, minute, second, frac, zone = match.groups()
    when = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
        tzinfo=timezone.utc,
    )  # fmt: skip
    micros = int((frac or "0")[:6].ljust(6, "0"))
    offset_s = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_s = sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
    seconds = int(when.timestamp()) - offset_s
    return seconds * 1_000_000 + micros


def check_split_times(
    split_rows: Iterable[Mapping[str, Any]] | None, split_queries: Iterable[Mapping[str, Any]]
) -> None:
    """Check that every stored row and query instant parses.

    Raises:
        ValidationError: Naming the first instant that is not ISO-8601.
    """
    for row in split_rows or ():
        instant_us(row.get("created_at"), "split row created_at")
        if row.get("deleted_at") is not None:
            instant_us(row.get("deleted_at"), "split row deleted_at")
    for query in split_queries:
        if query.get("as_of_timestamp") is not None:
            instant_us(query["as_of_timestamp"], "recorded as_of_timestamp")


def collect_split_rows(
    splits: Sequence[Any] | None, splits_as_of: Mapping[str, Sequence[Any]] | None
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Merge current and past split answers into ``(rows by id, queries made)``.

    Returns:
        ``(None, [])`` when no split was fetched.

    Raises:
        ValidationError: If a row is not a record or an ``as_of`` is not ISO-8601.
    """
    if splits is None and not splits_as_of:
        return None, []
    rows: dict[str, dict[str, Any]] = {}
    queries: list[dict[str, Any]] = []
    if splits is not None:
        queries.append({"split_name": None, "as_of_timestamp": None})
        for row in splits:
            record = as_record(row, "split row")
            rows[str(record.get("id"))] = record
    for as_of, snapshot in (splits_as_of or {}).items():
        instant_us(as_of, "as_of_timestamp")
        queries.append({"split_name": None, "as_of_timestamp": as_of})
        for row in snapshot:
            record = as_record(row, "split row")
            rows.setdefault(str(record.get("id")), record)
    return list(rows.values()), queries


def _query_recorded(
    queries: Iterable[Mapping[str, Any]], split_name: str | None, as_of_us: int | None
) -> bool:
    for query in queries:
        q_name, q_as_of = query.get("split_name"), query.get("as_of_timestamp")
        q_us = None if q_as_of is None else instant_us(q_as_of, "recorded as_of_timestamp")
        if q_us == as_of_us and (q_name is None or q_name == split_name):
            return True
    return False


def _live_at(row: Mapping[str, Any], as_of_us: int) -> bool:
    if instant_us(row.get("created_at"), "split row created_at") > as_of_us:
        return False
    deleted = row.get("deleted_at")
    return deleted is None or instant_us(deleted, "split row deleted_at") > as_of_us


def _undetermined_at(rows: Iterable[Mapping[str, Any]], as_of_us: int) -> set[str]:
    """Resources whose split at ``as_of_us`` the rows do not determine."""
    live: set[str] = set()
    later: set[str] = set()
    for row in rows:
        rid = str(row.get("resource_id"))
        if _live_at(row, as_of_us):
            live.add(rid)
        elif instant_us(row.get("created_at"), "split row created_at") > as_of_us:
            later.add(rid)
    return later - live


def stored_splits(
    manifest: CacheManifest, split_name: str | None, as_of_timestamp: str | None
) -> list[dict[str, Any]]:
    """The rule of :meth:`CacheManifest.splits`, applied to ``manifest``'s stored rows."""
    as_of_us = None if as_of_timestamp is None else instant_us(as_of_timestamp, "as_of_timestamp")
    hint = (
        f"run the same split query once online (with the server reachable) or "
        f"`datamint download --project {manifest.project_name}`"
    )
    if manifest.split_rows is None:
        raise OfflineCacheMissError(
            f"the split assignments of project {manifest.project_name!r} were not synced "
            f"into its manifest (synced {manifest.synced_at}): {hint}"
        )
    rows = manifest.split_rows
    queries = manifest.split_queries
    if not _query_recorded(queries, split_name, as_of_us):
        if as_of_us is None or not _query_recorded(queries, None, None):
            what = "current" if as_of_us is None else f"as of {as_of_timestamp}"
            raise OfflineCacheMissError(
                f"the {what} split assignments of project {manifest.project_name!r} were "
                f"not synced into its manifest (synced {manifest.synced_at}): {hint}"
            )
        unknown = sorted(_undetermined_at(rows, as_of_us))
        if unknown:
            raise OfflineCacheMissError(
                f"the manifest of project {manifest.project_name!r} (synced "
                f"{manifest.synced_at}) cannot tell the split of {len(unknown)} resource(s) "
                f"as of {as_of_timestamp} (e.g. {unknown[0]}): they were assigned after "
                f"that instant, and whether they had a row then was never received; {hint}"
            )
    if as_of_us is None:
        kept = [r for r in rows if r.get("deleted_at") is None]
    else:
        kept = [r for r in rows if _live_at(r, as_of_us)]
    if split_name is not None:
        kept = [r for r in kept if r.get("split_name") == split_name]
    kept.sort(
        key=lambda r: (
            instant_us(r.get("created_at"), "split row created_at"),
            str(r.get("id")),
        )
    )
    return [dict(r) for r in kept]
