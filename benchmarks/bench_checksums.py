"""Cost of the cache's content checks, and what they catch, in one run.

Read cost (ratios, so shared-machine noise cancels): each check against the same read
without it.

* ``b2nd`` slice: ``get_chunk`` + CRC-32 of the compressed chunk + ``decompress2`` (what
  ``slice_formats`` does) vs ``decompress_chunk`` straight into the output (no check).
* ``npy.gz`` slice: CRC-32 of the slice file + gunzip + ``np.load`` vs the same without
  the CRC.
* ``npy`` entry (``ArrayCache``, masks and ``cache_format="npy"``): open with the CRC-32
  of the whole file (every ``get_or_build``) vs ``np.load(mmap_mode="r")`` alone; both
  then read every byte (a volume item).
* downloaded file: the hit test (a ``stat``; the sha256 only when the inode state
  changed), and ``check_content=True`` (a full sha256), vs decoding the file.

Data: a generated CT volume (``ct_project.ct_volume``, int16, (1, 60, 512, 512)), its
threshold mask (uint8), and the volume as a gzipped NIfTI.

Corruption sweep: for each decoded format and for a downloaded file, one byte is flipped
in place (size and mtime kept) at 100 offsets spread over the file, one offset per round
on a fresh copy, then everything is read back through a fresh cache. Each round is
*recovered* (right values, a DatamintWarning named the entry), *unaffected* (right
values; the byte did not matter), *wrong* (other values, served silently) or *error*.

Run: ``.venv/bin/python benchmarks/bench_checksums.py``

Last run (2-core shared machine, blosc2 4.15.0, xxhash 4.1.0 (XXH3 0.8.4), median of 9
alternating rounds; two runs gave 1.04 and 1.12 for the b2nd slice):

| read | without check | with check | ratio |
|---|---|---|---|
| b2nd slice (512x512 int16) | 0.066 ms | 0.069 ms | 1.04 |
| npy.gz slice (512x512 int16) | 1.107 ms | 1.122 ms | 1.01 |
| npy mask open + full read (60x512x512 uint8) | 0.813 ms | 2.014 ms | 2.48 |
| npy image open + full read (1x60x512x512 int16) | 2.070 ms | 4.091 ms | 1.98 |
| downloaded NIfTI: hit test vs decode | 77.3 us | 95.86 ms | 0.0008 |
| downloaded NIfTI: check_content vs decode | 95.86 ms | 4.54 ms (sha256) | 0.05 |

| entry | corrupted | recovered | unaffected | wrong | error |
|---|---|---|---|---|---|
| npy | 100 | 100 | 0 | 0 | 0 |
| b2nd | 100 | 98 | 2 | 0 | 0 |
| npy.gz (one slice file) | 100 | 100 | 0 | 0 | 0 |
| downloaded file | 100 | 100 | 0 | 0 | 0 |

Per b2nd slice (timeit on one 128 kB compressed CT chunk): ``decompress_chunk`` 64 us;
``get_chunk`` 2 us + XXH3 3 us + ``decompress2`` 65 us, so the check costs about 5-10 %.
(zlib's CRC-32, tried first, took 44 us on the same chunk: 1.6x.) The ``npy`` check is one
extra sequential read of the file per open, paid once per open (datasets keep their opened
arrays), small next to the decode that built the entry. The hit test of a download is a
``stat`` and a small JSON read; ``check_content`` costs a twentieth of the decode it
precedes. The unaffected b2nd bytes are padding and unused header fields: ``verify``
still reports them (sha256 of the whole file).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from ct_project import ct_volume

from datamint.api.download import DownloadResult
from datamint.exceptions import DatamintWarning
from datamint.readers import read_file
from datamint.storage.array_cache import ArrayCache
from datamint.storage.slice_cache import SliceCache
from datamint.storage.slice_formats import B2ndFormat, NpyGzFormat

READS = 300
SWEEP = 100
KEY = {"op": "image", "content": "0" * 64, "reader": "bench", "reader_version": "1"}
DEMO_VOLUME = Path(__file__).resolve().parents[1] / "datamint/demo/data/volumes/breast1_mr.nii.gz"


def per_call_ms(fn: Callable[[], object], calls: int) -> float:
    fn()  # warm up
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def paired_ms(
    plain: Callable[[], object], checked: Callable[[], object], calls: int, rounds: int = 7
) -> tuple[float, float]:
    """Median ms per call of two functions measured in alternating rounds."""
    a, b = [], []
    for _ in range(rounds):
        a.append(per_call_ms(plain, calls))
        b.append(per_call_ms(checked, calls))
    return float(np.median(a)), float(np.median(b))


def slice_rows(volume: np.ndarray, folder: Path) -> list[tuple[str, float, float]]:
    picks = [int(k) for k in np.random.default_rng(0).integers(0, volume.shape[1], READS)]
    rows = []
    b2nd = B2ndFormat()
    files = b2nd.write(folder / "axial", volume)
    sums = b2nd.chunk_checksums(files)
    plain, checked = b2nd.open(folder, files), b2nd.open(folder, files, sums)
    it = iter(picks * 40)
    rows.append(
        (
            "b2nd slice (512x512 int16)",
            *paired_ms(lambda: plain.read(next(it)), lambda: checked.read(next(it)), READS),
        )
    )
    gz = NpyGzFormat()
    files = gz.write(folder / "gz", volume)
    sums = gz.chunk_checksums(files)
    plain, checked = gz.open(folder, files), gz.open(folder, files, sums)
    it = iter(picks * 40)
    rows.append(  # _load: no LRU
        (
            "npy.gz slice (512x512 int16)",
            *paired_ms(lambda: plain._load(next(it)), lambda: checked._load(next(it)), 20),
        )
    )
    return rows


def npy_rows(volume: np.ndarray, folder: Path) -> list[tuple[str, float, float]]:
    rows = []
    for label, array in (
        ("npy mask open + full read (60x512x512 uint8)", (volume[0] > 0).astype(np.uint8)),
        ("npy image open + full read (1x60x512x512 int16)", volume),
    ):
        cache = ArrayCache(folder / label.split()[1])
        cache.get_or_build(KEY, lambda a=array: (a, {}))
        npy = next((folder / label.split()[1]).rglob("*.npy"))
        plain, checked = paired_ms(
            lambda p=npy: np.array(np.load(p, mmap_mode="r")),
            lambda c=cache, a=array: np.array(c.get_or_build(KEY, lambda: (a, {}))[0]),
            10,
        )
        rows.append((label, plain, checked))
    return rows


class _Server:
    """A Downloader serving fixed bytes (the download layer has its own tests)."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def download_resource_file(self, rid, dest, *, expected_size=None, expected_sha256=None):
        dest.write_bytes(self.content)
        return DownloadResult(
            dest, len(self.content), hashlib.sha256(self.content).hexdigest(), None
        )


def download_rows(volume: np.ndarray, folder: Path) -> list[tuple[str, str, str, str]]:
    from datamint.storage.file_cache import FileCache

    path = folder / "ct.nii.gz"
    nib.save(nib.Nifti1Image(volume[0].transpose(2, 1, 0), np.eye(4)), path)
    content = path.read_bytes()
    record = {"id": "r1", "created_at": "2026-01-01T00:00:00Z", "size": len(content),
              "sha256": hashlib.sha256(content).hexdigest()}  # fmt: skip
    cache, server = FileCache(folder / "files-cache"), _Server(content)
    data = cache.resource_file(server, record)
    hit_ms = per_call_ms(lambda: cache.resource_file(server, record), 200)
    full_ms = per_call_ms(lambda: cache.resource_file(server, record, check_content=True), 10)
    decode_ms = per_call_ms(lambda: read_file(data), 5)
    rows = [
        ("downloaded NIfTI: hit test vs decode", f"{hit_ms * 1e3:.1f} us", f"{decode_ms:.2f} ms",
         f"{hit_ms / decode_ms:.4f}"),
        ("downloaded NIfTI: check_content vs decode", f"{decode_ms:.2f} ms",
         f"{full_ms:.2f} ms (sha256)", f"{full_ms / decode_ms:.2f}"),
    ]  # fmt: skip
    return rows


def flip(path: Path, offset: int) -> None:
    """XOR one byte with 0xFF in place and put the mtime back."""
    st = path.stat()
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def sweep(
    pristine: Path, target: Path, read: Callable[[Path], np.ndarray], expected: np.ndarray
) -> Counter[str]:
    size = (pristine / target).stat().st_size
    offsets = sorted({round(i * (size - 1) / (SWEEP - 1)) for i in range(SWEEP)})
    outcomes: Counter[str] = Counter()
    work = pristine.parent / "work"
    for offset in offsets:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        flip(work / target, offset)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got = read(work)
            except Exception:
                outcomes["error"] += 1
                continue
        warned = any(issubclass(w.category, DatamintWarning) for w in caught)
        if not np.array_equal(got, expected):
            outcomes["wrong"] += 1
        else:
            outcomes["recovered" if warned else "unaffected"] += 1
    return outcomes


def _sweep_read(fmt: str, small: np.ndarray) -> Callable[[Path], np.ndarray]:
    """Read everything back through a fresh cache of format ``fmt`` at a root."""

    def read(root: Path) -> np.ndarray:
        if fmt == "npy":
            return np.array(ArrayCache(root).get_or_build(KEY, lambda: (small, {}))[0])
        return np.asarray(SliceCache(root, fmt).volume(KEY, lambda: (small, {}))[0])

    return read


def sweep_rows(folder: Path) -> list[tuple[str, Counter[str]]]:
    from datamint.storage.file_cache import FileCache

    small = read_file(DEMO_VOLUME).array  # (1, 21, 120, 45) int16
    rows = []
    for fmt, pattern in (("npy", "*.npy"), ("b2nd", "*.b2nd"), ("npy.gz", "10.npy.gz")):
        pristine = folder / f"sweep-{fmt}" / "pristine"
        _sweep_read(fmt, small)(pristine)  # fills it
        target = next(pristine.rglob(pattern)).relative_to(pristine)
        name = fmt if fmt != "npy.gz" else "npy.gz (one slice file)"
        rows.append((name, sweep(pristine, target, _sweep_read(fmt, small), small)))
    content = DEMO_VOLUME.read_bytes()
    record = {"id": "r1", "created_at": "2026-01-01T00:00:00Z", "size": len(content),
              "sha256": hashlib.sha256(content).hexdigest()}  # fmt: skip
    pristine = folder / "sweep-download" / "pristine"
    data = FileCache(pristine).resource_file(_Server(content), record)
    expected = np.frombuffer(content, np.uint8)

    def read_download(root: Path) -> np.ndarray:
        got = FileCache(root).resource_file(_Server(content), record)
        return np.frombuffer(got.read_bytes(), np.uint8)

    target = data.relative_to(pristine)
    rows.append(("downloaded file", sweep(pristine, target, read_download, expected)))
    return rows


def main() -> None:
    volume = ct_volume(60)[None]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = slice_rows(volume, folder) + npy_rows(volume, folder)
        downloads = download_rows(volume, folder)
        print("| read | without check | with check | ratio |\n|---|---|---|---|")
        for label, plain, checked in rows:
            print(f"| {label} | {plain:.3f} ms | {checked:.3f} ms | {checked / plain:.2f} |")
        for row in downloads:
            print(f"| {' | '.join(row)} |")
        print("\n| entry | corrupted | recovered | unaffected | wrong | error |")
        print("|---|---|---|---|---|---|")
        for name, outcomes in sweep_rows(folder):
            total = sum(outcomes.values())
            cells = [outcomes[k] for k in ("recovered", "unaffected", "wrong", "error")]
            print(f"| {name} | {total} | {' | '.join(str(c) for c in cells)} |")


if __name__ == "__main__":
    main()
