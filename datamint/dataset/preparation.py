"""Preparation: a project (or a resource list) to a dataset's resources, annotations and schema.

This is the only place where a dataset talks to the server before items are read:
resolve the project, list its resources, search their
annotations (:data:`SEARCH_BATCH` resources per search), read the worklists and
segmentation groups, then filter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from datamint.dataset.annotation_filter import AnnotationFilter
from datamint.dataset.label_schema import (
    FoundLabels,
    schema_from_annotations,
    schema_from_worklists,
)
from datamint.dataset.prepared import Prepared, PreparedRecords
from datamint.entities import Annotation, Project, Resource
from datamint.exceptions import DatamintDatasetException, ItemNotFoundError, ValidationError
from datamint.storage.record_table import RecordTable, as_table

if TYPE_CHECKING:
    from datamint.api.reader import JsonRecord, ProjectReader

__all__ = ["SEARCH_BATCH", "PrepareOptions", "Prepared", "prepare"]

_LOG = logging.getLogger(__name__)

SEARCH_BATCH = 10_000
"""Resource ids per annotation search: one body of every id of a 500 000-resource
project would be ~20 MB, sent again with every page of the answer."""


@dataclass(frozen=True)
class PrepareOptions:
    """The constructor arguments that decide what a dataset holds."""

    worklists: str | Sequence[Any] | None = "all"
    trusted_sources: Collection[str] | None = ("imported", "manual")
    annotation_filter: AnnotationFilter = AnnotationFilter()  # noqa: RUF009 - frozen, shared safely
    include_unannotated: bool = True


def _is_deleted(record: Resource | Annotation) -> bool:
    return bool(record.get("deleted")) or record.deleted_at is not None


def _resolve_project(api: ProjectReader, project: str | Project) -> Project:
    if isinstance(project, Project):
        return project
    return Project(api.get_project_by_name(str(project)))


def _worklists(
    api: ProjectReader, project: Project, wanted: str | Sequence[Any]
) -> list[dict[str, Any]]:
    """Full worklists of the project, limited to ``wanted`` unless 'all'."""
    items = []
    for item in api.get_project_worklists(project.id):
        item = dict(item)
        item.setdefault("id", item.get("worklist_id"))
        item.setdefault("name", item.get("worklist_name"))
        items.append(item)
    if wanted != "all":
        keys = {
            w
            if isinstance(w, str)
            else (w.get("id") if isinstance(w, dict) else getattr(w, "id", None))
            for w in wanted
        }
        items = [w for w in items if w["id"] in keys or w["name"] in keys]
        if not items:
            raise DatamintDatasetException(
                f"project {project.name!r}: none of the worklists {sorted(map(str, keys))} exists"
            )
    full = []
    for item in items:
        if "annotations" not in item:
            item = {
                **api.get_annotation_set(item["id"]),
                **{k: v for k, v in item.items() if v is not None},
            }
        full.append(item)
    return full


def _given_resources(
    api: ProjectReader, given: Sequence[Resource | Mapping[str, Any] | str]
) -> list[Resource]:
    """Resources passed as entities, records or ids; ids are fetched (``GET /resources/{id}``).

    Raises:
        ItemNotFoundError: Naming every id the server does not know (or that is no UUID).
    """
    records: list[Resource] = []
    unknown: list[str] = []
    for item in given:
        if isinstance(item, Resource):
            records.append(item)
        elif isinstance(item, str):
            try:
                records.append(Resource(api.get_resource(item)))
            except (ItemNotFoundError, ValidationError):
                unknown.append(item)
        else:
            records.append(Resource(dict(item)))
    if unknown:
        raise ItemNotFoundError(f"resources not found on the server: {', '.join(unknown)}")
    return records


def prepare(
    api: ProjectReader,
    *,
    project: str | Project | None,
    resources: Sequence[Resource | Mapping[str, Any] | str] | None,
    accepts: Callable[[Resource], bool],
    options: PrepareOptions,
) -> Prepared:
    """Fetch and filter everything a dataset needs.

    Records stay compact throughout (:class:`~datamint.storage.record_table.RecordTable`):
    the resource listing as the client returns it, annotations searched for
    :data:`SEARCH_BATCH` resources at a time, each record decoded once here to filter it.

    Args:
        api: The client.
        project: A project name (a UUID string is a name too) or a Project.
        resources: Resources instead of a project: entities, records, or resource ids
            (each fetched with ``GET /resources/{id}``).
        accepts: Whether the dataset class can represent a resource (by kind/depth).
        options: Schema and filter settings.

    Returns:
        The prepared state.

    Raises:
        ItemNotFoundError: If no project has that name, or a resource id is unknown (the
            message lists every such id).
        DatamintDatasetException: On conflicting worklist schemas, or an annotation for
            a resource that was not asked for.
    """
    proj = _resolve_project(api, project) if project is not None else None
    listed: Sequence[Mapping[str, Any]]
    if proj is not None:
        listed = api.get_project_resources(proj.id)
    else:
        listed = [r.record for r in _given_resources(api, resources or ())]
    kept: list[int] = []
    excluded: list[int] = []
    kept_ids: list[str] = []
    with _Searches(api) as searches:
        for i, record in enumerate(listed):
            res = Resource(record)
            if _is_deleted(res):
                continue
            if accepts(res):
                kept.append(i)
                kept_ids.append(res.id)
                if len(kept_ids) % SEARCH_BATCH == 0:
                    searches.submit(kept_ids[-SEARCH_BATCH:])
            else:
                excluded.append(i)
        if len(kept_ids) % SEARCH_BATCH:
            searches.submit(kept_ids[-(len(kept_ids) % SEARCH_BATCH) :])
        if excluded:
            _LOG.info("%d resources of kinds this dataset does not hold: left out", len(excluded))
        table = as_table(listed)
        del listed
        found = _search(searches.answers(), kept_ids, options)
    if proj is not None and options.worklists is not None:
        worklists = _worklists(api, proj, options.worklists)
        groups = [api.get_segmentation_group(w["id"]) for w in worklists]
        schema = schema_from_worklists(worklists, groups, found.labels)
    else:
        schema = schema_from_annotations(found.labels)
    flt = options.annotation_filter
    if flt.allow_external:
        schema = schema.with_external(found.labels)
    schema = schema.restricted(flt.segmentation_names, flt.image_label_names)

    keep_kind = np.array([flt.keeps(a, schema) for a in found.kinds], dtype=bool)
    keep = keep_kind[found.kind_codes] if len(found.kind_codes) else np.zeros(0, dtype=bool)
    counts = np.bincount(found.rows[keep], minlength=len(kept_ids))
    if options.include_unannotated:
        final = np.arange(len(kept_ids), dtype=np.int64)
    else:
        final = np.flatnonzero(counts).astype(np.int64)
        keep &= np.isin(found.rows, final)
        counts = counts[final]
    offsets = np.zeros(len(final) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    records = PreparedRecords(
        table.take(np.asarray(kept, dtype=np.int64)[final]),
        found.take(keep),
        offsets,
    )
    return Prepared(
        proj,
        records,
        schema,
        np.arange(len(final), dtype=np.int64),
        table.take(excluded),
        tuple(sorted({kinds_author for kinds_author in _authors(found, keep)})),
    )


def _authors(found: _Found, keep: np.ndarray) -> set[str]:
    """The authors of the kept annotations (``keep`` is parallel to ``found.rows``)."""
    return {found.kinds[int(c)].author for c in np.unique(found.kind_codes[keep])}


@dataclass
class _Found:
    """The trusted annotations of the kept resources, from one pass over the answers.

    Attributes:
        tables: Per search, its answer, restricted to the trusted annotations and
            grouped by resource (the rows of one search are consecutive).
        rows: int64 per annotation of ``tables`` (concatenated): its resource's row.
        kind_codes: int64 per annotation: which of ``kinds`` it is.
        kinds: One annotation per distinct ``(author, type, identifier, image-scoped,
            category value)``: what the annotation filter decides on.
        labels: The identifiers used, for the schema.
    """

    tables: list[RecordTable]
    rows: np.ndarray
    kind_codes: np.ndarray
    kinds: list[Annotation]
    labels: FoundLabels

    def take(self, keep: np.ndarray) -> RecordTable:
        """The annotations where ``keep`` is True, in order, as one table."""
        parts, start = [], 0
        for table in self.tables:
            stop = start + len(table)
            parts.append(table.take(np.flatnonzero(keep[start:stop])))
            start = stop
        return RecordTable.concat(parts)


class _Searches:
    """Annotation searches run one after another in a thread, each started as soon as
    its resource ids are known, so the server searches while the listing is decoded
    here; the answers are read in order. Leaving the ``with`` block cancels the searches
    not started and waits for the running one."""

    def __init__(self, api: ProjectReader) -> None:
        self._api = api
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="datamint-search")
        self._futures: list[Future[Sequence[JsonRecord]]] = []

    def __enter__(self) -> _Searches:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)

    def submit(self, resource_ids: list[str]) -> None:
        """Queue the search of ``resource_ids``."""
        self._futures.append(self._pool.submit(self._api.search_annotations, resource_ids))

    def answers(self) -> Iterator[Sequence[JsonRecord]]:
        """Each search's answer, in submission order (waiting for it)."""
        for future in self._futures:
            yield future.result()


def _search(
    answers: Iterable[Sequence[JsonRecord]], resource_ids: list[str], options: PrepareOptions
) -> _Found:
    """Read the answers of the searches of ``resource_ids`` and keep the trusted annotations.

    Raises:
        DatamintDatasetException: For an annotation of a resource not asked for.
    """
    row_of = {rid: row for row, rid in enumerate(resource_ids)}
    allowed = None if options.trusted_sources is None else set(options.trusted_sources)
    tables: list[RecordTable] = []
    rows: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    kind_of: dict[tuple[Any, ...], int] = {}
    kinds: list[Annotation] = []
    labels = FoundLabels()
    for answer in answers:
        picked: list[int] = []
        batch_rows: list[int] = []
        batch_codes: list[int] = []
        for j, record in enumerate(answer):
            ann = Annotation(record)
            row = row_of.get(ann.resource_id)
            if row is None:
                raise DatamintDatasetException(
                    f"the server returned annotation {ann.id} for resource {ann.resource_id}, "
                    "which was not asked for"
                )
            if _is_deleted(ann) or (
                allowed is not None and ann.source is not None and ann.source not in allowed
            ):
                continue
            kind = ann.annotation_type
            key = (
                ann.created_by,
                ann.author,
                kind,
                ann.identifier,
                ann.frame_index is None,
                ann.text_value if kind == "category" else None,
            )
            code = kind_of.get(key)
            if code is None:
                code = kind_of[key] = len(kinds)
                kinds.append(ann)
                labels.add(ann)
            picked.append(j)
            batch_rows.append(row)
            batch_codes.append(code)
        order = np.argsort(np.asarray(batch_rows, dtype=np.int64), kind="stable")
        table = as_table(answer)
        tables.append(table.take(np.asarray(picked, dtype=np.int64)[order]))
        rows.append(np.asarray(batch_rows, dtype=np.int64)[order])
        codes.append(np.asarray(batch_codes, dtype=np.int64)[order])
    empty = np.zeros(0, dtype=np.int64)
    return _Found(
        tables,
        np.concatenate(rows) if rows else empty,
        np.concatenate(codes) if codes else empty,
        kinds,
        labels,
    )
