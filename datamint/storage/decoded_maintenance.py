"""Looking after the decoded caches on disk: usage per format, re-hashing, removal under locks.

The two decoded caches share ``<root>/arrays``; their entries, as the writers lay them out::

    arrays/<key[:2]>/<key>.npy + <key>.json          ArrayCache, format "npy"; lock <key>.npy.lock
    arrays/slices/<key[:2]>/<key>/<axis>.json        SliceCache sidecar: the layout's format and
    arrays/slices/<key[:2]>/<key>/<axis>.b2nd        every file with size, mtime and sha256;
    arrays/slices/<key[:2]>/<key>/<axis>/<k>.npy.gz  lock <key>.lock beside the volume folder
    arrays/slices/<key[:2]>/<key>/chunks.b2nd + .json  the 3-D chunked layout (patches)

(:mod:`datamint.storage.array_cache`, :mod:`datamint.storage.slice_cache`). A file belongs
to an array or layout only when a readable sidecar claims it, so the formats are read from
the sidecars, never guessed from file names; every other file but a lock (a temp file of
an interrupted write, a layout whose sidecar is missing or unreadable) is *left over*: the
caches never read it and rebuild the entry on their next miss. :func:`verify_decoded`
re-hashes and removes under each entry's lock, as :meth:`FileCache.verify` does for files.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from datamint.storage.array_cache import check_npy_entry
from datamint.storage.file_cache.maintenance import VerifyReport
from datamint.storage.hashing import file_sha256
from datamint.storage.integrity import seal_problem
from datamint.storage.layout import ARRAYS_DIR
from datamint.storage.locks import DEFAULT_LOCK_TIMEOUT_S, key_lock
from datamint.storage.slice_cache import LAYOUTS, SLICES_DIR
from datamint.storage.slice_formats import FORMATS

__all__ = [
    "DecodedEntry",
    "DecodedUsage",
    "FormatUsage",
    "StoredUnit",
    "check_unit",
    "decoded_entries",
    "decoded_usage",
    "remove_derived",
    "verify_decoded",
]

NPY_FORMAT = "npy"  # the ArrayCache's entries (masks, and images with cache_format="npy")


@dataclass(frozen=True)
class StoredUnit:
    """One decoded array (``"npy"``) or one slice layout, as its readable sidecar describes it.

    Attributes:
        fmt: ``"npy"``, or the sidecar's ``format`` (``"b2nd"``, ``"npy.gz"``).
        sidecar: The JSON sidecar.
        meta: The parsed sidecar.
        data: The data files the sidecar names, present or not.
    """

    fmt: str
    sidecar: Path
    meta: dict[str, Any]
    data: list[Path]


@dataclass
class DecodedEntry:
    """One entry of a decoded cache, read from disk now.

    Attributes:
        lock_target: The path :func:`~datamint.storage.locks.key_lock` guards for it:
            ``<key>.npy`` for an ArrayCache key, the volume folder for a SliceCache one.
        layout: A SliceCache volume folder (one unit per stored axis), else an ArrayCache key.
        units: Its arrays or layouts with a readable sidecar.
        leftover: Its other files, lock files excepted.
    """

    lock_target: Path
    layout: bool
    units: list[StoredUnit] = field(default_factory=list)
    leftover: list[Path] = field(default_factory=list)


@dataclass
class FormatUsage:
    """Disk use of one format: arrays or layouts, files (sidecars included) and bytes."""

    entries: int = 0
    files: int = 0
    size_bytes: int = 0


@dataclass
class DecodedUsage:
    """What :func:`decoded_usage` found.

    Attributes:
        formats: ``{format: usage}``; always has ``"b2nd"``, ``"npy"`` and ``"npy.gz"``.
        leftover: Left-over files (``entries`` stays 0).
    """

    formats: dict[str, FormatUsage]
    leftover: FormatUsage


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _key_of(name: str) -> str:
    """The key an ArrayCache file name belongs to (``.<key>.npy.XXXX.tmp`` included)."""
    return name.lstrip(".").split(".")[0]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _npy_entry(folder: Path, key: str) -> DecodedEntry:
    found = DecodedEntry(folder / f"{key}.npy", layout=False)
    with contextlib.suppress(OSError):
        names = sorted(p.name for p in folder.iterdir() if _key_of(p.name) == key)
        files = [folder / n for n in names if not n.endswith(".lock")]
        npy, sidecar = folder / f"{key}.npy", folder / f"{key}.json"
        meta = _read_json(sidecar) if npy in files and sidecar in files else None
        if isinstance(meta, dict):
            found.units.append(StoredUnit(NPY_FORMAT, sidecar, meta, [npy]))
            files = [f for f in files if f not in (npy, sidecar)]
        found.leftover = files
    return found


def _layout_entry(entry: Path) -> DecodedEntry:
    found = DecodedEntry(entry, layout=True)
    files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
    claimed: set[Path] = set()
    for axis in LAYOUTS:
        sidecar = entry / f"{axis}.json"
        meta = _read_json(sidecar)
        try:
            data = [entry / rel for rel, _size_, _mtime_ns, _sha256 in meta["files"]]
            found.units.append(StoredUnit(str(meta["format"]), sidecar, meta, data))
        except (TypeError, KeyError, ValueError):
            continue  # no sidecar, or an unreadable one: its files are left over
        claimed |= {sidecar, *data}
    found.leftover = [f for f in files if f not in claimed]
    return found


def decoded_entries(root: Path) -> Iterator[DecodedEntry]:
    """Every entry of both decoded caches under ``root``, in path order.

    Args:
        root: The cache root.

    Yields:
        One :class:`DecodedEntry` per ArrayCache key and per SliceCache volume folder.
    """
    arrays = Path(root) / ARRAYS_DIR
    folders = sorted(p for p in arrays.iterdir() if p.is_dir()) if arrays.is_dir() else []
    for folder in folders:
        if folder.name == SLICES_DIR:
            for entry in sorted(folder.glob("*/*")):
                if entry.is_dir():
                    yield _layout_entry(entry)
            continue
        for key in sorted({_key_of(p.name) for p in folder.iterdir() if p.is_file()}):
            found = _npy_entry(folder, key)
            if found.units or found.leftover:
                yield found


def decoded_usage(root: Path) -> DecodedUsage:
    """Count the decoded caches' arrays, layouts, files and bytes per format.

    Args:
        root: The cache root.

    Returns:
        A :class:`DecodedUsage`; a format's files are its sidecars and the data files
        they name that exist.
    """
    formats = {name: FormatUsage() for name in sorted([NPY_FORMAT, *FORMATS])}
    leftover = FormatUsage()
    for found in decoded_entries(root):
        for unit in found.units:
            usage = formats.setdefault(unit.fmt, FormatUsage())
            present = [p for p in (unit.sidecar, *unit.data) if p.is_file()]
            usage.entries += 1
            usage.files += len(present)
            usage.size_bytes += sum(_size(p) for p in present)
        leftover.files += len(found.leftover)
        leftover.size_bytes += sum(_size(p) for p in found.leftover)
    return DecodedUsage(formats, leftover)


def check_unit(unit: StoredUnit) -> str | None:
    """Say why a decoded array or layout is damaged, reading every byte of it.

    Both kinds need a sidecar whose own checksum matches (an entry written without
    checksums by an older datamint is reported too: nothing could check it). An ``"npy"``
    array must match the size and checksum its sidecar records and load with the shape and
    dtype it gives; a layout's files must exist with the size and sha256 its sidecar
    records (which also covers the per-chunk checksums that reads check).

    Args:
        unit: The array or layout.

    Returns:
        The reason, or ``None`` when it is intact.
    """
    if unit.fmt == NPY_FORMAT:
        return check_npy_entry(unit.data[0], unit.meta)
    problem = seal_problem(unit.meta)
    if problem is not None:
        return f"{unit.sidecar.name}: {problem}"
    for path, (_, size, _, sha256) in zip(unit.data, unit.meta["files"], strict=True):
        if not path.is_file():
            return f"{path.name} is missing"
        if _size(path) != size:
            return f"{path.name} has {_size(path)} bytes, its sidecar says {size}"
        if file_sha256(path) != sha256:
            return f"{path.name} does not match the sha256 in its sidecar"
    return None


def _remove(paths: list[Path]) -> int:
    """Unlink ``paths`` in order (sidecar first: readers see a miss), then emptied folders
    (an ``npy.gz`` axis folder, a volume folder; an ArrayCache folder keeps its lock files)."""
    removed = 0
    for path in paths:
        size = _size(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += size
        for folder in (path.parent, path.parent.parent):
            with contextlib.suppress(OSError):
                folder.rmdir()
    return removed


def verify_decoded(root: Path, *, remove: bool) -> VerifyReport:
    """Check every decoded array and layout, and the left-over files, under their locks.

    Each entry is read again once its lock is held; entries whose lock is held (being
    decoded) are skipped. An entry's left-over files count as one bad item.

    Args:
        root: The cache root.
        remove: Delete what is bad (the sidecar first); the caches rebuild it on a miss.

    Returns:
        A :class:`~datamint.storage.file_cache.VerifyReport`; ``bad`` paths are sidecars
        (or the first left-over file), ``busy`` paths are lock targets.

    Raises:
        OSError: If a file cannot be read or removed.
    """
    report = VerifyReport()
    for listed in decoded_entries(root):
        target = listed.lock_target
        try:
            with key_lock(target, timeout_s=0):
                found = (
                    _layout_entry(target)
                    if listed.layout
                    else _npy_entry(target.parent, target.stem)
                )
                for unit in found.units:
                    report.checked += 1
                    why = check_unit(unit)
                    if why is None:
                        report.ok += 1
                        continue
                    report.bad.append((unit.sidecar, why))
                    if remove:
                        report.removed_bytes += _remove([unit.sidecar, *unit.data])
                if found.leftover:
                    report.checked += 1
                    names = [p.relative_to(target.parent).as_posix() for p in found.leftover]
                    report.bad.append((found.leftover[0], f"left-over files {names}"))
                    if remove:
                        report.removed_bytes += _remove(found.leftover)
        except filelock.Timeout:
            report.busy.append(target)
    return report


def _content(unit: StoredUnit) -> Any:
    fields = unit.meta.get("key_fields")
    return fields.get("content") if isinstance(fields, dict) else None


def remove_derived(root: Path, contents: set[str]) -> list[Path]:
    """Remove every decoded array and layout derived from a file of these contents.

    Each entry is removed under its lock (waiting for a decode in progress to finish).

    Args:
        root: The cache root.
        contents: sha256 hex digests of downloaded files (``key_fields["content"]``).

    Returns:
        The sidecars of the arrays and layouts removed.

    Raises:
        CacheError: If a decode held an entry's lock for over ten minutes.
        OSError: If a file cannot be removed.
    """
    from datamint.exceptions import CacheError

    removed: list[Path] = []
    if not contents:
        return removed
    for listed in decoded_entries(root):
        if not any(_content(unit) in contents for unit in listed.units):
            continue
        target = listed.lock_target
        try:
            with key_lock(target, timeout_s=DEFAULT_LOCK_TIMEOUT_S):
                found = (
                    _layout_entry(target)
                    if listed.layout
                    else _npy_entry(target.parent, target.stem)
                )
                for unit in found.units:
                    if _content(unit) in contents:
                        _remove([unit.sidecar, *unit.data])
                        removed.append(unit.sidecar)
        except filelock.Timeout as exc:
            raise CacheError(f"timed out waiting for the lock of decoded entry {target}") from exc
    return removed
