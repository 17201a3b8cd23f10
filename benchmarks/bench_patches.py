"""Random 3-D training patches with foreground oversampling: datamint vs TorchIO and MONAI.

Generates ``N_VOLUMES`` CT-like int16 volumes of ``DEPTH x SIZE x SIZE`` (``ct_project.py``)
with one small spherical lesion each (radius ``LESION_RADIUS`` voxels), as NIfTI files and
``<stem>__lesion__bench.nii.gz`` masks, imports the folder (``import_folder``) and serves it
on 127.0.0.1. Then, each pipeline in a fresh child process (so its memory is its own),
``PER_VOLUME`` patches of ``PATCH``^3 voxels per volume and epoch, 1/3 of them centred on
lesion voxels, batch ``BATCH`` patches, ``WORKERS`` DataLoader workers (fork; persistent
where the library's loader allows it: datamint, MONAI, the floor), float32 images; the
main process runs torch with one thread (it only receives batches):

* **floor**: a dataset returning one float32 patch and one uint8 mask made once: the
  DataLoader's own cost (moving batches through shared memory), and its memory.

* **datamint**: ``VolumeDataset(image_dtype=np.float32).patches(PATCH, PER_VOLUME,
  foreground_ratio=1/3, label="lesion")`` through a ``DataLoader(shuffle=True)``, with
  ``set_epoch(e)``; masks are the default uint8 instance masks. Files are downloaded first
  (untimed, as the peers read local files); the first epoch decodes each volume into the
  3-D chunked cache and indexes its lesion voxels.
* **datamint (int16 items)**: the same with ``image_dtype="stored"`` (the CT's int16, cast
  on the GPU): half the bytes per item. Not part of the comparison (the peers give
  float32), shown for what it saves.
* **datamint (MALLOC_MMAP_THRESHOLD_=131072)**: the same, run with that glibc setting, so
  freed item buffers (1 MiB each) go back to the kernel instead of staying in the
  workers' heaps. Not part of the comparison either.
* **MONAI CacheDataset**: ``LoadImaged`` (NibabelReader) + ``EnsureChannelFirstd`` cached in
  RAM (``cache_rate=1``), then ``RandCropByPosNegLabeld(pos=1, neg=2,
  num_samples=PER_VOLUME)`` per volume item, as MONAI's 3-D segmentation tutorials; batch 1
  volume item = ``PER_VOLUME`` patches (``list_data_collate``). The first epoch includes
  building the cache. Image and label are float32.
* **MONAI PersistentDataset**: the same transforms with the deterministic part persisted to
  ``.pt`` files (first epoch writes them).
* **TorchIO Queue**: ``SubjectsDataset`` of ``ScalarImage`` + ``LabelMap`` (image cast to
  float32 by ``tio.Lambda``), ``Queue(max_length=4 * PER_VOLUME,
  samples_per_volume=PER_VOLUME, LabelSampler(PATCH, "label", {0: 2, 1: 1}),
  num_workers=WORKERS)`` read by ``SubjectsLoader(batch_size=BATCH)``. No decoded cache.

Reported per pipeline: warm patches/s (median of ``EPOCHS`` epochs after the first), the
first epoch's seconds (cache building included), the share of patches holding lesion
voxels, and memory sampled every 0.2 s (``MONITOR_S``) over the process tree: **held** =
the largest sum of ``Pss_Anon`` (main + workers, shared copy-on-write pages counted once)
during the warm epochs, above the main process's before the pipeline was built (every
child imports datamint, blosc2, httpx, MONAI and TorchIO first), and the same above the
floor's (what workers hold anyway: pages they copy on write, the batch being collated);
**peak** = the same over the whole run, first epoch (decoding, cache building)
included; **in flight** = the largest sum of
``Pss_Shmem`` (batches passed from workers through shared memory); per worker the
largest ``Pss_Anon`` and the ``RssAnon`` growth over the warm epochs (from the end of the
first epoch, or from a worker's first sample when the loader starts new workers).
Page cache (memory-mapped cache files) is not counted: the kernel can drop it.

Usage: ``.venv/bin/python benchmarks/bench_patches.py`` with the ``bench`` extra
(``.venv/bin/pip install "torch==2.13.0" monai torchio``); a peer that does not import is
left out. ``N_VOLUMES`` (12), ``DEPTH`` (96), ``SIZE`` (256), ``PATCH`` (64),
``PER_VOLUME`` (16), ``EPOCHS`` (3), ``WORKERS`` (2), ``BATCH`` (16), ``PIPELINES``
(names separated by ``;``) shorten a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from ct_project import ct_volume

N_VOLUMES = int(os.environ.get("N_VOLUMES", "12"))
DEPTH = int(os.environ.get("DEPTH", "96"))
SIZE = int(os.environ.get("SIZE", "256"))
PATCH = int(os.environ.get("PATCH", "64"))
PER_VOLUME = int(os.environ.get("PER_VOLUME", "16"))
EPOCHS = int(os.environ.get("EPOCHS", "3"))
WORKERS = int(os.environ.get("WORKERS", "2"))
BATCH = int(os.environ.get("BATCH", "16"))
LESION_RADIUS = float(os.environ.get("LESION_RADIUS", "5"))
RATIO = 1 / 3
EMAIL = "bench@example.org"
FLOOR = "floor (one tensor)"
INT16 = "datamint (int16 items)"
TRIMMED = "datamint (MALLOC_MMAP_THRESHOLD_=131072)"
PIPELINES = [
    FLOOR,
    "datamint",
    INT16,
    TRIMMED,
    "MONAI CacheDataset",
    "MONAI PersistentDataset",
    "TorchIO Queue",
]
DISK_BACKED = ["MONAI PersistentDataset", "TorchIO Queue"]


# -- the project --------------------------------------------------------------------------
def write_folder(folder: Path) -> list[tuple[Path, Path]]:
    """The volumes and their lesion masks as NIfTI; returns ``(image, mask)`` paths."""
    rng = np.random.default_rng(5)
    pairs = []
    zz, yy, xx = np.mgrid[0:DEPTH, 0:SIZE, 0:SIZE]
    for i in range(N_VOLUMES):
        volume = ct_volume(DEPTH, SIZE, seed=i)  # (D, H, W) int16 HU
        centre = [rng.uniform(0.3, 0.7) * n for n in (DEPTH, SIZE, SIZE)]
        d2 = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
        lesion = (d2 <= LESION_RADIUS**2).astype(np.uint8)
        volume[lesion > 0] = 60  # a soft-tissue nodule
        affine = np.diag([0.7, 0.7, 1.5, 1.0])
        image, mask = folder / f"vol{i:02d}.nii.gz", folder / f"vol{i:02d}__lesion__bench.nii.gz"
        nib.save(nib.Nifti1Image(np.ascontiguousarray(volume.transpose(2, 1, 0)), affine), image)
        nib.save(nib.Nifti1Image(np.ascontiguousarray(lesion.transpose(2, 1, 0)), affine), mask)
        pairs.append((image, mask))
    return pairs


# -- memory of a process tree -------------------------------------------------------------
def _status(pid: int, field: str) -> int:
    """kB of ``field`` in /proc/<pid>/status (or smaps_rollup for Pss_* fields), 0 if gone."""
    name = "smaps_rollup" if field.startswith("Pss") else "status"
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(c) for c in fh.read().split()]
    except OSError:
        return []
    return found + [g for c in found for g in _children(c)]


class TreeMonitor:
    """Samples memory of this process and its descendants every ``interval_s``."""

    def __init__(self, interval_s: float = float(os.environ.get("MONITOR_S", "0.2"))) -> None:
        self.interval_s = interval_s
        self.main = os.getpid()
        self.base_anon = _status(self.main, "Pss_Anon")
        self.max_anon = self.max_shmem = self.first_growth = self.max_anon_warm = 0
        self.last_anon = 0
        # pid -> [RssAnon at mark (else first), last RssAnon, max Pss, first RssAnon]
        self.workers: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:
                self.sample()

    def mark(self) -> None:
        """Measure worker growth from now on (workers alive now: from their current RSS);
        keep the growth so far as the first epoch's."""
        with self._lock:
            self.sample()
            self.first_growth = max((r[1] - r[3] for r in self.workers.values()), default=0)
            self.max_anon_warm = self.last_anon
            for row in self.workers.values():
                row[0] = row[1]

    def sample(self) -> None:
        pids = [self.main, *_children(self.main)]
        anon = shmem = 0
        for pid in pids:
            pss = _status(pid, "Pss_Anon")
            anon += pss
            shmem += _status(pid, "Pss_Shmem")
            if pid != self.main:
                rss = _status(pid, "RssAnon")
                row = self.workers.setdefault(pid, [rss, rss, pss, rss])
                row[1], row[2] = rss, max(row[2], pss)
        self.max_anon = max(self.max_anon, anon)
        self.max_anon_warm = max(self.max_anon_warm, anon)
        self.last_anon = anon
        self.max_shmem = max(self.max_shmem, shmem)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.sample()
        rows = [r for r in self.workers.values() if r[0] > 0]
        return {
            "held_mb": (self.max_anon_warm - self.base_anon) / 1024,
            "peak_mb": (self.max_anon - self.base_anon) / 1024,
            "inflight_mb": self.max_shmem / 1024,
            "worker_pss_mb": max((r[2] for r in rows), default=0) / 1024,
            "worker_growth_mb": max((r[1] - r[0] for r in rows), default=0) / 1024,
            "worker_first_growth_mb": self.first_growth / 1024,
        }


# -- pipelines (each run in a child process) --------------------------------------------
def _has_lesion(labels: torch.Tensor) -> int:
    return int((labels.reshape(len(labels), -1).amax(dim=1) > 0).sum())


def datamint_epochs(
    cfg: dict[str, Any], dtype: Any = np.float32
) -> Iterator[Callable[[], tuple[int, int]]]:
    from torch.utils.data import DataLoader

    from datamint.dataset import VolumeDataset

    volumes = VolumeDataset(
        project="lesions",
        server_url=cfg["url"],
        api_key=cfg["key"],
        cache_dir=tempfile.mkdtemp(dir=cfg["tmp"]),
        image_dtype=dtype,
        return_metainfo=False,
    )
    patches = volumes.patches(PATCH, PER_VOLUME, foreground_ratio=RATIO, label="lesion")
    patches.prefetch(include_annotations=True, progress=False)  # downloads only
    loader = DataLoader(
        patches,
        batch_size=BATCH,
        shuffle=True,
        num_workers=WORKERS,
        multiprocessing_context="fork" if WORKERS else None,
        persistent_workers=WORKERS > 0,
    )
    epoch = 0

    def run() -> tuple[int, int]:
        nonlocal epoch
        patches.set_epoch(epoch)
        epoch += 1
        n = fg = 0
        for batch in loader:
            assert batch["image"].shape[1:] == (1, PATCH, PATCH, PATCH)
            assert batch["image"].dtype == (torch.float32 if dtype is np.float32 else torch.int16)
            masks = torch.cat(list(batch["masks"].values()), dim=1)  # (B, N, ...) uint8
            n, fg = n + len(batch["image"]), fg + _has_lesion(masks)
        return n, fg

    yield run


def _monai_transforms() -> tuple[Any, Any]:
    from monai.transforms import (
        Compose,
        EnsureChannelFirstd,
        LoadImaged,
        RandCropByPosNegLabeld,
    )

    keys = ["image", "label"]
    load = Compose([LoadImaged(keys, reader="NibabelReader"), EnsureChannelFirstd(keys)])
    crop = RandCropByPosNegLabeld(
        keys,
        label_key="label",
        spatial_size=(PATCH, PATCH, PATCH),
        pos=1,
        neg=2,
        num_samples=PER_VOLUME,
    )
    return load, crop


def monai_epochs(cfg: dict[str, Any], persistent: bool) -> Iterator[Callable[[], tuple[int, int]]]:
    from monai.data import CacheDataset, DataLoader, PersistentDataset
    from monai.transforms import Compose

    load, crop = _monai_transforms()
    data = [{"image": image, "label": mask} for image, mask in cfg["pairs"]]
    transform = Compose([*load.transforms, crop])
    if persistent:
        ds = PersistentDataset(data, transform=transform, cache_dir=cfg["tmp"] + "/monai-pt")
    else:
        ds = CacheDataset(data, transform=transform, cache_rate=1.0, num_workers=WORKERS or None)
    loader = DataLoader(
        ds,
        batch_size=max(1, BATCH // PER_VOLUME),
        shuffle=True,
        num_workers=WORKERS,
        multiprocessing_context="fork" if WORKERS else None,
        persistent_workers=WORKERS > 0,
    )

    def run() -> tuple[int, int]:
        n = fg = 0
        for batch in loader:
            assert batch["image"].shape[1:] == (1, PATCH, PATCH, PATCH)
            n, fg = n + len(batch["image"]), fg + _has_lesion(batch["label"])
        return n, fg

    yield run


def _to_float32(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float()


def torchio_epochs(cfg: dict[str, Any]) -> Iterator[Callable[[], tuple[int, int]]]:
    import torchio as tio

    subjects = tio.SubjectsDataset(
        [
            tio.Subject(image=tio.ScalarImage(image), label=tio.LabelMap(mask))
            for image, mask in cfg["pairs"]
        ],
        transform=tio.Lambda(_to_float32, types_to_apply=[tio.INTENSITY]),
    )
    queue = tio.Queue(
        subjects,
        max_length=4 * PER_VOLUME,
        samples_per_volume=PER_VOLUME,
        sampler=tio.LabelSampler(PATCH, "label", {0: 2, 1: 1}),
        num_workers=WORKERS,
        start_background=False,
    )
    loader = tio.SubjectsLoader(queue, batch_size=BATCH, num_workers=0)

    def run() -> tuple[int, int]:
        n = fg = 0
        for batch in loader:
            images = batch["image"][tio.DATA]
            assert images.shape[1:] == (1, PATCH, PATCH, PATCH) and images.dtype == torch.float32
            n, fg = n + len(images), fg + _has_lesion(batch["label"][tio.DATA])
        return n, fg

    yield run


class _Floor(torch.utils.data.Dataset):
    """The DataLoader alone: one float32 patch and one uint8 mask, made once."""

    def __init__(self) -> None:
        self.image = torch.full((1, PATCH, PATCH, PATCH), 7.0)
        self.mask = torch.zeros((1, PATCH, PATCH, PATCH), dtype=torch.uint8)

    def __len__(self) -> int:
        return N_VOLUMES * PER_VOLUME

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.image, "mask": self.mask}


def floor_epochs(cfg: dict[str, Any]) -> Iterator[Callable[[], tuple[int, int]]]:
    from torch.utils.data import DataLoader

    loader = DataLoader(
        _Floor(),
        batch_size=BATCH,
        shuffle=True,
        num_workers=WORKERS,
        multiprocessing_context="fork" if WORKERS else None,
        persistent_workers=WORKERS > 0,
    )

    def run() -> tuple[int, int]:
        n = 0
        for batch in loader:
            n += len(batch["image"])
        return n, 0

    yield run


def child(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Build pipeline ``name``, run its first epoch and ``EPOCHS`` warm ones; measure."""
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)  # the main process only receives batches; no OpenMP spinning
    import datamint.api  # every child imports the same, before its baseline
    import datamint.dataset
    import datamint.dataset.patch_dataset
    import datamint.dataset.prefetch  # noqa: F401

    for module in (
        "blosc2",
        "httpcore",
        "h2.connection",
        "monai.data",
        "monai.transforms",
        "torchio",
    ):
        with contextlib.suppress(ImportError):
            __import__(module)
    monitor = TreeMonitor()
    start = time.perf_counter()
    if name == FLOOR:
        make = floor_epochs(cfg)
    elif name == "datamint":
        make = datamint_epochs(cfg)
    elif name == INT16:
        make = datamint_epochs(cfg, "stored")
    elif name == TRIMMED:
        make = datamint_epochs(cfg)
    elif name.startswith("MONAI"):
        make = monai_epochs(cfg, persistent="Persistent" in name)
    else:
        make = torchio_epochs(cfg)
    run = next(make)
    if name.startswith("datamint"):  # downloads are untimed: the peers read local files
        start = time.perf_counter()
    n, fg = run()
    first_s = time.perf_counter() - start
    monitor.mark()
    rates, shares = [], [fg / n]
    for _ in range(EPOCHS):
        t = time.perf_counter()
        n, fg = run()
        rates.append(n / (time.perf_counter() - t))
        shares.append(fg / n)
    return {
        "rate": statistics.median(rates),
        "rates": rates,
        "first_s": first_s,
        "share": float(np.mean(shares)),
        **monitor.stop(),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        cfg = json.loads(os.environ["BENCH_PATCHES_CFG"])
        print("RESULT " + json.dumps(child(sys.argv[2], cfg)), flush=True)
        return
    from datamint.server.import_folder import import_folder
    from datamint.server.store import ProjectStore
    from datamint.testing.server import running_server

    chosen = [p.strip() for p in os.environ.get("PIPELINES", ";".join(PIPELINES)).split(";")]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "lesions"
        folder.mkdir()
        t = time.perf_counter()
        pairs = write_folder(folder)
        store = ProjectStore(tmp / "store")
        import_folder(store, folder, name="lesions", members=[EMAIL])
        key = store.create_user(EMAIL)
        print(
            f"generated and imported {N_VOLUMES} volumes {DEPTH}x{SIZE}x{SIZE} int16 with "
            f"lesions of radius {LESION_RADIUS:g} in {time.perf_counter() - t:.0f} s"
        )
        with running_server(tmp / "store") as server:
            cfg = {
                "url": server.url,
                "key": key,
                "tmp": tmp_name,
                "pairs": [[str(a), str(b)] for a, b in pairs],
            }
            for name in chosen:
                for image, mask in pairs:  # the page cache warm for every pipeline alike
                    image.read_bytes(), mask.read_bytes()
                env = {**os.environ, "BENCH_PATCHES_CFG": json.dumps(cfg)}
                if name == TRIMMED:
                    env["MALLOC_MMAP_THRESHOLD_"] = "131072"
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", name],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")]
                if proc.returncode or not lines:
                    print(f"{name}: failed ({proc.returncode})\n{proc.stderr[-3000:]}")
                    continue
                results[name] = result = json.loads(lines[-1][len("RESULT ") :])
                print(
                    f"  {name}: {result['rate']:.1f} patches/s warm "
                    f"({', '.join(f'{r:.0f}' for r in result['rates'])}), first epoch "
                    f"{result['first_s']:.1f} s, lesion share {result['share']:.2f}, held "
                    f"{result['held_mb']:.0f} MB, in flight {result['inflight_mb']:.0f} MB"
                )
    versions = f"torch {torch.__version__}"
    for module in ("monai", "torchio"):
        try:
            versions += f", {module} {__import__(module).__version__}"
        except ImportError:
            versions += f", {module} did not import"
    print(
        f"\n{N_VOLUMES} volumes {DEPTH}x{SIZE}x{SIZE} int16, {PER_VOLUME} patches of {PATCH}^3 "
        f"per volume and epoch ({N_VOLUMES * PER_VOLUME}), 1/3 lesion-centred, batch {BATCH}, "
        f"{WORKERS} workers, float32 images; {versions}\n"
    )
    ours = results.get("datamint")
    base = results[FLOOR]["held_mb"] if FLOOR in results else 0.0
    print(
        "| pipeline | patches/s warm | datamint / it | first epoch s | lesion share | "
        "RAM held MB | held above floor MB | datamint / it (RAM) | peak MB | in flight MB | "
        "worker PSS MB | worker RSS growth MB, first / warm epochs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in chosen:
        r = results.get(name)
        if r is None:
            print(f"| {name} | failed or did not import | | | | | | | | | | |")
            continue
        above = r["held_mb"] - base
        speed = f"{ours['rate'] / r['rate']:.2f}" if ours else ""
        ram = ""
        if ours and name != FLOOR:
            ram = f"{(ours['held_mb'] - base) / max(above, 1e-9):.3f}"
        print(
            f"| {name} | {r['rate']:.1f} | {speed} | {r['first_s']:.1f} | {r['share']:.2f} | "
            f"{r['held_mb']:.0f} | {above:.0f} | {ram} | {r['peak_mb']:.0f} | "
            f"{r['inflight_mb']:.0f} | "
            f"{r['worker_pss_mb']:.0f} | {r['worker_first_growth_mb']:.0f} / "
            f"{r['worker_growth_mb']:.0f} |"
        )
    if ours:
        disk = [results[n]["rate"] for n in DISK_BACKED if n in results]
        if disk:
            ratio = ours["rate"] / max(disk)
            print(f"\ndatamint / faster disk-backed peer: {ratio:.2f} (target >= 3)")
        if "MONAI CacheDataset" in results:
            cache = results["MONAI CacheDataset"]
            held = (ours["held_mb"] - base) / (cache["held_mb"] - base)
            print(
                f"datamint / MONAI CacheDataset: speed {ours['rate'] / cache['rate']:.2f} "
                f"(target >= 1), RAM held above the floor {held:.3f} (target < 0.1)"
            )
        print(
            f"datamint worker RSS growth: {ours['worker_first_growth_mb']:.0f} MB in the first "
            f"epoch, {ours['worker_growth_mb']:.0f} MB over the warm ones (target < 50)"
        )


if __name__ == "__main__":
    main()
