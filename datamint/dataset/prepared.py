"""``Prepared``: what a prepared dataset holds, in compact arrays.

A dataset over 500 000 resources must not hold a Python object per resource: the
objects cost ~3-20 KB each, and forked DataLoader workers copy every page of them they
read (reading an object writes its reference count). So the kept records live in
:class:`~datamint.storage.record_table.RecordTable` s (JSON texts in one buffer, offsets
in numpy), shared by every dataset derived from the same preparation, and a dataset is
a numpy array of row numbers into them. ``Resource`` and ``Annotation`` entities are
built when asked for (:meth:`Prepared.resource`, :meth:`Prepared.annotations_of`, or
the lazy sequences :attr:`Prepared.resources` / :attr:`Prepared.annotations`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import overload

import numpy as np

from datamint.dataset.label_schema import LabelSchema
from datamint.entities import Annotation, Project, Resource
from datamint.storage.record_table import RecordTable

__all__ = ["AnnotationLists", "EntityCache", "Prepared", "PreparedRecords", "Resources"]


@dataclass(frozen=True, eq=False)
class PreparedRecords:
    """The records one preparation kept, shared by every dataset derived from it.

    Attributes:
        resources: The kept resource records, in server order (row ``r``).
        annotations: The kept annotation records, grouped by resource in row order.
        annotation_offsets: int64 ``(R + 1,)``: the annotations of row ``r`` are
            ``annotations[annotation_offsets[r]:annotation_offsets[r + 1]]``.
    """

    resources: RecordTable
    annotations: RecordTable
    annotation_offsets: np.ndarray

    def __post_init__(self) -> None:
        offsets = self.annotation_offsets
        if len(offsets) != len(self.resources) + 1 or int(offsets[-1]) != len(self.annotations):
            raise ValueError(
                f"annotation_offsets {offsets.shape} do not fit {len(self.resources)} "
                f"resources and {len(self.annotations)} annotations"
            )

    @classmethod
    def of(
        cls, resources: Sequence[Resource], annotations: Sequence[Sequence[Annotation]]
    ) -> PreparedRecords:
        """The records of ``resources`` and, per resource, its ``annotations``."""
        lengths = [len(a) for a in annotations]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(
            RecordTable.from_records(r.record for r in resources),
            RecordTable.from_records(a.record for anns in annotations for a in anns),
            offsets,
        )

    def resource(self, row: int) -> Resource:
        """The resource of row ``row``, built now."""
        return Resource(self.resources[row])

    def annotations_of(self, row: int) -> tuple[Annotation, ...]:
        """The annotations of row ``row``, built now."""
        offsets = self.annotation_offsets
        table = self.annotations
        return tuple(Annotation(table[i]) for i in range(int(offsets[row]), int(offsets[row + 1])))

    def annotation_counts(self, rows: np.ndarray) -> np.ndarray:
        """int64 number of annotations of each of ``rows``."""
        offsets = self.annotation_offsets
        return np.asarray(offsets[rows + 1] - offsets[rows], dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """Bytes held by the tables and offsets."""
        return self.resources.nbytes + self.annotations.nbytes + self.annotation_offsets.nbytes


class Resources(Sequence[Resource]):
    """The resources of some rows of a table of resource records, built when indexed."""

    __slots__ = ("_rows", "_table")

    def __init__(self, table: RecordTable, rows: np.ndarray) -> None:
        self._table = table
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Resource: ...

    @overload
    def __getitem__(self, index: slice) -> Resources: ...

    def __getitem__(self, index: int | slice) -> Resource | Resources:
        if isinstance(index, slice):
            return Resources(self._table, self._rows[index])
        return Resource(self._table[int(self._rows[index])])

    def __iter__(self) -> Iterator[Resource]:
        table = self._table
        for row in self._rows.tolist():
            yield Resource(table[row])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Resources({len(self)})"


class AnnotationLists(Sequence[tuple[Annotation, ...]]):
    """Per row of a :class:`PreparedRecords`, its annotations, built when indexed."""

    __slots__ = ("_records", "_rows")

    def __init__(self, records: PreparedRecords, rows: np.ndarray) -> None:
        self._records = records
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> tuple[Annotation, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> AnnotationLists: ...

    def __getitem__(self, index: int | slice) -> tuple[Annotation, ...] | AnnotationLists:
        if isinstance(index, slice):
            return AnnotationLists(self._records, self._rows[index])
        return self._records.annotations_of(int(self._rows[index]))

    def __iter__(self) -> Iterator[tuple[Annotation, ...]]:
        for row in self._rows.tolist():
            yield self._records.annotations_of(row)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(
            tuple(a) == tuple(b) for a, b in zip(self, other, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AnnotationLists({len(self)})"


def _all_rows(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Prepared:
    """What a prepared dataset holds.

    Attributes:
        project: The project, or None for a dataset built from resources.
        records: The kept records (shared by derived datasets).
        schema: Codes of classes, labels, categories and boxes.
        rows: int64 ``(N,)``: the dataset's resources, as rows of ``records``, in order.
        excluded_records: Resources of the project that this dataset class cannot
            represent (their records).
        annotators: Every author of the kept annotations, sorted; kept by :meth:`select`,
            so the parts of a split share it.
    """

    project: Project | None
    records: PreparedRecords
    schema: LabelSchema
    rows: np.ndarray = field(default_factory=lambda: _all_rows(0))
    excluded_records: RecordTable = field(default_factory=RecordTable)
    annotators: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        project: Project | None,
        resources: Sequence[Resource],
        annotations: Sequence[Sequence[Annotation]],
        schema: LabelSchema,
    ) -> Prepared:
        """A prepared state holding ``resources`` and their ``annotations`` (in order)."""
        return cls(
            project,
            PreparedRecords.of(resources, annotations),
            schema,
            _all_rows(len(resources)),
            annotators=tuple(sorted({a.author for anns in annotations for a in anns})),
        )

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def resources(self) -> Resources:
        """The resources, in order: a sequence building each ``Resource`` when indexed."""
        return Resources(self.records.resources, self.rows)

    @property
    def annotations(self) -> AnnotationLists:
        """Per resource, its annotations (tuples of ``Annotation``), built when indexed."""
        return AnnotationLists(self.records, self.rows)

    @property
    def excluded(self) -> Resources:
        """The resources of the project this dataset class cannot represent."""
        return Resources(self.excluded_records, _all_rows(len(self.excluded_records)))

    def resource(self, position: int) -> Resource:
        """The resource at ``position`` (0 <= position < len), built now."""
        return self.records.resource(int(self.rows[position]))

    def annotations_of(self, position: int) -> tuple[Annotation, ...]:
        """The annotations of the resource at ``position``, built now."""
        return self.records.annotations_of(int(self.rows[position]))

    def select(self, indices: Sequence[int] | np.ndarray) -> Prepared:
        """A copy holding only the resources at ``indices`` (in that order)."""
        positions = np.asarray(indices, dtype=np.int64).reshape(-1)
        return replace(self, rows=self.rows[positions])

    @classmethod
    def combine(cls, parts: Sequence[tuple[Prepared, Sequence[int]]]) -> Prepared:
        """The resources at the given positions of each part, part after part.

        The first part's project, schema and exclusions are kept. Parts sharing one
        :class:`PreparedRecords` (the parts of one split) share it in the result too.
        """
        first = parts[0][0]
        if all(p.records is first.records for p, _ in parts):
            rows = [p.rows[np.asarray(pos, dtype=np.int64)] for p, pos in parts]
            return replace(first, rows=np.concatenate(rows) if rows else _all_rows(0))
        resources = [p.resource(int(i)) for p, pos in parts for i in pos]
        annotations = [p.annotations_of(int(i)) for p, pos in parts for i in pos]
        return replace(
            first,
            records=PreparedRecords.of(resources, annotations),
            rows=_all_rows(len(resources)),
        )


class EntityCache:
    """The entities of the rows read last, per process (a bounded LRU).

    The items of one resource (its slices, its frames) reuse one ``Resource`` and one
    tuple of ``Annotation`` s, so what is derived from them once (file versions, target
    plans) is found again by identity.

    Args:
        records: The records the rows index.
        size: Rows kept.
    """

    def __init__(self, records: PreparedRecords, size: int = 64) -> None:
        self.records = records
        self.size = size
        self._items: OrderedDict[int, tuple[Resource, tuple[Annotation, ...]]] = OrderedDict()

    def get(self, row: int) -> tuple[Resource, tuple[Annotation, ...]]:
        """``(resource, annotations)`` of row ``row``."""
        items = self._items
        entry = items.get(row)
        if entry is None:
            records = self.records
            entry = items[row] = (records.resource(row), records.annotations_of(row))
            if len(items) > self.size:
                items.popitem(last=False)
        else:
            items.move_to_end(row)
        return entry
