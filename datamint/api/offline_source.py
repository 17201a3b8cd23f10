"""The manifests an offline client answers from: read on first use, checked against the
server filter, kept for the client's lifetime and shared by its threads."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from datamint.exceptions import CacheError, OfflineCacheMissError
from datamint.storage.manifest.index import find_manifest, list_manifests
from datamint.storage.manifest.model import CacheManifest
from datamint.storage.manifest.provenance import sanitize_server_url
from datamint.storage.manifest.reading import DOWNLOAD_HINT, read_manifest, resolve_root

__all__ = ["ManifestSource"]


class ManifestSource:
    """The project manifests of one cache root (and server), loaded lazily; the base of
    :class:`~datamint.api.offline.OfflineApi`, whose docstring gives the arguments."""

    def __init__(
        self,
        cache_root: str | os.PathLike[str] | None = None,
        *,
        server_url: str | None = None,
    ) -> None:
        self.cache_root = resolve_root(cache_root)
        self.server_url = sanitize_server_url(server_url)
        self._lock = threading.RLock()
        self._manifests: dict[str, CacheManifest] = {}
        self._all_loaded = False

    def _load(self, project_id: str) -> CacheManifest:
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

    def _every_manifest(self) -> list[CacheManifest]:
        with self._lock:
            if not self._all_loaded:
                for summary in list_manifests(self.cache_root):
                    if self.server_url is None or summary.server_url == self.server_url:
                        with contextlib.suppress(CacheError):
                            self._load(summary.project_id)
                self._all_loaded = True
            return list(self._manifests.values())

    def _search_order(self) -> Iterator[CacheManifest]:
        """Loaded manifests first, then every other one."""
        with self._lock:
            loaded = list(self._manifests.values())
        yield from loaded
        seen = {m.project_id for m in loaded}
        for manifest in self._every_manifest():
            if manifest.project_id not in seen:
                yield manifest

    def manifest(self, project: str) -> CacheManifest:
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

    def _describe_resource(self, resource_id: str) -> tuple[str, str]:
        for manifest in self._search_order():
            for record in manifest.resources:
                if record.get("id") == resource_id:
                    return f" ({record.get('filename')!r})", manifest.project_name
        return "", "NAME"
