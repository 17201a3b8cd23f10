"""``RecordTable``: many JSON records in one buffer, not one Python object per record.

A project of 500 000 resources held as dicts costs ~3 KB a record and, in forked
DataLoader workers, copies those pages as soon as a worker reads them (reading a Python
object writes its reference count). A table keeps the records as compact UTF-8 JSON texts
concatenated in one ``bytes`` buffer, with their start offsets in one numpy array: ~0.7 KB
a record, two Python objects in all, and pages a worker only reads stay shared.

Indexing a table decodes that record into a fresh dict (``json.loads``, ~4 us for a
resource), so callers may change what they get; the table itself never changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, overload

import numpy as np

from datamint.exceptions import ValidationError

__all__ = ["RecordTable", "RecordTableBuilder", "as_table"]

JsonRecord = dict[str, Any]

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
# the C scanner of the standard decoder (an attribute typeshed leaves out): a stored text is
# exactly one value, so the whitespace handling of ``loads`` is not needed
_SCAN: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009


def _decode(text: bytes | memoryview) -> JsonRecord:
    record: JsonRecord = _SCAN(str(text, "utf-8"), 0)[0]
    return record


class RecordTable(Sequence[JsonRecord]):
    """An immutable sequence of JSON objects stored as JSON texts in a few buffers.

    Args:
        data: The UTF-8 JSON texts, concatenated.
        offsets: int64 ``(n + 1,)``: record ``i`` is ``data[offsets[i]:offsets[i + 1]]``.

    Build one with :class:`RecordTableBuilder`, :meth:`from_records` or :meth:`concat`
    (which shares the tables' buffers instead of copying them: a table may span several
    buffers, and no record spans two).
    """

    __slots__ = ("_chunk_starts", "_chunks", "_offsets")

    def __init__(self, data: bytes = b"", offsets: np.ndarray | None = None) -> None:
        offsets = (
            np.zeros(1, dtype=np.int64)
            if offsets is None
            else np.ascontiguousarray(offsets, dtype=np.int64)
        )
        offsets.setflags(write=False)
        self._chunks: tuple[bytes, ...] = (data if type(data) is bytes else bytes(data),)
        self._chunk_starts = np.array([0, len(data)], dtype=np.int64)
        self._offsets = offsets

    @classmethod
    def _of_chunks(cls, chunks: Sequence[bytes], offsets: np.ndarray) -> RecordTable:
        table = cls.__new__(cls)
        table._chunks = tuple(chunks) or (b"",)
        starts = np.zeros(len(table._chunks) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in table._chunks], out=starts[1:])
        table._chunk_starts = starts
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        offsets.setflags(write=False)
        table._offsets = offsets
        return table

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> RecordTable:
        """A table of ``records`` (JSON objects), in order.

        Raises:
            ValidationError: If a record is not a JSON object of JSON values.
        """
        builder = RecordTableBuilder()
        builder.extend(records)
        return builder.build()

    @classmethod
    def concat(cls, tables: Iterable[RecordTable]) -> RecordTable:
        """One table holding the records of ``tables`` in order; their buffers are shared,
        not copied."""
        parts = [t for t in tables if len(t)]
        if len(parts) == 1:
            return parts[0]
        chunks: list[bytes] = []
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for t in parts:
            first = int(t._chunk_starts[0])
            offsets.append(t._offsets[1:] - first + base)
            base += int(t._chunk_starts[-1]) - first
            chunks.extend(t._chunks)
        return cls._of_chunks(chunks, np.concatenate(offsets))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _text(self, index: int) -> bytes | memoryview:
        start, stop = int(self._offsets[index]), int(self._offsets[index + 1])
        chunks = self._chunks
        if len(chunks) == 1:
            return chunks[0][start:stop]
        k = int(np.searchsorted(self._chunk_starts, start, side="right")) - 1
        base = int(self._chunk_starts[k])
        return chunks[k][start - base : stop - base]

    @overload
    def __getitem__(self, index: int) -> JsonRecord: ...

    @overload
    def __getitem__(self, index: slice) -> RecordTable: ...

    def __getitem__(self, index: int | slice) -> JsonRecord | RecordTable:
        """Record ``index`` as a new dict, or a table of a slice of the records."""
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        n = len(self._offsets) - 1
        if not -n <= index < n:
            raise IndexError(f"record {index} is out of range for a table of {n}")
        return _decode(self._text(index + n if index < 0 else index))

    def __iter__(self) -> Iterator[JsonRecord]:
        scan = _SCAN
        for chunk, spans in self._spans():
            view = memoryview(chunk)
            for start, stop in spans:
                yield scan(str(view[start:stop], "utf-8"), 0)[0]

    def _spans(self) -> Iterator[tuple[bytes, list[tuple[int, int]]]]:
        """Per buffer, the ``(start, stop)`` of its records, in record order."""
        offsets = self._offsets
        starts = self._chunk_starts
        where = np.searchsorted(starts, offsets[:-1], side="right") - 1
        bounds = np.searchsorted(where, np.arange(len(self._chunks) + 1), side="left")
        for k, chunk in enumerate(self._chunks):
            a, b = int(bounds[k]), int(bounds[k + 1])
            if a == b:
                continue
            base = int(starts[k])
            lo = (offsets[a:b] - base).tolist()
            hi = (offsets[a + 1 : b + 1] - base).tolist()
            yield chunk, list(zip(lo, hi, strict=True))

    def raw(self, index: int) -> bytes:
        """Record ``index`` as its JSON text (UTF-8)."""
        return bytes(self._text(index))

    @property
    def nbytes(self) -> int:
        """Bytes held: the JSON texts and the offsets."""
        return sum(len(c) for c in self._chunks) + self._offsets.nbytes

    def take(self, positions: Sequence[int] | np.ndarray) -> RecordTable:
        """A table of the records at ``positions`` (in that order; repeats allowed).

        Raises:
            IndexError: If a position is out of range.
        """
        pos = np.asarray(positions, dtype=np.int64).reshape(-1)
        n = len(self)
        if pos.size and (pos.min() < -n or pos.max() >= n):
            raise IndexError(f"a position is out of range for a table of {n}")
        pos = np.where(pos < 0, pos + n, pos)
        if len(pos) == n and np.array_equal(pos, np.arange(n)):
            return self
        starts, stops = self._offsets[pos], self._offsets[pos + 1]
        offsets = np.zeros(len(pos) + 1, dtype=np.int64)
        np.cumsum(stops - starts, out=offsets[1:])
        if len(self._chunks) == 1:
            view = memoryview(self._chunks[0])
            parts: list[bytes | memoryview] = [
                view[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)
            ]
        else:
            parts = [self._text(int(i)) for i in pos]
        return RecordTable(b"".join(parts), offsets)

    def write_json_array(self, out: BinaryIO) -> None:
        """Write the records to ``out`` as one JSON array (the stored texts, unchanged)."""
        out.write(b"[")
        first = True
        for chunk, spans in self._spans():
            view = memoryview(chunk)
            for start, stop in spans:
                if not first:
                    out.write(b",")
                out.write(view[start:stop])
                first = False
        out.write(b"]")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordTable | list | tuple):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return RecordTable._of_chunks, (self._chunks, np.array(self._offsets))

    def __repr__(self) -> str:
        return f"RecordTable({len(self)} records, {self.nbytes} bytes)"


class RecordTableBuilder:
    """Collects records (dicts or JSON texts) into a :class:`RecordTable`.

    The texts go straight into one growing ``bytearray`` (no object per record), so
    building a table of 500 000 records leaves no heap of small freed objects behind.
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = np.zeros(1024, dtype=np.int64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record (a JSON object).

        Raises:
            ValidationError: If it is not a JSON object of JSON values (NaN included).
        """
        if not isinstance(record, Mapping):
            raise ValidationError(f"a record must be a JSON object, got {type(record).__name__}")
        try:
            text = _ENCODE(record if isinstance(record, dict) else dict(record))
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"record {record.get('id')!r} is not JSON: {exc}") from None
        self.append_json(text)

    def append_json(self, text: str | bytes) -> None:
        """Add one record given as its JSON text (checked by the caller)."""
        data = self._data
        data += text.encode("utf-8") if isinstance(text, str) else text
        if self._count == len(self._ends):
            self._ends = np.concatenate([self._ends, np.zeros(len(self._ends), dtype=np.int64)])
        self._ends[self._count] = len(data)
        self._count += 1

    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add each of ``records`` (see :meth:`append`)."""
        for record in records:
            self.append(record)

    def build(self) -> RecordTable:
        """The table of everything added; the builder is then empty."""
        offsets = np.zeros(self._count + 1, dtype=np.int64)
        offsets[1:] = self._ends[: self._count]
        data = bytes(self._data)
        self.__init__()  # type: ignore[misc]
        return RecordTable(data, offsets)


def as_table(records: Iterable[Mapping[str, Any]]) -> RecordTable:
    """``records`` as a table: a table as it is (immutable), anything else encoded."""
    return records if isinstance(records, RecordTable) else RecordTable.from_records(records)
