"""``CacheManifest``: one synced project's records, and what can be derived from them
(its needed files, its splits as of an instant, a merge with an older sync, its JSON)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from datamint.storage.manifest import codec
from datamint.storage.manifest import files as file_rules
from datamint.storage.manifest import splits as split_rules
from datamint.storage.record_table import RecordTable, as_table
from datamint.storage.values import utc_now_iso

if TYPE_CHECKING:
    from datamint.storage.file_cache import FileCache

__all__ = ["CacheManifest"]


@dataclass(frozen=True)
class CacheManifest:
    """A synced project, as stored in ``<cache_root>/manifests/<project_id>.json``.

    Records are the server's JSON objects, unchanged; ``resources`` and ``annotations``
    are sequences of them: lists, or (from a recorder)
    :class:`~datamint.storage.record_table.RecordTable` (compact; written to disk as
    stored). Build one with
    :func:`write_manifest`, :class:`~datamint.api.recorder.ManifestRecorder` or
    :meth:`from_json`. (Not to be confused with the project import format, the
    ``project.json`` read by :mod:`datamint.server.importer`.)

    Attributes:
        project: The project record (``id``, ``name``, ...).
        resources: The project's resource records, in server order.
        annotations: Annotation records of the resources in ``annotations_for``.
        annotations_for: Resource ids whose annotations were searched.
        worklists: The project's worklist list items, or ``None`` when not synced.
        annotation_sets: Full worklists by worklist id.
        segmentation_groups: Segmentation groups by worklist id.
        split_rows: Split rows received (``None`` when splits were not synced).
        split_queries: ``{"split_name", "as_of_timestamp"}`` of each split query made.
        server_url: The server's base URL (no credentials), or ``None``.
        synced_at: When the manifest was written, ISO-8601 UTC.
        files: ``{"resources": {id: info}, "annotations": {id: info}}`` with ``info`` =
            ``{"version_hash", "size" (bytes or None), "sha256" (hex or None)}`` (plus
            ``"resource_id"`` for annotations).
        datamint_version: Version of datamint that wrote it.
    """

    project: dict[str, Any]
    resources: Sequence[dict[str, Any]]
    annotations: Sequence[dict[str, Any]] = field(default_factory=list)
    annotations_for: list[str] = field(default_factory=list)
    worklists: list[dict[str, Any]] | None = None
    annotation_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    segmentation_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_rows: list[dict[str, Any]] | None = None
    split_queries: list[dict[str, Any]] = field(default_factory=list)
    server_url: str | None = None
    synced_at: str = field(default_factory=utc_now_iso)
    files: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"resources": {}, "annotations": {}}
    )
    datamint_version: str | None = None

    # ------------------------------------------------------------------ identity

    @property
    def project_id(self) -> str:
        """The project's id."""
        return str(self.project["id"])

    @property
    def project_name(self) -> str:
        """The project's name (``""`` when the record has none)."""
        return str(self.project.get("name") or "")

    def __repr__(self) -> str:
        """Name, id, counts and sync time."""
        return (
            f"CacheManifest(project={self.project_name!r}, id={self.project_id!r}, "
            f"resources={len(self.resources)}, annotations={len(self.annotations)}, "
            f"synced_at={self.synced_at!r})"
        )

    # ------------------------------------------------------------------ files

    def file_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield the records whose files a training run needs.

        Yields:
            ``("resources", record)`` for each resource not deleted, then
            ``("annotations", record)`` for each segmentation annotation not deleted.
        """
        return file_rules.file_records(self)

    def with_file_hashes(self, cache: FileCache | None = None) -> CacheManifest:
        """Return a copy whose ``files`` lists every file record, with what is known of it.

        ``sha256`` and ``size`` come from the record when it has them, else from the file
        cache's ``meta.json`` when the current version is cached, else from this
        manifest's previous ``files`` entry of the same version.

        Args:
            cache: A :class:`~datamint.storage.file_cache.FileCache` to read hashes from
                (nothing is downloaded), or ``None``.

        Returns:
            The updated manifest.

        Raises:
            ValidationError: If a record's id is unsafe as a path component.
        """
        return replace(self, files=file_rules.file_hashes(self, cache))

    def missing_files(self, cache: FileCache) -> list[str]:
        """List the needed files that are not cached intact.

        Args:
            cache: The :class:`~datamint.storage.file_cache.FileCache` to look in.

        Returns:
            One description per missing file, e.g. ``"resource <id> (<filename>)"``.
        """
        return file_rules.missing_files(self, cache)

    # ------------------------------------------------------------------ splits

    def splits(
        self, split_name: str | None = None, as_of_timestamp: str | None = None
    ) -> list[dict[str, Any]]:
        """Answer ``GET /projects/{id}/splits`` from the stored rows.

        Without ``as_of_timestamp``: the rows current at sync time (``deleted_at`` null).
        With ``as_of_timestamp=T``: the rows with ``created_at <= T`` and (``deleted_at``
        null or ``> T``). The answer is given only when the stored rows determine it:
        ``T`` was itself queried at sync time, or every resource whose state at ``T`` the
        rows leave open is accounted for (a resource's row changes only by being
        re-assigned, which leaves a current row created after ``T``).

        Args:
            split_name: Only rows of this split.
            as_of_timestamp: ISO-8601 instant.

        Returns:
            Split rows, ordered by ``created_at`` then ``id`` (as the reference server).

        Raises:
            ValidationError: If ``as_of_timestamp`` is not ISO-8601.
            OfflineCacheMissError: If splits were not synced, or the stored rows cannot
                tell the assignment at ``T``; the message says what to run online.
        """
        return split_rules.stored_splits(self, split_name, as_of_timestamp)

    # ------------------------------------------------------------------ merging

    def merged_over(self, older: CacheManifest) -> CacheManifest:
        """Return this manifest completed by an older one of the same project and server.

        This sync wins everywhere it has data. From ``older`` it keeps: annotations of
        resources this sync did not search (when they are still in the project),
        worklists/sets/groups not fetched now, and the splits when none were fetched now.

        Args:
            older: The manifest previously stored for the same project id.

        Returns:
            The merged manifest (``files`` is recomputed by :func:`save_manifest`).
        """
        if older.project_id != self.project_id:
            return self
        present = {str(r.get("id")) for r in self.resources}
        searched = set(self.annotations_for)
        kept_for = [rid for rid in older.annotations_for if rid in present and rid not in searched]
        kept_set = set(kept_for)
        extra = [a for a in older.annotations if str(a.get("resource_id")) in kept_set]
        annotations = (
            RecordTable.concat([as_table(self.annotations), RecordTable.from_records(extra)])
            if extra
            else self.annotations
        )
        return replace(
            self,
            annotations=annotations,
            annotations_for=self.annotations_for + kept_for,
            worklists=self.worklists if self.worklists is not None else older.worklists,
            annotation_sets={**older.annotation_sets, **self.annotation_sets},
            segmentation_groups={**older.segmentation_groups, **self.segmentation_groups},
            split_rows=self.split_rows if self.split_rows is not None else older.split_rows,
            split_queries=self.split_queries
            if self.split_rows is not None
            else older.split_queries,
            files={
                kind: {**older.files.get(kind, {}), **self.files.get(kind, {})}
                for kind in ("resources", "annotations")
            },
        )

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object stored on disk.

        Returns:
            A JSON-serialisable dict (``format``, ``format_version`` and every attribute).
        """
        return codec.manifest_json(self)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest") -> CacheManifest:
        """Validate a stored manifest and build the object.

        Args:
            data: The parsed JSON.
            source: Where it came from (a path), for messages.

        Returns:
            The manifest.

        Raises:
            CacheError: If anything is missing or of the wrong type, or the manifest was
                written by a newer layout; the message names ``source`` and the problem.
        """
        return cls(**codec.manifest_fields(data, source=source))
