"""Fast paged listings: cached match lists and responses built from stored JSON.

A client pages through a listing with ``offset``/``limit``, re-sending the
same filters for every page. :class:`ListingCache` keeps, per user and filter, the ordered
``seq`` numbers of the matches (an ``array('q')``: 8 bytes a match) for the current store
generation; each page then fetches only its rows. Any write bumps the generation, so a
cached listing is never served after a change.

Records are stored as the JSON the wire sends; :func:`json_page` and :func:`json_array`
splice those texts into the response without parsing them.
"""

from __future__ import annotations

import json
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from fastapi.responses import Response

__all__ = ["ListingCache", "json_array", "json_page", "json_response"]

#: Matches kept per cache, in total (about 8 MB of ``seq`` numbers).
DEFAULT_BUDGET_ITEMS = 1_000_000


class ListingCache:
    """An LRU of ordered match lists, keyed by (query, store generation).

    Args:
        budget_items: Most ``seq`` numbers kept over all entries; the least recently
            used entries are dropped beyond it (one oversized entry is still kept).
    """

    def __init__(self, budget_items: int = DEFAULT_BUDGET_ITEMS) -> None:
        self.budget_items = budget_items
        self._entries: OrderedDict[Hashable, array] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, generation: int, compute: Callable[[], array]) -> array:
        """Return the cached matches of ``key`` at ``generation``, computing them on a miss.

        Args:
            key: Hashable description of the query, including the user.
            generation: The store generation the matches must belong to.
            compute: Called on a miss; returns the ordered seqs.

        Returns:
            The ordered seqs (do not modify).
        """
        full_key = (key, generation)
        with self._lock:
            found = self._entries.get(full_key)
            if found is not None:
                self._entries.move_to_end(full_key)
                self.hits += 1
                return found
        result = compute()
        with self._lock:
            self.misses += 1
            self._entries[full_key] = result
            self._entries.move_to_end(full_key)
            total = sum(len(v) for v in self._entries.values())
            while len(self._entries) > 1 and total > self.budget_items:
                _, dropped = self._entries.popitem(last=False)
                total -= len(dropped)
        return result


def json_page(collection: str, rows: Sequence[str], total: int) -> Response:
    """Answer ``{"data": [{"<collection>": [rows...]}], "totalCount": total}``.

    Args:
        collection: The collection key, e.g. ``"resources"``.
        rows: JSON texts, one object each.
        total: Number of matches over all pages.

    Returns:
        An ``application/json`` response.
    """
    body = f'{{"data":[{{"{collection}":[{",".join(rows)}]}}],"totalCount":{int(total)}}}'
    return Response(content=body.encode("utf-8"), media_type="application/json")


def json_array(rows: Sequence[str]) -> Response:
    """Answer a bare JSON array of the given JSON texts.

    Args:
        rows: JSON texts.

    Returns:
        An ``application/json`` response.
    """
    return Response(
        content=("[" + ",".join(rows) + "]").encode("utf-8"), media_type="application/json"
    )


def json_response(value: Any, status_code: int = 200) -> Response:
    """Answer ``value`` as compact JSON, as stored (no response-model re-validation).

    Args:
        value: A JSON-compatible value (a record, a list of ids, ...).
        status_code: HTTP status.

    Returns:
        An ``application/json`` response.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return Response(
        content=text.encode("utf-8"), status_code=status_code, media_type="application/json"
    )
