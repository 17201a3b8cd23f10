"""Decoded slice cache: warm/cold shuffled slice epochs per ``cache_format`` vs the DataLoader floor.

Generates a CT project (``N_VOLUMES`` anatomy-like 512x512x100-140 int16 NIfTI volumes,
see ``ct_project.py``), serves it on 127.0.0.1 and, in one run, for each cache format
(``b2nd`` default, raw ``npy`` memmap, ``npy.gz`` per-slice gzip + LRU as the existing
client):

1. cold first epoch (2 forked workers, fresh decoded cache): wall time and decodes
   counted by a wrapped reader, vs one decode of each volume + one warm epoch;
2. warm shuffled epochs of ``slice("axial")`` and ``slice("sagittal")`` with 0 and 2
   workers, batch 16, items/s and ratio to the DataLoader floor (a dataset returning
   zeros of the same shape and dtype), plus demo-video ``frame_by_frame()``;
3. cache bytes per volume / raw decoded bytes, and peak anonymous-RSS growth per worker.

An "epoch" is a shuffled sample of ``EPOCH_ITEMS`` items (all items when fewer) to keep
the run to a few minutes on 2 cores. Usage: ``.venv/bin/python benchmarks/bench_slice_cache.py``.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).parent))
import datamint.dataset.loading as loading  # noqa: E402
from ct_project import serve_ct_project  # noqa: E402
from datamint.dataset import VideoDataset, VolumeDataset  # noqa: E402
from datamint.testing.server import build_demo_store, running_server  # noqa: E402

N_VOLUMES = int(os.environ.get("N_VOLUMES", "12"))
EPOCH_ITEMS = int(os.environ.get("EPOCH_ITEMS", "1200"))
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
    """Items of ``ds`` as ``(image tensor, RSS-anon growth kB of this process)``."""

    def __init__(self, ds, zeros: tuple | None = None) -> None:
        self.ds, self.zeros = ds, zeros

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        if self.zeros is not None:
            image = torch.zeros(*self.zeros[0], dtype=self.zeros[1])
        else:
            image = torch.from_numpy(self.ds[i]["image"])
        return image, _rss_anon_kb() - _BASE_RSS[0]


def _collate(items):
    images = [i[0] for i in items]
    same = all(im.shape == images[0].shape for im in images)  # sagittal slices differ in depth
    return (torch.stack(images) if same else images), max(i[1] for i in items)


def epoch(ds, workers: int, order: list[int], zeros: tuple | None = None) -> tuple[float, float]:
    """items/s and peak RSS-anon growth (MB) of one shuffled epoch over ``order``."""
    _BASE_RSS[0] = _rss_anon_kb()
    loader = DataLoader(Probe(ds, zeros), batch_size=16, sampler=order, num_workers=workers,
                        collate_fn=_collate, worker_init_fn=_init_worker if workers else None,
                        multiprocessing_context="fork" if workers else None, persistent_workers=False)
    start, peak, n = time.perf_counter(), 0, 0
    for images, rss in loader:
        n += len(images)
        peak = max(peak, rss)
    return n / (time.perf_counter() - start), peak / 1024


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
    return random.Random(0).sample(range(n), min(n, EPOCH_ITEMS))


def _layout_bytes(root: Path, fmt: str, axis: str) -> int:
    if fmt == "npy":
        return sum(p.stat().st_size for p in (root / "arrays").glob("??/*.npy"))
    base = root / "arrays" / "slices"
    files = list(base.rglob(f"{axis}.b2nd")) if fmt == "b2nd" else list(base.rglob(f"{axis}/*.npy.gz"))
    return sum(p.stat().st_size for p in files)


def main() -> None:
    warnings.simplefilter("ignore")
    counting_reader()
    rows, cold_rows, disk_rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        with serve_ct_project(tmp, N_VOLUMES) as (url, key, volumes):
            print(f"generated {N_VOLUMES} int16 volumes in {time.perf_counter() - t0:.0f} s")
            kw = dict(project="bench-ct", server_url=url, api_key=key, cache_dir=tmp / "cache",
                      return_segmentations=False, return_metainfo=False)
            base = VolumeDataset(**kw, cache_format="npy")
            base.prefetch(progress=False)
            t, raw = time.perf_counter(), 0
            for r in base.resources:  # one decode of each volume, what any design must pay once
                decoded = loading.to_item_dtype(loading.read_file(base.loader._fetch_resource(r)).array)[0]
                raw += decoded.nbytes  # the reader's dtype (NIfTI: float64 by the reader contract)
            t_decode = time.perf_counter() - t
            item_dtype = getattr(torch, str(decoded.dtype))
            print(f"decoded: {raw / 2**20:.0f} MiB as {decoded.dtype}, {t_decode:.1f} s")
            axial_shape = ((1, 512, 512), item_dtype)
            for fmt in FORMATS:
                COUNTER.unlink(missing_ok=True)
                axial = VolumeDataset(**kw, cache_format=fmt).slice("axial")
                order = _sample(len(axial))
                t = time.perf_counter()
                epoch(axial, 2, order)
                cold = time.perf_counter() - t
                warm = {}
                for w in (0, 2):
                    epoch(axial, 0, order[:32])  # untimed warm-up of this process
                    warm[w] = epoch(axial, w, order)
                    rows.append((fmt, "axial", w, *warm[w]))
                cold_rows.append((fmt, cold, decodes(), t_decode + len(order) / warm[2][0]))
                sag = VolumeDataset(**kw, cache_format=fmt).slice("sagittal")
                sag.prefetch(progress=False, decode=True)  # builds the sagittal layout, no decode
                sorder = _sample(len(sag))
                for w in (0, 2):
                    epoch(sag, 0, sorder[:32])
                    rows.append((fmt, "sagittal", w, *epoch(sag, w, sorder)))
                disk_rows.append((fmt, _layout_bytes(tmp / "cache", fmt, "axial") / raw,
                                  _layout_bytes(tmp / "cache", fmt, "sagittal") / raw))
            floors = {w: epoch(range(EPOCH_ITEMS), w, list(range(EPOCH_ITEMS)), axial_shape)[0] for w in (0, 2)}
            sag_shape = ((1, volumes[0].shape[0], 512), item_dtype)
            floors_sag = {w: epoch(range(EPOCH_ITEMS), w, list(range(EPOCH_ITEMS)), sag_shape)[0] for w in (0, 2)}
        _, demo_key = build_demo_store(tmp / "demo-store")
        with running_server(tmp / "demo-store") as server:
            for fmt in FORMATS:
                frames = VideoDataset(project="demo", server_url=server.url, api_key=demo_key, cache_dir=tmp / "vcache",
                                      return_segmentations=False, return_metainfo=False, cache_format=fmt).frame_by_frame()
                frames.prefetch(progress=False, decode=True)
                fshape = ((*frames[0]["image"].shape,), torch.uint8)
                forder = _sample(len(frames))
                for w in (0, 2):
                    epoch(frames, 0, forder[:32])
                    rows.append((fmt, f"video {fshape[0][1]}x{fshape[0][2]}", w, *epoch(frames, w, forder)))
                    floors[("video", w)] = epoch(range(len(forder)), w, list(range(len(forder))), fshape)[0]
    print(f"\n{'format':<8} {'view':<18} {'workers':>7} {'items/s':>9} {'x floor':>8} {'RSS-anon MB':>12}")
    for fmt, view, w, rate, rss in rows:
        floor = floors[("video", w)] if view.startswith("video") else (floors_sag if view == "sagittal" else floors)[w]
        print(f"{fmt:<8} {view:<18} {w:>7} {rate:>9.0f} {rate / floor:>8.2f} {rss:>12.0f}")
    print(f"floor axial (1,512,512) {axial_shape[1]}: {floors[0]:.0f} / {floors[2]:.0f} items/s (0 / 2 workers); "
          f"sagittal: {floors_sag[0]:.0f} / {floors_sag[2]:.0f}")
    print(f"\n{'format':<8} {'cold epoch s':>12} {'decodes':>8} {'volumes':>8} {'decode+warm s':>14} {'ratio':>6}")
    for fmt, cold, n, ideal in cold_rows:
        print(f"{fmt:<8} {cold:>12.1f} {n:>8} {N_VOLUMES:>8} {ideal:>14.1f} {cold / ideal:>6.2f}")
    print(f"\n{'format':<8} {'axial bytes/raw':>16} {'sagittal bytes/raw':>19}")
    for fmt, a, s in disk_rows:
        print(f"{fmt:<8} {a:>16.3f} {s:>19.3f}")
    COUNTER.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
