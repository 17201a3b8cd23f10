"""``prepare_dataset``, ``find_dataset`` and ``get_dataset``: dataset ids, online and offline.

- :func:`prepare_dataset` (online) downloads everything a dataset id needs into the
  cache (and optionally decodes it), under a lock, and records it as prepared;
- :func:`find_dataset` (online) reads metadata only: the project record and how many
  resources the id's dataset would hold; no file is downloaded;
- :func:`get_dataset` (offline) builds the dataset from the local cache only; it never
  contacts a server.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from typing import Any

from datamint.catalog.context import (
    INCOMPLETE_SUFFIX,
    STATE_NAME,
    Context,
    PreparedDataset,
    _prepared_from,
    read_marker,
    write_marker,
)
from datamint.catalog.ids import DatasetId, build_variant, parse_id

__all__ = [
    "ITEM_OPTIONS",
    "PREPARE_LOCK_TIMEOUT_S",
    "DatasetInfo",
    "find_dataset",
    "get_dataset",
    "prepare_dataset",
]

PREPARE_LOCK_TIMEOUT_S = 24 * 3600.0
"""Longest wait for another process preparing the same variant on this node, in seconds."""

ITEM_OPTIONS = frozenset(
    {
        "return_metainfo",
        "return_segmentations",
        "return_boxes",
        "alb_transform",
        "image_dtype",
        "cache_format",
        "auto_update",
    }
)
"""Dataset arguments allowed beside an id: they shape items, not which files a dataset needs."""


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`find_dataset` learnt from the server's metadata.

    Attributes:
        id: The canonical dataset id.
        project: The project record, as the server sent it.
        resource_count: Resources in the project.
        matching: Resources the id's dataset class holds (see
            :func:`datamint.search.dataset_kinds`).
        kinds: Resources per dataset kind (``image``, ``volume``, ``video``; a
            single-frame DICOM counts for ``image`` and ``volume``), plus ``other``.
        prepared: The local marker when this id is prepared in the context, else None.
    """

    id: str
    project: dict[str, Any]
    resource_count: int
    matching: int
    kinds: dict[str, int]
    prepared: PreparedDataset | None


def _check_options(dataset_kwargs: dict[str, Any], did: DatasetId) -> None:
    extra = sorted(set(dataset_kwargs) - ITEM_OPTIONS)
    if extra:
        raise ValueError(
            f"{extra[0]}= cannot be given with the dataset id {did.canonical!r}: an id fixes "
            f"which resources and annotations a dataset holds; allowed here: "
            f"{', '.join(sorted(ITEM_OPTIONS))}. Build the dataset class directly for "
            "other arguments"
        )


def _fingerprint(dataset: Any) -> str:
    """sha256 of the dataset digest and its segmentation annotations' versions."""
    from datamint.storage.layout import annotation_version_info, version_hash

    segmentations = sorted(
        (a.id, version_hash(annotation_version_info(a.record)))
        for anns in dataset.resource_annotations
        for a in anns
        if a.annotation_type == "segmentation"
    )
    text = json.dumps([dataset.digest, segmentations], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sanitized_url(api: Any) -> str | None:
    from datamint.storage.manifest import sanitize_server_url

    return sanitize_server_url(getattr(api, "server_url", None))


def prepare_dataset(
    id: str,
    context: Context | None = None,
    *,
    variant: str | dict[str, Any] | None = None,
    decode: bool = False,
    server_url: str | None = None,
    api_key: str | None = None,
    download_mode: str | None = None,
    verification_mode: str | None = None,
    progress: bool = False,
    **dataset_kwargs: Any,
) -> Any:
    """Download (and optionally decode) everything a dataset id needs; record it as prepared.

    Builds the id's dataset online (which lists the project and writes its offline
    manifest), then, under the variant's lock in this node's cache, calls
    ``prefetch(include_annotations=True)`` (every resource file and segmentation file)
    and with ``decode=True`` ``prefetch(decode=True)`` (every resource decoded into the
    array cache). Progress goes to ``<variant>.incomplete/state.json``; the ``COMPLETE``
    marker is written last (see :mod:`datamint.catalog.context`). A prepare that was
    killed is resumed by the next call: files and arrays already cached are hits.

    When ``COMPLETE`` exists for the same content (resources, their sha256, slicing and
    segmentation files unchanged), with ``decode`` satisfied, the default modes and no
    ``force_redownload``/``all_checks``, nothing more is done. Other ranks of the node
    calling this at the same time wait on the lock, then find it complete.

    Args:
        id: A dataset id, e.g. ``"demo[kind=volume,plane=axial,semantic=true]"``.
        context: Cache root and server; :meth:`Context.instance` when ``None``.
        variant: A selector for an id without one (text or dict).
        decode: Also decode every resource into the decoded-array cache.
        server_url: Server base URL; else the context's, ``DATAMINT_API_URL`` or config.
        api_key: API key; else the context's, ``DATAMINT_API_KEY`` or config.
        download_mode: ``"reuse_cache"`` (default) or ``"force_redownload"``
            (see :mod:`datamint.dataset.modes`).
        verification_mode: ``"basic_checks"`` (default), ``"all_checks"`` or
            ``"no_checks"``.
        progress: Show progress bars.
        **dataset_kwargs: Item options only (:data:`ITEM_OPTIONS`), e.g. ``cache_format``
            for the decoded arrays.

    Returns:
        The prepared dataset object (online; ``get_dataset(id)`` gives the offline one).

    Raises:
        ValueError: For a malformed id or selector, ``variant=`` beside a selector, or a
            dataset argument an id fixes (each naming the key).
        DownloadError: If some file could not be fetched (all failures listed); no
            ``COMPLETE`` is written.
        CacheError: If another process held the variant's lock for over 24 h.
        DatamintException: The server's errors (unknown project, bad key, ...).
    """
    import filelock

    from datamint.exceptions import CacheError
    from datamint.storage.locks import key_lock
    from datamint.storage.node_local import warn_if_network_filesystem
    from datamint.storage.values import utc_now_iso

    ctx = context if context is not None else Context.instance()
    did = parse_id(id, variant)
    _check_options(dataset_kwargs, did)
    root = ctx.cachepath
    warn_if_network_filesystem(root)
    dataset = build_variant(
        did,
        server_url=server_url if server_url is not None else ctx.server_url,
        api_key=api_key if api_key is not None else ctx.api_key,
        cache_dir=root,
        offline=False,
        **dataset_kwargs,
    )
    project = dataset.project  # prepares online, writing the manifest
    folder = ctx.variant_folder(project.id, did.cache_key)
    fingerprint = _fingerprint(dataset)
    modes = {
        "download_mode": download_mode,
        "verification_mode": verification_mode,
    }
    try:
        with key_lock(folder, timeout_s=PREPARE_LOCK_TIMEOUT_S):
            marker = read_marker(folder)
            if (
                marker is not None
                and marker.get("fingerprint") == fingerprint
                and (marker.get("decoded") or not decode)
                and download_mode in (None, "reuse_cache")
                and verification_mode in (None, "basic_checks", "no_checks")
            ):
                return dataset
            incomplete = folder.with_name(folder.name + INCOMPLETE_SUFFIX)
            record: dict[str, Any] = {
                "id": did.canonical,
                "project": {"id": project.id, "name": project.name},
                "variant": did.variant,
                "variant_key": did.cache_key,
                "server_url": _sanitized_url(dataset.api),
                "fingerprint": fingerprint,
                "digest": dataset.digest,
                "resources": len(dataset.resources),
                "items": len(dataset),
                "started_at": utc_now_iso(),
                "steps": [],
            }
            write_marker(incomplete, record, name=STATE_NAME)
            report = dataset.prefetch(include_annotations=True, progress=progress, **_given(modes))
            record["files"] = {"cached": report.cached, "downloaded": report.downloaded}
            record["steps"].append("files")
            write_marker(incomplete, record, name=STATE_NAME)
            decoded = bool(
                marker is not None
                and marker.get("decoded")
                and marker.get("fingerprint") == fingerprint
            )
            if decode:
                dataset.prefetch(decode=True, progress=progress)
                record["steps"].append("decoded")
                write_marker(incomplete, record, name=STATE_NAME)
                decoded = True
            record["decoded"] = decoded
            record["prepared_at"] = utc_now_iso()
            write_marker(folder, record)
            shutil.rmtree(incomplete, ignore_errors=True)
    except filelock.Timeout as exc:
        raise CacheError(
            f"timed out after {PREPARE_LOCK_TIMEOUT_S:.0f} s waiting for {folder}.lock: "
            f"another process may be stuck preparing {did.canonical!r}"
        ) from exc
    return dataset


def _given(modes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in modes.items() if v is not None}


def find_dataset(
    id: str,
    context: Context | None = None,
    *,
    variant: str | dict[str, Any] | None = None,
    server_url: str | None = None,
    api_key: str | None = None,
) -> DatasetInfo:
    """Look a dataset id up on the server: metadata only, no file is downloaded.

    Sends the connectivity probe, ``GET /projects`` (to find the name) and
    ``GET /projects/{id}/resources``.

    Args:
        id: A dataset id.
        context: Cache root and server; :meth:`Context.instance` when ``None``.
        variant: A selector for an id without one.
        server_url: Server base URL; else the context's, ``DATAMINT_API_URL`` or config.
        api_key: API key; else the context's, ``DATAMINT_API_KEY`` or config.

    Returns:
        A :class:`DatasetInfo`.

    Raises:
        ValueError: For a malformed id or selector.
        ItemNotFoundError: If the server has no project of that name.
        DatamintException: Other server errors.
    """
    from datamint.api.client import Api
    from datamint.search import DATASET_KINDS, dataset_kinds

    ctx = context if context is not None else Context.instance()
    did = parse_id(id, variant)
    with Api(
        server_url=server_url if server_url is not None else ctx.server_url,
        api_key=api_key if api_key is not None else ctx.api_key,
    ) as api:
        project = api.get_project_by_name(did.project)
        resources = api.get_project_resources(project["id"])
    kinds: Counter[str] = Counter({k: 0 for k in (*DATASET_KINDS, "other")})
    matching = 0
    for record in resources:
        found = dataset_kinds(record)
        kinds.update(found or {"other"})
        matching += did.variant["kind"] in found
    return DatasetInfo(
        id=did.canonical,
        project=project,
        resource_count=len(resources),
        matching=matching,
        kinds=dict(kinds),
        prepared=_local_marker(ctx, str(project["id"]), did),
    )


def _local_marker(ctx: Context, project_id: str, did: DatasetId) -> PreparedDataset | None:
    from datamint.exceptions import ValidationError

    try:
        folder = ctx.variant_folder(project_id, did.cache_key)
    except ValidationError:
        return None
    marker = read_marker(folder)
    return None if marker is None else _prepared_from(marker, folder, True)


def get_dataset(
    id: str,
    *,
    variant: str | dict[str, Any] | None = None,
    context: Context | None = None,
    **dataset_kwargs: Any,
) -> Any:
    """The dataset object of a prepared id, built from the local cache only (offline).

    Never contacts a server: the dataset is built with ``offline=True`` from the project
    manifest and the cached files, for the server the id was prepared from (or the
    context's ``server_url``).

    Args:
        id: A dataset id, e.g. ``"demo[kind=volume,plane=axial]"``.
        variant: A selector for an id without one.
        context: Cache root; :meth:`Context.instance` when ``None``.
        **dataset_kwargs: Item options only (:data:`ITEM_OPTIONS`), e.g.
            ``return_metainfo=False``.

    Returns:
        The dataset (``ImageDataset``, ``VolumeDataset``, ``VideoDataset``, or a sliced
        view of one).

    Raises:
        OfflineCacheMissError: If the id was not prepared in this cache; the message
            names the ``prepare_dataset`` call to run and the variants that are prepared.
        ValueError: For a malformed id or selector, ``variant=`` beside a selector, or a
            dataset argument an id fixes.
    """
    from datamint.exceptions import OfflineCacheMissError
    from datamint.storage.manifest import find_manifest

    ctx = context if context is not None else Context.instance()
    did = parse_id(id, variant)
    _check_options(dataset_kwargs, did)
    hint = (
        f"run datamint.prepare_dataset({did.canonical!r}) with the server reachable "
        f"(cache root {ctx.cachepath})"
    )
    try:
        manifest = find_manifest(ctx.cachepath, did.project, server_url=ctx.server_url)
    except OfflineCacheMissError:
        raise OfflineCacheMissError(
            f"dataset {did.canonical!r} is not prepared: project {did.project!r} was never "
            f"synced here; {hint}"
        ) from None
    prepared = _local_marker(ctx, manifest.project_id, did)
    if prepared is None:
        others = [p.id for p in ctx.datasets() if p.project_id == manifest.project_id]
        listed = "; prepared variants of this project: " + ", ".join(others) if others else ""
        raise OfflineCacheMissError(f"dataset {did.canonical!r} is not prepared; {hint}{listed}")
    return build_variant(
        did,
        cache_dir=ctx.cachepath,
        offline=True,
        server_url=ctx.server_url or prepared.server_url,
        **dataset_kwargs,
    )
