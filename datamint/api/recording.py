"""What a :class:`~datamint.api.recorder.ManifestRecorder` remembers, and the table of
how each recorded read is remembered (:data:`RECORDED`)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from datamint.storage.manifest.records import worklist_id_of
from datamint.storage.record_table import RecordTable, as_table

__all__ = ["RECORDED", "Recording", "RecordingSnapshot"]

JsonRecord = dict[str, Any]


@dataclass
class RecordingSnapshot:
    """Copies of what was recorded for one project, ready to become a manifest.

    Attributes:
        project: The project record, or ``None`` when it was never fetched.
        resources: Its resource records, or ``None`` when they were never listed.
        annotations: The annotations of the listed resources that were searched.
        annotations_for: Ids of those searched resources, sorted.
        worklists: Its worklist items, or ``None`` when never listed.
        annotation_sets: Full worklists by id (only the project's, once its worklists
            are known).
        segmentation_groups: Segmentation groups by worklist id (likewise).
        split_rows: Split rows received, or ``None`` when splits were never listed.
        split_queries: ``{"split_name", "as_of_timestamp"}`` of each split listing.
    """

    project: JsonRecord | None
    resources: RecordTable | None
    annotations: RecordTable
    annotations_for: list[str]
    worklists: list[JsonRecord] | None
    annotation_sets: dict[str, JsonRecord]
    segmentation_groups: dict[str, JsonRecord]
    split_rows: list[JsonRecord] | None
    split_queries: list[dict[str, Any]]


@dataclass
class Recording:
    """The read results of every project seen, by id; thread-safe (one lock), pickles
    without its lock. Each ``add_*`` method stores a copy of ``result`` for the call
    whose arguments are ``args`` (parameter name -> value): resource listings and
    annotation searches as :class:`~datamint.storage.record_table.RecordTable` (compact
    and immutable, so a table the client returned is kept as it is, not copied), the
    other reads as deep copies.

    Attributes:
        searches: Per annotation search by ids, in call order: the resource ids asked and
            the records answered (a resource searched again is dropped from the earlier
            searches).
    """

    projects: dict[str, JsonRecord] = field(default_factory=dict)
    resources: dict[str, RecordTable] = field(default_factory=dict)
    searches: list[tuple[frozenset[str], RecordTable]] = field(default_factory=list)
    searched: set[str] = field(default_factory=set)
    worklists: dict[str, list[JsonRecord]] = field(default_factory=dict)
    sets: dict[str, JsonRecord] = field(default_factory=dict)
    groups: dict[str, JsonRecord] = field(default_factory=dict)
    split_rows: dict[str, dict[str, JsonRecord]] = field(default_factory=dict)
    split_queries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle what was recorded, not the lock (tables are immutable: not copied)."""
        with self.lock:
            return {
                k: (v if k in ("resources", "searches") else copy.deepcopy(v))
                for k, v in self.__dict__.items()
                if k != "lock"
            }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore, with a new lock."""
        self.__dict__.update(state)
        self.lock = threading.Lock()

    def add_project(self, result: JsonRecord, args: Mapping[str, Any]) -> None:
        """A project record (by name or by id)."""
        with self.lock:
            self.projects[str(result["id"])] = copy.deepcopy(result)

    def add_resources(self, result: Sequence[JsonRecord], args: Mapping[str, Any]) -> None:
        """A project's resource listing; replaces an earlier one."""
        table = as_table(result)
        with self.lock:
            self.resources[str(args["project_id"])] = table

    def add_annotations(self, result: Sequence[JsonRecord], args: Mapping[str, Any]) -> None:
        """An annotation search by ``resource_ids`` alone; one with any other filter is
        not recorded (its answer is not the resources' full annotation list). A new
        search of a resource replaces what was recorded for it."""
        resource_ids = args["resource_ids"]
        filters = args.get("filters") or {}
        if resource_ids is None or any(v is not None for v in filters.values()):
            return
        asked = frozenset(str(rid) for rid in resource_ids)
        table = as_table(result)
        with self.lock:
            if asked & self.searched:  # searched again: drop them from earlier searches
                self.searches = [
                    (ids - asked, _records_of(records, ids - asked))
                    for ids, records in self.searches
                    if ids - asked
                ]
            self.searched |= asked
            self.searches.append((asked, table))

    def add_worklists(self, result: list[JsonRecord], args: Mapping[str, Any]) -> None:
        """A project's worklist listing; replaces an earlier one."""
        with self.lock:
            self.worklists[str(args["project_id"])] = copy.deepcopy(result)

    def add_annotation_set(self, result: JsonRecord, args: Mapping[str, Any]) -> None:
        """A full worklist, by its id."""
        with self.lock:
            self.sets[str(args["worklist_id"])] = copy.deepcopy(result)

    def add_segmentation_group(self, result: JsonRecord, args: Mapping[str, Any]) -> None:
        """A worklist's segmentation group, by worklist id."""
        with self.lock:
            self.groups[str(args["worklist_id"])] = copy.deepcopy(result)

    def add_split_rows(self, result: list[JsonRecord], args: Mapping[str, Any]) -> None:
        """Split rows (merged by row id) and the query that produced them."""
        pid = str(args["project_id"])
        with self.lock:
            stored = self.split_rows.setdefault(pid, {})
            for row in result:
                stored[str(row.get("id"))] = copy.deepcopy(row)
            self.split_queries.setdefault(pid, []).append(
                {
                    "split_name": args.get("split_name"),
                    "as_of_timestamp": args.get("as_of_timestamp"),
                }
            )

    def project_ids(self) -> set[str]:
        """Ids of the projects whose record or resources were recorded."""
        with self.lock:
            return set(self.projects) | set(self.resources)

    def snapshot(self, project_id: str) -> RecordingSnapshot:
        """Copies of what was recorded for ``project_id`` (tables as they are: immutable).

        Annotations are those of the project's listed resources that were searched;
        full worklists and segmentation groups are limited to the project's worklists
        once those were listed (all recorded ones before).
        """
        with self.lock:
            resources = self.resources.get(project_id)
            present = {str(r.get("id")) for r in resources or ()}
            covered_set = self.searched & present
            tables = [
                records if ids <= covered_set else _records_of(records, ids & covered_set)
                for ids, records in self.searches
                if ids & covered_set
            ]
            worklists = self.worklists.get(project_id)
            wids = None if worklists is None else {worklist_id_of(w) for w in worklists} - {None}
            rows = self.split_rows.get(project_id)
            small = copy.deepcopy(
                RecordingSnapshot(
                    project=self.projects.get(project_id),
                    resources=None,
                    annotations=RecordTable(),
                    annotations_for=sorted(covered_set),
                    worklists=worklists,
                    annotation_sets={
                        k: v for k, v in self.sets.items() if wids is None or k in wids
                    },
                    segmentation_groups={
                        k: v for k, v in self.groups.items() if wids is None or k in wids
                    },
                    split_rows=None if rows is None else list(rows.values()),
                    split_queries=list(self.split_queries.get(project_id, [])),
                )
            )
        small.resources = resources
        small.annotations = RecordTable.concat(tables) if tables else RecordTable()
        return small


def _records_of(records: RecordTable, resource_ids: frozenset[str] | set[str]) -> RecordTable:
    """The records of ``records`` whose ``resource_id`` is in ``resource_ids``."""
    keep = [i for i, r in enumerate(records) if str(r.get("resource_id")) in resource_ids]
    return records.take(keep)


RECORDED: Mapping[str, Callable[[Recording, Any, Mapping[str, Any]], None]] = MappingProxyType(
    {
        "get_project_by_name": Recording.add_project,
        "get_project": Recording.add_project,
        "get_project_resources": Recording.add_resources,
        "search_annotations": Recording.add_annotations,
        "get_project_worklists": Recording.add_worklists,
        "get_annotation_set": Recording.add_annotation_set,
        "get_segmentation_group": Recording.add_segmentation_group,
        "get_project_splits": Recording.add_split_rows,
    }
)
"""Read method of :class:`~datamint.api.reader.ProjectReader` -> how its result is
remembered, called as ``RECORDED[name](recording, result, arguments)``."""
