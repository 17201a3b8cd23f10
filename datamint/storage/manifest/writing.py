"""Storing manifests: build one from values already fetched, write it atomically under its
lock (merged with the stored one, file hashes filled in), index it, or delete it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from datamint.exceptions import CacheError
from datamint.storage.atomic import atomic_open
from datamint.storage.layout import manifest_path, safe_component
from datamint.storage.locks import key_lock
from datamint.storage.manifest.files import checked_file_infos
from datamint.storage.manifest.index import index_entry, update_index
from datamint.storage.manifest.model import CacheManifest
from datamint.storage.manifest.provenance import package_version, sanitize_server_url
from datamint.storage.manifest.reading import read_manifest, resolve_root
from datamint.storage.manifest.records import as_record
from datamint.storage.manifest.splits import collect_split_rows
from datamint.storage.record_table import RecordTable

if TYPE_CHECKING:
    from datamint.storage.file_cache import FileCache

__all__ = ["delete_manifest", "save_manifest", "write_manifest"]

_LOG = logging.getLogger("datamint.storage.manifest")  # the package's logger


_LONG_KEYS = ("annotations", "files", "resources")  # written without indentation


def _write_json(manifest: CacheManifest, out: BinaryIO, cache: FileCache | None) -> None:
    """Write the manifest's JSON object (:meth:`CacheManifest.to_json`) to ``out``, with
    ``files`` computed as by :meth:`CacheManifest.with_file_hashes` while writing.

    The short keys are indented for reading. The long ones (records and file hashes,
    hundreds of MB for a project of 500 000 resources) are written compact and streamed:
    record tables as their stored JSON texts, file entries one by one, so nothing is
    encoded twice or held whole. Every id is checked on the way (the caller writes to a
    temp file, which a failure discards).

    Raises:
        ValidationError: If an id is not one safe path component.
    """
    data = manifest.to_json()
    safe_component(manifest.project.get("id"), "project id")
    for key in _LONG_KEYS:
        del data[key]
    head = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    out.write(head[: head.rindex("}")].rstrip().encode("utf-8"))
    out.write(b',\n "files": {"resources": {')
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
    kind_now, first = "resources", True
    for kind, eid, info in checked_file_infos(manifest, cache):
        if kind != kind_now:
            out.write(b'}, "annotations": {')
            kind_now, first = kind, True
        entry = f"{'' if first else ','}{dumps(eid)}:{dumps(info)}"
        out.write(entry.encode("utf-8"))
        first = False
    out.write(b"}}" if kind_now == "annotations" else b'}, "annotations": {}}')
    for key in ("annotations", "resources"):
        out.write(f',\n "{key}": '.encode())
        records = getattr(manifest, key)
        if isinstance(records, RecordTable):
            records.write_json_array(out)
        else:
            out.write(dumps(list(records)).encode("utf-8"))
    out.write(b"\n}\n")


def save_manifest(
    manifest: CacheManifest,
    cache_root: str | os.PathLike[str] | None = None,
    *,
    merge: bool = True,
) -> Path:
    """Write a manifest atomically and index its name; safe for concurrent writers.

    Args:
        manifest: The manifest to store.
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.
        merge: Complete it with the stored manifest of the same project and server
            (see :meth:`CacheManifest.merged_over`) instead of replacing it.

    Returns:
        The path written, ``<cache_root>/manifests/<project_id>.json``.

    Raises:
        ValidationError: If the project id (or a record id) is unsafe as a path.
        OSError: If the file cannot be written; the previous manifest is then unchanged.
    """
    from datamint.storage.file_cache import FileCache

    root = resolve_root(cache_root)
    path = manifest_path(root, manifest.project_id)
    cache = FileCache(root)
    # Written in full (every id checked) before the lock is taken, so a refused manifest
    # leaves nothing behind; under the lock it replaces the stored one, or is merged
    # with it and written again.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            _write_json(manifest, out, cache)
        with key_lock(path):
            older = None
            if merge and path.is_file():
                try:
                    older = read_manifest(root, manifest.project_id)
                except CacheError as exc:
                    _LOG.warning("replacing unreadable manifest %s: %s", path, exc)
            if older is not None and older.server_url == manifest.server_url:
                manifest = manifest.merged_over(older)
                with atomic_open(path) as merged_out:
                    _write_json(manifest, merged_out, cache)
            else:
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    update_index(root, manifest.project_id, index_entry(manifest))
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
    root = resolve_root(cache_root)
    path = manifest_path(root, project_id)
    with key_lock(path):
        try:
            path.unlink()
            removed = True
        except FileNotFoundError:
            removed = False
    update_index(root, project_id, None)
    return removed


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
            one does not (see :meth:`CacheManifest.merged_over`).

    Returns:
        The manifest path, ``<cache_root>/manifests/<project_id>.json``.

    Raises:
        ValidationError: If a record is not a JSON object or an id is unsafe as a path,
            or an ``as_of_timestamp`` is not ISO-8601.
        OSError: If the file cannot be written.
    """
    project_record = as_record(project, "project")
    safe_component(project_record.get("id"), "project id")
    resource_records = [as_record(r, "resource") for r in resources]
    annotation_records = [as_record(a, "annotation") for a in annotations or ()]
    if annotations is None:
        covered: list[str] = []
    elif annotations_for is None:
        covered = [str(r.get("id")) for r in resource_records]
    else:
        covered = [str(rid) for rid in annotations_for]
    split_rows, split_queries = collect_split_rows(splits, splits_as_of)
    manifest = CacheManifest(
        project=project_record,
        resources=resource_records,
        annotations=annotation_records,
        annotations_for=covered,
        worklists=None if worklists is None else [as_record(w, "worklist") for w in worklists],
        annotation_sets={
            str(k): as_record(v, "worklist") for k, v in (annotation_sets or {}).items()
        },
        segmentation_groups={
            str(k): as_record(v, "segmentation group")
            for k, v in (segmentation_groups or {}).items()
        },
        split_rows=split_rows,
        split_queries=split_queries,
        server_url=sanitize_server_url(server_url),
        datamint_version=package_version(),
    )
    return save_manifest(manifest, cache_root, merge=merge)
