"""Decoded slice cache: shuffled slice epochs per ``cache_format`` vs the DataLoader floor.

Generates a CT project (``N_VOLUMES`` anatomy-like 512x512x100-140 int16 NIfTI volumes,
see ``ct_project.py``), serves it on 127.0.0.1 and, in one run, for each cache format
(``b2nd`` default, raw ``npy`` memmap, ``npy.gz`` per-slice gzip + LRU as the existing
client), with items in the stored dtype (``image_dtype="stored"``: int16 CT):

1. cold first epoch (2 forked workers, fresh decoded cache): wall time and decodes
   counted by a wrapped reader, vs one decode of each volume + one warm epoch;
2. warm shuffled epochs of ``slice("axial")`` and ``slice("sagittal")`` with 0 and 2
   workers, batch 16, items/s and ratio to the DataLoader floor (medians of ``REPEATS``
   epochs of each, interleaved), plus ``frame_by_frame()`` of the demo videos (their
   frames in shuffled passes, each frame several times per epoch);
3. cache bytes per volume / raw decoded bytes (int16), and peak anonymous-RSS growth
   per worker (``RssAnon``: private pages; the page cache shared through the memory
   maps is ``RssFile`` and is not counted).

Then for ``b2nd`` only: the same axial items cut from the volumes held decoded in RAM
(``InMemory``: the best any cache could do), axial items in the contract's float64 (the default
``image_dtype``: cast per item from the int16 cache), and a warm-cache epoch after
evicting the cache files from the page cache (``posix_fadvise(DONTNEED)``; ``fincore``
reports what stayed resident).

Two floors, through the same DataLoader and collate, each measured in the same run:

- the **floor** (the issue's "trivial dataset returning the same tensors"): before the epoch,
  our item tensor at each index of the epoch is made and held in RAM; the dataset returns
  it. What the DataLoader costs when the dataset costs nothing: collating fresh tensors
  from memory and, with workers, moving each batch to shared memory and to the main
  process;
- the **one-tensor floor** (stricter, kept for comparison): one tensor made once per
  shape and dtype and returned for every index. Stacking 16 copies of one tensor reads
  it from the CPU cache, and a tensor returned unstacked (sagittal slices of different
  depths are batched as lists) is moved to shared memory once and then sent by
  reference; no dataset that yields distinct items gets either.

RSS is sampled once per batch, in the collate function (which runs in the worker).

An "epoch" is a shuffled sample of ``EPOCH_ITEMS`` items (all items when fewer) to keep
the run to a few minutes on 2 cores. Usage: ``.venv/bin/python benchmarks/bench_slice_cache.py``.
"""

from __future__ import annotations

import gc
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).parent))
from ct_project import serve_ct_project

import datamint.dataset.loading as loading
from datamint.dataset import VideoDataset, VolumeDataset
from datamint.readers import read_file
from datamint.testing.server import build_demo_store, running_server

N_VOLUMES = int(os.environ.get("N_VOLUMES", "12"))
EPOCH_ITEMS = int(os.environ.get("EPOCH_ITEMS", "1200"))
REPEATS = int(os.environ.get("REPEATS", "3"))  # interleaved warm epochs per measurement
FORMATS = ("b2nd", "npy", "npy.gz")
COUNTER = Path(tempfile.gettempdir()) / f"bench-decodes-{os.getpid()}.txt"
_BASE_RSS: list[int] = [0]


def _rss_anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def _init_worker(_: int) -> None:
    _BASE_RSS[0] = _rss_anon_kb()


class Probe(Dataset):
    """Image tensors of the items of ``ds`` at ``order[position]``, or of a floor.

    Indexed by position in the epoch, so an epoch may show an item twice (the demo video
    has fewer frames than an epoch). ``floor`` maps a position either to a tensor (the
    floor: that item made before the epoch, one tensor per position) or to
    ``(shape, torch dtype)`` (the one-tensor floor: a tensor made once per shape and
    dtype, returned at every position).
    """

    def __init__(self, ds, order: list[int], floor: dict | None = None) -> None:
        self.ds, self.order, self.floor, self._made = ds, order, floor, {}

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, position: int) -> torch.Tensor:
        if self.floor is None:
            return torch.from_numpy(self.ds[self.order[position]]["image"])
        made = self.floor[position]
        if isinstance(made, torch.Tensor):
            return made
        image = self._made.get(made)
        if image is None:
            image = self._made[made] = torch.full(made[0], 7, dtype=made[1])
        return image


def _collate(images):
    """A batch: stacked when the shapes agree (sagittal slices differ in depth), with the
    RSS-anon growth (kB) of the process that collated it."""
    same = all(im.shape == images[0].shape for im in images)
    return (torch.stack(images) if same else images), _rss_anon_kb() - _BASE_RSS[0]


def epoch(ds, workers: int, order: list[int], floor: dict | None = None) -> tuple[float, float]:
    """items/s and peak RSS-anon growth (MB) of one epoch over ``order`` (shuffled indices)."""
    _BASE_RSS[0] = _rss_anon_kb()
    loader = DataLoader(
        Probe(ds, order, floor),
        batch_size=16,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        worker_init_fn=_init_worker if workers else None,
        multiprocessing_context="fork" if workers else None,
        persistent_workers=False,
    )
    start, peak, n = time.perf_counter(), 0, 0
    for images, rss in loader:
        n += len(images)
        peak = max(peak, rss)
    return n / (time.perf_counter() - start), peak / 1024


def made_items(ds, order: list[int]) -> dict[int, torch.Tensor]:
    """The floor: our image tensor at each position of ``order``, made now and held in RAM
    (a tensor of its own per position, even where an index repeats)."""
    return {p: torch.from_numpy(ds[i]["image"]) for p, i in enumerate(order)}


def item_shapes(ds, order: list[int]) -> dict[int, tuple[tuple[int, ...], torch.dtype]]:
    """The one-tensor floor: shape and dtype of the item at each position of ``order``, from
    the headers."""
    out = {}
    for p, i in enumerate(order):
        ri, _ = ds.locate(i)
        resource = ds.prepared.resources[ri]
        c, *dhw = ds.loader.header(resource).shape
        dtype = ds.loader.item_dtype(resource) or ds.loader.image(resource).dtype
        del dhw[ds.slice_axis_index]
        out[p] = ((c, *dhw), getattr(torch, np.dtype(dtype).name))
    return out


def measure(ds, order: list[int]) -> dict[int, tuple[float, float, float, float]]:
    """workers -> (items/s, x floor, x one-tensor floor, RSS MB): medians of ``REPEATS``
    epochs of ours and of each floor, interleaved (ours, floor, one-tensor floor, ours,
    ...), so a burst of other load hits all three."""
    made, shapes = made_items(ds, order), item_shapes(ds, order)
    out = {}
    for w in (0, 2):
        epoch(ds, 0, order[:32])  # untimed warm-up of this process
        ours, base, one, rss = [], [], [], []
        for _ in range(REPEATS):
            rate, grown = epoch(ds, w, order)
            ours.append(rate)
            rss.append(grown)
            base.append(epoch(ds, w, order, made)[0])
            one.append(epoch(ds, w, order, shapes)[0])
        rate = statistics.median(ours)
        out[w] = (rate, rate / statistics.median(base), rate / statistics.median(one), max(rss))
    del made
    gc.collect()
    return out


class InMemory:
    """The items of a sliced dataset cut from its volumes held decoded in RAM (one copy per
    item, like any cache that hands out fresh arrays): the best any storage could do."""

    def __init__(self, ds) -> None:
        self.ds = ds
        # the reader itself, not loading.read_file: main() counts the cache's decodes there
        files = [ds.loader._fetch_resource(r) for r in ds.prepared.resources]
        self.volumes = [read_file(path).array for path in files]

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict:
        ri, k = self.ds.locate(i)
        return {"image": self.volumes[ri][:, k].copy()}

    def __getattr__(self, name: str):
        return getattr(self.ds, name)


def counting_reader() -> None:
    real = loading.read_file

    def counting(path, hint=None):
        with open(COUNTER, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(path, hint)

    loading.read_file = counting


def decodes() -> int:
    return len(COUNTER.read_text().splitlines()) if COUNTER.exists() else 0


def _sample(n: int) -> list[int]:
    """``EPOCH_ITEMS`` shuffled indices of ``n`` items, or all when fewer."""
    return random.Random(0).sample(range(n), min(n, EPOCH_ITEMS))


def _sample_repeating(n: int) -> list[int]:
    """``EPOCH_ITEMS`` indices: shuffled passes over all ``n`` items (each item once per pass)."""
    rng, order = random.Random(0), []
    while len(order) < EPOCH_ITEMS:
        order += rng.sample(range(n), n)
    return order[:EPOCH_ITEMS]


def _layout_bytes(root: Path, fmt: str, axis: str) -> int:
    if fmt == "npy":
        return sum(p.stat().st_size for p in (root / "arrays").glob("??/*.npy"))
    base = root / "arrays" / "slices"
    files = (
        list(base.rglob(f"{axis}.b2nd")) if fmt == "b2nd" else list(base.rglob(f"{axis}/*.npy.gz"))
    )
    return sum(p.stat().st_size for p in files)


def evict(root: Path) -> str:
    """Drop the cache files under ``root/arrays`` from the page cache; returns fincore's share."""
    files = [p for p in (root / "arrays").rglob("*") if p.is_file()]
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    if shutil.which("fincore") is None:
        return "fincore missing"
    out = subprocess.run(
        ["fincore", "-b", "-n", "-o", "RES,SIZE", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    res, size = sum(map(int, out[0::2])), sum(map(int, out[1::2]))
    return f"{100 * res / max(size, 1):.1f} % resident"


def main() -> None:
    warnings.simplefilter("ignore")
    counting_reader()
    rows, cold_rows, disk_rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        with serve_ct_project(tmp, N_VOLUMES) as (url, key, _):
            print(f"generated {N_VOLUMES} int16 volumes in {time.perf_counter() - t0:.0f} s")
            kw = dict(
                project="bench-ct",
                server_url=url,
                api_key=key,
                return_segmentations=False,
                return_metainfo=False,
                image_dtype="stored",
            )
            base = VolumeDataset(**kw, cache_dir=tmp / "files", cache_format="npy")
            base.prefetch(progress=False)
            t, raw = time.perf_counter(), 0
            for r in base.resources:  # one decode of each volume, what any design must pay once
                decoded = loading.read_file(base.loader._fetch_resource(r)).array
                raw += decoded.nbytes
            t_decode = time.perf_counter() - t
            print(f"decoded: {raw / 2**20:.0f} MiB as {decoded.dtype}, {t_decode:.1f} s")
            for fmt in FORMATS:
                cache = tmp / f"cache-{fmt}"
                shutil.copytree(
                    tmp / "files" / "files", cache / "files"
                )  # raw files cached, nothing decoded
                fkw = dict(kw, cache_dir=cache, cache_format=fmt)
                COUNTER.unlink(missing_ok=True)
                axial = VolumeDataset(**fkw).slice("axial")
                order = _sample(len(axial))
                t = time.perf_counter()
                epoch(axial, 2, order)
                cold = time.perf_counter() - t
                cold_decodes = decodes()
                warm = measure(axial, order)
                rows += [(fmt, "axial int16", w, *v) for w, v in warm.items()]
                if fmt == "b2nd":
                    ram = measure(InMemory(axial), order)
                    rows += [("RAM", "axial int16, in memory", w, *v) for w, v in ram.items()]
                cold_rows.append((fmt, cold, cold_decodes, t_decode + len(order) / warm[2][0]))
                sag = VolumeDataset(**fkw).slice("sagittal")
                sag.prefetch(progress=False, decode=True)  # builds the sagittal layout, no decode
                rows += [
                    (fmt, "sagittal int16", w, *v)
                    for w, v in measure(sag, _sample(len(sag))).items()
                ]
                disk_rows.append(
                    (
                        fmt,
                        _layout_bytes(cache, fmt, "axial") / raw,
                        _layout_bytes(cache, fmt, "sagittal") / raw,
                    )
                )
                if fmt == "b2nd":
                    contract = VolumeDataset(**dict(fkw, image_dtype=None)).slice("axial")
                    rows += [
                        (fmt, "axial float64 (default)", w, *v)
                        for w, v in measure(contract, order).items()
                    ]
                    del axial, sag, contract
                    gc.collect()  # close every open memory map before evicting
                    maker = VolumeDataset(**fkw).slice("axial")  # the floors, then let go
                    made, shapes = made_items(maker, order), item_shapes(maker, order)
                    del maker
                    gc.collect()
                    evicted = VolumeDataset(**fkw).slice("axial")
                    state = evict(cache)
                    rate, rss = epoch(evicted, 2, order)
                    floor = epoch(evicted, 2, order, made)[0]
                    one = epoch(evicted, 2, order, shapes)[0]
                    view = f"axial int16, evicted ({state})"
                    rows.append((fmt, view, 2, rate, rate / floor, rate / one, rss))
                    del made
        _, demo_key = build_demo_store(tmp / "demo-store")
        with running_server(tmp / "demo-store") as server:
            for fmt in FORMATS:
                frames = VideoDataset(
                    project="demo",
                    server_url=server.url,
                    api_key=demo_key,
                    cache_dir=tmp / "vcache",
                    return_segmentations=False,
                    return_metainfo=False,
                    cache_format=fmt,
                ).frame_by_frame()
                frames.prefetch(progress=False, decode=True)
                view = f"frames of the {len(frames.resources)} demo videos ({len(frames)} frames)"
                rows += [
                    (fmt, view, w, *v)
                    for w, v in measure(frames, _sample_repeating(len(frames))).items()
                ]
    print("\n| format | view | workers | items/s | x floor | x one-tensor floor | RSS-anon MB |")
    print("|---|---|---|---|---|---|---|")
    for fmt, view, w, rate, ratio, one, rss in rows:
        print(f"| {fmt} | {view} | {w} | {rate:.0f} | {ratio:.2f} | {one:.2f} | {rss:.0f} |")
    print("\n| format | cold epoch s, 2 workers | decodes | volumes | decode all + warm s | x |")
    print("|---|---|---|---|---|---|")
    for fmt, cold, n, ideal in cold_rows:
        print(f"| {fmt} | {cold:.1f} | {n} | {N_VOLUMES} | {ideal:.1f} | {cold / ideal:.2f} |")
    print(
        "\n| format | axial layout bytes / raw int16 | sagittal layout bytes / raw |\n|---|---|---|"
    )
    for fmt, a, s_ in disk_rows:
        print(f"| {fmt} | {a:.3f} | {s_:.3f} |")
    COUNTER.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
