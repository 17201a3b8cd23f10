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
decode. Every file of a layout is listed in its sidecar with size, mtime and sha256;
a file whose size differs, or whose mtime changed and sha256 no longer matches, marks
the layout damaged: it is removed and rebuilt. Files are shared by all processes
through the OS page cache; each process keeps a small LRU of open layouts.
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

from datamint.geometry import PLANES as AXES
from datamint.storage.atomic import atomic_write_text
from datamint.storage.box_format import BoxFormat
from datamint.storage.cache_key import cache_key
from datamint.storage.hashing import file_sha256 as _sha256
from datamint.storage.locks import key_lock
from datamint.storage.slice_formats import LayoutReader, get_format

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
        reader = self._cache._layout(self._key, self._key_fields, axis, self._decode)[1]
        try:
            return reader.read(index % n)
        except (RuntimeError, SystemError, ValueError, OSError) as exc:
            # a codec error: reopen, which re-checks the files' checksums (rebuilding a damaged
            # layout), and read once more
            _LOG.warning(
                "reading slice %d of %s/%s failed (%r); reopening it",
                index,
                self._key,
                AXES[axis],
                exc,
            )
            self._cache._memo().pop((self._key, axis), None)
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
        """
        start = tuple(int(v) for v in start)
        stop = tuple(int(v) for v in stop)
        dhw = self.shape[1:]
        inside = len(start) == len(stop) == 3 and all(
            0 <= a <= b <= n for a, b, n in zip(start, stop, dhw, strict=True)
        )
        if not inside:
            raise IndexError(f"box {start}-{stop} is not inside a volume of shape {dhw}")
        reader = self._cache._layout(self._key, self._key_fields, BOX, self._decode)[1]
        try:
            return reader.read_box(start, stop, dtype)  # type: ignore[attr-defined, no-any-return]
        except (RuntimeError, SystemError, ValueError, OSError) as exc:
            _LOG.warning(
                "reading box %s-%s of %s failed (%r); reopening it", start, stop, self._key, exc
            )
            self._cache._memo().pop((self._key, BOX), None)
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

    def _open_existing(self, key: str, axis: int) -> tuple[dict[str, Any], LayoutReader] | None:
        memo = self._memo()
        found = memo.get((key, axis))
        if found is not None:
            memo.move_to_end((key, axis))
            return found
        found = self._verify_and_open(key, axis)
        if found is not None:
            memo[(key, axis)] = found
            if len(memo) > self.open_layouts:
                memo.popitem(last=False)
        return found

    def _verify_and_open(self, key: str, axis: int) -> tuple[dict[str, Any], LayoutReader] | None:
        entry = self._entry(key)
        sidecar = entry / f"{LAYOUTS[axis]}.json"
        if not sidecar.exists():
            return None
        try:
            meta = json.loads(sidecar.read_text("utf-8"))
            files = []
            for rel, size, mtime_ns, sha in meta["files"]:
                path = entry / rel
                stat = path.stat()
                if stat.st_size != size or (stat.st_mtime_ns != mtime_ns and _sha256(path) != sha):
                    raise ValueError(f"{path} does not match its recorded size and sha256")
                files.append(path)
            return meta, self._format(axis).open(entry / LAYOUTS[axis], files)
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            RuntimeError,
            json.JSONDecodeError,
        ) as exc:
            _LOG.warning(
                "cache layout %s/%s is damaged (%s); rebuilding it", entry, LAYOUTS[axis], exc
            )
            self._remove_layout(entry, axis)
            return None

    def _format(self, axis: int) -> Any:
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
            found = self._open_existing(key, axis)
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
            }
            if axis == BOX and volume.size:  # the default pad value of patches
                meta["min"] = volume.min().item()
                meta["max"] = volume.max().item()
            atomic_write_text(entry / f"{LAYOUTS[axis]}.json", json.dumps(meta, sort_keys=True))
        found = self._open_existing(key, axis)
        if found is None:  # pragma: no cover - only if another process removed it meanwhile
            raise OSError(
                f"cache layout {entry}/{LAYOUTS[axis]} vanished right after it was written"
            )
        return found

    def _source(self, key: str, axis: int, decode: Decoder) -> tuple[np.ndarray, dict[str, Any]]:
        """The whole ``(C, D, H, W)`` volume from another stored layout, else from ``decode``."""
        for other in range(len(LAYOUTS)):
            if other == axis:
                continue
            found = self._open_existing(key, other)
            if found is not None:
                return _unmoved(found[1].read_all(), other), found[0].get("extra", {})
        self.decodes += 1
        array, extra = decode()
        if array.ndim != 4:
            raise ValueError(f"a stored volume must be (C, D, H, W); got shape {array.shape}")
        return array, extra

    def _read_volume(self, key: str, key_fields: dict[str, Any], decode: Decoder) -> np.ndarray:
        for axis in range(len(LAYOUTS)):
            found = self._open_existing(key, axis)
            if found is not None:
                return np.ascontiguousarray(_unmoved(found[1].read_all(), axis))
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
