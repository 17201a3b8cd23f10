"""blosc2 codecs for the per-slice ``.b2nd`` cache: size and one-slice read time, in one run.

The slice cache stores one chunk per slice, so what matters is how fast one chunk
decompresses (the per-item cost under a shuffled sampler) and how small the file is (the
disk budget: at most 0.5 of the raw size for CT). Data: a generated CT volume
(``ct_project.ct_volume``, int16 HU, 512x512) and the demo ultrasound video (uint8 RGB
frames). For each codec / level / filter the table gives size / raw, write MB/s, and the
time to read one random slice through ``NDArray[:, k]`` and through
``SChunk.decompress_chunk(k, dst=...)`` (what ``slice_formats`` does), plus a memcpy of one
slice as the floor. Single-threaded blosc2 (``nthreads=1``), as in DataLoader workers.

Run: ``.venv/bin/python benchmarks/bench_codecs.py``

Last run (2-core shared machine, blosc2 4.14.1, CT (1, 60, 512, 512), video (3, 30, 300, 400)):

| data | codec | filter | size / raw | write MB/s | NDArray[:, k] ms | decompress ms |
|---|---|---|---|---|---|---|
| CT int16 | zstd L1 | shuffle | 0.213 | 658 | 0.188 | 0.164 |
| CT int16 | lz4 L5 | shuffle | 0.248 | 1122 | 0.091 | 0.064 |
| CT int16 | lz4hc L4 | shuffle | 0.232 | 132 | 0.067 | 0.042 |
| CT int16 | lz4 L5 | nofilter | 0.418 | 517 | 0.074 | 0.066 |
| video uint8 | zstd L1 | shuffle | 0.204 | 266 | 0.385 | 0.380 |
| video uint8 | lz4 L5 | shuffle | 0.463 | 404 | 0.281 | 0.259 |
| video uint8 | lz4hc L4 | shuffle | 0.423 | 110 | 0.294 | 0.283 |
| video uint8 | lz4 L5 | nofilter | 0.463 | 272 | 0.079 | 0.060 |

memcpy of one CT slice: 0.006 ms. "decompress" is ``SChunk.decompress_chunk(k, dst=...)``.

Choice (``slice_formats.b2nd_cparams``): LZ4 level 5, shuffle for multi-byte dtypes and no
filter for uint8. LZ4 reads a CT slice 2.5x faster than zstd level 1 for 0.25 instead of
0.21 of the raw size, and writes about 2x faster (the first decode of every volume pays
it). LZ4HC reads a little faster still but writes 8x slower than LZ4. blosc2's byte
shuffle of uint8 frames (nothing to shuffle) costs 4x the decompression itself, so it is
off there. ``decompress_chunk`` into a preallocated array saves ~25 us over NDArray
slicing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import blosc2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from ct_project import ct_volume

from datamint.readers import read_file

DEMO = Path(__file__).resolve().parents[1] / "datamint" / "demo" / "data"
READS = 300
CANDIDATES = [
    (blosc2.Codec.ZSTD, 1, blosc2.Filter.SHUFFLE),
    (blosc2.Codec.LZ4, 5, blosc2.Filter.SHUFFLE),
    (blosc2.Codec.LZ4HC, 4, blosc2.Filter.SHUFFLE),
    (blosc2.Codec.LZ4, 5, blosc2.Filter.NOFILTER),
]


def measure(
    array: np.ndarray, codec: blosc2.Codec, clevel: int, filt: blosc2.Filter, folder: str
) -> tuple:
    """(size / raw, write MB/s, NDArray read ms, decompress_chunk ms) of a (C, L, H, W) array."""
    chunk = (array.shape[0], 1, *array.shape[2:])
    path = f"{folder}/{codec.name}-{clevel}-{filt.name}.b2nd"
    cparams = {"codec": codec, "clevel": clevel, "filters": [filt], "nthreads": 1}
    start = time.perf_counter()
    blosc2.asarray(array, chunks=chunk, blocks=chunk, urlpath=path, mode="w", cparams=cparams)
    write = array.nbytes / 1e6 / (time.perf_counter() - start)
    stored = blosc2.open(path, mode="r", mmap_mode="r", dparams={"nthreads": 1})
    picks = [int(k) for k in np.random.default_rng(0).integers(0, array.shape[1], READS)]
    for k in picks[:20]:  # warm the page cache and blosc2's context
        stored[:, k]
    start = time.perf_counter()
    for k in picks:
        stored[:, k]
    getitem = (time.perf_counter() - start) / READS
    out = np.empty((array.shape[0], *array.shape[2:]), array.dtype)
    start = time.perf_counter()
    for k in picks:
        stored.schunk.decompress_chunk(k, dst=out)
    direct = (time.perf_counter() - start) / READS
    np.testing.assert_array_equal(out, array[:, picks[-1]])
    return os.path.getsize(path) / array.nbytes, write, getitem * 1e3, direct * 1e3


def main() -> None:
    video = read_file(DEMO / "videos/echo_plax_doppler.mp4").array
    data = {"CT int16": ct_volume(60)[None], "video uint8": np.ascontiguousarray(video)}
    print("| data | codec | filter | size / raw | write MB/s | NDArray[:, k] ms | decompress ms |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, array in data.items():
            for codec, clevel, filt in CANDIDATES:
                ratio, write, getitem, direct = measure(array, codec, clevel, filt, folder)
                print(
                    f"| {name} | {codec.name.lower()} L{clevel} | {filt.name.lower()} | "
                    f"{ratio:.3f} | {write:.0f} | {getitem:.3f} | {direct:.3f} |"
                )
    one = data["CT int16"][:, 5].copy()
    start = time.perf_counter()
    for _ in range(READS):
        one.copy()
    print(f"\nmemcpy of one CT slice: {(time.perf_counter() - start) / READS * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
