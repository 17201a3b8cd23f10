"""On-disk layouts of one decoded volume that serve one slice without decoding the rest.

A *layout* stores a ``(C, D, H, W)`` array for slicing along one spatial axis ``a``
(0 axial / frame, 1 coronal, 2 sagittal): the array is first moved to
``(C, L, *rest)`` with ``np.moveaxis(volume, 1 + a, 1)`` (``L`` the length along
``a``, ``rest`` the other two spatial axes in their original order), so slice ``k`` is
``stored[:, k]`` and equals ``np.take(volume, k, axis=1 + a)``.

Formats (``cache_format`` on the datasets):

* ``"b2nd"`` (default): one blosc2 ``.b2nd`` file, LZ4 level 5, byte shuffle for
  multi-byte dtypes (none for uint8, where blosc2's shuffle costs 4x the decompression
  time), one chunk (and one block) per slice; opened memory-mapped, one slice is one
  chunk decompressed straight into the output array. Chosen by
  ``benchmarks/bench_codecs.py``: LZ4 decompresses a CT slice about 2x faster than
  zstd level 1 for about 0.25 instead of 0.21 of the raw size. Files written with
  another codec (earlier versions used zstd) read the same: blosc2 records the codec.
* ``"npy.gz"``: the existing client's layout: one gzip (level 4) of
  ``np.save`` per slice, read through a per-process LRU of decoded slices.

The raw ``"npy"`` format is :class:`~datamint.storage.array_cache.ArrayCache` itself.
No pickle is written or read.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from datamint.storage.atomic import atomic_open

__all__ = ["FORMATS", "LayoutReader", "SliceFormat", "b2nd_cparams", "get_format"]

NPY_GZ_LEVEL = 4
B2ND_CLEVEL = 5
SLICE_LRU_BYTES = 256 << 20


class LayoutReader(Protocol):
    """An open layout: reads slices along its axis."""

    def read(self, index: int) -> np.ndarray:
        """Slice ``index`` as a new ``(C, *rest)`` array of the stored dtype."""

    def read_all(self) -> np.ndarray:
        """The whole stored ``(C, L, *rest)`` array."""


class SliceFormat(Protocol):
    """Writes and opens one layout kind."""

    name: str

    def write(self, base: Path, moved: np.ndarray) -> list[Path]:
        """Store ``moved`` (``(C, L, *rest)``) at ``base``; returns every file written."""

    def open(self, base: Path, files: list[Path]) -> LayoutReader:
        """Open the layout written at ``base``."""


class _B2ndReader:
    def __init__(self, path: Path) -> None:
        import blosc2

        self._array = blosc2.open(str(path), mode="r", mmap_mode="r", dparams={"nthreads": 1})
        shape = tuple(self._array.shape)
        one_slice = (shape[0], 1, *shape[2:])
        # chunk k is exactly slice k: decompress it into the output, skipping NDArray slicing
        self._direct = tuple(self._array.chunks) == one_slice == tuple(self._array.blocks)
        self._slice_shape = (shape[0], *shape[2:])
        self._dtype = np.dtype(self._array.dtype)
        self._schunk = self._array.schunk

    def read(self, index: int) -> np.ndarray:
        if not self._direct:
            return cast(np.ndarray, self._array[:, index])
        out = np.empty(self._slice_shape, self._dtype)
        self._schunk.decompress_chunk(index, dst=out)
        return out

    def read_all(self) -> np.ndarray:
        return cast(np.ndarray, self._array[...])


def b2nd_cparams(dtype: np.dtype) -> dict[str, Any]:
    """blosc2 compression parameters for a layout of ``dtype`` (module docstring)."""
    import blosc2

    shuffle = blosc2.Filter.SHUFFLE if np.dtype(dtype).itemsize > 1 else blosc2.Filter.NOFILTER
    return {"codec": blosc2.Codec.LZ4, "clevel": B2ND_CLEVEL, "filters": [shuffle], "nthreads": 1}


class B2ndFormat:
    """blosc2 NDArray, LZ4 (+ shuffle for multi-byte dtypes), one chunk per slice (module doc)."""

    name = "b2nd"

    def write(self, base: Path, moved: np.ndarray) -> list[Path]:
        import blosc2

        path = base.with_suffix(".b2nd")
        chunk = (moved.shape[0], 1, *moved.shape[2:])
        cparams = b2nd_cparams(moved.dtype)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            blosc2.asarray(
                np.ascontiguousarray(moved),
                chunks=chunk,
                blocks=chunk,
                urlpath=tmp,
                mode="w",
                cparams=cparams,
            )
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return [path]

    def open(self, base: Path, files: list[Path]) -> LayoutReader:
        return _B2ndReader(files[0])


class _SliceLRU:
    """Per-process LRU of decoded slices with a byte budget and hit/miss/eviction counters."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.nbytes = 0
        self.hits = self.misses = self.evictions = 0
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], np.ndarray]) -> np.ndarray:
        found = self._items.get(key)
        if found is not None:
            self.hits += 1
            self._items.move_to_end(key)
            return found
        self.misses += 1
        value = make()
        self._items[key] = value
        self.nbytes += value.nbytes
        while self.nbytes > self.budget_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.nbytes
            self.evictions += 1
        return value


_SLICE_LRU = _SliceLRU(SLICE_LRU_BYTES)


class _NpyGzReader:
    def __init__(self, files: list[Path]) -> None:
        self._files = files

    def _load(self, index: int) -> np.ndarray:
        with gzip.open(self._files[index], "rb") as fh:
            array: np.ndarray = np.load(io.BytesIO(fh.read()), allow_pickle=False)
        array.flags.writeable = False
        return array

    def read(self, index: int) -> np.ndarray:
        return np.array(_SLICE_LRU.get(str(self._files[index]), lambda: self._load(index)))

    def read_all(self) -> np.ndarray:
        return np.stack([self._load(i) for i in range(len(self._files))], axis=1)


class NpyGzFormat:
    """One ``<base>/<k>.npy.gz`` (gzip level 4 of ``np.save``) per slice, read via an LRU."""

    name = "npy.gz"

    def write(self, base: Path, moved: np.ndarray) -> list[Path]:
        files = []
        for k in range(moved.shape[1]):
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(moved[:, k]), allow_pickle=False)
            path = base / f"{k}.npy.gz"
            with atomic_open(path) as fh:
                fh.write(gzip.compress(buf.getvalue(), compresslevel=NPY_GZ_LEVEL, mtime=0))
            files.append(path)
        return files

    def open(self, base: Path, files: list[Path]) -> LayoutReader:
        return _NpyGzReader(files)


FORMATS: dict[str, SliceFormat] = {f.name: f for f in (B2ndFormat(), NpyGzFormat())}


def get_format(name: str) -> SliceFormat:
    """The layout writer/opener called ``name`` (``"b2nd"`` or ``"npy.gz"``).

    Raises:
        ValueError: For any other name.
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown cache_format {name!r}; expected one of 'b2nd', 'npy.gz', 'npy'"
        ) from None
