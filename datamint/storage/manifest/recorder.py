"""``ManifestRecorder``: an :class:`~datamint.api.Api` wrapper that forwards every call
and remembers the reads dataset preparation makes, to write them as a manifest."""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path
from typing import Any

from datamint.exceptions import OfflineCacheMissError, ValidationError
from datamint.storage.manifest.model import ProjectManifest
from datamint.storage.manifest.provenance import package_version, sanitize_server_url
from datamint.storage.manifest.records import worklist_id_of
from datamint.storage.manifest.writing import save_manifest

__all__ = ["ManifestRecorder"]


class ManifestRecorder:
    """Wraps an :class:`~datamint.api.Api`; forwards every call and records the reads.

    Recorded: ``get_project_by_name``, ``get_project``, ``get_project_resources``,
    ``search_annotations`` (by ``resource_ids`` only, no other filter),
    ``get_project_worklists``, ``get_annotation_set``, ``get_segmentation_group`` and
    ``get_project_splits``. Any other attribute is the wrapped client's. Thread-safe.

    Args:
        api: The client to wrap.

    Example:
        >>> recorder = ManifestRecorder(api)  # doctest: +SKIP
        >>> prepared = prepare(recorder, project="demo", ...)  # doctest: +SKIP
        >>> recorder.write(cache_root)  # doctest: +SKIP
    """

    def __init__(self, api: Any) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._projects: dict[str, dict[str, Any]] = {}
        self._resources: dict[str, list[dict[str, Any]]] = {}
        self._annotations: dict[str, dict[str, Any]] = {}
        self._searched: set[str] = set()
        self._worklists: dict[str, list[dict[str, Any]]] = {}
        self._sets: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, dict[str, Any]] = {}
        self._split_rows: dict[str, dict[str, dict[str, Any]]] = {}
        self._split_queries: dict[str, list[dict[str, Any]]] = {}

    @property
    def api(self) -> Any:
        """The wrapped client."""
        return self._api

    def __getattr__(self, name: str) -> Any:
        """Forward anything not recorded (downloads, writes, ...) to the wrapped client."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._api, name)

    def __repr__(self) -> str:
        """Show the wrapped client."""
        return f"ManifestRecorder({self._api!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the client and what was recorded, not the lock."""
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore, with a new lock."""
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ recorded reads

    def get_project_by_name(self, name: str) -> dict[str, Any]:
        """Find a project by exact name (``Api.get_project_by_name``) and record it.

        Args:
            name: The project name.

        Returns:
            The project record.

        Raises:
            DatamintException: The wrapped client's error.
        """
        project = self._api.get_project_by_name(name)
        with self._lock:
            self._projects[str(project["id"])] = copy.deepcopy(project)
        return project

    def get_project(self, project_id: str) -> dict[str, Any]:
        """Fetch one project (``Api.get_project``) and record it.

        Args:
            project_id: Project id.

        Returns:
            The project record.

        Raises:
            DatamintException: The wrapped client's error.
        """
        project = self._api.get_project(project_id)
        with self._lock:
            self._projects[str(project["id"])] = copy.deepcopy(project)
        return project

    def get_project_resources(self, project_id: str) -> list[dict[str, Any]]:
        """List a project's resources (``Api.get_project_resources``) and record them.

        Args:
            project_id: Project id.

        Returns:
            Resource records.

        Raises:
            DatamintException: The wrapped client's error.
        """
        resources = self._api.get_project_resources(project_id)
        with self._lock:
            self._resources[str(project_id)] = copy.deepcopy(resources)
        return resources

    def search_annotations(
        self, resource_ids: list[str] | None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Search annotations (``Api.search_annotations``); record a search by ids alone.

        A search with any other filter is forwarded but not recorded (its answer is not
        the resources' full annotation list). A new search of a resource replaces what
        was recorded for it.

        Args:
            resource_ids: Resources whose annotations are wanted.
            **filters: Other search keys, forwarded.

        Returns:
            Annotation records.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.search_annotations(resource_ids, **filters)
        if resource_ids is not None and not any(v is not None for v in filters.values()):
            asked = {str(rid) for rid in resource_ids}
            with self._lock:
                stale = [
                    aid
                    for aid, record in self._annotations.items()
                    if str(record.get("resource_id")) in asked
                ]
                for aid in stale:  # a new search of a resource replaces the old answer
                    del self._annotations[aid]
                self._searched |= asked
                for record in found:
                    self._annotations[str(record["id"])] = copy.deepcopy(record)
        return found

    def get_project_worklists(self, project_id: str) -> list[dict[str, Any]]:
        """List a project's worklists (``Api.get_project_worklists``) and record them.

        Args:
            project_id: Project id.

        Returns:
            Worklist items as sent.

        Raises:
            DatamintException: The wrapped client's error.
        """
        worklists = self._api.get_project_worklists(project_id)
        with self._lock:
            self._worklists[str(project_id)] = copy.deepcopy(worklists)
        return worklists

    def get_annotation_set(self, worklist_id: str) -> dict[str, Any]:
        """Fetch a full worklist (``Api.get_annotation_set``) and record it.

        Args:
            worklist_id: Worklist id.

        Returns:
            The worklist record with its annotation specs.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_annotation_set(worklist_id)
        with self._lock:
            self._sets[str(worklist_id)] = copy.deepcopy(found)
        return found

    def get_segmentation_group(self, worklist_id: str) -> dict[str, Any]:
        """Fetch a segmentation group (``Api.get_segmentation_group``) and record it.

        Args:
            worklist_id: Worklist id.

        Returns:
            ``{"groups": {name: {"index", "color"}}}``.

        Raises:
            DatamintException: The wrapped client's error.
        """
        found = self._api.get_segmentation_group(worklist_id)
        with self._lock:
            self._groups[str(worklist_id)] = copy.deepcopy(found)
        return found

    def get_project_splits(
        self,
        project_id: str,
        *,
        split_name: str | None = None,
        as_of_timestamp: str | None = None,
    ) -> list[dict[str, Any]]:
        """List split rows (``Api.get_project_splits``); record the rows and the query.

        Args:
            project_id: Project id.
            split_name: Only rows of this split.
            as_of_timestamp: ISO-8601 instant, passed through.

        Returns:
            Split rows.

        Raises:
            DatamintException: The wrapped client's error.
        """
        rows = self._api.get_project_splits(
            project_id, split_name=split_name, as_of_timestamp=as_of_timestamp
        )
        with self._lock:
            stored = self._split_rows.setdefault(str(project_id), {})
            for row in rows:
                stored[str(row.get("id"))] = copy.deepcopy(row)
            self._split_queries.setdefault(str(project_id), []).append(
                {"split_name": split_name, "as_of_timestamp": as_of_timestamp}
            )
        return rows

    # ------------------------------------------------------------------ output

    def _project_id(self, project_id: str | None) -> str:
        if project_id is not None:
            return str(project_id)
        known = set(self._projects) | set(self._resources)
        if len(known) != 1:
            raise ValidationError(
                f"the recorder saw {len(known)} projects ({sorted(known)}): pass project_id"
            )
        return known.pop()

    def manifest(self, project_id: str | None = None) -> ProjectManifest:
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
        with self._lock:
            pid = self._project_id(project_id)
            project = self._projects.get(pid)
            resources = self._resources.get(pid)
        if resources is None:
            raise OfflineCacheMissError(
                f"the resources of project {pid} were not fetched through this recorder"
            )
        if project is None:
            project = self.get_project(pid)
        with self._lock:
            present = {str(r.get("id")) for r in resources}
            covered = sorted(self._searched & present)
            covered_set = set(covered)
            annotations = [
                a for a in self._annotations.values() if str(a["resource_id"]) in covered_set
            ]
            worklists = self._worklists.get(pid)
            wids = None if worklists is None else {worklist_id_of(w) for w in worklists} - {None}
            sets = {k: v for k, v in self._sets.items() if wids is None or k in wids}
            groups = {k: v for k, v in self._groups.items() if wids is None or k in wids}
            rows = self._split_rows.get(pid)
            queries = list(self._split_queries.get(pid, []))
        return ProjectManifest(
            project=copy.deepcopy(project),
            resources=copy.deepcopy(resources),
            annotations=copy.deepcopy(annotations),
            annotations_for=covered,
            worklists=copy.deepcopy(worklists),
            annotation_sets=copy.deepcopy(sets),
            segmentation_groups=copy.deepcopy(groups),
            split_rows=None if rows is None else copy.deepcopy(list(rows.values())),
            split_queries=queries,
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
