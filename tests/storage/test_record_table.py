"""RecordTable: records as JSON texts in shared buffers, decoded into fresh dicts."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest

from datamint.exceptions import ValidationError
from datamint.storage.record_table import RecordTable, RecordTableBuilder, as_table

RECORDS = [{"id": f"r{i}", "name": "é" * i, "meta": {"n": i}, "tags": [i, None]} for i in range(6)]


def test_a_table_gives_back_its_records_as_fresh_dicts() -> None:
    table = RecordTable.from_records(RECORDS)
    assert len(table) == 6 and list(table) == RECORDS and table[-1] == RECORDS[-1]
    first = table[0]
    first["name"] = "changed"
    assert table[0] == RECORDS[0]
    with pytest.raises(IndexError):
        table[6]
    assert json.loads(table.raw(2)) == RECORDS[2]


def test_take_concat_and_slices_keep_order_and_share_buffers() -> None:
    a = RecordTable.from_records(RECORDS[:4])
    b = RecordTable.from_records(RECORDS[4:])
    both = RecordTable.concat([a, b])
    assert list(both) == RECORDS
    assert both._chunks == (a._chunks[0], b._chunks[0])  # shared, not copied
    assert list(both.take([5, 0, 5, 3])) == [RECORDS[5], RECORDS[0], RECORDS[5], RECORDS[3]]
    assert both.take(range(6)) is both
    assert list(both[1:5:2]) == RECORDS[1:5:2]
    nested = RecordTable.concat([both.take([4, 1]), a])
    assert list(nested) == [RECORDS[4], RECORDS[1], *RECORDS[:4]]
    with pytest.raises(IndexError):
        both.take([6])


def test_a_table_pickles_and_writes_as_one_json_array() -> None:
    table = RecordTable.concat([RecordTable.from_records(RECORDS[:2]), as_table(RECORDS[2:])])
    again = pickle.loads(pickle.dumps(table))
    assert again == table and again == RECORDS
    out = io.BytesIO()
    table.write_json_array(out)
    assert json.loads(out.getvalue()) == RECORDS
    empty = io.BytesIO()
    RecordTable().write_json_array(empty)
    assert empty.getvalue() == b"[]"


def test_as_table_keeps_a_table_and_records_must_be_json_objects() -> None:
    table = RecordTable.from_records(RECORDS)
    assert as_table(table) is table
    with pytest.raises(ValidationError, match="JSON object"):
        RecordTable.from_records([["not", "an", "object"]])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="not JSON"):
        RecordTable.from_records([{"id": "x", "value": float("nan")}])
    builder = RecordTableBuilder()
    for record in RECORDS * 300:  # past the first growth of the offsets
        builder.append(record)
    built = builder.build()
    assert len(built) == 1800 and built[1799] == RECORDS[5] and len(builder) == 0
    assert isinstance(built._offsets, np.ndarray) and not built._offsets.flags.writeable
