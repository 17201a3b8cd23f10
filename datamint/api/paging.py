"""Turning list responses into items, and walking offset/limit pages.

Response shapes, normalised by :func:`unwrap_items`:

- a bare JSON array is the list;
- ``{"totalCount": N, "data": [{"<key>": [...]}]}`` (exactly one element in ``data``,
  holding the endpoint's collection key) gives ``data[0][<key>]``: the *unwrap rule*;
- otherwise an object with ``data`` gives ``data``, else one with ``items`` gives ``items``;
- any other object is a single item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from datamint.exceptions import ValidationError

__all__ = ["PAGE_SIZE", "iter_paged", "unwrap_items"]

PAGE_SIZE = 5000
"""Items asked for per page; a shorter page ends a listing."""


def _as_list(value: Any, collection_key: str | None) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if collection_key is not None and isinstance(value.get(collection_key), list):
            return list(value[collection_key])
        return [value] if value else []
    return [value]


def unwrap_items(payload: Any, collection_key: str | None = None) -> list[Any]:
    """Normalise one list response to its items.

    Args:
        payload: The parsed JSON body.
        collection_key: The endpoint's collection key (``"projects"``, ``"resources"``,
            ``"annotations"``, ...), used by the unwrap rule.

    Returns:
        The items, in response order. ``null`` and ``{}`` give ``[]``.

    Example:
        >>> unwrap_items({"data": [{"resources": [{"id": "a"}]}], "totalCount": 1}, "resources")
        [{'id': 'a'}]
    """
    if payload is None:
        return []
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        return [payload]
    data = payload.get("data")
    if (
        collection_key is not None
        and "totalCount" in payload
        and isinstance(data, list)
        and len(data) == 1
        and isinstance(data[0], dict)
        and collection_key in data[0]
    ):
        return _as_list(data[0][collection_key], None)
    if "data" in payload:
        return _as_list(data, collection_key)
    if "items" in payload:
        return _as_list(payload["items"], collection_key)
    return [payload] if payload else []


def iter_paged(
    fetch_page: Callable[[int, int], Any],
    collection_key: str | None,
    *,
    limit: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Any]:
    """Yield the items of an offset/limit listing, page by page.

    The loop asks for ``min(page_size, remaining)`` items from offset 0, and stops on an
    empty page, on a page shorter than asked, or once ``limit`` items were yielded. The
    offset advances by the length of each page.

    Args:
        fetch_page: ``fetch_page(offset, limit)`` returns one page's parsed JSON body.
            The caller decides where the two numbers go (query string, or a JSON body as
            strings).
        collection_key: See :func:`unwrap_items`.
        limit: Most items wanted; unbounded when ``None``.
        page_size: Items per page.

    Yields:
        The items, in server order.

    Raises:
        ValidationError: If ``limit`` is negative or ``page_size`` is not positive.
    """
    if limit is not None and limit < 0:
        raise ValidationError(f"limit must be >= 0 or None, got {limit}")
    if page_size <= 0:
        raise ValidationError(f"page_size must be > 0, got {page_size}")
    offset = 0
    remaining = limit
    while remaining is None or remaining > 0:
        asked = page_size if remaining is None else min(page_size, remaining)
        page = unwrap_items(fetch_page(offset, asked), collection_key)
        if remaining is not None:
            page = page[:remaining]
            remaining -= len(page)
        yield from page
        if len(page) < asked:
            return
        offset += len(page)
