"""A 3-D chunked layout of one decoded volume: any box ``[z0:z1, y0:y1, x0:x1]`` read alone.

The per-slice layouts (:mod:`datamint.storage.slice_formats`) serve one slice per chunk;
a 3-D patch would decompress every slice it crosses, whole. This layout stores the
``(C, D, H, W)`` array unmoved as one blosc2 ``.b2nd`` file with chunks of
``(C, 32, 64, 64)`` voxels split into blocks of ``(C, 8, 32, 32)`` (16 KiB of int16),
LZ4 level 5 with byte shuffle for multi-byte dtypes (the codec of the slice layouts).
blosc2 slicing decompresses only the blocks a box overlaps: a random 64^3 int16 box of a
96x256x256 CT read in 0.25-0.45 ms on one core (blocks of 16x32x32 or whole chunks:
0.25-0.55 and 0.5-0.7 ms), against 1.3 ms from the axial slice layout and 0.04 ms for a
copy out of RAM (one-off runs on the shared 2-core project machine;
``benchmarks/bench_patches.py`` measures the whole item path). The file is about 0.27 of
the raw int16 bytes, like the slice layouts. It is written whatever the dataset's
``cache_format`` (blosc2 is a core dependency).

Content check: as for the slice layouts, the sidecar keeps one XXH3-64 checksum of each
chunk's compressed bytes (:meth:`BoxFormat.chunk_checksums`, chunks in C order over the
chunk grid), and a read checks every chunk the box overlaps before decompressing it (a
64^3 box overlaps 2 to 12 chunks), so a damaged chunk raises
:class:`~datamint.exceptions.CacheCorruptedError` naming the file instead of decoding
into wrong values. The check adds about 0.1 ms to a random 64^3 int16 box of a
96x256x256 volume read as float32 (0.55-0.62 against 0.46-0.49 ms; one-off run on the
shared 2-core project machine).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

from datamint.exceptions import CacheCorruptedError
from datamint.storage.integrity import checksum_bytes
from datamint.storage.slice_formats import LayoutReader, b2nd_cparams

__all__ = ["BOX_BLOCK", "BOX_CHUNK", "BoxFormat", "BoxReader"]

BOX_CHUNK = (32, 64, 64)  # spatial chunk (D, H, W); C is always whole
BOX_BLOCK = (8, 32, 32)  # spatial block inside a chunk


def _fit(shape: Sequence[int], wanted: Sequence[int]) -> tuple[int, ...]:
    """``(C, *wanted)`` clipped to ``shape`` (a chunk is never larger than the array)."""
    return (
        int(shape[0]),
        *(max(1, min(int(n), w)) for n, w in zip(shape[1:], wanted, strict=True)),
    )


def _corrupted(path: Path, what: str, exc: BaseException | None = None) -> CacheCorruptedError:
    detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
    return CacheCorruptedError(f"cache file {path}: {what}{detail}")


class BoxReader:
    """An open chunked layout: boxes, slices and the whole array, each chunk read checked.

    Args:
        path: The ``.b2nd`` file (opened memory-mapped, one decompression thread).
        sums: The checksum of every chunk (:meth:`BoxFormat.chunk_checksums`), or ``None``
            to read unchecked.

    Raises:
        CacheCorruptedError: If the file cannot be opened as a blosc2 array, or holds
            another number of chunks than ``sums``.
    """

    def __init__(self, path: Path, sums: Sequence[int] | None = None) -> None:
        import blosc2

        self._path = path
        try:
            self._array = blosc2.open(str(path), mode="r", mmap_mode="r", dparams={"nthreads": 1})
            self.shape: tuple[int, ...] | None = tuple(int(n) for n in self._array.shape)
            self._dtype = np.dtype(self._array.dtype)
            self._schunk = self._array.schunk
            nchunks = int(self._schunk.nchunks)
            chunks = tuple(int(n) for n in self._array.chunks)
        except Exception as exc:  # blosc2 raises many types on damaged headers
            raise _corrupted(path, "cannot be opened as a blosc2 array", exc) from exc
        self.dtype: np.dtype | None = self._dtype
        self._chunks = chunks
        self._grid = tuple(-(-n // c) for n, c in zip(self.shape, chunks, strict=True))
        self._sums = None if sums is None else list(sums)
        if self._sums is not None and len(self._sums) != nchunks:
            raise _corrupted(path, f"holds {nchunks} chunks, its sidecar lists {len(self._sums)}")
        self._scratch = np.empty(0, dtype=self._dtype)

    def _check(self, start: Sequence[int], stop: Sequence[int]) -> None:
        """Check every chunk that ``[:, z0:z1, y0:y1, x0:x1]`` overlaps."""
        if self._sums is None:
            return
        ranges = [
            range(a // c, -(-b // c)) if b > a else range(0)
            for a, b, c in zip(start, stop, self._chunks[1:], strict=True)
        ]
        _, _, gy, gx = self._grid
        for iz, iy, ix in itertools.product(*ranges):
            index = (iz * gy + iy) * gx + ix
            try:
                chunk = self._schunk.get_chunk(index)
            except Exception as exc:  # any failure of the codec library on damaged bytes
                raise _corrupted(self._path, f"chunk {index} cannot be read", exc) from exc
            if checksum_bytes(chunk) != self._sums[index]:
                raise _corrupted(self._path, f"chunk {index} does not match its checksum")

    def read_box(
        self, start: Sequence[int], stop: Sequence[int], dtype: np.dtype | None = None
    ) -> np.ndarray:
        """The stored ``[:, z0:z1, y0:y1, x0:x1]`` as a new ``(C, dz, dy, dx)`` array.

        Args:
            start, stop: ``(z0, y0, x0)`` and ``(z1, y1, x1)``, inside the volume.
            dtype: The result's dtype (default: the stored one). Another dtype is
                decompressed into a scratch buffer this reader reuses, then cast into
                the result: one new array per box, not two.

        Raises:
            CacheCorruptedError: If a chunk the box overlaps fails its checksum or cannot
                be decoded.
        """
        (z0, y0, x0), (z1, y1, x1) = start, stop
        self._check(start, stop)
        try:
            if dtype is None or np.dtype(dtype) == self._dtype:
                return cast(np.ndarray, self._array[:, z0:z1, y0:y1, x0:x1])
            shape = (self._array.shape[0], z1 - z0, y1 - y0, x1 - x0)
            n = int(np.prod(shape))
            if self._scratch.size < n:
                self._scratch = np.empty(n, dtype=self._dtype)
            scratch = self._scratch[:n].reshape(shape)
            self._array.get_slice_numpy(scratch, ((0, z0, y0, x0), (shape[0], z1, y1, x1)))
        except Exception as exc:  # any failure of the codec library on damaged bytes
            raise _corrupted(self._path, f"box {start}-{stop} cannot be decoded", exc) from exc
        return scratch.astype(dtype)

    def read(self, index: int) -> np.ndarray:
        """Axial slice ``index`` as ``(C, H, W)`` (every chunk of that depth is read)."""
        _, _, h, w = self._array.shape
        return self.read_box((index, 0, 0), (index + 1, h, w))[:, 0]

    def read_all(self) -> np.ndarray:
        """The whole ``(C, D, H, W)`` array (every chunk checked)."""
        return self.read_box((0, 0, 0), tuple(self._array.shape[1:]))


class BoxFormat:
    """Writes and opens the chunked layout (module docstring)."""

    name = "b2nd"

    def write(self, base: Path, volume: np.ndarray) -> list[Path]:
        """Store ``volume`` ``(C, D, H, W)`` at ``base.b2nd`` atomically; returns the file."""
        import blosc2

        path = base.with_suffix(".b2nd")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            blosc2.asarray(
                np.ascontiguousarray(volume),
                chunks=_fit(volume.shape, BOX_CHUNK),
                blocks=_fit(volume.shape, BOX_BLOCK),
                urlpath=tmp,
                mode="w",
                cparams=b2nd_cparams(volume.dtype),
            )
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return [path]

    def chunk_checksums(self, files: list[Path]) -> list[int]:
        """The XXH3-64 of every chunk's compressed bytes of the file just written."""
        import blosc2

        schunk = blosc2.open(str(files[0]), mode="r").schunk
        return [checksum_bytes(schunk.get_chunk(k)) for k in range(schunk.nchunks)]

    def open(
        self, base: Path, files: list[Path], sums: Sequence[int] | None = None
    ) -> LayoutReader:
        """Open the layout written at ``base``; ``sums`` turns on the per-chunk check."""
        return BoxReader(files[0], sums)
