"""Cache manifests: per synced project, what a dataset needs to prepare with no server.

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
  :meth:`CacheManifest.splits`);
- ``server_url`` (without credentials, query or fragment), ``synced_at`` (ISO-8601 UTC) and
  ``datamint_version``;
- ``files``: for each resource and each segmentation annotation, its ``version_hash``
  (the cache entry name), ``size`` in bytes and ``sha256`` when known (from the record, else
  from the file cache).

The API key is never written. Reading validates the structure and raises
:class:`~datamint.exceptions.CacheError` naming the file and what is wrong. (This is the
cache's manifest; the project import format ``project.json`` of
:mod:`datamint.server.importer` is another thing.)

Three ways to make one:

- :class:`~datamint.api.recorder.ManifestRecorder` wraps an :class:`~datamint.api.Api`,
  forwards the reads, and remembers their results: ``prepare(ManifestRecorder(api), ...)``
  then ``recorder.write(cache_root)``;
- :func:`write_manifest` takes the values directly;
- ``datamint download --project NAME`` (:func:`datamint.api.sync.sync_project`).

:class:`~datamint.api.offline.OfflineApi` answers from them with no network access.
Nothing here talks to the network: both clients live in :mod:`datamint.api`. Their old
names here (``OfflineApi``, ``ManifestRecorder``) and ``ProjectManifest`` (now
:class:`CacheManifest`) still import, with a ``DeprecationWarning``.

Modules, one job each:

- ``model``: :class:`CacheManifest`, the records of one synced project;
- ``codec``: its JSON form, written and validated when read;
- ``records``, ``provenance``: record helpers; the server URL and version stored;
- ``files``: the files a project needs, with size and sha256;
- ``splits``: stored split rows and the ``as_of`` rule over them;
- ``reading``, ``index``, ``writing``: one manifest read; the name index, listing and
  finding; writing, merging and deleting.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from datamint.storage.manifest.codec import MANIFEST_FORMAT, MANIFEST_VERSION
from datamint.storage.manifest.index import INDEX_FORMAT as INDEX_FORMAT
from datamint.storage.manifest.index import ManifestSummary, find_manifest, list_manifests
from datamint.storage.manifest.model import CacheManifest
from datamint.storage.manifest.provenance import sanitize_server_url
from datamint.storage.manifest.reading import DOWNLOAD_HINT as DOWNLOAD_HINT
from datamint.storage.manifest.reading import read_manifest
from datamint.storage.manifest.writing import delete_manifest, save_manifest, write_manifest

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "CacheManifest",
    "ManifestSummary",
    "delete_manifest",
    "find_manifest",
    "list_manifests",
    "read_manifest",
    "sanitize_server_url",
    "save_manifest",
    "write_manifest",
]

# Old name -> (module, name) of its new home; imported on access, with a warning (the
# clients are imported lazily so that storage never imports the api package).
_MOVED = {
    "ManifestRecorder": ("datamint.api.recorder", "ManifestRecorder"),
    "OfflineApi": ("datamint.api.offline", "OfflineApi"),
    "ProjectManifest": ("datamint.storage.manifest.model", "CacheManifest"),
}


def __getattr__(name: str) -> Any:
    """Resolve the moved names of :data:`_MOVED`, warning with ``DeprecationWarning``."""
    if name in _MOVED:
        module, new_name = _MOVED[name]
        warnings.warn(
            f"datamint.storage.manifest.{name} is deprecated; use {module}.{new_name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), new_name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
