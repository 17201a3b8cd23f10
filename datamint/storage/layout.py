"""Paths inside the cache root, and the version keys that name entries.

Layout of downloaded files (the raw bytes the server sent)::

    <root>/files/resources/<resource_id>/<version_hash>/data
    <root>/files/resources/<resource_id>/<version_hash>/meta.json
    <root>/files/resources/<resource_id>/<version_hash>.lock
    <root>/files/annotations/<annotation_id>/<version_hash>/data   (segmentation files)
    ...

Other folders of the root::

    <root>/arrays/...                    decoded arrays (:mod:`datamint.storage.array_cache`)
    <root>/manifests/<project_id>.json   project manifests (:mod:`datamint.storage.manifest`)
    <root>/manifests/index.json          name -> id index of the manifests
    <root>/datasets/<project_id>/...     prepared dataset ids (:mod:`datamint.catalog`)
    <root>/streams/<digest>/...          stream chunk lists (:mod:`datamint.dataset.streaming`)

``version_hash`` is the first 32 hex digits of the sha256 of the canonical JSON of the
entity's version fields (:func:`resource_version_info`, :func:`annotation_version_info`),
so any change of those fields on the server gives a new entry. Ids must be safe single
path components; nothing can resolve outside the root.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datamint.exceptions import ValidationError

__all__ = [
    "ARRAYS_DIR",
    "FILES_DIR",
    "MANIFESTS_DIR",
    "MANIFEST_INDEX_NAME",
    "annotation_version_info",
    "file_entry_dir",
    "manifest_index_path",
    "manifest_path",
    "record_sha256",
    "resource_version_info",
    "safe_component",
    "version_hash",
]

FILES_DIR = "files"
ARRAYS_DIR = "arrays"
MANIFESTS_DIR = "manifests"
MANIFEST_INDEX_NAME = "index.json"
VERSION_HASH_CHARS = 32

_SAFE_RE = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,199}$")
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def safe_component(value: Any, what: str = "id") -> str:
    """Return ``value`` when it is safe as one path component.

    Args:
        value: Candidate, e.g. an entity id.
        what: What it is, for the error message.

    Returns:
        ``value`` unchanged.

    Raises:
        ValidationError: If it is not a string of 1-200 characters from
            ``[A-Za-z0-9_.~-]`` that does not start with ``.`` (so no ``/``, ``..``,
            hidden names or empty strings).
    """
    if not isinstance(value, str) or not _SAFE_RE.match(value):
        raise ValidationError(
            f"{what} {value!r} cannot name a cache entry: expected 1-200 characters of "
            "[A-Za-z0-9_.~-], not starting with '.'"
        )
    return value


def _size(value: Any) -> Any:
    """Normalise a size that may arrive as an int or a numeric string."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def record_sha256(record: Mapping[str, Any]) -> str | None:
    """Return the record's ``sha256`` field, lowercased, when it is a 64-hex digest.

    Args:
        record: A resource or annotation record.

    Returns:
        The digest or ``None``.
    """
    value = record.get("sha256")
    if isinstance(value, str) and _SHA256_RE.match(value.strip()):
        return value.strip().lower()
    return None


def resource_version_info(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Return the fields that version a resource's file.

    Args:
        resource: A resource record.

    Returns:
        ``{"created_at", "deleted_at", "size"}`` plus ``"sha256"`` when the record has one.
    """
    info = {
        "created_at": resource.get("created_at"),
        "deleted_at": resource.get("deleted_at"),
        "size": _size(resource.get("size")),
    }
    sha = record_sha256(resource)
    if sha is not None:
        info["sha256"] = sha
    return info


def annotation_version_info(annotation: Mapping[str, Any]) -> dict[str, Any]:
    """Return the fields that version an annotation's segmentation file.

    Args:
        annotation: An annotation record.

    Returns:
        ``{"created_at", "deleted_at", "associated_file"}`` plus ``"sha256"`` when present.
    """
    info = {
        "created_at": annotation.get("created_at"),
        "deleted_at": annotation.get("deleted_at"),
        "associated_file": annotation.get("associated_file"),
    }
    sha = record_sha256(annotation)
    if sha is not None:
        info["sha256"] = sha
    return info


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode
"""``json.dumps(info, sort_keys=True, separators=(",", ":"), default=str)``, built once."""


def version_hash(info: Mapping[str, Any]) -> str:
    """Hash version fields into an entry name.

    Args:
        info: JSON-serialisable version fields.

    Returns:
        The first 32 hex digits of ``sha256(json.dumps(info, sort_keys=True,
        separators=(",", ":")))``.
    """
    canonical = _CANONICAL(info)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:VERSION_HASH_CHARS]


def file_entry_dir(root: Path, kind: str, entity_id: str, vhash: str) -> Path:
    """Return the folder of one downloaded-file entry.

    Args:
        root: Cache root.
        kind: ``"resources"`` or ``"annotations"``.
        entity_id: The entity id (checked with :func:`safe_component`).
        vhash: The version hash (checked too).

    Returns:
        ``root / "files" / kind / entity_id / vhash``.

    Raises:
        ValidationError: If a component is unsafe or the path would leave ``root``.
    """
    path = (
        Path(root)
        / FILES_DIR
        / safe_component(kind, "kind")
        / safe_component(entity_id, "entity id")
        / safe_component(vhash, "version hash")
    )
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise ValidationError(f"cache entry {path} would lie outside the cache root {root}")
    return path


def manifest_path(root: Path, project_id: str) -> Path:
    """Return the path of a project's manifest.

    Args:
        root: Cache root.
        project_id: The project id (checked with :func:`safe_component`).

    Returns:
        ``root / "manifests" / f"{project_id}.json"``.

    Raises:
        ValidationError: If the id is unsafe as a file name, or names the index file.
    """
    pid = safe_component(project_id, "project id")
    if f"{pid}.json" == MANIFEST_INDEX_NAME:
        raise ValidationError(f"project id {project_id!r} cannot name a manifest")
    return Path(root) / MANIFESTS_DIR / f"{pid}.json"


def manifest_index_path(root: Path) -> Path:
    """Return the path of the manifests' name index.

    Args:
        root: Cache root.

    Returns:
        ``root / "manifests" / "index.json"``.
    """
    return Path(root) / MANIFESTS_DIR / MANIFEST_INDEX_NAME
