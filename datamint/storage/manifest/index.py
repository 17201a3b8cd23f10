"""The manifest index, ``<cache_root>/manifests/index.json``: project names to ids, kept
under a lock, rebuilt from the manifests when damaged; listing and finding by name or id."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamint.exceptions import CacheError, OfflineCacheMissError, ValidationError
from datamint.storage.atomic import atomic_write_text
from datamint.storage.layout import (
    MANIFEST_INDEX_NAME,
    MANIFESTS_DIR,
    manifest_index_path,
    manifest_path,
    safe_component,
)
from datamint.storage.locks import key_lock
from datamint.storage.manifest.model import CacheManifest
from datamint.storage.manifest.provenance import sanitize_server_url
from datamint.storage.manifest.reading import DOWNLOAD_HINT, read_manifest, resolve_root

__all__ = [
    "INDEX_FORMAT",
    "ManifestSummary",
    "find_manifest",
    "index_entry",
    "list_manifests",
    "update_index",
]

_LOG = logging.getLogger("datamint.storage.manifest")  # the package's logger

INDEX_FORMAT = "datamint-cache-manifest-index"


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


def index_entry(manifest: CacheManifest) -> dict[str, Any]:
    """The index line of a manifest."""
    return {
        "name": manifest.project_name,
        "server_url": manifest.server_url,
        "synced_at": manifest.synced_at,
        "resources": len(manifest.resources),
    }


def _rebuild_index(root: Path, skip: str | None = None) -> dict[str, dict[str, Any]]:
    """The index lines of every manifest under ``root`` but ``skip``'s (read each one)."""
    projects: dict[str, dict[str, Any]] = {}
    folder = root / MANIFESTS_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        if path.name == MANIFEST_INDEX_NAME or path.stem == skip:
            continue
        try:
            manifest = read_manifest(root, path.stem)
        except (CacheError, ValidationError) as exc:
            _LOG.warning("skipping %s while indexing manifests: %s", path, exc)
            continue
        projects[manifest.project_id] = index_entry(manifest)
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


def update_index(root: Path, project_id: str, entry: Mapping[str, Any] | None) -> None:
    """Set (or, with ``entry=None``, drop) a project's index line, under the index lock."""
    with key_lock(manifest_index_path(root)):
        projects = _read_index(root)
        if projects is None:  # the caller's own entry is given: its manifest is not read
            projects = _rebuild_index(root, skip=project_id if entry is not None else None)
        if entry is None:
            projects.pop(project_id, None)
        else:
            projects[project_id] = dict(entry)
        _write_index(root, projects)


def _safe(value: str) -> bool:
    try:
        safe_component(value)
    except ValidationError:
        return False
    return value + ".json" != MANIFEST_INDEX_NAME


def list_manifests(cache_root: str | os.PathLike[str] | None = None) -> list[ManifestSummary]:
    """List the synced projects of a cache root (from the index, rebuilt when damaged).

    Args:
        cache_root: Cache root; :func:`datamint.settings.cache_root` when ``None``.

    Returns:
        One summary per manifest, sorted by name then id.
    """
    root = resolve_root(cache_root)
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


def find_manifest(
    cache_root: str | os.PathLike[str] | None,
    name_or_id: str,
    *,
    server_url: str | None = None,
) -> CacheManifest:
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
    root = resolve_root(cache_root)
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
        update_index(root, manifest.project_id, index_entry(manifest))
        if manifest.project_name != name_or_id and manifest.project_id != name_or_id:
            return find_manifest(root, name_or_id, server_url=server_url)
    return manifest
