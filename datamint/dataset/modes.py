"""Download and verification modes for ``prefetch``, with Hugging Face ``datasets`` semantics.

``prefetch(download_mode=..., verification_mode=..., local_files_only=...)`` calls
:func:`apply_modes` first, over the files the dataset needs (every resource file, and with
``include_annotations`` every segmentation file):

=========================  ===============================================================
Mode                       Effect
=========================  ===============================================================
``reuse_cache`` (default)  cached files are used; only missing ones are downloaded
``force_redownload``       the dataset's cached files are removed first, so every one is
                           downloaded again (needs the server)
``basic_checks`` (default) the file cache's own checks only: the size of every hit
                           (and the sha256 of a file whose mtime changed since download)
``all_checks``             every cached file is re-hashed (sha256) against the hash
                           recorded at download (``meta.json``) and against the record's
                           ``sha256`` when the server sent one. Bad files are removed and
                           named in a :class:`~datamint.exceptions.DatamintWarning`;
                           prefetch then downloads them again. When nothing can be
                           downloaded (``local_files_only=True`` or an offline dataset)
                           :class:`~datamint.exceptions.CacheCorruptedError` is raised
                           instead, naming them (they are removed all the same, so they
                           are never read)
``no_checks``              no check beyond the file cache's own (which always run: they
                           define a hit, and every download is checked against the
                           record's size and sha256); the same as ``basic_checks`` here
``local_files_only=True``  nothing is downloaded: if a file is missing,
                           :class:`~datamint.exceptions.OfflineCacheMissError` names them.
                           Preparing the dataset (the resource listing) is not a download:
                           for no request at all, build the dataset with ``offline=True``
=========================  ===============================================================
"""

from __future__ import annotations

import enum
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from datamint.exceptions import (
    CacheCorruptedError,
    DatamintWarning,
    OfflineCacheMissError,
    ValidationError,
)

__all__ = [
    "DownloadMode",
    "ModesOutcome",
    "VerificationMode",
    "apply_modes",
    "needed_files",
]

_LOG = logging.getLogger(__name__)
MAX_NAMED = 10
"""Files named in one error or warning message; the rest are counted."""


class DownloadMode(str, enum.Enum):
    """Whether cached files are reused (``datasets.DownloadMode`` without its dataset level)."""

    REUSE_CACHE = "reuse_cache"
    FORCE_REDOWNLOAD = "force_redownload"


class VerificationMode(str, enum.Enum):
    """How much cached files are checked (``datasets.VerificationMode``)."""

    BASIC_CHECKS = "basic_checks"
    ALL_CHECKS = "all_checks"
    NO_CHECKS = "no_checks"


def _parse(enum_type: type[enum.Enum], value: Any, argument: str, default: enum.Enum) -> Any:
    if value is None:
        return default
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum_type)
        raise ValidationError(f"{argument}={value!r} is not one of {allowed}") from None


@dataclass(frozen=True)
class NeededFile:
    """One file a dataset needs: its cache kind, record and a description for messages."""

    kind: str  # "resources" or "annotations"
    record: dict[str, Any]
    what: str


@dataclass
class ModesOutcome:
    """What :func:`apply_modes` did.

    Attributes:
        files: Files the dataset needs.
        removed: Files removed by ``force_redownload`` (descriptions).
        corrupted: ``(description, reason)`` of files ``all_checks`` found bad (removed).
        skip_download: True with ``local_files_only``: every file is cached, and
            prefetch must download nothing.
    """

    files: int = 0
    removed: list[str] = field(default_factory=list)
    corrupted: list[tuple[str, str]] = field(default_factory=list)
    skip_download: bool = False


def needed_files(dataset: Any, include_annotations: bool) -> Iterator[NeededFile]:
    """The files ``prefetch`` would fetch: resources, then distinct segmentation files.

    Args:
        dataset: A dataset (prepared on first use).
        include_annotations: Also the segmentation files of its annotations.

    Yields:
        :class:`NeededFile` items.
    """
    for resource in dataset.resources:
        yield NeededFile(
            "resources", resource.record, f"resource {resource.id} ({resource.filename})"
        )
    if include_annotations:
        seen: set[str] = set()
        for annotations in dataset.resource_annotations:
            for ann in annotations:
                if ann.annotation_type == "segmentation" and ann.id not in seen:
                    seen.add(ann.id)
                    yield NeededFile(
                        "annotations",
                        ann.record,
                        f"annotation {ann.id} of resource {ann.resource_id}",
                    )


def _listed(items: list[str]) -> str:
    shown = "; ".join(items[:MAX_NAMED])
    more = len(items) - MAX_NAMED
    return shown + (f"; and {more} more" if more > 0 else "")


def _current_entry(cache: Any, needed: NeededFile) -> Any:
    """The cache entry on disk for the record's current version, or ``None``."""
    from datamint.storage.layout import (
        annotation_version_info,
        file_entry_dir,
        resource_version_info,
        version_hash,
    )

    info = (
        resource_version_info(needed.record)
        if needed.kind == "resources"
        else annotation_version_info(needed.record)
    )
    path = file_entry_dir(cache.root, needed.kind, str(needed.record["id"]), version_hash(info))
    for entry in cache.iter_entries(needed.kind, [str(needed.record["id"])]):
        if entry.path == path:
            return entry
    return None


def apply_modes(
    dataset: Any,
    download_mode: str | DownloadMode | None = None,
    verification_mode: str | VerificationMode | None = None,
    local_files_only: bool = False,
    *,
    include_annotations: bool = False,
) -> ModesOutcome:
    """Apply the download and verification modes to a dataset's cached files.

    Called by ``prefetch`` before it downloads (see the module table); when
    :attr:`ModesOutcome.skip_download` is set, prefetch downloads nothing.

    Args:
        dataset: A datamint dataset (its ``cache_root``, ``resources``,
            ``resource_annotations`` and ``offline`` are used).
        download_mode: ``"reuse_cache"`` (default) or ``"force_redownload"``.
        verification_mode: ``"basic_checks"`` (default), ``"all_checks"``, ``"no_checks"``.
        local_files_only: Download nothing; every needed file must be cached.
        include_annotations: Also the segmentation files.

    Returns:
        A :class:`ModesOutcome`.

    Raises:
        ValidationError: For an unknown mode, or ``force_redownload`` with
            ``local_files_only=True`` or an offline dataset.
        CacheCorruptedError: With ``all_checks``, when files are bad and cannot be
            downloaded again (``local_files_only`` or offline); names them.
        OfflineCacheMissError: With ``local_files_only=True``, when files are missing;
            names them.
    """
    from datamint.storage.file_cache import FileCache
    from datamint.storage.file_cache.maintenance import verify_entries
    from datamint.storage.layout import record_sha256

    download = _parse(DownloadMode, download_mode, "download_mode", DownloadMode.REUSE_CACHE)
    verify = _parse(
        VerificationMode, verification_mode, "verification_mode", VerificationMode.BASIC_CHECKS
    )
    can_download = not local_files_only and not getattr(dataset, "offline", False)
    if download is DownloadMode.FORCE_REDOWNLOAD and not can_download:
        reason = "local_files_only=True" if local_files_only else "an offline dataset"
        raise ValidationError(f"download_mode='force_redownload' cannot be used with {reason}")
    cache = FileCache(dataset.cache_root)
    files = list(needed_files(dataset, include_annotations))
    outcome = ModesOutcome(files=len(files))
    if download is DownloadMode.FORCE_REDOWNLOAD:
        for kind in ("resources", "annotations"):
            ids = sorted({str(f.record["id"]) for f in files if f.kind == kind})
            if ids:
                cache.remove_entities(kind, ids)
        outcome.removed = [f.what for f in files]
    elif verify is VerificationMode.ALL_CHECKS:
        for needed in files:
            entry = _current_entry(cache, needed)
            if entry is None:
                continue  # not cached: prefetch downloads (and verifies) it
            report = verify_entries([entry], remove=True)
            why = report.bad[0][1] if report.bad else None
            expected = record_sha256(needed.record)
            meta_sha = (entry.meta or {}).get("sha256")
            if why is None and report.ok and expected and meta_sha != expected:
                why = f"recorded sha256 {meta_sha} differs from the server's {expected}"
                cache.remove_entities(needed.kind, [str(needed.record["id"])])
            if why is not None:
                outcome.corrupted.append((needed.what, why))
        if outcome.corrupted:
            named = _listed([f"{what}: {why}" for what, why in outcome.corrupted])
            if not can_download:
                raise CacheCorruptedError(
                    f"verification_mode='all_checks' found {len(outcome.corrupted)} damaged "
                    f"cached file(s), now removed: {named}. Prefetch again with the server "
                    "reachable to download them"
                )
            _LOG.warning("all_checks removed %d damaged files", len(outcome.corrupted))
            warnings.warn(
                f"verification_mode='all_checks' found {len(outcome.corrupted)} damaged cached "
                f"file(s), removed and downloaded again: {named}",
                DatamintWarning,
                stacklevel=3,
            )
    if local_files_only:
        checks = {"resources": cache.has_resource_file, "annotations": cache.has_segmentation_file}
        missing = [f.what for f in files if not checks[f.kind](f.record)]
        if missing:
            raise OfflineCacheMissError(
                f"local_files_only=True and {len(missing)} of {len(files)} files are not in "
                f"the cache {cache.root}: {_listed(missing)}. Prefetch once with the server "
                "reachable"
            )
        outcome.skip_download = True
    return outcome
