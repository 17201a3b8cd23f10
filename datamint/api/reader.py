"""``ProjectReader``: what dataset preparation and the file cache ask of a client.

Three classes implement it, with equal signatures (names, kinds, defaults;
``tests/api/test_reader_protocol.py`` compares them):

- :class:`~datamint.api.client.Api` asks the server over HTTP;
- :class:`~datamint.api.offline.OfflineApi` answers from the project manifests of a cache
  root and refuses downloads (offline, a file the cache lacks is a miss);
- :class:`~datamint.api.recorder.ManifestRecorder` wraps another reader, forwards each
  call and remembers the read results, to write them as a manifest.

A read that preparation starts making must be added here first; the three classes then
fail the type check (and the test) until each one answers it, so offline use cannot
silently break.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from datamint.storage.file_cache.download import Downloader

__all__ = ["JsonRecord", "ProjectReader"]

JsonRecord = dict[str, Any]
"""One record as the server sent it (a JSON object; unknown keys kept)."""


class ProjectReader(Downloader, Protocol):
    """The reads of one project that dataset preparation, splits and the file cache make.

    Records are the server's JSON objects, unchanged; the two long listings come as
    sequences of them (changing an item changes no other answer). ``download_resource_file`` and
    ``download_segmentation_file`` come from
    :class:`~datamint.storage.file_cache.download.Downloader` (what a
    :class:`~datamint.storage.file_cache.FileCache` calls on a miss). Errors are
    :class:`~datamint.exceptions.DatamintException` subclasses: an HTTP error mapped by
    :mod:`datamint.api.errors`, or
    :class:`~datamint.exceptions.OfflineCacheMissError` offline.
    """

    def get_project_by_name(self, name: str) -> JsonRecord:
        """The project named ``name`` exactly (``GET /projects``, filtered)."""
        ...

    def get_project(self, project_id: str) -> JsonRecord:
        """One project record (``GET /projects/{id}``)."""
        ...

    def get_resource(self, resource_id: str) -> JsonRecord:
        """One resource record (``GET /resources/{id}``)."""
        ...

    def get_project_resources(self, project_id: str) -> Sequence[JsonRecord]:
        """Every resource record of a project (``GET /projects/{id}/resources``); a
        sequence whose items are fresh dicts (``Api`` answers a compact
        :class:`~datamint.storage.record_table.RecordTable`)."""
        ...

    def search_annotations(
        self, resource_ids: list[str] | None, **filters: Any
    ) -> Sequence[JsonRecord]:
        """Annotation records of the given resources (``POST /annotations/search``), as
        :meth:`get_project_resources` gives resources."""
        ...

    def get_project_worklists(self, project_id: str) -> list[JsonRecord]:
        """A project's worklist items (``GET /projects/{id}/worklists``)."""
        ...

    def get_annotation_set(self, worklist_id: str) -> JsonRecord:
        """A full worklist with its annotation specs (``GET /annotationsets/{id}``)."""
        ...

    def get_segmentation_group(self, worklist_id: str) -> JsonRecord:
        """A worklist's segmentation classes: ``{"groups": {name: {"index", "color"}}}``."""
        ...

    def get_project_splits(
        self,
        project_id: str,
        *,
        split_name: str | None = None,
        as_of_timestamp: str | None = None,
    ) -> list[JsonRecord]:
        """A project's split rows, of one split and as of an ISO-8601 instant when given
        (``GET /projects/{id}/splits``)."""
        ...
