"""Decoded volumes stored per slice: each resource decoded once per node, any slice read alone.

Layout under the cache root (one entry per decoded volume and format)::

    arrays/slices/<key[:2]>/<key>/<axis>.b2nd     (or <axis>/<k>.npy.gz for "npy.gz")
    arrays/slices/<key[:2]>/<key>/<axis>.json     sidecar: shape, dtype, extra, file checksums
    arrays/slices/<key[:2]>/<key>/chunks.b2nd     3-D chunks, for boxes (patches)
    arrays/slices/<key[:2]>/<key>/chunks.json     its sidecar (also the volume's min and max)
    arrays/slices/<key[:2]>/<key>.lock            one lock per volume

``<axis>`` is ``axial``, ``coronal`` or ``sagittal``; a layout for an axis is built
lazily, the first time a dataset slices along it, from a layout already stored (never
by decoding the file again). The ``chunks`` layout (:mod:`datamint.storage.box_format`,
always blosc2) is built the same way the first time a box is read
(:meth:`StoredVolume.read_box`). The first layout of a volume is built by the ``decode``
callback under the volume's lock, so workers wanting the same volume wait for one
decode. Files are shared by all processes through the OS page cache; each process keeps
a small LRU of open layouts.

Content checks (:mod:`datamint.storage.integrity`): the sidecar lists every file of a
layout with its size, mtime and sha256, one XXH3-64 checksum per chunk
(``chunk_checksums``), and is sealed by its own checksum. Opening a layout checks the
seal, the files' sizes, the stored shape and dtype, and re-hashes a file whose mtime
changed; reading a slice checks its chunk's checksum
(:mod:`datamint.storage.slice_formats`), and reading a box checks every chunk it overlaps
(:mod:`datamint.storage.box_format`), so damage that keeps size and mtime is caught
when the damaged chunk is read. A layout that fails any check is removed under the
volume's lock and rebuilt (from another stored layout, else by decoding), with a
:class:`~datamint.exceptions.DatamintWarning` naming it, and the read is answered from
the rebuilt layout. A layout written without checksums (an older datamint) is rebuilt
quietly. ``datamint cache verify`` re-hashes every file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from datamint.exceptions import CacheCorruptedError
from datamint.geometry import PLANES as AXES
from datamint.storage.atomic import atomic_write_text
from datamint.storage.box_format import BoxFormat
from datamint.storage.cache_key import cache_key
from datamint.storage.hashing import file_sha256 as _sha256
from datamint.storage.integrity import seal, seal_problem, warn_corrupted
from datamint.storage.locks import key_lock
from datamint.storage.slice_formats import LayoutReader, SliceFormat, get_format

__all__ = ["BOX", "LAYOUTS", "SliceCache", "StoredVolume"]

_LOG = logging.getLogger(__name__)

SLICES_DIR = "slices"  # this cache's folder inside ``<root>/arrays``
BOX = 3  # the layout id of the 3-D chunked layout (0, 1, 2 are the slice axes)
LAYOUTS = (*AXES, "chunks")  # file stem of each layout id
_BOX_FORMAT = BoxFormat()
Decoder = Callable[[], tuple[np.ndarray, dict[str, Any]]]


class StoredVolume:
    """A read-only ``(C, D, H, W)`` volume in a :class:`SliceCache`, decoded slice by slice.

    Quacks like the array it stands for where datasets need it: ``shape``, ``dtype``,
    ``ndim``, ``np.take(volume, k, axis=1|2|3)`` (reads one slice, ``(C, h, w)`` of the
    stored dtype) and ``np.asarray(volume)`` (reads everything); :meth:`read_box` reads a
    3-D box from the chunked layout.
    """

    def __init__(self, cache: SliceCache, key: str, meta: dict[str, Any], decode: Decoder) -> None:
        self._cache, self._key, self._decode = cache, key, decode
        self._key_fields = meta["key_fields"]
        self.shape: tuple[int, ...] = tuple(meta["shape"])
        self.dtype = np.dtype(meta["dtype"])
        self.ndim = len(self.shape)
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def slice(self, axis: int, index: int) -> np.ndarray:
        """Slice ``index`` along ``axis`` (0 axial, 1 coronal, 2 sagittal) as ``(C, h, w)``."""
        n = self.shape[1 + axis]
        if not -n <= index < n:
            raise IndexError(f"slice {index} is out of range for {n} slices along {AXES[axis]}")
        meta, reader = self._cache._layout(self._key, self._key_fields, axis, self._decode)
        try:
            return reader.read(index % n)
        except CacheCorruptedError as exc:
            # the chunk failed its check: quarantine the layout (unless another process
            # already replaced it), rebuild, and read once more
            self._cache._discard(self._key, axis, meta, str(exc))
            reader = self._cache._layout(self._key, self._key_fields, axis, self._decode)[1]
            return reader.read(index % n)

    def read_box(self, start: Any, stop: Any, dtype: Any = None) -> np.ndarray:
        """The box ``[:, z0:z1, y0:y1, x0:x1]`` as a new ``(C, z1 - z0, y1 - y0, x1 - x0)``
        array of ``dtype`` (default: the stored one), decompressing only the chunk blocks
        it overlaps.

        The chunked layout is built on first use, from a stored slice layout when there
        is one (else by decoding, once per node, under the volume's lock).

        Args:
            start, stop: ``(z0, y0, x0)`` and ``(z1, y1, x1)``, with
                ``0 <= start <= stop <= (D, H, W)``.

        Raises:
            IndexError: If the box is not inside the volume.
            CacheCorruptedError: If the layout is still damaged after it was rebuilt.
        """
        start = tuple(int(v) for v in start)
        stop = tuple(int(v) for v in stop)
        dhw = self.shape[1:]
        inside = len(start) == len(stop) == 3 and all(
            0 <= a <= b <= n for a, b, n in zip(start, stop, dhw, strict=True)
        )
        if not inside:
            raise IndexError(f"box {start}-{stop} is not inside a volume of shape {dhw}")
        meta, reader = self._cache._layout(self._key, self._key_fields, BOX, self._decode)
        try:
            return reader.read_box(start, stop, dtype)  # type: ignore[attr-defined, no-any-return]
        except CacheCorruptedError as exc:
            # a chunk failed its check: quarantine the layout (unless another process
            # already replaced it), rebuild, and read once more
            self._cache._discard(self._key, BOX, meta, str(exc))
            reader = self._cache._layout(self._key, self._key_fields, BOX, self._decode)[1]
            return reader.read_box(start, stop, dtype)  # type: ignore[attr-defined, no-any-return]

    def minimum(self) -> float | int:
        """The smallest stored value (recorded when the chunked layout was written)."""
        meta = self._cache._layout(self._key, self._key_fields, BOX, self._decode)[0]
        return meta.get("min", 0)  # type: ignore[no-any-return]

    def take(
        self,
        indices: Any,
        axis: int | None = None,
        out: np.ndarray | None = None,
        mode: Literal["raise", "wrap", "clip"] = "raise",
    ) -> np.ndarray:
        """``np.take`` support: one integer index along a spatial axis reads one slice."""
        if axis is not None and out is None and np.ndim(indices) == 0:
            spatial = axis % self.ndim - (self.ndim - 3)
            if spatial >= 0:
                return self.slice(spatial, int(indices))
        return np.take(np.asarray(self), indices, axis=axis, out=out, mode=mode)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self._cache._read_volume(self._key, self._key_fields, self._decode)
        return array if dtype is None else array.astype(dtype)

    def __getitem__(self, item: Any) -> np.ndarray:
        return cast(np.ndarray, np.asarray(self)[item])


class SliceCache:
    """Per-slice storage of decoded volumes, shared by every process using the same root.

    Args:
        root: The cache root; entries go under ``root / "arrays" / "slices"``.
        cache_format: ``"b2nd"`` or ``"npy.gz"`` (see :mod:`datamint.storage.slice_formats`).
        open_layouts: Open layouts kept per process (LRU).

    Attributes:
        decodes: ``decode`` callbacks run by this process.
        builds: Layouts written by this process (decodes included).
        quarantined: Damaged layouts this object removed (and rebuilt when next needed).
    """

    def __init__(
        self, root: str | Path, cache_format: str = "b2nd", open_layouts: int = 64
    ) -> None:
        self.root = Path(root)
        self.cache_format = cache_format
        self.format = get_format(cache_format)
        self.open_layouts = open_layouts
        self.decodes = 0
        self.builds = 0
        self.quarantined = 0
        self._pid = os.getpid()
        self._open: OrderedDict[tuple[str, int], tuple[dict[str, Any], LayoutReader]] = (
            OrderedDict()
        )

    def _entry(self, key: str) -> Path:
        return self.root / "arrays" / SLICES_DIR / key[:2] / key

    def volume(
        self, key_fields: Mapping[str, Any], decode: Decoder, axis_hint: int | None = None
    ) -> tuple[StoredVolume, dict[str, Any]]:
        """The stored volume for ``key_fields``, decoding it on a miss.

        Args:
            key_fields: Everything that determines the decoded array (see :func:`cache_key`).
            decode: Called on a miss (at most once per volume on this node); returns the
                ``(C, D, H, W)`` array and JSON-serialisable extra facts.
            axis_hint: The spatial axis the caller will slice (or :data:`BOX` for boxes),
                built first when nothing is stored yet (default axial).

        Returns:
            ``(volume, extra)``.
        """
        key_fields = dict(key_fields)
        key = cache_key({**key_fields, "format": self.cache_format})
        first = axis_hint or 0
        axes = [first] + [a for a in range(len(LAYOUTS)) if a != first]
        for axis in axes:
            found = self._open_existing(key, axis)
            if found is not None:
                return StoredVolume(self, key, found[0], decode), found[0].get("extra", {})
        meta = self._layout(key, key_fields, axes[0], decode)[0]
        return StoredVolume(self, key, meta, decode), meta.get("extra", {})

    # -- layouts ---------------------------------------------------------------------
    def _memo(self) -> OrderedDict[tuple[str, int], tuple[dict[str, Any], LayoutReader]]:
        if os.getpid() != self._pid:  # never reuse handles across a fork
            self._pid, self._open = os.getpid(), OrderedDict()
        return self._open

    def _open_existing(
        self, key: str, axis: int, *, locked: bool = False
    ) -> tuple[dict[str, Any], LayoutReader] | None:
        """The open layout, or ``None`` when it is not stored; a damaged one is removed
        (under the volume's lock, taken here unless ``locked``) and ``None`` returned."""
        memo = self._memo()
        found = memo.get((key, axis))
        if found is not None:
            memo.move_to_end((key, axis))
            return found
        try:
            found = self._verify_and_open(key, axis)
        except CacheCorruptedError as exc:
            if locked:
                self._quarantine(key, axis, str(exc))
                return None
            with key_lock(self._entry(key)):
                try:  # checked again: another process may have rebuilt it meanwhile
                    found = self._verify_and_open(key, axis)
                except CacheCorruptedError as again:
                    self._quarantine(key, axis, str(again))
                    return None
        if found is not None:
            memo[(key, axis)] = found
            if len(memo) > self.open_layouts:
                memo.popitem(last=False)
        return found

    def _verify_and_open(self, key: str, axis: int) -> tuple[dict[str, Any], LayoutReader] | None:
        """Open a stored layout after the checks of the module docstring.

        Returns:
            ``(sidecar, reader)``, or ``None`` when no sidecar exists.

        Raises:
            CacheCorruptedError: If a check fails; the message says which.
        """
        entry = self._entry(key)
        sidecar = entry / f"{LAYOUTS[axis]}.json"
        if not sidecar.exists():
            return None
        try:
            meta = json.loads(sidecar.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise CacheCorruptedError(f"{sidecar.name} is unreadable: {exc}") from exc
        problem = seal_problem(meta)
        if problem is not None:
            raise CacheCorruptedError(f"{sidecar.name}: {problem}")
        try:
            files = []
            for rel, size, mtime_ns, sha in meta["files"]:
                path = entry / rel
                stat = path.stat()
                if stat.st_size != size:
                    raise CacheCorruptedError(f"{path.name} has {stat.st_size} bytes, not {size}")
                if stat.st_mtime_ns != mtime_ns and _sha256(path) != sha:
                    raise CacheCorruptedError(f"{path.name} does not match its sha256")
                files.append(path)
            reader = self._format(axis).open(entry / LAYOUTS[axis], files, meta["chunk_checksums"])
            moved = list(meta["shape"])
            if axis != BOX:
                moved.insert(1, moved.pop(1 + axis))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise CacheCorruptedError(f"{sidecar.name} names missing or odd files: {exc}") from exc
        if reader.shape is not None and (list(reader.shape), str(reader.dtype)) != (
            moved,
            meta["dtype"],
        ):
            raise CacheCorruptedError(
                f"{LAYOUTS[axis]} is {reader.shape} {reader.dtype}, its sidecar says "
                f"{tuple(moved)} {meta['dtype']}"
            )
        return meta, reader

    def _quarantine(self, key: str, axis: int, why: str) -> None:
        """Remove a damaged layout (the caller holds the volume's lock) and say so."""
        entry = self._entry(key)
        self._memo().pop((key, axis), None)
        self._remove_layout(entry, axis)
        if "no checksum" in why:
            _LOG.info("cache layout %s/%s has %s; rebuilding it", entry, LAYOUTS[axis], why)
            return
        self.quarantined += 1
        blosc = axis == BOX or self.cache_format == "b2nd"
        name = f"{LAYOUTS[axis]}.b2nd" if blosc else LAYOUTS[axis]
        warn_corrupted(entry / name, why, stacklevel=6)

    def _discard(
        self, key: str, axis: int, meta: dict[str, Any], why: str, *, locked: bool = False
    ) -> None:
        """A read from the layout described by ``meta`` failed its check: quarantine the
        layout, unless another process has already replaced or removed it."""
        self._memo().pop((key, axis), None)
        sidecar = self._entry(key) / f"{LAYOUTS[axis]}.json"
        with contextlib.nullcontext() if locked else key_lock(self._entry(key)):
            try:
                current = json.loads(sidecar.read_text("utf-8"))
            except (OSError, ValueError):
                current = None
            if current == meta:
                self._quarantine(key, axis, why)

    def _format(self, axis: int) -> SliceFormat:
        """The writer/opener of layout ``axis`` (the chunked layout is always blosc2)."""
        return _BOX_FORMAT if axis == BOX else self.format

    def _remove_layout(self, entry: Path, axis: int) -> None:
        base = entry / LAYOUTS[axis]
        with contextlib.suppress(FileNotFoundError):
            (entry / f"{LAYOUTS[axis]}.json").unlink()
        for path in (base.with_suffix(".b2nd"),):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if base.is_dir():
            shutil.rmtree(base, ignore_errors=True)

    def _layout(
        self, key: str, key_fields: dict[str, Any], axis: int, decode: Decoder
    ) -> tuple[dict[str, Any], LayoutReader]:
        found = self._open_existing(key, axis)
        if found is not None:
            return found
        entry = self._entry(key)
        with key_lock(entry):
            found = self._open_existing(key, axis, locked=True)
            if found is not None:
                return found
            volume, extra = self._source(key, axis, decode)
            moved = volume if axis == BOX else np.moveaxis(volume, 1 + axis, 1)
            files = self._format(axis).write(entry / LAYOUTS[axis], moved)
            self.builds += 1
            rows = []
            for path in files:
                stat = path.stat()
                rows.append(
                    [
                        path.relative_to(entry).as_posix(),
                        stat.st_size,
                        stat.st_mtime_ns,
                        _sha256(path),
                    ]
                )
            meta = {
                "key_fields": key_fields,
                "format": self._format(axis).name,
                "axis": LAYOUTS[axis],
                "shape": list(volume.shape),
                "dtype": str(volume.dtype),
                "extra": extra,
                "files": rows,
                "chunk_checksums": self._format(axis).chunk_checksums(files),
            }
            if axis == BOX and volume.size:  # the default pad value of patches
                meta["min"] = volume.min().item()
                meta["max"] = volume.max().item()
            sidecar = entry / f"{LAYOUTS[axis]}.json"
            atomic_write_text(sidecar, json.dumps(seal(meta), sort_keys=True))
            found = self._open_existing(key, axis, locked=True)
        if found is None:  # pragma: no cover - only if another process removed it meanwhile
            raise OSError(
                f"cache layout {entry}/{LAYOUTS[axis]} vanished right after it was written"
            )
        return found

    def _source(self, key: str, axis: int, decode: Decoder) -> tuple[np.ndarray, dict[str, Any]]:
        """The whole ``(C, D, H, W)`` volume from another stored layout, else from ``decode``
        (the caller holds the volume's lock)."""
        for other in range(len(LAYOUTS)):
            if other == axis:
                continue
            found = self._open_existing(key, other, locked=True)
            if found is None:
                continue
            try:
                return _unmoved(found[1].read_all(), other), found[0].get("extra", {})
            except CacheCorruptedError as exc:
                self._discard(key, other, found[0], str(exc), locked=True)
        self.decodes += 1
        array, extra = decode()
        if array.ndim != 4:
            raise ValueError(f"a stored volume must be (C, D, H, W); got shape {array.shape}")
        return array, extra

    def _read_volume(self, key: str, key_fields: dict[str, Any], decode: Decoder) -> np.ndarray:
        for axis in range(len(LAYOUTS)):
            found = self._open_existing(key, axis)
            if found is None:
                continue
            try:
                return np.ascontiguousarray(_unmoved(found[1].read_all(), axis))
            except CacheCorruptedError as exc:
                self._discard(key, axis, found[0], str(exc))
        _, reader = self._layout(key, key_fields, 0, decode)
        return reader.read_all()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "cache_format": self.cache_format,
            "open_layouts": self.open_layouts,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"], state["cache_format"], state["open_layouts"])  # type: ignore[misc]


def _unmoved(stored: np.ndarray, layout: int) -> np.ndarray:
    """A layout's stored array back in ``(C, D, H, W)`` order."""
    return stored if layout == BOX else np.moveaxis(stored, 1, 1 + layout)
