"""Reading one stored manifest: the cache root to use, the file of a project id, and the
validated :class:`CacheManifest` in it (a missing file is an offline cache miss)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from datamint.exceptions import CacheError, OfflineCacheMissError
from datamint.storage.layout import manifest_path
from datamint.storage.manifest.model import CacheManifest

__all__ = ["DOWNLOAD_HINT", "read_manifest", "resolve_root"]

DOWNLOAD_HINT = (
    "run `ds.prefetch(include_annotations=True)` on the dataset, or "
    "`datamint download --project {project}`, while the server is reachable, then retry"
)


def resolve_root(cache_root: str | os.PathLike[str] | None) -> Path:
    """``cache_root`` as a path, or :func:`datamint.settings.cache_root` when ``None``."""
    if cache_root is None:
        from datamint.settings import cache_root as default_root

        return default_root()
    return Path(cache_root).expanduser()


def read_manifest(cache_root: str | os.PathLike[str] | None, project_id: str) -> CacheManifest:
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
    path = manifest_path(resolve_root(cache_root), project_id)
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
    manifest = CacheManifest.from_json(data, source=str(path))
    if manifest.project_id != project_id:
        raise CacheError(f"{path} holds project {manifest.project_id}, not {project_id}")
    return manifest
