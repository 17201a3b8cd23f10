"""The unwrap rule and the offset/limit loop (contract §3.2)."""

from __future__ import annotations

from typing import Any

import pytest

from datamint.api.paging import PAGE_SIZE, iter_paged, unwrap_items
from datamint.exceptions import ValidationError

A, B = {"id": "a"}, {"id": "b"}


@pytest.mark.parametrize(
    ("payload", "key", "expected"),
    [
        pytest.param([A, B], "projects", [A, B], id="bare array"),
        pytest.param({"data": [A, B]}, "projects", [A, B], id="data"),
        pytest.param({"items": [A, B]}, "projects", [A, B], id="items"),
        pytest.param({"data": [A], "items": [B]}, "projects", [A], id="data before items"),
        pytest.param(
            {"data": [{"resources": [A, B]}], "totalCount": 2}, "resources", [A, B], id="unwrap"
        ),
        pytest.param(
            {"data": [{"annotations": []}], "totalCount": "0"}, "annotations", [], id="unwrap empty"
        ),
        pytest.param(
            {"data": [{"resources": [A]}]},
            "resources",
            [{"resources": [A]}],
            id="no totalCount: no unwrap",
        ),
        pytest.param(
            {"data": [{"resources": [A]}, {"resources": [B]}], "totalCount": 2},
            "resources",
            [{"resources": [A]}, {"resources": [B]}],
            id="two elements: no unwrap",
        ),
        pytest.param(
            {"data": [{"id": "a", "name": "x"}], "totalCount": 1},
            "resources",
            [{"id": "a", "name": "x"}],
            id="one element without the key",
        ),
        pytest.param(
            {"data": [{"projects": [A]}], "totalCount": 1},
            "resources",
            [{"projects": [A]}],
            id="other endpoint's key",
        ),
        pytest.param({"id": "a", "name": "x"}, "projects", [{"id": "a", "name": "x"}], id="object"),
        pytest.param({}, "projects", [], id="empty object"),
        pytest.param(None, "projects", [], id="null"),
        pytest.param({"data": None}, "projects", [], id="data null"),
    ],
)
def test_unwrap_items(payload: Any, key: str, expected: list) -> None:
    assert unwrap_items(payload, key) == expected


def _pages(total: int) -> tuple[list[tuple[int, int]], Any]:
    calls: list[tuple[int, int]] = []

    def fetch(offset: int, limit: int) -> Any:
        calls.append((offset, limit))
        items = [{"i": i} for i in range(offset, min(total, offset + limit))]
        return {"data": [{"resources": items}], "totalCount": total}

    return calls, fetch


def test_pages_until_a_short_page() -> None:
    calls, fetch = _pages(PAGE_SIZE + 3)
    items = list(iter_paged(fetch, "resources"))
    assert [it["i"] for it in items] == list(range(PAGE_SIZE + 3))
    assert calls == [(0, PAGE_SIZE), (PAGE_SIZE, PAGE_SIZE)]


def test_exact_multiple_needs_an_empty_page_to_stop() -> None:
    calls, fetch = _pages(2 * PAGE_SIZE)
    assert len(list(iter_paged(fetch, "resources"))) == 2 * PAGE_SIZE
    assert calls == [(0, PAGE_SIZE), (PAGE_SIZE, PAGE_SIZE), (2 * PAGE_SIZE, PAGE_SIZE)]


def test_limit_caps_the_page_size_and_the_count() -> None:
    calls, fetch = _pages(100)
    assert [it["i"] for it in iter_paged(fetch, "resources", limit=5)] == [0, 1, 2, 3, 4]
    assert calls == [(0, 5)]


def test_limit_over_several_pages() -> None:
    calls, fetch = _pages(100)
    items = list(iter_paged(fetch, "resources", limit=25, page_size=10))
    assert len(items) == 25
    assert calls == [(0, 10), (10, 10), (20, 5)]


def test_limit_zero_sends_nothing() -> None:
    calls, fetch = _pages(100)
    assert list(iter_paged(fetch, "resources", limit=0)) == []
    assert calls == []


def test_oversized_page_is_truncated_to_the_limit() -> None:
    assert list(iter_paged(lambda o, n: [A, B, A], None, limit=2)) == [A, B]


def test_negative_limit_is_rejected() -> None:
    with pytest.raises(ValidationError, match="limit"):
        list(iter_paged(lambda o, n: [], None, limit=-1))
