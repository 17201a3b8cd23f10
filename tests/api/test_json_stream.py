"""iter_json_array: elements of a JSON array decoded as the bytes arrive."""

from __future__ import annotations

import json

import pytest

from datamint.api.json_stream import iter_json_array

ITEMS = [{"id": "a", "text": "é ü 中", "n": [1, 2.5, None]}, {"id": "b"}, 12345, "x", True]


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_elements_and_their_texts_for_any_chunking(size: int) -> None:
    texts = ",\n ".join(json.dumps(i, ensure_ascii=False) for i in ITEMS)
    body = f"[\n {texts}\n]\n".encode()
    got = list(iter_json_array(pieces(body, size), source="GET /x"))
    assert [value for value, _ in got] == ITEMS
    assert [json.loads(text) for _, text in got] == ITEMS


def test_a_number_split_across_chunks_is_read_whole() -> None:
    assert [v for v, _ in iter_json_array([b"[12", b"345,6", b"7]"], source="s")] == [12345, 67]
    assert list(iter_json_array([b"  [ ] "], source="s")) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1}', "not a JSON array"),
        (b"[1, 2", "ends early|invalid JSON"),
        (b"[1 2]", "expected ',' or ']'"),
        (b"[1, {]", "invalid JSON"),
        (b"[1] x", "text after the end"),
    ],
)
def test_bad_bodies_are_named(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        list(iter_json_array(pieces(body, 2), source="GET /x"))
