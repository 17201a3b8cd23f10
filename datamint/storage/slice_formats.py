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

Content check: :meth:`SliceFormat.chunk_checksums` gives one XXH3-64 checksum per chunk
(``b2nd``: the compressed bytes of each blosc2 chunk; ``npy.gz``: each slice file's
bytes), kept in the layout's sidecar; an open layout checks a chunk's checksum each time
it reads the chunk, before decompressing it, so a damaged chunk raises
:class:`~datamint.exceptions.CacheCorruptedError` naming the file instead of decoding into
wrong values or failing inside the codec. The cost per slice read is measured by
``benchmarks/bench_checksums.py``.

The raw ``"npy"`` format is :class:`~datamint.storage.array_cache.ArrayCache` itself.
No pickle is written or read.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from datamint.exceptions import CacheCorruptedError
from datamint.storage.atomic import atomic_open
from datamint.storage.integrity import checksum_bytes, checksum_file

__all__ = ["FORMATS", "LayoutReader", "SliceFormat", "b2nd_cparams", "get_format"]

NPY_GZ_LEVEL = 4
B2ND_CLEVEL = 5
SLICE_LRU_BYTES = 256 << 20


class LayoutReader(Protocol):
    """An open layout: reads slices along its axis, checking each chunk it reads.

    ``shape`` and ``dtype`` are the stored array's as its file header says, or ``None``
    for a format whose files carry no common header.
    """

    shape: tuple[int, ...] | None
    dtype: np.dtype | None

    def read(self, index: int) -> np.ndarray:
        """Slice ``index`` as a new ``(C, *rest)`` array of the stored dtype.

        Raises:
            CacheCorruptedError: If its chunk fails its checksum or cannot be decoded.
        """

    def read_all(self) -> np.ndarray:
        """The whole stored ``(C, L, *rest)`` array (every chunk checked).

        Raises:
            CacheCorruptedError: If a chunk fails its checksum or cannot be decoded.
        """


class SliceFormat(Protocol):
    """Writes and opens one layout kind."""

    name: str

    def write(self, base: Path, moved: np.ndarray) -> list[Path]:
        """Store ``moved`` (``(C, L, *rest)``) at ``base``; returns every file written."""

    def chunk_checksums(self, files: list[Path]) -> list[int]:
        """The checksum of every chunk of a layout just written, in chunk order."""

    def open(
        self, base: Path, files: list[Path], sums: Sequence[int] | None = None
    ) -> LayoutReader:
        """Open the layout written at ``base``; ``sums`` (from :meth:`chunk_checksums`) turns
        on the per-chunk check.

        Raises:
            CacheCorruptedError: If the files cannot be opened as this format, or do not
                hold as many chunks as ``sums``.
        """


def _corrupted(path: Path, what: str, exc: BaseException | None = None) -> CacheCorruptedError:
    detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
    return CacheCorruptedError(f"cache file {path}: {what}{detail}")


class _B2ndReader:
    def __init__(self, path: Path, sums: Sequence[int] | None) -> None:
        import blosc2

        self._path = path
        try:
            self._array = blosc2.open(str(path), mode="r", mmap_mode="r", dparams={"nthreads": 1})
            shape = tuple(self._array.shape)
            self.shape: tuple[int, ...] | None = tuple(int(n) for n in shape)
            self.dtype = np.dtype(self._array.dtype)
            one_slice = (shape[0], 1, *shape[2:])
            # chunk k is exactly slice k: decompress it into the output, skipping NDArray
            # slicing
            self._direct = tuple(self._array.chunks) == one_slice == tuple(self._array.blocks)
            self._schunk = self._array.schunk
            nchunks = int(self._schunk.nchunks)
        except Exception as exc:  # blosc2 raises many types on damaged headers (Overflow...)
            raise _corrupted(path, "cannot be opened as a blosc2 array", exc) from exc
        self._slice_shape = (shape[0], *shape[2:])
        self._sums = None if sums is None else list(sums)
        if self._sums is not None and len(self._sums) != nchunks:
            raise _corrupted(path, f"holds {nchunks} chunks, its sidecar lists {len(self._sums)}")
        if self._sums is not None and not self._direct:  # we always write one chunk per slice
            raise _corrupted(path, f"has chunks {self._array.chunks}, not one per slice")

    def _chunk(self, index: int) -> bytes:
        """Chunk ``index``'s compressed bytes, checked against its checksum."""
        try:
            chunk = self._schunk.get_chunk(index)
        except Exception as exc:  # any failure of the codec library on damaged bytes
            raise _corrupted(self._path, f"chunk {index} cannot be read", exc) from exc
        if self._sums is not None and checksum_bytes(chunk) != self._sums[index]:
            raise _corrupted(self._path, f"chunk {index} does not match its checksum")
        return bytes(chunk)

    def read(self, index: int) -> np.ndarray:
        import blosc2

        try:
            if not self._direct:
                return cast(np.ndarray, self._array[:, index])
            out = np.empty(self._slice_shape, self.dtype)
            if self._sums is None:
                self._schunk.decompress_chunk(index, dst=out)
            else:
                blosc2.decompress2(self._chunk(index), dst=out)
        except CacheCorruptedError:
            raise
        except Exception as exc:  # any failure of the codec library on damaged bytes
            raise _corrupted(self._path, f"slice {index} cannot be decoded", exc) from exc
        return out

    def read_all(self) -> np.ndarray:
        if not self._direct:
            try:
                return cast(np.ndarray, self._array[...])
            except Exception as exc:  # any failure of the codec library on damaged bytes
                raise _corrupted(self._path, "cannot be decoded", exc) from exc
        shape = tuple(self._array.shape)
        out = np.empty(shape, self.dtype)
        for k in range(shape[1]):
            out[:, k] = self.read(k)
        return out


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

    def chunk_checksums(self, files: list[Path]) -> list[int]:
        import blosc2

        schunk = blosc2.open(str(files[0]), mode="r").schunk
        return [checksum_bytes(schunk.get_chunk(k)) for k in range(schunk.nchunks)]

    def open(
        self, base: Path, files: list[Path], sums: Sequence[int] | None = None
    ) -> LayoutReader:
        return _B2ndReader(files[0], sums)


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
    def __init__(self, files: list[Path], sums: Sequence[int] | None) -> None:
        self._files = files
        self._sums = None if sums is None else list(sums)
        if self._sums is not None and len(self._sums) != len(files):
            raise _corrupted(
                files[0].parent, f"holds {len(files)} slices, its sidecar lists {len(self._sums)}"
            )
        self.shape: tuple[int, ...] | None = None  # each slice file is checked on its own
        self.dtype: np.dtype | None = None

    def _load(self, index: int) -> np.ndarray:
        path = self._files[index]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise _corrupted(path, "cannot be read", exc) from exc
        if self._sums is not None and checksum_bytes(raw) != self._sums[index]:
            raise _corrupted(path, "does not match its checksum")
        try:
            array: np.ndarray = np.load(io.BytesIO(gzip.decompress(raw)), allow_pickle=False)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise _corrupted(path, "cannot be decoded", exc) from exc
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

    def chunk_checksums(self, files: list[Path]) -> list[int]:
        return [checksum_file(path) for path in files]

    def open(
        self, base: Path, files: list[Path], sums: Sequence[int] | None = None
    ) -> LayoutReader:
        return _NpyGzReader(files, sums)


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
