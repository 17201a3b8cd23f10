"""Project manifests: what a dataset needs to prepare with no server at all.

A manifest is one JSON file per synced project, written atomically at
``<cache_root>/manifests/<project_id>.json``; ``<cache_root>/manifests/index.json`` maps
project names to ids so that a name resolves offline. It holds the server's records exactly
as they were received (unknown keys kept):

- ``project``: the project record;
- ``resources``: ``GET /projects/{id}/resources``;
- ``annotations``: ``POST /annotations/search`` results, and ``annotations_for``, the
  resource ids whose annotations were searched (a search that was not made is a miss, never
  an empty answer);
- ``worklists``: ``GET /projects/{id}/worklists`` (each item with its annotation specs),
  ``annotation_sets``: full worklists by id (``GET /annotationsets/{id}``), and
  ``segmentation_groups`` by worklist id;
- ``split_rows`` and ``split_queries``: the split rows received and the
  ``(split_name, as_of_timestamp)`` queries that produced them (see
  :meth:`ProjectManifest.splits`);
- ``server_url`` (without credentials, query or fragment), ``synced_at`` (ISO-8601 UTC) and
  ``datamint_version``;
- ``files``: for each resource and each segmentation annotation, its ``version_hash``
  (the cache entry name), ``size`` in bytes and ``sha256`` when known (from the record, else
  from the file cache).

The API key is never written. Reading validates the structure and raises
:class:`~datamint.exceptions.CacheError` naming the file and what is wrong.

Three ways to make one:

- :class:`ManifestRecorder` wraps an :class:`~datamint.api.Api`, forwards every call, and
  remembers the read results: ``prepare(ManifestRecorder(api), ...)`` then
  ``recorder.write(cache_root)``;
- :func:`write_manifest` takes the values directly;
- ``datamint download --project NAME`` (:func:`datamint.api.sync.sync_project`).

:class:`OfflineApi` answers the read methods that dataset preparation uses from the
manifests, without any network access; its ``download_*`` methods raise
:class:`~datamint.exceptions.OfflineCacheMissError`, so a
:class:`~datamint.storage.file_cache.FileCache` hit works and a miss says what to run.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from datamint.exceptions import (
    CacheError,
    DatamintException,
    OfflineCacheMissError,
    ValidationError,
)
from datamint.schema import annotation_field
from datamint.storage.atomic import atomic_write_text
from datamint.storage.layout import (
    MANIFEST_INDEX_NAME,
    MANIFESTS_DIR,
    annotation_version_info,
    manifest_index_path,
    manifest_path,
    record_sha256,
    resource_version_info,
    safe_component,
    version_hash,
)
from datamint.storage.locks import key_lock

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "ManifestRecorder",
    "ManifestSummary",
    "OfflineApi",
    "ProjectManifest",
    "delete_manifest",
    "find_manifest",
    "list_manifests",
    "read_manifest",
    "sanitize_server_url",
    "save_manifest",
    "write_manifest",
]

_LOG = logging.getLogger(__name__)

MANIFEST_FORMAT = "datamint-cache-manifest"
"""Value of the ``format`` key of every manifest."""

MANIFEST_VERSION = 1
"""Version of the manifest layout this code writes and reads."""

INDEX_FORMAT = "datamint-cache-manifest-index"

DOWNLOAD_HINT = (
    "run `ds.prefetch(include_annotations=True)` on the dataset, or "
    "`datamint download --project {project}`, while the server is reachable, then retry"
)


# ---------------------------------------------------------------------- small helpers


def _utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sanitize_server_url(url: str | None) -> str | None:
    """Return a server URL fit to be stored: no credentials, query or fragment.

    Args:
        url: A base URL, or ``None``.

    Returns:
        ``scheme://host[:port]/path`` without a trailing ``/``, or ``None``.
    """
    if url is None or not str(url).strip():
        return None
    parts = urlsplit(str(url).strip())
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


_INSTANT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def _instant_us(value: Any, what: str = "timestamp") -> int:
    """Parse an ISO-8601 instant (``Z``, an offset or none = UTC) to microseconds since 1970.

    Raises:
        ValidationError: If it is not ISO-8601.
    """
    match = _INSTANT_RE.match(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(f"{what} {value!r} is not an ISO-8601 instant")
    year, month, day, hour, minute, second, frac, zone = match.groups()
    when = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
        tzinfo=timezone.utc,
    )  # fmt: skip
    micros = int((frac or "0")[:6].ljust(6, "0"))
    offset_s = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_s = sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
    seconds = int(when.timestamp()) - offset_s
    return seconds * 1_000_000 + micros


def _as_record(value: Any, what: str) -> dict[str, Any]:
    """A plain dict from a record or an entity (anything with a ``record`` mapping)."""
    if isinstance(value, Mapping):
        return dict(value)
    record = getattr(value, "record", None)
    if isinstance(record, Mapping):
        return dict(record)
    raise ValidationError(f"{what} must be a JSON object or an entity, got {type(value).__name__}")


def _is_deleted(record: Mapping[str, Any]) -> bool:
    return bool(record.get("deleted")) or record.get("deleted_at") is not None


def _is_segmentation(record: Mapping[str, Any]) -> bool:
    return annotation_field(record, "type") == "segmentation"


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _worklist_id(item: Mapping[str, Any]) -> str | None:
    value = item.get("id") or item.get("worklist_id")
    return None if value is None else str(value)


# ---------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class ProjectManifest:
    """A synced project, as stored in ``<cache_root>/manifests/<project_id>.json``.

    Records are the server's JSON objects, unchanged. Build one with
    :func:`write_manifest`, :class:`ManifestRecorder` or :meth:`from_json`.

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
    resources: list[dict[str, Any]]
    annotations: list[dict[str, Any]] = field(default_factory=list)
    annotations_for: list[str] = field(default_factory=list)
    worklists: list[dict[str, Any]] | None = None
    annotation_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    segmentation_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_rows: list[dict[str, Any]] | None = None
    split_queries: list[dict[str, Any]] = field(default_factory=list)
    server_url: str | None = None
    synced_at: str = field(default_factory=_utc_now_iso)
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
            f"ProjectManifest(project={self.project_name!r}, id={self.project_id!r}, "
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
        for record in self.resources:
            if not _is_deleted(record):
                yield "resources", record
        for record in self.annotations:
            if _is_segmentation(record) and not _is_deleted(record):
                yield "annotations", record

    def with_file_hashes(self, cache: Any | None = None) -> ProjectManifest:
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
        files: dict[str, dict[str, dict[str, Any]]] = {"resources": {}, "annotations": {}}
        for kind, record in self.file_records():
            eid = safe_component(record.get("id"), f"{kind[:-1]} id")
            if kind == "resources":
                vhash = version_hash(resource_version_info(record))
            else:
                vhash = version_hash(annotation_version_info(record))
            info: dict[str, Any] = {
                "version_hash": vhash,
                "size": _int_or_none(record.get("size")),
                "sha256": record_sha256(record),
            }
            if kind == "annotations":
                info["resource_id"] = str(record.get("resource_id"))
            if info["sha256"] is None or info["size"] is None:
                meta = None
                if cache is not None:
                    meta = (
                        cache.resource_meta(record)
                        if kind == "resources"
                        else cache.segmentation_meta(record)
                    )
                previous = self.files.get(kind, {}).get(eid)
                if meta is None and previous and previous.get("version_hash") == vhash:
                    meta = previous
                if meta is not None:
                    info["sha256"] = info["sha256"] or meta.get("sha256")
                    if info["size"] is None:
                        info["size"] = _int_or_none(meta.get("size"))
            files[kind][eid] = info
        return replace(self, files=files)

    def missing_files(self, cache: Any) -> list[str]:
        """List the needed files that are not cached intact.

        Args:
            cache: The :class:`~datamint.storage.file_cache.FileCache` to look in.

        Returns:
            One description per missing file, e.g. ``"resource <id> (<filename>)"``.
        """
        missing = []
        for kind, record in self.file_records():
            if kind == "resources":
                if not cache.has_resource_file(record):
                    missing.append(f"resource {record.get('id')} ({record.get('filename')!r})")
            elif not cache.has_segmentation_file(record):
                missing.append(
                    f"segmentation annotation {record.get('id')} of resource "
                    f"{record.get('resource_id')}"
                )
        return missing

    # ------------------------------------------------------------------ splits

    def _split_query_recorded(self, split_name: str | None, as_of_us: int | None) -> bool:
        for query in self.split_queries:
            q_name, q_as_of = query.get("split_name"), query.get("as_of_timestamp")
            q_us = None if q_as_of is None else _instant_us(q_as_of, "recorded as_of_timestamp")
            if q_us == as_of_us and (q_name is None or q_name == split_name):
                return True
        return False

    def splits(
        self, split_name: str | None = None, as_of_timestamp: str | None = None
    ) -> list[dict[str, Any]]:
        """Answer ``GET /projects/{id}/splits`` from the stored rows (contract §4.6).

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
        as_of_us = (
            None if as_of_timestamp is None else _instant_us(as_of_timestamp, "as_of_timestamp")
        )
        hint = (
            f"run the same split query once online (with the server reachable) or "
            f"`datamint download --project {self.project_name}`"
        )
        if self.split_rows is None:
            raise OfflineCacheMissError(
                f"the split assignments of project {self.project_name!r} were not synced "
                f"into its manifest (synced {self.synced_at}): {hint}"
            )
        rows = self.split_rows
        if not self._split_query_recorded(split_name, as_of_us):
            if as_of_us is None or not self._split_query_recorded(None, None):
                what = "current" if as_of_us is None else f"as of {as_of_timestamp}"
                raise OfflineCacheMissError(
                    f"the {what} split assignments of project {self.project_name!r} were "
                    f"not synced into its manifest (synced {self.synced_at}): {hint}"
                )
            unknown = sorted(_undetermined_at(rows, as_of_us))
            if unknown:
                raise OfflineCacheMissError(
                    f"the manifest of project {self.project_name!r} (synced "
                    f"{self.synced_at}) cannot tell the split of {len(unknown)} resource(s) "
                    f"as of {as_of_timestamp} (e.g. {unknown[0]}): they were assigned after "
                    f"that instant, and whether they had a row then was never received; {hint}"
                )
        if as_of_us is None:
            kept = [r for r in rows if r.get("deleted_at") is None]
        else:
            kept = [r for r in rows if _live_at(r, as_of_us)]
        if split_name is not None:
            kept = [r for r in kept if r.get("split_name") == split_name]
        kept.sort(
            key=lambda r: (
                _instant_us(r.get("created_at"), "split row created_at"),
                str(r.get("id")),
            )
        )
        return [dict(r) for r in kept]

    # ------------------------------------------------------------------ merging

    def merged_over(self, older: ProjectManifest) -> ProjectManifest:
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
        annotations = self.annotations + [
            a for a in older.annotations if str(a.get("resource_id")) in kept_set
        ]
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
        return {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "datamint_version": self.datamint_version,
            "project_id": self.project_id,
            "server_url": self.server_url,
            "synced_at": self.synced_at,
            "project": self.project,
            "resources": self.resources,
            "annotations": self.annotations,
            "annotations_for": self.annotations_for,
            "worklists": self.worklists,
            "annotation_sets": self.annotation_sets,
            "segmentation_groups": self.segmentation_groups,
            "split_rows": self.split_rows,
            "split_queries": self.split_queries,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "manifest") -> ProjectManifest:
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

        def bad(problem: str) -> CacheError:
            return CacheError(
                f"{source} is not a valid datamint project manifest: {problem}. Sync the "
                "project again (`datamint download --project NAME`) to rewrite it"
            )

        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise bad(f"the 'format' key is not {MANIFEST_FORMAT!r}")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad("'format_version' is not an integer")
        if version > MANIFEST_VERSION:
            raise bad(
                f"format_version {version} is newer than this datamint reads "
                f"({MANIFEST_VERSION}); upgrade datamint"
            )

        def obj(key: str, *, optional: bool = False) -> Any:
            value = data.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, dict):
                raise bad(f"{key!r} is not a JSON object")
            return value

        def records(key: str, *, optional: bool = False) -> Any:
            value = data.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise bad(f"{key!r} is not a list of JSON objects")
            return value

        project = obj("project")
        try:
            pid = safe_component(project.get("id"), "project id")
        except ValidationError as exc:
            raise bad(str(exc)) from None
        if data.get("project_id") != pid:
            raise bad(f"'project_id' {data.get('project_id')!r} differs from project.id {pid!r}")
        resources = records("resources")
        annotations = records("annotations")
        for what, items in (("resource", resources), ("annotation", annotations)):
            for item in items:
                try:
                    safe_component(item.get("id"), f"{what} id")
                except ValidationError as exc:
                    raise bad(str(exc)) from None
        for item in annotations:
            if not isinstance(item.get("resource_id"), str):
                raise bad(f"annotation {item.get('id')} has no 'resource_id'")
        annotations_for = data.get("annotations_for")
        if not isinstance(annotations_for, list) or not all(
            isinstance(v, str) for v in annotations_for
        ):
            raise bad("'annotations_for' is not a list of resource ids")
        worklists = records("worklists", optional=True)
        sets = obj("annotation_sets")
        groups = obj("segmentation_groups")
        for key, mapping in (("annotation_sets", sets), ("segmentation_groups", groups)):
            if not all(isinstance(v, dict) for v in mapping.values()):
                raise bad(f"{key!r} holds a value that is not a JSON object")
        split_rows = records("split_rows", optional=True)
        split_queries = records("split_queries")
        try:
            for row in split_rows or ():
                _instant_us(row.get("created_at"), "split row created_at")
                if row.get("deleted_at") is not None:
                    _instant_us(row.get("deleted_at"), "split row deleted_at")
            for query in split_queries:
                if query.get("as_of_timestamp") is not None:
                    _instant_us(query["as_of_timestamp"], "recorded as_of_timestamp")
        except ValidationError as exc:
            raise bad(str(exc)) from None
        files = obj("files")
        if not all(isinstance(files.get(k, {}), dict) for k in ("resources", "annotations")):
            raise bad("'files' must map 'resources' and 'annotations' to JSON objects")
        try:
            for kind in ("resources", "annotations"):
                for eid in files.get(kind, {}):
                    safe_component(eid, f"{kind[:-1]} id in 'files'")
        except ValidationError as exc:
            raise bad(str(exc)) from None
        synced_at = data.get("synced_at")
        if not isinstance(synced_at, str):
            raise bad("'synced_at' is not a string")
        server_url = data.get("server_url")
        if server_url is not None and not isinstance(server_url, str):
            raise bad("'server_url' is not a string")
        return cls(
            project=project,
            resources=resources,
            annotations=annotations,
            annotations_for=annotations_for,
            worklists=worklists,
            annotation_sets=sets,
            segmentation_groups=groups,
            split_rows=split_rows,
            split_queries=split_queries,
            server_url=server_url,
            synced_at=synced_at,
            files={k: dict(files.get(k, {})) for k in ("resources", "annotations")},
            datamint_version=data.get("datamint_version"),
        )


def _live_at(row: Mapping[str, Any], as_of_us: int) -> bool:
    if _instant_us(row.get("created_at"), "split row created_at") > as_of_us:
        return False
    deleted = row.get("deleted_at")
    return deleted is None or _instant_us(deleted, "split row deleted_at") > as_of_us


def _undetermined_at(rows: Iterable[Mapping[str, Any]], as_of_us: int) -> set[str]:
    """Resources whose split at ``as_of_us`` the rows do not determine."""
    live: set[str] = set()
    later: set[str] = set()
    for row in rows:
        rid = str(row.get("resource_id"))
        if _live_at(row, as_of_us):
            live.add(rid)
        elif _instant_us(row.get("created_at"), "split row created_at") > as_of_us:
            later.add(rid)
    return later - live


# ---------------------------------------------------------------------- disk


def _package_version() -> str | None:
    try:
        from datamint import __version__
    except ImportError:  # pragma: no cover - partial installs
        return None
    return __version__


def _root(cache_root: str | os.PathLike[str] | None) -> Path:
    if cache_root is None:
        from datamint.settings import cache_root as default_root

        return default_root()
    return Path(cache_root).expanduser()


def read_manifest(cache_root: str | os.PathLike[str] | None, project_id: str) -> ProjectManifest:
    """Read and validate a project's manifest.

    Args:
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
        project_id: The project id.

    Returns:
        The manifest.

    Raises:
        OfflineCacheMissError: If there is no manifest for that project.
        CacheError: If the file is not valid JSON or not a valid manifest.
        ValidationError: If ``project_id`` is unsafe as a file name.
    """
    path = manifest_path(_root(cache_root), project_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OfflineCacheMissError(
            f"no manifest for project {project_id} in {path.parent}: "
            + DOWNLOAD_HINT.format(project="NAME")
        ) from None
    except OSError as exc:
        raise CacheError(f"cannot read manifest {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CacheError(
            f"{path} is not valid JSON ({exc}); sync the project again to rewrite it"
        ) from exc
    manifest = ProjectManifest.from_json(data, source=str(path))
    if manifest.project_id != project_id:
        raise CacheError(f"{path} holds project {manifest.project_id}, not {project_id}")
    return manifest


@dataclass(frozen=True)
class ManifestSummary:
    """One line of the manifest index.

    Attributes:
        project_id: The project id.
        name: The project name.
        server_url: The server it was synced from, or ``None``.
        synced_at: When, ISO-8601 UTC.
        resources: How many resources it lists.
        path: The manifest file.
    """

    project_id: str
    name: str
    server_url: str | None
    synced_at: str
    resources: int
    path: Path


def _summary(root: Path, manifest: ProjectManifest) -> dict[str, Any]:
    return {
        "name": manifest.project_name,
        "server_url": manifest.server_url,
        "synced_at": manifest.synced_at,
        "resources": len(manifest.resources),
    }


def _rebuild_index(root: Path) -> dict[str, dict[str, Any]]:
    projects: dict[str, dict[str, Any]] = {}
    folder = root / MANIFESTS_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        if path.name == MANIFEST_INDEX_NAME:
            continue
        try:
            manifest = read_manifest(root, path.stem)
        except (CacheError, ValidationError) as exc:
            _LOG.warning("skipping %s while indexing manifests: %s", path, exc)
            continue
        projects[manifest.project_id] = _summary(root, manifest)
    return projects


def _read_index(root: Path) -> dict[str, dict[str, Any]] | None:
    try:
        data = json.loads(manifest_index_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        return None
    projects = data.get("projects")
    if not isinstance(projects, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("name"), str) for v in projects.values()
    ):
        return None
    return projects


def _write_index(root: Path, projects: Mapping[str, Mapping[str, Any]]) -> None:
    payload = {"format": INDEX_FORMAT, "format_version": 1, "projects": dict(projects)}
    atomic_write_text(manifest_index_path(root), json.dumps(payload, indent=1, sort_keys=True))


def _update_index(root: Path, project_id: str, entry: Mapping[str, Any] | None) -> None:
    with key_lock(manifest_index_path(root)):
        projects = _read_index(root)
        if projects is None:
            projects = _rebuild_index(root)
        if entry is None:
            projects.pop(project_id, None)
        else:
            projects[project_id] = dict(entry)
        _write_index(root, projects)


def list_manifests(cache_root: str | os.PathLike[str] | None = None) -> list[ManifestSummary]:
    """List the synced projects of a cache root (from the index, rebuilt when damaged).

    Args:
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.

    Returns:
        One summary per manifest, sorted by name then id.
    """
    root = _root(cache_root)
    projects = _read_index(root)
    if projects is None or any(
        not manifest_path(root, pid).is_file() for pid in projects if _safe(pid)
    ):
        projects = _rebuild_index(root)
    summaries = []
    for pid, entry in projects.items():
        if not _safe(pid):
            continue
        summaries.append(
            ManifestSummary(
                project_id=pid,
                name=str(entry.get("name")),
                server_url=entry.get("server_url"),
                synced_at=str(entry.get("synced_at")),
                resources=int(entry.get("resources") or 0),
                path=manifest_path(root, pid),
            )
        )
    return sorted(summaries, key=lambda s: (s.name, s.project_id))


def _safe(value: str) -> bool:
    try:
        safe_component(value)
    except ValidationError:
        return False
    return value + ".json" != MANIFEST_INDEX_NAME


def find_manifest(
    cache_root: str | os.PathLike[str] | None,
    name_or_id: str,
    *,
    server_url: str | None = None,
) -> ProjectManifest:
    """Find a synced project by exact name, or by id.

    Args:
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
        name_or_id: A project name (compared exactly) or a project id.
        server_url: Only projects synced from this server, when given.

    Returns:
        The manifest.

    Raises:
        OfflineCacheMissError: If no synced project has that name or id; the message
            lists the synced projects and what to run.
        ValidationError: If several synced projects have that name (from several
            servers, or several projects of one server); pass ``server_url``.
        CacheError: If the manifest is damaged.
    """
    root = _root(cache_root)
    wanted_server = sanitize_server_url(server_url)
    summaries = [
        s for s in list_manifests(root) if wanted_server is None or s.server_url == wanted_server
    ]
    by_name = [s for s in summaries if s.name == name_or_id]
    by_id = [s for s in summaries if s.project_id == name_or_id]
    matches = by_name or by_id
    if not matches:
        known = ", ".join(repr(s.name) for s in summaries[:10]) or "none"
        where = f" from {wanted_server}" if wanted_server else ""
        raise OfflineCacheMissError(
            f"project {name_or_id!r} has no manifest{where} in {root / MANIFESTS_DIR} "
            f"(synced projects: {known}): " + DOWNLOAD_HINT.format(project=name_or_id)
        )
    if len(matches) > 1:
        listed = "; ".join(f"{s.project_id} from {s.server_url}" for s in matches)
        raise ValidationError(
            f"{len(matches)} synced projects are named {name_or_id!r} ({listed}): pass "
            "server_url= (or DATAMINT_API_URL) to choose one"
        )
    manifest = read_manifest(root, matches[0].project_id)
    if manifest.project_name != matches[0].name:  # the index was stale
        _update_index(root, manifest.project_id, _summary(root, manifest))
        if manifest.project_name != name_or_id and manifest.project_id != name_or_id:
            return find_manifest(root, name_or_id, server_url=server_url)
    return manifest


def _check_ids(manifest: ProjectManifest) -> None:
    """Refuse, before anything is written, ids that could not name a cache entry.

    Raises:
        ValidationError: If an id is not one safe path component.
    """
    safe_component(manifest.project.get("id"), "project id")
    for record in manifest.resources:
        safe_component(record.get("id"), "resource id")
    for record in manifest.annotations:
        safe_component(record.get("id"), "annotation id")
        safe_component(record.get("resource_id"), "resource id of an annotation")


def save_manifest(
    manifest: ProjectManifest,
    cache_root: str | os.PathLike[str] | None = None,
    *,
    merge: bool = True,
) -> Path:
    """Write a manifest atomically and index its name; safe for concurrent writers.

    Args:
        manifest: The manifest to store.
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
        merge: Complete it with the stored manifest of the same project and server
            (see :meth:`ProjectManifest.merged_over`) instead of replacing it.

    Returns:
        The path written, ``<cache_root>/manifests/<project_id>.json``.

    Raises:
        ValidationError: If the project id (or a record id) is unsafe as a path.
        OSError: If the file cannot be written; the previous manifest is then unchanged.
    """
    from datamint.storage.file_cache import FileCache

    _check_ids(manifest)
    root = _root(cache_root)
    path = manifest_path(root, manifest.project_id)
    with key_lock(path):
        if merge and path.is_file():
            try:
                older = read_manifest(root, manifest.project_id)
            except CacheError as exc:
                _LOG.warning("replacing unreadable manifest %s: %s", path, exc)
            else:
                if older.server_url == manifest.server_url:
                    manifest = manifest.merged_over(older)
        manifest = manifest.with_file_hashes(FileCache(root))
        text = json.dumps(manifest.to_json(), indent=1, sort_keys=True, ensure_ascii=False)
        atomic_write_text(path, text)
    _update_index(root, manifest.project_id, _summary(root, manifest))
    return path


def delete_manifest(cache_root: str | os.PathLike[str] | None, project_id: str) -> bool:
    """Remove a project's manifest and its index line.

    Args:
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
        project_id: The project id.

    Returns:
        True when a manifest file was removed.

    Raises:
        ValidationError: If ``project_id`` is unsafe as a file name.
    """
    root = _root(cache_root)
    path = manifest_path(root, project_id)
    with key_lock(path):
        try:
            path.unlink()
            removed = True
        except FileNotFoundError:
            removed = False
    _update_index(root, project_id, None)
    return removed


def _split_queries(
    splits: Sequence[Any] | None, splits_as_of: Mapping[str, Sequence[Any]] | None
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
    if splits is None and not splits_as_of:
        return None, []
    rows: dict[str, dict[str, Any]] = {}
    queries: list[dict[str, Any]] = []
    if splits is not None:
        queries.append({"split_name": None, "as_of_timestamp": None})
        for row in splits:
            record = _as_record(row, "split row")
            rows[str(record.get("id"))] = record
    for as_of, snapshot in (splits_as_of or {}).items():
        _instant_us(as_of, "as_of_timestamp")
        queries.append({"split_name": None, "as_of_timestamp": as_of})
        for row in snapshot:
            record = _as_record(row, "split row")
            rows.setdefault(str(record.get("id")), record)
    return list(rows.values()), queries


def write_manifest(
    cache_root: str | os.PathLike[str] | None = None,
    *,
    project: Mapping[str, Any] | Any,
    resources: Sequence[Mapping[str, Any] | Any],
    annotations: Sequence[Mapping[str, Any] | Any] | None = None,
    annotations_for: Sequence[str] | None = None,
    worklists: Sequence[Mapping[str, Any]] | None = None,
    annotation_sets: Mapping[str, Mapping[str, Any]] | None = None,
    segmentation_groups: Mapping[str, Mapping[str, Any]] | None = None,
    splits: Sequence[Mapping[str, Any]] | None = None,
    splits_as_of: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    server_url: str | None = None,
    merge: bool = True,
) -> Path:
    """Build a project manifest from values already fetched, and store it.

    Pass the server's records as received (before any dataset filtering); entities
    (anything with a ``record`` mapping, e.g. :class:`~datamint.entities.Resource`) are
    accepted too. File hashes come from the records or, for files already cached under
    ``cache_root``, from the cache's ``meta.json``.

    Args:
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
        project: The project record (``GET /projects`` item).
        resources: ``GET /projects/{id}/resources``.
        annotations: ``POST /annotations/search`` results; ``None`` when not fetched.
        annotations_for: Resource ids that search asked for; default: every resource in
            ``resources`` when ``annotations`` is given. Pass it when the search covered
            only some resources (e.g. only the images of an ``ImageDataset``), so that an
            offline search for the others is a clear miss, not an empty answer.
        worklists: ``GET /projects/{id}/worklists`` (items as sent, or completed with
            their specs); ``None`` when not fetched.
        annotation_sets: Full worklists by worklist id (``GET /annotationsets/{id}``).
        segmentation_groups: Segmentation group by worklist id, e.g.
            ``dict(zip(worklist_ids, groups))``.
        splits: The current split rows (``GET /projects/{id}/splits``, no filter);
            ``None`` when not fetched.
        splits_as_of: Split rows of past instants, ``{as_of_timestamp: rows}``.
        server_url: The server's base URL; stored without credentials. Never the key.
        merge: Keep what an older manifest of the same project and server knows and this
            one does not (see :meth:`ProjectManifest.merged_over`).

    Returns:
        The manifest path, ``<cache_root>/manifests/<project_id>.json``.

    Raises:
        ValidationError: If a record is not a JSON object or an id is unsafe as a path,
            or an ``as_of_timestamp`` is not ISO-8601.
        OSError: If the file cannot be written.
    """
    project_record = _as_record(project, "project")
    safe_component(project_record.get("id"), "project id")
    resource_records = [_as_record(r, "resource") for r in resources]
    annotation_records = [_as_record(a, "annotation") for a in annotations or ()]
    if annotations is None:
        covered: list[str] = []
    elif annotations_for is None:
        covered = [str(r.get("id")) for r in resource_records]
    else:
        covered = [str(rid) for rid in annotations_for]
    split_rows, split_queries = _split_queries(splits, splits_as_of)
    manifest = ProjectManifest(
        project=project_record,
        resources=resource_records,
        annotations=annotation_records,
        annotations_for=covered,
        worklists=None if worklists is None else [_as_record(w, "worklist") for w in worklists],
        annotation_sets={
            str(k): _as_record(v, "worklist") for k, v in (annotation_sets or {}).items()
        },
        segmentation_groups={
            str(k): _as_record(v, "segmentation group")
            for k, v in (segmentation_groups or {}).items()
        },
        split_rows=split_rows,
        split_queries=split_queries,
        server_url=sanitize_server_url(server_url),
        datamint_version=_package_version(),
    )
    return save_manifest(manifest, cache_root, merge=merge)


# ---------------------------------------------------------------------- recording


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
            wids = None if worklists is None else {_worklist_id(w) for w in worklists} - {None}
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
            datamint_version=_package_version(),
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


# ---------------------------------------------------------------------- offline client


class OfflineApi:
    """The read methods of :class:`~datamint.api.Api` that dataset preparation uses,
    answered from the project manifests of a cache root. Nothing is ever sent.

    Duck-type compatible with ``Api`` for ``get_project_by_name``, ``get_project``,
    ``get_projects``, ``get_project_resources``, ``get_resource``, ``search_annotations``,
    ``get_project_worklists``, ``get_annotation_set``, ``get_segmentation_group``,
    ``get_project_splits``, ``get_resource_split``, ``check_connection`` and ``close``.
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

    def __init__(
        self,
        cache_root: str | os.PathLike[str] | None = None,
        *,
        server_url: str | None = None,
    ) -> None:
        self.cache_root = _root(cache_root)
        self.server_url = sanitize_server_url(server_url)
        self._lock = threading.RLock()
        self._manifests: dict[str, ProjectManifest] = {}
        self._all_loaded = False

    def __repr__(self) -> str:
        """Show the cache root and server filter."""
        return f"OfflineApi(cache_root={str(self.cache_root)!r}, server_url={self.server_url!r})"

    def __reduce__(self) -> tuple[Any, ...]:
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

    # ------------------------------------------------------------------ manifests

    def _load(self, project_id: str) -> ProjectManifest:
        with self._lock:
            found = self._manifests.get(project_id)
            if found is None:
                found = read_manifest(self.cache_root, project_id)
                if self.server_url is not None and found.server_url != self.server_url:
                    raise OfflineCacheMissError(
                        f"project {project_id} was synced from {found.server_url}, not "
                        f"{self.server_url}: " + DOWNLOAD_HINT.format(project=found.project_name)
                    )
                self._manifests[project_id] = found
            return found

    def _every_manifest(self) -> list[ProjectManifest]:
        with self._lock:
            if not self._all_loaded:
                for summary in list_manifests(self.cache_root):
                    if self.server_url is None or summary.server_url == self.server_url:
                        with contextlib.suppress(CacheError):
                            self._load(summary.project_id)
                self._all_loaded = True
            return list(self._manifests.values())

    def _search_order(self) -> Iterator[ProjectManifest]:
        """Loaded manifests first, then every other one."""
        with self._lock:
            loaded = list(self._manifests.values())
        yield from loaded
        seen = {m.project_id for m in loaded}
        for manifest in self._every_manifest():
            if manifest.project_id not in seen:
                yield manifest

    def manifest(self, project: str) -> ProjectManifest:
        """Return the manifest of a synced project.

        Args:
            project: A project name or id.

        Returns:
            The manifest.

        Raises:
            OfflineCacheMissError: If the project was never synced to this cache root.
            ValidationError: If the name is ambiguous (see :func:`find_manifest`).
            CacheError: If the manifest is damaged.
        """
        found = find_manifest(self.cache_root, project, server_url=self.server_url)
        with self._lock:
            return self._manifests.setdefault(found.project_id, found)

    # ------------------------------------------------------------------ projects

    def get_projects(self, include_archived: bool = True) -> list[dict[str, Any]]:
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

    def get_project_by_name(self, name: str) -> dict[str, Any]:
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

    def get_project(self, project_id: str) -> dict[str, Any]:
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

    def get_project_resources(self, project_id: str) -> list[dict[str, Any]]:
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

    def get_resource(self, resource_id: str) -> dict[str, Any]:
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
    ) -> list[dict[str, Any]]:
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
        found: list[dict[str, Any]] = []
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

    def get_project_worklists(self, project_id: str) -> list[dict[str, Any]]:
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

    def get_annotation_set(self, worklist_id: str) -> dict[str, Any]:
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
                if _worklist_id(item) == worklist_id and "annotations" in item:
                    full = copy.deepcopy(item)
                    full.setdefault("id", worklist_id)
                    full.setdefault("name", item.get("worklist_name"))
                    return full
        raise OfflineCacheMissError(
            f"worklist {worklist_id} was never synced to {self.cache_root / MANIFESTS_DIR}: "
            + DOWNLOAD_HINT.format(project="NAME")
        )

    def get_segmentation_group(self, worklist_id: str) -> dict[str, Any]:
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
        split_name: str | None = None,
        as_of_timestamp: str | None = None,
    ) -> list[dict[str, Any]]:
        """Answer ``GET /projects/{id}/splits`` from the manifest's split rows.

        Args:
            project_id: Project id.
            split_name: Only rows of this split.
            as_of_timestamp: ISO-8601 instant: the rows as they stood then.

        Returns:
            Split rows (see :meth:`ProjectManifest.splits` for the rule).

        Raises:
            ValidationError: If ``as_of_timestamp`` is not ISO-8601.
            OfflineCacheMissError: If the rows were not synced or cannot determine the
                answer.
        """
        return self._load(project_id).splits(split_name, as_of_timestamp)

    def get_resource_split(self, project_id: str, resource_id: str) -> dict[str, Any] | None:
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

    def assign_split(self, project_id: str, resource_ids: list[str], split_name: str) -> None:
        """Refuse: offline, nothing can be written to the server.

        Raises:
            DatamintException: Always.
        """
        raise DatamintException(
            f"offline: cannot assign {len(resource_ids)} resource(s) to split {split_name!r} "
            f"of project {project_id}; save splits while the server is reachable"
        )

    # ------------------------------------------------------------------ files

    def _describe_resource(self, resource_id: str) -> tuple[str, str]:
        for manifest in self._search_order():
            for record in manifest.resources:
                if record.get("id") == resource_id:
                    return f" ({record.get('filename')!r})", manifest.project_name
        return "", "NAME"

    def download_resource_file(
        self,
        resource_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> Any:
        """Refuse to download: the resource's file is not in the cache.

        Args:
            resource_id: Resource id.
            dest: Where the file would go (untouched).
            expected_size: Ignored.
            expected_sha256: Ignored.

        Raises:
            OfflineCacheMissError: Always, naming the resource and what to run.
        """
        described, project = self._describe_resource(resource_id)
        raise OfflineCacheMissError(
            f"offline: the file of resource {resource_id}{described} is not in the cache at "
            f"{self.cache_root}; " + DOWNLOAD_HINT.format(project=project)
        )

    def download_segmentation_file(
        self,
        resource_id: str,
        annotation_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> Any:
        """Refuse to download: the segmentation file is not in the cache.

        Args:
            resource_id: Id of the annotated resource.
            annotation_id: Annotation id.
            dest: Where the file would go (untouched).
            expected_size: Ignored.
            expected_sha256: Ignored.

        Raises:
            OfflineCacheMissError: Always, naming the annotation and what to run.
        """
        described, project = self._describe_resource(resource_id)
        raise OfflineCacheMissError(
            f"offline: the segmentation file of annotation {annotation_id} (resource "
            f"{resource_id}{described}) is not in the cache at {self.cache_root}; "
            + DOWNLOAD_HINT.format(project=project)
        )


def _rebuild_offline_api(cache_root: str, server_url: str | None) -> OfflineApi:
    return OfflineApi(cache_root, server_url=server_url)
