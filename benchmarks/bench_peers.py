"""Warm shuffled axial-slice epochs: datamint vs MONAI and TorchIO pipelines written idiomatically.

Generates a CT project (``N_VOLUMES`` anatomy-like 512x512x100-140 int16 NIfTI volumes, see
``ct_project.py``), serves it on 127.0.0.1 and, in one run, times ``EPOCH_ITEMS`` shuffled
``(volume, axial slice)`` items, batch 16, with 0 and 2 DataLoader workers, for:

* **datamint**: ``VolumeDataset(project=...).slice("axial")``, default cache format (``b2nd``),
  after one untimed epoch over the same items (slices decoded and cached as int16). Items are
  ``item["image"]`` with ``image_dtype=np.float32`` (the int16 slice cast in the worker).
* **MONAI** (``PersistentDataset``): ``PersistentDataset`` over the volume files with
  ``LoadImaged(reader="NibabelReader")`` + ``EnsureChannelFirstd`` (float32 ``(1, X, Y, Z)``,
  persisted as a plain tensor: ``track_meta=False`` by default) and a ``cache_dir``, under a
  map-style dataset over ``(volume, slice)`` that takes the persisted volume and returns
  ``image[..., k]`` as a plain tensor. MONAI's own 2-D-from-3-D helpers (``PatchDataset`` with
  ``RandSpatialCropSamplesd``, ``GridPatchDataset`` with ``PatchIterd``) draw random slices or
  iterate volume by volume and cannot follow a given shuffled order, so this wrapper is the
  idiomatic way to index slices. Warm = every volume's ``.pt`` already written (one pass over
  the volumes first, untimed). ``MONAI_ITEMS`` (default all) shortens its epoch.
* **TorchIO** (``Queue``): ``tio.SubjectsDataset`` of ``tio.ScalarImage`` (SimpleITK reader,
  int16, cast to float32 by a ``tio.Lambda`` once per volume) + ``tio.Queue`` with
  ``tio.data.UniformSampler((512, 512, 1))``, ``samples_per_volume = EPOCH_ITEMS / N_VOLUMES``
  (each volume decoded once per epoch) and ``max_length = EPOCH_ITEMS`` (patches of all
  volumes mixed, like a full shuffle), read through ``tio.SubjectsLoader(num_workers=0)``; the
  "workers" are the queue's own ``num_workers``. It samples its own random slices (with
  replacement), not our order. TorchIO has no decoded cache: warm = NIfTI files in the page
  cache, one untimed epoch first. Patches are ``(1, 512, 512, 1)``, squeezed per batch (a view).
* **TorchIO map-style**: the same order through a map-style dataset whose item loads
  ``tio.ScalarImage(path)`` and returns one slice (what a "slice-indexed" TorchIO dataset
  without a queue does). It decodes the volume for every item, so it is timed on the first
  ``TIO_MAP_ITEMS`` items only.
* **floor**: a dataset returning one float32 ``(1, 512, 512)`` tensor made once (not fresh
  ``torch.zeros``, whose calloc'd pages make the 0-worker floor an unreachable ~10 000/s),
  timed before the pipelines and after them (the better of the two: the machine is shared).

Rates: the median of repeated epochs for the fast pipelines (see ``timed``), one epoch for the
slow ones. Every pipeline returns float32 ``(1, 512, 512)`` items (the in-plane order differs:
ours is ``(1, y, x)`` RAS per ``docs/geometry.md``, MONAI and TorchIO keep the file's
``(1, x, y)``); a few items of each are checked against nibabel's array of the same (volume,
slice) before timing.

Usage: ``.venv/bin/python benchmarks/bench_peers.py``, with the ``bench`` extra installed
(``.venv/bin/pip install "torch==2.13.0" monai torchio``); a peer that does not import is left
out of the table.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).parent))
from ct_project import serve_ct_project

from datamint.dataset import VolumeDataset

N_VOLUMES = int(os.environ.get("N_VOLUMES", "8"))
EPOCH_ITEMS = int(os.environ.get("EPOCH_ITEMS", "800"))
MONAI_ITEMS = int(os.environ.get("MONAI_ITEMS", str(EPOCH_ITEMS)))
TIO_MAP_ITEMS = int(os.environ.get("TIO_MAP_ITEMS", "32"))
BATCH = 16
MIN_SECONDS, MAX_EPOCHS = 6.0, 5  # fast pipelines: median of repeated epochs, see timed()
TIO_MAP = "TorchIO map-style (load per item)"
WORKERS = (0, 2)


class DatamintSlices(Dataset):
    """Item ``j`` = the image of datamint item ``indices[j]``, as a float32 tensor."""

    def __init__(self, ds, indices: list[int]) -> None:
        self.ds, self.indices = ds, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> torch.Tensor:
        return torch.from_numpy(self.ds[self.indices[j]]["image"])


class MonaiSlices(Dataset):
    """Map-style ``(volume, slice)`` view of a MONAI ``PersistentDataset`` of volumes."""

    def __init__(self, volumes, pairs: list[tuple[int, int]]) -> None:
        self.volumes, self.pairs = volumes, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, j: int) -> torch.Tensor:
        v, k = self.pairs[j]
        image = self.volumes[v]["image"]  # (1, X, Y, Z): torch.load of the whole volume's .pt
        plane = image[..., k]
        if hasattr(plane, "as_tensor"):  # a MetaTensor when the dataset tracks meta
            plane = plane.as_tensor()
        return plane.contiguous()  # a copy: the batch does not pin the volume


class TorchioSlices(Dataset):
    """Map-style ``(volume, slice)`` dataset loading ``tio.ScalarImage`` per item."""

    def __init__(self, files: list[Path], pairs: list[tuple[int, int]]) -> None:
        self.files, self.pairs = files, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, j: int) -> torch.Tensor:
        import torchio as tio

        v, k = self.pairs[j]
        image = tio.ScalarImage(self.files[v])
        return image.data[..., k].float()


class Zeros(Dataset):
    """The floor: the same float32 ``(1, 512, 512)`` tensor for every index."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.tensor = torch.full((1, 512, 512), 7.0, dtype=torch.float32)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, j: int) -> torch.Tensor:
        return self.tensor


def timed(run: Callable[[], float]) -> float:
    """Median items/s of ``run`` repeated until ``MIN_SECONDS`` passed (1 to ``MAX_EPOCHS`` runs).

    A 0.3 s epoch catches whatever the other users of the machine do in that moment; the
    slow pipelines' single epochs last a minute and average it out anyway.
    """
    rates, start = [], time.perf_counter()
    while not rates or (len(rates) < MAX_EPOCHS and time.perf_counter() - start < MIN_SECONDS):
        rates.append(run())
    return statistics.median(rates)


def epoch(ds: Dataset, workers: int) -> float:
    """items/s of one pass over ``ds`` in index order (the order is already shuffled)."""
    loader = DataLoader(
        ds,
        batch_size=BATCH,
        shuffle=False,
        num_workers=workers,
        multiprocessing_context="fork" if workers else None,
    )
    start, n = time.perf_counter(), 0
    for batch in loader:
        assert batch.dtype == torch.float32 and batch.shape[1:] == (1, 512, 512)
        n += len(batch)
    return n / (time.perf_counter() - start)


def check_slice(name: str, item: torch.Tensor, ref: np.ndarray) -> str:
    """Compare a ``(1, a, b)`` item with nibabel's ``(x, y)`` slice; returns how it matched."""
    got = item.numpy()[0]
    assert item.dtype == torch.float32 and item.shape == (1, 512, 512), (
        name,
        item.dtype,
        item.shape,
    )
    for how, view in (("(x, y) as the file", ref), ("(y, x) transposed", ref.T)):
        if np.array_equal(got, view):
            return how
    if np.array_equal(np.sort(got, axis=None), np.sort(ref, axis=None)):
        return "same values, other in-plane order"
    raise AssertionError(f"{name}: item differs from nibabel's slice")


def nib_slice(path: Path, k: int) -> np.ndarray:
    return np.asarray(nib.load(str(path)).dataobj[:, :, k]).astype(np.float32)


def build_monai(files: list[Path], cache_dir: Path):
    from monai.data import PersistentDataset
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged

    transform = Compose([LoadImaged("image", reader="NibabelReader"), EnsureChannelFirstd("image")])
    return PersistentDataset(
        [{"image": str(f)} for f in files], transform=transform, cache_dir=cache_dir
    )


# Module-level, not a lambda: subjects carry (and pickle to the queue's workers) their transforms.
def _to_float32(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float()


def monai_breakdown(volumes, pairs: list[tuple[int, int]]) -> None:
    """Where a MONAI slice item's time goes: loading the persisted volume vs taking the slice."""
    t_load = t_slice = 0.0
    for v, k in pairs:
        t = time.perf_counter()
        image = volumes[v]["image"]
        t_load += time.perf_counter() - t
        t = time.perf_counter()
        image[..., k].contiguous()
        t_slice += time.perf_counter() - t
    n = len(pairs)
    print(
        f"  MONAI per item: PersistentDataset item (torch.load of the volume's .pt) "
        f"{1e3 * t_load / n:.0f} ms, slice copy {1e3 * t_slice / n:.1f} ms"
    )


def build_tio_queue(files: list[Path], workers: int, per_volume: int):
    import torchio as tio

    subjects = tio.SubjectsDataset(
        [tio.Subject(image=tio.ScalarImage(f)) for f in files], transform=tio.Lambda(_to_float32)
    )
    queue = tio.Queue(
        subjects,
        max_length=per_volume * len(files),
        samples_per_volume=per_volume,
        sampler=tio.data.UniformSampler((512, 512, 1)),
        num_workers=workers,
        start_background=False,
    )
    return tio.SubjectsLoader(queue, batch_size=BATCH, num_workers=0)


def tio_epoch(loader, check: list[Path] | None = None) -> float:
    import torchio as tio

    start, n = time.perf_counter(), 0
    for batch in loader:
        images = batch["image"][tio.DATA][..., 0]  # (B, 1, 512, 512)
        assert images.dtype == torch.float32 and images.shape[1:] == (1, 512, 512)
        if check is not None and n == 0:
            for b in range(2):
                path, k = Path(batch["image"][tio.PATH][b]), int(batch[tio.LOCATION][b][2])
                how = check_slice("torchio queue", images[b], nib_slice(path, k))
                print(f"  torchio queue: {path.name} slice {k}: {how}")
        n += len(images)
    return n / (time.perf_counter() - start)


def main() -> None:
    warnings.simplefilter("ignore")
    try:
        import monai
    except ImportError as exc:
        monai = None
        print(f"MONAI: did not import ({exc})")
    try:
        import torchio
    except ImportError as exc:
        torchio = None
        print(f"TorchIO: did not import ({exc})")
    rates: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        with serve_ct_project(tmp, N_VOLUMES) as (url, key, _):
            print(f"generated {N_VOLUMES} int16 volumes in {time.perf_counter() - t0:.0f} s")
            files = sorted((tmp / "project" / "ct").glob("vol_*.nii.gz"))
            axial = VolumeDataset(
                project="bench-ct",
                server_url=url,
                api_key=key,
                cache_dir=tmp / "cache",
                return_segmentations=False,
                return_metainfo=False,
                image_dtype=np.float32,
            ).slice("axial")
            indices = random.Random(0).sample(range(len(axial)), min(len(axial), EPOCH_ITEMS))
            by_name = {f"ct/{f.name}": i for i, f in enumerate(files)}
            pairs = []
            for index in indices:
                ri, k = axial.locate(index)
                pairs.append((by_name[axial.prepared.resources[ri].filename], k))
            ours = DatamintSlices(axial, indices)
            t = time.perf_counter()
            epoch(ours, 2)  # cold: downloads, decodes once per volume, writes the slice cache
            print(f"datamint: cold epoch (2 workers) {time.perf_counter() - t:.1f} s")
            zeros = Zeros(len(pairs))
            floor = {w: timed(lambda w=w: epoch(zeros, w)) for w in WORKERS}  # next to datamint's
            print(f"  floor: {floor[0]:.0f} / {floor[2]:.0f} items/s (0 / 2 workers)")
            peers: dict[str, Dataset] = {"datamint": ours}
            if monai is not None:
                volumes = build_monai(files, tmp / "monai")
                t = time.perf_counter()
                for i in range(len(volumes)):  # writes the persistent cache
                    volumes[i]
                size = sum(p.stat().st_size for p in (tmp / "monai").glob("*.pt")) / 2**20
                print(
                    f"MONAI {monai.__version__}: PersistentDataset cache written in "
                    f"{time.perf_counter() - t:.1f} s, {size:.0f} MiB"
                )
                peers["MONAI PersistentDataset"] = MonaiSlices(volumes, pairs[:MONAI_ITEMS])
                monai_breakdown(volumes, pairs[:8])
            if torchio is not None:
                peers[TIO_MAP] = TorchioSlices(files, pairs[:TIO_MAP_ITEMS])
            print("spot checks against nibabel's slice:")
            for j in (0, 1, len(pairs) // 2):
                v, k = pairs[j]
                ref = nib_slice(files[v], k)
                for name, ds in peers.items():
                    if j < len(ds):
                        how = check_slice(name, ds[j], ref)
                        print(f"  {name}: {files[v].name} slice {k}: {how}")
            for name, ds in peers.items():
                for w in WORKERS:
                    epoch(Subset(ds, 1 if name == TIO_MAP else BATCH), 0)  # untimed warm-up
                    rates[(name, w)] = rate = timed(lambda ds=ds, w=w: epoch(ds, w))
                    print(f"  {name}, {w} workers: {rate:.1f} items/s over {len(ds)} items")
            if torchio is not None:
                per_volume = math.ceil(len(pairs) / len(files))
                for w in WORKERS:
                    loader = build_tio_queue(files, w, per_volume)
                    tio_epoch(loader, check=files if w == 0 else None)  # warm-up epoch + spot check
                    rates[("TorchIO Queue", w)] = rate = timed(
                        lambda loader=loader: tio_epoch(loader)
                    )
                    print(f"  TorchIO Queue, {w} workers: {rate:.1f} items/s")
            for w in WORKERS:  # again at the end: the better of the two
                floor[w] = max(floor[w], timed(lambda w=w: epoch(zeros, w)))
            print(
                f"  floor: {floor[0]:.0f} / {floor[2]:.0f} items/s (0 / 2 workers, better of two)"
            )
    names = ["datamint", "MONAI PersistentDataset", "TorchIO Queue", TIO_MAP]
    versions = f"torch {torch.__version__}"
    versions += f", MONAI {monai.__version__}" if monai else ", MONAI did not import"
    versions += f", TorchIO {torchio.__version__}" if torchio else ", TorchIO did not import"
    print(
        f"\n{N_VOLUMES} volumes, {len(pairs)} shuffled axial items, float32 (1,512,512), "
        f"batch {BATCH}; {versions}\n"
    )
    print("| pipeline | workers | items/s | x floor | datamint / pipeline |")
    print("|---|---|---|---|---|")
    for w in WORKERS:
        ours = rates[("datamint", w)]
        print(f"| floor (one tensor) | {w} | {floor[w]:.0f} | 1.00 | {ours / floor[w]:.2f} |")
    for name in names:
        for w in WORKERS:
            if (name, w) in rates:
                r, ours = rates[(name, w)], rates[("datamint", w)]
                print(f"| {name} | {w} | {r:.1f} | {r / floor[w]:.3f} | {ours / r:.1f} |")
            elif w == WORKERS[0]:
                print(f"| {name} | - | did not import | | |")


class Subset(Dataset):
    """The first ``n`` items of ``ds`` (for untimed warm-ups of this process)."""

    def __init__(self, ds: Dataset, n: int) -> None:
        self.ds, self.n = ds, min(n, len(ds))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, j: int):
        return self.ds[j]


if __name__ == "__main__":
    main()
