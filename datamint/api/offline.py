"""``OfflineApi``: a :class:`~datamint.api.reader.ProjectReader` answered from the stored
project manifests (plus a few more reads of :class:`~datamint.api.Api`); nothing is ever
sent."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from datamint.api.offline_refusals import OfflineRefusals
from datamint.api.reader import JsonRecord, ProjectReader
from datamint.exceptions import OfflineCacheMissError, ValidationError
from datamint.storage.layout import MANIFESTS_DIR
from datamint.storage.manifest.reading import DOWNLOAD_HINT
from datamint.storage.manifest.records import worklist_id_of

__all__ = ["OfflineApi"]


class OfflineApi(OfflineRefusals):
    """A :class:`~datamint.api.reader.ProjectReader` answered from the project manifests
    of a cache root. Nothing is ever sent.

    Besides the reader's methods it has these of :class:`~datamint.api.Api`, with the
    same signatures: ``get_projects``, ``get_resource``, ``get_resource_split``,
    ``check_connection``, ``close``, and ``assign_split`` (refused).
    ``download_resource_file`` and ``download_segmentation_file`` raise
    :class:`~datamint.exceptions.OfflineCacheMissError`: a
    :class:`~datamint.storage.file_cache.FileCache` only calls them on a miss. Records
    are returned as copies. Thread-safe; pickles as its arguments.

    Args:
        cache_root: Cache root holding ``manifests/``; :func:`datamint.settings.cache_root`
            when ``None``.
        server_url: Only use manifests synced from this server (credentials, query and
            trailing ``/`` ignored); any server when ``None``.

    Example:
        >>> api, files = OfflineApi(cache_root()), FileCache(cache_root())  # doctest: +SKIP
        >>> prepared = prepare(api, project="demo", ...)  # doctest: +SKIP
        >>> files.resource_file(api, prepared.resources[0].record)  # doctest: +SKIP
    """

    def __repr__(self) -> str:
        """Show the cache root and server filter."""
        return f"OfflineApi(cache_root={str(self.cache_root)!r}, server_url={self.server_url!r})"

    def __reduce__(self) -> tuple[Callable[[str, str | None], OfflineApi], tuple[str, str | None]]:
        """Pickle as ``(cache_root, server_url)``; manifests are read again when used."""
        return (_rebuild_offline_api, (str(self.cache_root), self.server_url))

    def __enter__(self) -> OfflineApi:
        """Return itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Nothing to close."""

    def close(self) -> None:
        """Nothing to close (there are no connections)."""

    def check_connection(self) -> None:
        """Do nothing: offline there is no server to probe."""

    # ------------------------------------------------------------------ projects

    def get_projects(self, include_archived: bool = True) -> list[JsonRecord]:
        """List the synced projects' records.

        Args:
            include_archived: Also list archived projects.

        Returns:
            Project records.
        """
        projects = [copy.deepcopy(m.project) for m in self._every_manifest()]
        if not include_archived:
            projects = [p for p in projects if not p.get("archived")]
        return projects

    def get_project_by_name(self, name: str) -> JsonRecord:
        """Find a synced project by exact name.

        Args:
            name: The project name, compared exactly.

        Returns:
            The project record.

        Raises:
            OfflineCacheMissError: If no synced project has that name.
            ValidationError: If several synced projects have it; pass ``server_url``.
            CacheError: If its manifest is damaged.
        """
        manifest = self.manifest(name)
        if manifest.project_name != name:
            raise OfflineCacheMissError(
                f"project {name!r} has no manifest in {self.cache_root / MANIFESTS_DIR}: "
                + DOWNLOAD_HINT.format(project=name)
            )
        return copy.deepcopy(manifest.project)

    def get_project(self, project_id: str) -> JsonRecord:
        """Return a synced project's record.

        Args:
            project_id: Project id.

        Returns:
            The project record.

        Raises:
            OfflineCacheMissError: If the project was never synced.
            ValidationError: If the id is unsafe as a file name.
            CacheError: If its manifest is damaged.
        """
        return copy.deepcopy(self._load(project_id).project)

    def get_project_resources(self, project_id: str) -> list[JsonRecord]:
        """Return a synced project's resources, as the server listed them.

        Args:
            project_id: Project id.

        Returns:
            Resource records.

        Raises:
            OfflineCacheMissError: If the project was never synced.
            CacheError: If its manifest is damaged.
        """
        return [dict(r) for r in self._load(project_id).resources]

    def get_resource(self, resource_id: str) -> JsonRecord:
        """Return one resource record from the synced projects.

        Args:
            resource_id: Resource id.

        Returns:
            The resource record.

        Raises:
            OfflineCacheMissError: If no synced project lists it.
        """
        for manifest in self._search_order():
            for record in manifest.resources:
                if record.get("id") == resource_id:
                    return dict(record)
        raise OfflineCacheMissError(
            f"resource {resource_id} is in no project manifest under {self.cache_root}: "
            + DOWNLOAD_HINT.format(project="NAME")
        )

    # ------------------------------------------------------------------ annotations

    def search_annotations(
        self, resource_ids: list[str] | None, **filters: Any
    ) -> list[JsonRecord]:
        """Return the synced annotations of the given resources.

        Args:
            resource_ids: Resources whose annotations are wanted; ``[]`` gives ``[]``.
            **filters: Not supported offline; any non-``None`` value is an error.

        Returns:
            Annotation records, in the order the server sent them.

        Raises:
            ValidationError: If ``resource_ids`` is ``None`` or a filter is given.
            OfflineCacheMissError: If the annotations of some resource were never synced;
                the message says how many and names one.
        """
        used = sorted(k for k, v in filters.items() if v is not None)
        if resource_ids is None or used:
            raise ValidationError(
                "offline, search_annotations answers only by resource_ids "
                f"(got resource_ids={'None' if resource_ids is None else '[...]'}, filters {used})"
            )
        wanted = [str(rid) for rid in resource_ids]
        if not wanted:
            return []
        remaining = set(wanted)
        found: list[JsonRecord] = []
        for manifest in self._search_order():
            covered = remaining & set(manifest.annotations_for)
            if not covered:
                continue
            found += [dict(a) for a in manifest.annotations if a["resource_id"] in covered]
            remaining -= covered
            if not remaining:
                break
        if remaining:
            example = sorted(remaining)[0]
            raise OfflineCacheMissError(
                f"the annotations of {len(remaining)} resource(s) (e.g. {example}) were "
                f"never synced to {self.cache_root / MANIFESTS_DIR}: "
                + DOWNLOAD_HINT.format(project="NAME")
            )
        return found

    # ------------------------------------------------------------------ worklists

    def get_project_worklists(self, project_id: str) -> list[JsonRecord]:
        """Return a synced project's worklists.

        Args:
            project_id: Project id.

        Returns:
            Worklist items as the server listed them.

        Raises:
            OfflineCacheMissError: If the project or its worklists were never synced.
        """
        manifest = self._load(project_id)
        if manifest.worklists is None:
            raise OfflineCacheMissError(
                f"the worklists of project {manifest.project_name!r} were not synced: "
                + DOWNLOAD_HINT.format(project=manifest.project_name)
            )
        return copy.deepcopy(manifest.worklists)

    def get_annotation_set(self, worklist_id: str) -> JsonRecord:
        """Return a synced full worklist (with its annotation specs).

        Args:
            worklist_id: Worklist id.

        Returns:
            The worklist record.

        Raises:
            OfflineCacheMissError: If no manifest holds that worklist with its specs.
        """
        for manifest in self._search_order():
            if worklist_id in manifest.annotation_sets:
                return copy.deepcopy(manifest.annotation_sets[worklist_id])
            for item in manifest.worklists or ():
                if worklist_id_of(item) == worklist_id and "annotations" in item:
                    full = copy.deepcopy(item)
                    full.setdefault("id", worklist_id)
                    full.setdefault("name", item.get("worklist_name"))
                    return full
        raise OfflineCacheMissError(
            f"worklist {worklist_id} was never synced to {self.cache_root / MANIFESTS_DIR}: "
            + DOWNLOAD_HINT.format(project="NAME")
        )

    def get_segmentation_group(self, worklist_id: str) -> JsonRecord:
        """Return a synced worklist's segmentation group.

        Args:
            worklist_id: Worklist id.

        Returns:
            ``{"groups": {name: {"index": int, "color": [r, g, b, a]}}}``.

        Raises:
            OfflineCacheMissError: If it was never synced.
        """
        for manifest in self._search_order():
            if worklist_id in manifest.segmentation_groups:
                return copy.deepcopy(manifest.segmentation_groups[worklist_id])
        raise OfflineCacheMissError(
            f"the segmentation group of worklist {worklist_id} was never synced to "
            f"{self.cache_root / MANIFESTS_DIR}: " + DOWNLOAD_HINT.format(project="NAME")
        )

    # ------------------------------------------------------------------ splits

    def get_project_splits(
        self,
        project_id: str,
        *,
        split_name: str | None = None,
        as_of_timestamp: str | None = None,
    ) -> list[JsonRecord]:
        """Answer ``GET /projects/{id}/splits`` from the manifest's split rows.

        Args:
            project_id: Project id.
            split_name: Only rows of this split.
            as_of_timestamp: ISO-8601 instant: the rows as they stood then.

        Returns:
            Split rows (see :meth:`~datamint.storage.manifest.CacheManifest.splits` for the rule).

        Raises:
            ValidationError: If ``as_of_timestamp`` is not ISO-8601.
            OfflineCacheMissError: If the rows were not synced or cannot determine the
                answer.
        """
        return self._load(project_id).splits(split_name, as_of_timestamp)

    def get_resource_split(self, project_id: str, resource_id: str) -> JsonRecord | None:
        """Return a resource's current split row from the manifest.

        Args:
            project_id: Project id.
            resource_id: Resource id.

        Returns:
            The row, or ``None`` when the resource had no split at sync time.

        Raises:
            OfflineCacheMissError: If splits were not synced.
        """
        for row in self._load(project_id).splits():
            if row.get("resource_id") == resource_id:
                return row
        return None


def _rebuild_offline_api(cache_root: str, server_url: str | None) -> OfflineApi:
    return OfflineApi(cache_root, server_url=server_url)


if TYPE_CHECKING:  # mypy checks that OfflineApi is a ProjectReader
    _IS_READER: type[ProjectReader] = OfflineApi
