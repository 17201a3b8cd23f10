"""The files a manifest's project needs: which records have one, their size and sha256
(from the record, the file cache or the previous sync), and which are not cached."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from datamint.storage.layout import (
    annotation_version_info,
    record_sha256,
    resource_version_info,
    safe_component,
    version_hash,
)
from datamint.storage.manifest.records import is_deleted, is_segmentation
from datamint.storage.values import int_or_none

if TYPE_CHECKING:
    from datamint.storage.file_cache import FileCache
    from datamint.storage.manifest.model import CacheManifest

__all__ = ["checked_file_infos", "file_hashes", "file_info", "file_records", "missing_files"]


def file_records(manifest: CacheManifest) -> Iterator[tuple[str, dict[str, Any]]]:
    """``("resources", record)`` per live resource, then ``("annotations", record)`` per
    live segmentation annotation (see :meth:`CacheManifest.file_records`)."""
    for record in manifest.resources:
        if not is_deleted(record):
            yield "resources", record
    for record in manifest.annotations:
        if is_segmentation(record) and not is_deleted(record):
            yield "annotations", record


def file_info(
    kind: str, record: Mapping[str, Any], manifest: CacheManifest, cache: FileCache | None
) -> tuple[str, dict[str, Any]]:
    """``(entity id, info)`` of one file record: its entry in ``files`` (see
    :meth:`CacheManifest.with_file_hashes`).

    Raises:
        ValidationError: If the record's id is unsafe as a path component.
    """
    eid = safe_component(record.get("id"), f"{kind[:-1]} id")
    if kind == "resources":
        vhash = version_hash(resource_version_info(record))
    else:
        vhash = version_hash(annotation_version_info(record))
    info: dict[str, Any] = {
        "version_hash": vhash,
        "size": int_or_none(record.get("size")),
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
        previous = manifest.files.get(kind, {}).get(eid)
        if meta is None and previous and previous.get("version_hash") == vhash:
            meta = previous
        if meta is not None:
            info["sha256"] = info["sha256"] or meta.get("sha256")
            if info["size"] is None:
                info["size"] = int_or_none(meta.get("size"))
    return eid, info


def checked_file_infos(
    manifest: CacheManifest, cache: FileCache | None
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """One pass over every record: check each id, and yield ``(kind, entity id, info)``
    for each file record (the order of :func:`file_records`).

    Raises:
        ValidationError: (when reached) If a record's id, or an annotation's resource
            id, is not one safe path component.
    """
    for record in manifest.resources:
        safe_component(record.get("id"), "resource id")
        if not is_deleted(record):
            yield ("resources", *file_info("resources", record, manifest, cache))
    for record in manifest.annotations:
        safe_component(record.get("id"), "annotation id")
        safe_component(record.get("resource_id"), "resource id of an annotation")
        if is_segmentation(record) and not is_deleted(record):
            yield ("annotations", *file_info("annotations", record, manifest, cache))


def file_hashes(manifest: CacheManifest, cache: FileCache | None) -> dict[str, dict[str, Any]]:
    """The ``files`` mapping of :meth:`CacheManifest.with_file_hashes`.

    Raises:
        ValidationError: If a record's id is unsafe as a path component.
    """
    files: dict[str, dict[str, dict[str, Any]]] = {"resources": {}, "annotations": {}}
    for kind, record in file_records(manifest):
        eid, info = file_info(kind, record, manifest, cache)
        files[kind][eid] = info
    return files


def missing_files(manifest: CacheManifest, cache: FileCache) -> list[str]:
    """Describe each needed file that ``cache`` does not hold intact."""
    missing = []
    for kind, record in file_records(manifest):
        if kind == "resources":
            if not cache.has_resource_file(record):
                missing.append(f"resource {record.get('id')} ({record.get('filename')!r})")
        elif not cache.has_segmentation_file(record):
            missing.append(
                f"segmentation annotation {record.get('id')} of resource "
                f"{record.get('resource_id')}"
            )
    return missing
