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
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

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


class BoxReader:
    """An open chunked layout: boxes, slices and the whole array.

    Args:
        path: The ``.b2nd`` file (opened memory-mapped, one decompression thread).
    """

    def __init__(self, path: Path) -> None:
        import blosc2

        self._array = blosc2.open(str(path), mode="r", mmap_mode="r", dparams={"nthreads": 1})
        self._dtype = np.dtype(self._array.dtype)
        self._scratch = np.empty(0, dtype=self._dtype)

    def read_box(
        self, start: Sequence[int], stop: Sequence[int], dtype: np.dtype | None = None
    ) -> np.ndarray:
        """The stored ``[:, z0:z1, y0:y1, x0:x1]`` as a new ``(C, dz, dy, dx)`` array.

        Args:
            start, stop: ``(z0, y0, x0)`` and ``(z1, y1, x1)``, inside the volume.
            dtype: The result's dtype (default: the stored one). Another dtype is
                decompressed into a scratch buffer this reader reuses, then cast into
                the result: one new array per box, not two.
        """
        (z0, y0, x0), (z1, y1, x1) = start, stop
        if dtype is None or np.dtype(dtype) == self._dtype:
            return cast(np.ndarray, self._array[:, z0:z1, y0:y1, x0:x1])
        shape = (self._array.shape[0], z1 - z0, y1 - y0, x1 - x0)
        n = int(np.prod(shape))
        if self._scratch.size < n:
            self._scratch = np.empty(n, dtype=self._dtype)
        scratch = self._scratch[:n].reshape(shape)
        self._array.get_slice_numpy(scratch, ((0, z0, y0, x0), (shape[0], z1, y1, x1)))
        return scratch.astype(dtype)

    def read(self, index: int) -> np.ndarray:
        """Axial slice ``index`` as ``(C, H, W)`` (every chunk of that depth is read)."""
        return cast(np.ndarray, self._array[:, index])

    def read_all(self) -> np.ndarray:
        """The whole ``(C, D, H, W)`` array."""
        return cast(np.ndarray, self._array[...])


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

    def open(self, base: Path, files: list[Path]) -> LayoutReader:
        """Open the layout written at ``base``."""
        return BoxReader(files[0])
