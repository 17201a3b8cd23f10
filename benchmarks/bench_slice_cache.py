"""Warm shuffled slice epochs vs the DataLoader floor: item formats, then cache formats.

Two sections, each printed as its own table, each measured side by side in one run
(``SECTIONS=items,formats``, default both):

**items** (full items, what a training loop receives). A generated CT project of
``ITEM_VOLUMES`` volumes ``(96, 256, 256)`` int16 NIfTI (``ct_project.py``) in the default
``b2nd`` cache, and the demo videos. Rows, all batch 16 with ``ITEM_WORKERS`` (default 2)
forked workers, warm cache:

- ``float32``: ``image_dtype=np.float32``, ``return_metainfo=False``, through
  ``ds.get_dataloader(...)``;
- ``default``: the default item format (``"standard"``: float32 image, spacing, affine, empty
  per-annotator label dicts) with ``return_metainfo=True``, once through
  ``ds.get_dataloader(...)`` and once through a plain ``DataLoader(ds, ...)`` (torch's
  ``default_collate`` hands the batch to our strict collate);

for ``slice("axial")`` (anatomical plane: the stored axis 0 of these volumes, rows flipped
to the display convention, so a copy per item), ``slice(0)`` (the raw stored axis),
``slice("sagittal")``, and ``frame_by_frame()`` of the 3 demo videos (RGB frames of
160x160, 300x400 and 480x640; float32). The **floor** of each row is the same items made
before the epoch, converted to tensors as our collate converts them (same keys, dtypes
and shapes, and the same small ``metainfo`` dict of strings and an int), returned by a
dataset that does nothing else and batched by torch's ``default_collate`` through the same
DataLoader: what the DataLoader costs when the dataset costs nothing. The first batch of
every row is checked against the floor's (tensor paths, dtypes, shapes). An epoch is
``EPOCH_ITEMS`` shuffled slices; video frames come in batches of one video (frames of
different sizes do not stack), shuffled within each video and in batch order, each frame
``VIDEO_PASSES`` times per epoch (the floor holds one tensor set per distinct frame).
Each rate is the median of ``REPEATS`` epochs, interleaved (ours via ``get_dataloader``,
ours via ``DataLoader``, floor, ...); ``x floor`` is the ratio of the medians and the range
is that of the per-repeat ratios. ``CPU us/item`` is the user + system time of the main
process and its (exited) workers per item, and ``x floor CPU`` the floor's over ours: less
swayed than wall-clock time by other jobs on a shared machine.

**formats** (image tensors only, the cache formats' own cost). A CT project of
``N_VOLUMES`` anatomy-like 512x512x100-140 int16 NIfTI volumes, for each cache format
(``b2nd`` default, raw ``npy`` memmap, ``npy.gz`` per-slice gzip + LRU as the existing
client), with items in the stored dtype (``image_dtype="stored"``: int16 CT):

1. cold first epoch (2 forked workers, fresh decoded cache): wall time and decodes
   counted by a wrapped reader, vs one decode of each volume + one warm epoch;
2. warm shuffled epochs of ``slice("axial")`` and ``slice("sagittal")`` with 0 and 2
   workers, batch 16, items/s and ratio to the DataLoader floor (medians of ``REPEATS``
   epochs of each, interleaved), plus ``frame_by_frame()`` of the demo videos (uint8
   frames in shuffled passes, each frame several times per epoch);
3. cache bytes per volume / raw decoded bytes (int16), and peak anonymous-RSS growth
   per worker (``RssAnon``: private pages; the page cache shared through the memory
   maps is ``RssFile`` and is not counted).

Then for ``b2nd`` only: the same axial items cut from the volumes held decoded in RAM
(``InMemory``: the best any cache could do), and a warm-cache epoch after evicting the
cache files from the page cache (``posix_fadvise(DONTNEED)``; ``fincore`` reports what
stayed resident). Two floors there, through the same DataLoader and collate:

- the **floor**: before the epoch, our image tensor at each index of the epoch is made and
  held in RAM; the dataset returns it;
- the **one-tensor floor** (stricter, kept for comparison): one tensor made once per
  shape and dtype and returned for every index. Stacking 16 copies of one tensor reads
  it from the CPU cache, and a tensor returned unstacked (sagittal slices of different
  depths are batched as lists) is moved to shared memory once and then sent by
  reference; no dataset that yields distinct items gets either.

RSS is sampled once per batch, in the collate function (which runs in the worker).

An "epoch" is a shuffled sample of ``EPOCH_ITEMS`` items (all items when fewer) to keep
the run to a few minutes on 2 cores. Usage: ``.venv/bin/python benchmarks/bench_slice_cache.py``
(``SECTIONS=items`` for the item table only).
"""

from __future__ import annotations

import gc
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

sys.path.insert(0, str(Path(__file__).parent))
from ct_project import serve_ct_project

import datamint.dataset.loading as loading
from datamint.dataset import VideoDataset, VolumeDataset
from datamint.dataset.collate import PER_ANNOTATOR_KEYS
from datamint.readers import read_file
from datamint.testing.server import build_demo_store, running_server

N_VOLUMES = int(os.environ.get("N_VOLUMES", "12"))
ITEM_VOLUMES = int(os.environ.get("ITEM_VOLUMES", "12"))  # (96, 256, 256) volumes, items section
ITEM_WORKERS = tuple(int(w) for w in os.environ.get("ITEM_WORKERS", "2").split(","))
EPOCH_ITEMS = int(os.environ.get("EPOCH_ITEMS", "1200"))
VIDEO_PASSES = int(os.environ.get("VIDEO_PASSES", "3"))  # each frame per epoch, items section
REPEATS = int(os.environ.get("REPEATS", "3"))  # interleaved warm epochs per measurement
SECTIONS = os.environ.get("SECTIONS", "items,formats").split(",")
BATCH = 16
FORMATS = ("b2nd", "npy", "npy.gz")
COUNTER = Path(tempfile.gettempdir()) / f"bench-decodes-{os.getpid()}.txt"
_BASE_RSS: list[int] = [0]


# -- items section: full items vs the ready-item floor ------------------------------------


def ready(value: Any) -> Any:
    """An item value as our collate turns it into a tensor: arrays as tensors of their own
    memory (a contiguous copy), dicts key by key, numbers and strings as they are."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value).copy())
    if isinstance(value, Mapping):
        return {k: ready(v) for k, v in value.items()}
    return value


class Ready(Dataset):
    """The floor: ready items (dicts of tensors, strings and ints) made before the epoch;
    ``__getitem__`` only returns one."""

    def __init__(self, made: dict[int, dict[str, Any]]) -> None:
        self.made = made

    def __len__(self) -> int:
        return len(self.made)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.made[index]


def leaves(batch: Any, path: str = "") -> dict[str, Any]:
    """``{path: (dtype, shape)}`` of every tensor in a batch, ``{path: str}`` of string lists."""
    if isinstance(batch, torch.Tensor):
        return {path: (batch.dtype, tuple(batch.shape))}
    if isinstance(batch, Mapping):
        return {k: v for key, val in batch.items() for k, v in leaves(val, f"{path}.{key}").items()}
    if isinstance(batch, list | tuple):
        if batch and all(isinstance(v, str) for v in batch):
            return {path: "str"}
        return {k: v for i, val in enumerate(batch) for k, v in leaves(val, f"{path}[{i}]").items()}
    return {path: type(batch).__name__}


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its waited-for children (workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_loader(make: Callable[[], DataLoader]) -> tuple[float, float]:
    """items/s of one epoch through the DataLoader ``make()`` builds (workers start inside),
    and its CPU microseconds per item, main process and workers together (the workers exit
    at the end of the epoch, so their time is counted)."""
    loader = make()
    start, cpu, n = time.perf_counter(), _cpu_seconds(), 0
    for batch in loader:
        n += len(batch["image"])
    wall = time.perf_counter() - start
    del loader, batch
    return n / wall, (_cpu_seconds() - cpu) * 1e6 / n


def item_batches(ds, n_items: int, by_resource: bool) -> list[list[int]]:
    """The epoch as batches of item indices: ``n_items`` shuffled items in batches of
    ``BATCH``; with ``by_resource`` each batch holds items of one resource (frames of one
    video), each item ``VIDEO_PASSES`` times, shuffled within each resource and in batch
    order."""
    rng = random.Random(0)
    if not by_resource:
        order = rng.sample(range(len(ds)), min(len(ds), n_items))
        return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
    groups: dict[int, list[int]] = {}
    for i in range(len(ds)):
        groups.setdefault(ds.locate(i)[0], []).append(i)
    batches = []
    for members in groups.values():
        for _ in range(VIDEO_PASSES):
            shuffled = rng.sample(members, len(members))
            batches += [shuffled[i : i + BATCH] for i in range(0, len(shuffled), BATCH)]
    rng.shuffle(batches)
    return batches


def floor_collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """The floor of ``ds.get_dataloader``: torch's ``default_collate`` key by key, except
    that per-annotator dicts stay one dict per item, as our collate keeps them."""
    out = {}
    for key in batch[0]:
        values = [item[key] for item in batch]
        per_annotator = key in PER_ANNOTATOR_KEYS and isinstance(values[0], Mapping)
        out[key] = values if per_annotator else default_collate(values)
    return out


def compare_items(
    ds, batches: list[list[int]], workers: int, plain: bool
) -> dict[str, tuple[float, float, float, float, float, float]]:
    """Rates of ``ds`` through ``ds.get_dataloader`` (and a plain ``DataLoader`` when
    ``plain``) vs the ready-item floor, ``REPEATS`` interleaved epochs each.

    The floor of ``get_dataloader`` batches with :func:`floor_collate`, that of a plain
    ``DataLoader`` with ``default_collate`` (one floor when both give the same tensors).

    Returns:
        ``{"get_dataloader" | "DataLoader": (items/s, x floor, lowest and highest ratio of
        one repeat to the floor's epoch next to it, CPU us per item (main process and
        workers), the floor's CPU per item / ours)}``: medians over the repeats.

    Raises:
        AssertionError: If a design's first batch holds other tensors than its floor's.
    """
    distinct = sorted({i for batch in batches for i in batch})
    floor_ds = Ready({i: ready(ds[i]) for i in distinct})
    loader_kw = dict(
        num_workers=workers,
        multiprocessing_context="fork" if workers else None,
        persistent_workers=False,
    )

    def floor(collate: Callable) -> Callable[[], DataLoader]:
        return lambda: DataLoader(floor_ds, batch_sampler=batches, collate_fn=collate, **loader_kw)

    # design -> (its DataLoader, its floor's name)
    designs: dict[str, Callable[[], DataLoader]] = {
        "get_dataloader": lambda: ds.get_dataloader(batch_sampler=batches, **loader_kw),
        "floor": floor(floor_collate),
    }
    floors = {"get_dataloader": "floor"}
    if plain:
        designs["DataLoader"] = lambda: DataLoader(ds, batch_sampler=batches, **loader_kw)
        designs["floor, default_collate"] = floor(default_collate)
        floors["DataLoader"] = "floor, default_collate"
    first = {name: leaves(next(iter(make()))) for name, make in designs.items()}  # + warm-up
    for name, floor_name in floors.items():
        if first[name] != first[floor_name]:
            raise AssertionError(f"{name} batch: {first[name]}; its floor's: {first[floor_name]}")
    if plain and first["floor"] == first["floor, default_collate"]:
        del designs["floor, default_collate"]
        floors["DataLoader"] = "floor"
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in designs}
    for _ in range(REPEATS):
        for name, make in designs.items():
            rates[name].append(run_loader(make))
    out = {}
    for name, floor_name in floors.items():
        ours, base = [r for r, _ in rates[name]], [r for r, _ in rates[floor_name]]
        paired = [a / b for a, b in zip(ours, base, strict=True)]
        median = statistics.median(ours)
        cpu = statistics.median(c for _, c in rates[name])
        cpu_floor = statistics.median(c for _, c in rates[floor_name])
        out[name] = (
            median,
            median / statistics.median(base),
            min(paired),
            max(paired),
            cpu,
            cpu_floor / cpu,
        )
    return out


def items_section(tmp: Path) -> list[tuple[Any, ...]]:
    """The item-format rows (module docstring)."""
    rows = []
    with serve_ct_project(tmp / "items", ITEM_VOLUMES, depths=(96, 96), size=256) as (url, key, _):
        kw = dict(
            project="bench-ct",
            server_url=url,
            api_key=key,
            return_segmentations=False,
            cache_dir=tmp / "items-cache",
        )
        fast = VolumeDataset(**kw, image_dtype=np.float32, return_metainfo=False)
        default = VolumeDataset(**kw, return_metainfo=True)
        views: list[tuple[str, str, Any, bool]] = [
            ("float32, no metainfo", 'slice("axial")', fast.slice("axial"), False),
            ("default", 'slice("axial")', default.slice("axial"), True),
            ("default", "slice(0) (raw axis)", default.slice(0), True),
            ("default", 'slice("sagittal")', default.slice("sagittal"), True),
        ]
        for *_, view, _ in views:
            view.prefetch(progress=False, decode=True)
        for workers in ITEM_WORKERS:
            for label, what, view, plain in views:
                batches = item_batches(view, EPOCH_ITEMS, by_resource=False)
                for loader, v in compare_items(view, batches, workers, plain).items():
                    rows.append((label, what, workers, loader, *v))
    _, demo_key = build_demo_store(tmp / "items-demo")
    with running_server(tmp / "items-demo") as server:
        frames = VideoDataset(
            project="demo",
            server_url=server.url,
            api_key=demo_key,
            cache_dir=tmp / "items-vcache",
            return_segmentations=False,
            return_metainfo=True,
        ).frame_by_frame()
        frames.prefetch(progress=False, decode=True)
        batches = item_batches(frames, 0, by_resource=True)
        what = f"frame_by_frame() ({len(frames.resources)} videos, {len(frames)} frames)"
        for workers in ITEM_WORKERS:
            for loader, v in compare_items(frames, batches, workers, True).items():
                rows.append(("default", what, workers, loader, *v))
    return rows


# -- formats section: image tensors per cache format --------------------------------------


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


def item_shapes(made: dict[int, torch.Tensor]) -> dict[int, tuple[tuple[int, ...], torch.dtype]]:
    """The one-tensor floor: shape and dtype of the item at each position of the epoch."""
    return {p: (tuple(t.shape), t.dtype) for p, t in made.items()}


def measure(ds, order: list[int]) -> dict[int, tuple[float, float, float, float]]:
    """workers -> (items/s, x floor, x one-tensor floor, RSS MB): medians of ``REPEATS``
    epochs of ours and of each floor, interleaved (ours, floor, one-tensor floor, ours,
    ...), so a burst of other load hits all three."""
    made = made_items(ds, order)
    shapes = item_shapes(made)
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


def formats_section(tmp: Path) -> tuple[list, list, list]:
    """The cache-format rows (module docstring): warm, cold and disk tables."""
    counting_reader()
    rows, cold_rows, disk_rows = [], [], []
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
                (fmt, "sagittal int16", w, *v) for w, v in measure(sag, _sample(len(sag))).items()
            ]
            disk_rows.append(
                (
                    fmt,
                    _layout_bytes(cache, fmt, "axial") / raw,
                    _layout_bytes(cache, fmt, "sagittal") / raw,
                )
            )
            if fmt == "b2nd":
                del axial, sag
                gc.collect()  # close every open memory map before evicting
                maker = VolumeDataset(**fkw).slice("axial")  # the floors, then let go
                made = made_items(maker, order)
                shapes = item_shapes(made)
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
                image_dtype="stored",  # uint8 RGB, as the CT rows keep int16
                cache_format=fmt,
            ).frame_by_frame()
            frames.prefetch(progress=False, decode=True)
            view = f"frames of the {len(frames.resources)} demo videos ({len(frames)} frames)"
            rows += [
                (fmt, view, w, *v)
                for w, v in measure(frames, _sample_repeating(len(frames))).items()
            ]
    COUNTER.unlink(missing_ok=True)
    return rows, cold_rows, disk_rows


def table(header: str, lines: list[str]) -> None:
    """Print a markdown table: ``header`` is ``"a | b | c"``, each line a row's cells."""
    print(f"\n| {header} |\n|{'---|' * (header.count('|') + 1)}")
    for line in lines:
        print(f"| {line} |")


def main() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "items" in SECTIONS:
            t0 = time.perf_counter()
            rows = items_section(tmp)
            print(f"\nitems section: {time.perf_counter() - t0:.0f} s, {REPEATS} repeats")
            table(
                "items | view | workers | loader | items/s | x floor | range "
                "| CPU us/item | x floor CPU",
                [
                    f"{label} | {what} | {w} | {loader} | {rate:.0f} | {ratio:.2f} "
                    f"| {lo:.2f}-{hi:.2f} | {cpu:.0f} | {cpu_ratio:.2f}"
                    for label, what, w, loader, rate, ratio, lo, hi, cpu, cpu_ratio in rows
                ],
            )
        if "formats" in SECTIONS:
            rows, cold_rows, disk_rows = formats_section(tmp)
            table(
                "format | view | workers | items/s | x floor | x one-tensor floor | RSS-anon MB",
                [
                    f"{fmt} | {view} | {w} | {rate:.0f} | {ratio:.2f} | {one:.2f} | {rss:.0f}"
                    for fmt, view, w, rate, ratio, one, rss in rows
                ],
            )
            table(
                "format | cold epoch s, 2 workers | decodes | volumes | decode all + warm s | x",
                [
                    f"{fmt} | {cold:.1f} | {n} | {N_VOLUMES} | {ideal:.1f} | {cold / ideal:.2f}"
                    for fmt, cold, n, ideal in cold_rows
                ],
            )
            table(
                "format | axial layout bytes / raw int16 | sagittal layout bytes / raw",
                [f"{fmt} | {a:.3f} | {s_:.3f}" for fmt, a, s_ in disk_rows],
            )


if __name__ == "__main__":
    main()
