"""``ManifestRecorder``: a :class:`~datamint.api.reader.ProjectReader` that forwards every
call to another one and remembers the reads, to write them as a project manifest.

Which reads are remembered, and how, is the table
:data:`datamint.api.recording.RECORDED`; the two downloads are forwarded unrecorded.
Nothing else is offered: the wrapped client is :attr:`ManifestRecorder.api`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from datamint.api.reader import JsonRecord, ProjectReader
from datamint.api.recording import RECORDED, Recording
from datamint.exceptions import OfflineCacheMissError, ValidationError
from datamint.storage.file_cache.download import Downloaded
from datamint.storage.manifest.model import CacheManifest
from datamint.storage.manifest.provenance import package_version, sanitize_server_url
from datamint.storage.manifest.writing import save_manifest

__all__ = ["FORWARDED", "ManifestRecorder"]

_T = TypeVar("_T")

FORWARDED = ("download_resource_file", "download_segmentation_file", "get_resource")
"""Methods of :class:`ProjectReader` passed to the wrapped reader unrecorded."""


class ManifestRecorder:
    """Wraps a :class:`~datamint.api.reader.ProjectReader` (e.g. an
    :class:`~datamint.api.Api`); forwards its calls and records the reads.

    Recorded (see :data:`~datamint.api.recording.RECORDED`): ``get_project_by_name``,
    ``get_project``, ``get_project_resources``, ``search_annotations`` (by
    ``resource_ids`` only, no other filter), ``get_project_worklists``,
    ``get_annotation_set``, ``get_segmentation_group`` and ``get_project_splits``.
    Forwarded unrecorded: ``download_resource_file`` and ``download_segmentation_file``.
    Anything else (writes, other reads) goes to :attr:`api` directly. Thread-safe;
    pickles as the wrapped client and what was recorded.

    Args:
        api: The reader to wrap.

    Example:
        >>> recorder = ManifestRecorder(api)  # doctest: +SKIP
        >>> prepared = prepare(recorder, project="demo", ...)  # doctest: +SKIP
        >>> recorder.write(cache_root)  # doctest: +SKIP
    """

    def __init__(self, api: ProjectReader) -> None:
        self._api = api
        self._recording = Recording()

    @property
    def api(self) -> ProjectReader:
        """The wrapped client."""
        return self._api

    def __repr__(self) -> str:
        """Show the wrapped client."""
        return f"ManifestRecorder({self._api!r})"

    def _recorded(self, method: str, result: _T, **args: Any) -> _T:
        RECORDED[method](self._recording, result, args)
        return result

    # ------------------------------------------------------------------ recorded reads

    def get_project_by_name(self, name: str) -> JsonRecord:
        """Find a project by exact name (``get_project_by_name``) and record it.

        Raises:
            DatamintException: The wrapped client's error.
        """
        return self._recorded("get_project_by_name", self._api.get_project_by_name(name), name=name)

    def get_project(self, project_id: str) -> JsonRecord:
        """Fetch one project (``get_project``) and record it.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_project(project_id)
        return self._recorded("get_project", found, project_id=project_id)

    def get_project_resources(self, project_id: str) -> Sequence[JsonRecord]:
        """List a project's resources (``get_project_resources``) and record them.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_project_resources(project_id)
        return self._recorded("get_project_resources", found, project_id=project_id)

    def search_annotations(
        self, resource_ids: list[str] | None, **filters: Any
    ) -> Sequence[JsonRecord]:
        """Search annotations (``search_annotations``); record a search by ids alone.

        A search with any other filter is forwarded but not recorded (its answer is not
        the resources' full annotation list). A new search of a resource replaces what
        was recorded for it.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.search_annotations(resource_ids, **filters)
        return self._recorded(
            "search_annotations", found, resource_ids=resource_ids, filters=filters
        )

    def get_project_worklists(self, project_id: str) -> list[JsonRecord]:
        """List a project's worklists (``get_project_worklists``) and record them.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_project_worklists(project_id)
        return self._recorded("get_project_worklists", found, project_id=project_id)

    def get_annotation_set(self, worklist_id: str) -> JsonRecord:
        """Fetch a full worklist (``get_annotation_set``) and record it.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_annotation_set(worklist_id)
        return self._recorded("get_annotation_set", found, worklist_id=worklist_id)

    def get_segmentation_group(self, worklist_id: str) -> JsonRecord:
        """Fetch a segmentation group (``get_segmentation_group``) and record it.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_segmentation_group(worklist_id)
        return self._recorded("get_segmentation_group", found, worklist_id=worklist_id)

    def get_project_splits(
        self,
        project_id: str,
        *,
        split_name: str | None = None,
        as_of_timestamp: str | None = None,
    ) -> list[JsonRecord]:
        """List split rows (``get_project_splits``); record the rows and the query.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_project_splits(
            project_id, split_name=split_name, as_of_timestamp=as_of_timestamp
        )
        return self._recorded(
            "get_project_splits",
            found,
            project_id=project_id,
            split_name=split_name,
            as_of_timestamp=as_of_timestamp,
        )

    # ------------------------------------------------------------------ forwarded

    def get_resource(self, resource_id: str) -> JsonRecord:
        """Forward ``get_resource`` to the wrapped client (nothing recorded: the dataset's
        resources are recorded from the prepared state).

        Raises:
            DatamintException: The wrapped client's error.
        """
        return self._api.get_resource(resource_id)

    def download_resource_file(
        self,
        resource_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> Downloaded:
        """Forward ``download_resource_file`` to the wrapped client (nothing recorded)."""
        return self._api.download_resource_file(
            resource_id, dest, expected_size=expected_size, expected_sha256=expected_sha256
        )

    def download_segmentation_file(
        self,
        resource_id: str,
        annotation_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> Downloaded:
        """Forward ``download_segmentation_file`` to the wrapped client (nothing recorded)."""
        return self._api.download_segmentation_file(
            resource_id,
            annotation_id,
            dest,
            expected_size=expected_size,
            expected_sha256=expected_sha256,
        )

    # ------------------------------------------------------------------ output

    def _project_id(self, project_id: str | None) -> str:
        if project_id is not None:
            return str(project_id)
        known = self._recording.project_ids()
        if len(known) != 1:
            raise ValidationError(
                f"the recorder saw {len(known)} projects ({sorted(known)}): pass project_id"
            )
        return known.pop()

    def manifest(self, project_id: str | None = None) -> CacheManifest:
        """Build the manifest of one recorded project (the only one, by default).

        Args:
            project_id: Which project; needed when several were recorded.

        Returns:
            The manifest (not yet stored; ``files`` is filled when it is saved).

        Raises:
            ValidationError: If ``project_id`` is needed and missing.
            OfflineCacheMissError: If the project's resources were never fetched.
            DatamintException: The client's error if the project record has to be fetched.
        """
        pid = self._project_id(project_id)
        seen = self._recording.snapshot(pid)
        if seen.resources is None:
            raise OfflineCacheMissError(
                f"the resources of project {pid} were not fetched through this recorder"
            )
        project = seen.project if seen.project is not None else self.get_project(pid)
        return CacheManifest(
            project=project,
            resources=seen.resources,
            annotations=seen.annotations,
            annotations_for=seen.annotations_for,
            worklists=seen.worklists,
            annotation_sets=seen.annotation_sets,
            segmentation_groups=seen.segmentation_groups,
            split_rows=seen.split_rows,
            split_queries=seen.split_queries,
            server_url=sanitize_server_url(getattr(self._api, "server_url", None)),
            datamint_version=package_version(),
        )

    def write(
        self,
        cache_root: str | os.PathLike[str] | None = None,
        *,
        project_id: str | None = None,
        merge: bool = True,
    ) -> Path:
        """Build and store the manifest of one recorded project.

        Args:
            cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
            project_id: Which project; needed when several were recorded.
            merge: See :func:`save_manifest`.

        Returns:
            The manifest path.

        Raises:
            ValidationError: If ``project_id`` is needed and missing.
            OfflineCacheMissError: If the project's resources were never fetched.
        """
        return save_manifest(self.manifest(project_id), cache_root, merge=merge)


if TYPE_CHECKING:  # mypy checks that the recorder is a ProjectReader
    _IS_READER: type[ProjectReader] = ManifestRecorder
