"""A dataset over a project of many resources: preparation time and memory, and workers'
private memory after an epoch.

The project is generated straight into a store's SQLite (:func:`datamint.server.synthetic.
generate_project`, one transaction with ``executemany``: importing a ``project.json`` of as
many rows goes through the same store but parses and checks every row first). Every
resource serves the same 2x2 PNG (the store keeps blobs by content, so the file is stored
once); each has ``SCALE_ANNOTATIONS`` annotations (a 2x2 segmentation mask, then labels).
The server runs in its own process, so its memory is not counted.

A fresh process then measures, with ``ImageDataset(project=...)``:

1. **preparation**: wall time of the first ``len(ds)`` (listing, annotation search, schema,
   manifest written for offline use), and the process's resident memory (``VmRSS``) after
   it and at its peak (``VmHWM``), each also as the growth over the process before
   preparation (torch and datamint imported);
2. **workers**: an "epoch" of ``SCALE_EPOCH_ITEMS`` items drawn at random over the whole
   project (seeded), batch 16, through ``ds.get_dataloader(num_workers=2,
   persistent_workers=True)``; then each worker's ``Private_Dirty`` from
   ``/proc/PID/smaps_rollup``: the memory it wrote to, or copied from its parent
   (reading a Python object writes its reference count, so a worker touching the
   parent's per-resource objects copies their pages). Measured after the first batch and
   after the epoch.

Environment: ``SCALE_RESOURCES`` (default 50 000; the issue's figure is 500 000),
``SCALE_ANNOTATIONS`` (per resource, default 1), ``SCALE_EPOCH_ITEMS`` (default 4 800 =
300 batches), ``SCALE_IMPORT_ROWS`` (default 0: skipped): also time ``datamint import`` of a
``project.json`` with that many resource rows all pointing to the same PNG, to compare with
the direct generation. Run::

    .venv/bin/python benchmarks/bench_scale.py
    SCALE_RESOURCES=500000 .venv/bin/python benchmarks/bench_scale.py

Targets at 500 000 resources: preparation under 60 s, main-process RSS under 2 GB, each
worker's private memory under 100 MB after the epoch. Not run by the test suite;
everything is written under a temporary folder, removed at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EMAIL = "bench@example.org"
BATCH = 16
_SERVE = (
    "import sys\n"
    "from datamint.testing.server import running_server\n"
    "with running_server(sys.argv[1]) as s:\n"
    "    print(s.url, flush=True)\n"
    "    sys.stdin.read()\n"
)


def _status_kb(field: str, pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _private_dirty_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    raise KeyError("Private_Dirty")


def _top_regions(pid: int, count: int = 6) -> list[str]:
    """The mappings of ``pid`` with the most private dirty memory (for ``SCALE_DEBUG``)."""
    found, current = [], "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            current = parts[5] if len(parts) > 5 else "[anon]"
        elif parts and parts[0] == "Private_Dirty:":
            found.append((int(parts[1]), current))
    return [f"{kb // 1024} MB {name}" for kb, name in sorted(found, reverse=True)[:count]]


def _measure(url: str, key: str, cache: str, epoch_items: int) -> dict[str, Any]:
    """In a fresh process: prepare, then run the epoch; return the figures."""
    import torch
    from torch.utils.data import RandomSampler

    from datamint.dataset import ImageDataset

    out: dict[str, Any] = {"rss_before_mb": _status_kb("VmRSS") / 1024}
    ds = ImageDataset(project="scale", server_url=url, api_key=key, cache_dir=cache)
    started = time.perf_counter()
    n = len(ds)
    out["prepare_s"] = time.perf_counter() - started
    out["items"] = n
    out["rss_after_mb"] = _status_kb("VmRSS") / 1024
    out["rss_peak_mb"] = _status_kb("VmHWM") / 1024
    sampler = RandomSampler(
        ds, num_samples=min(epoch_items, n), generator=torch.Generator().manual_seed(0)
    )
    loader = ds.get_dataloader(
        batch_size=BATCH, sampler=sampler, num_workers=2, persistent_workers=True
    )
    it = iter(loader)
    next(it)
    pids = [w.pid for w in it._workers]  # type: ignore[attr-defined]
    out["worker_first_mb"] = [_private_dirty_kb(p) / 1024 for p in pids]
    if os.environ.get("SCALE_DEBUG"):
        for pid in pids:
            sys.stderr.write(f"worker {pid} (1st batch): {_top_regions(pid)}\n")
    started = time.perf_counter()
    batches = 1 + sum(1 for _ in it)
    out["epoch_s"] = time.perf_counter() - started
    out["epoch_items"] = min(epoch_items, n)
    out["batches"] = batches
    out["worker_epoch_mb"] = [_private_dirty_kb(p) / 1024 for p in pids]
    if os.environ.get("SCALE_DEBUG"):
        for pid in pids:
            sys.stderr.write(f"worker {pid}: {_top_regions(pid)}\n")
    out["rss_end_mb"] = _status_kb("VmRSS") / 1024
    del it
    return out


def _table(n: int, annotations: int, gen_s: float, r: dict[str, Any]) -> str:
    base = r["rss_before_mb"]
    w_first, w_epoch = r["worker_first_mb"], r["worker_epoch_mb"]
    rows = [
        ("resources / annotations", f"{n} / {n * annotations}", ""),
        ("store generated", f"{gen_s:.1f} s", ""),
        ("preparation (first len)", f"{r['prepare_s']:.1f} s", "< 60 s"),
        (
            "main RSS after preparation",
            f"{r['rss_after_mb']:.0f} MB (+{r['rss_after_mb'] - base:.0f})",
            "< 2 GB",
        ),
        (
            "main RSS peak (VmHWM)",
            f"{r['rss_peak_mb']:.0f} MB (+{r['rss_peak_mb'] - base:.0f})",
            "",
        ),
        ("main RSS before (imports)", f"{base:.0f} MB", ""),
        (
            "epoch",
            f"{r['epoch_items']} items, {r['batches']} batches, {r['epoch_s']:.1f} s",
            "",
        ),
        ("worker Private_Dirty, 1st batch", " / ".join(f"{m:.0f} MB" for m in w_first), ""),
        (
            "worker Private_Dirty, after epoch",
            " / ".join(f"{m:.0f} MB" for m in w_epoch),
            "< 100 MB",
        ),
        (
            "per resource (RSS growth / resources)",
            f"{(r['rss_after_mb'] - base) * 1024 * 1024 / max(n, 1):.0f} B",
            "",
        ),
    ]
    lines = ["| what | measured | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _time_import(root: Path, rows: int) -> float:
    """Seconds ``import_project`` takes for a project.json of ``rows`` resources that all
    point to one 2x2 PNG (a second store, so the measured one is not changed)."""
    import cv2
    import numpy as np

    from datamint.server.importer import import_project
    from datamint.server.store import ProjectStore

    folder = root / "import"
    folder.mkdir()
    ok, png = cv2.imencode(".png", np.full((2, 2), 128, dtype=np.uint8))
    assert ok
    (folder / "img.png").write_bytes(png.tobytes())
    manifest = {
        "format": "datamint-project-manifest",
        "format_version": 1,
        "project": {"name": "imported", "created_by": EMAIL},
        "annotators": [],
        "worklists": [],
        "resources": [
            {"filename": f"img/{i:07d}.png", "file": "img.png", "mimetype": "image/png"}
            for i in range(rows)
        ],
        "annotations": [],
        "splits": [],
    }
    (folder / "project.json").write_text(json.dumps(manifest))
    started = time.perf_counter()
    import_project(ProjectStore(root / "import-store"), folder)
    return time.perf_counter() - started


def main() -> None:
    """Generate, serve, measure in a fresh process, print the table."""
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        url, key, cache, epoch = sys.argv[2:6]
        print(json.dumps(_measure(url, key, cache, int(epoch))))
        return
    from datamint.server.store import ProjectStore
    from datamint.server.synthetic import generate_project

    n = int(os.environ.get("SCALE_RESOURCES", "50000"))
    annotations = int(os.environ.get("SCALE_ANNOTATIONS", "1"))
    epoch = int(os.environ.get("SCALE_EPOCH_ITEMS", str(300 * BATCH)))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        store = ProjectStore(Path(tmp) / "store")
        started = time.perf_counter()
        generate_project(
            store,
            "scale",
            resources=n,
            annotations_per_resource=annotations,
            members=(EMAIL,),
            image_size=2,
        )
        gen_s = time.perf_counter() - started
        key = store.create_user(EMAIL)
        del store
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(Path(tmp) / "store")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    url,
                    key,
                    str(Path(tmp) / "cache"),
                    str(epoch),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=60)
        if done.returncode != 0 or os.environ.get("SCALE_DEBUG"):
            sys.stderr.write(done.stderr)
        if done.returncode != 0:
            raise SystemExit(done.returncode)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    print(_table(n, annotations, gen_s, result))
    rows = int(os.environ.get("SCALE_IMPORT_ROWS", "0"))
    if rows:
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            seconds = _time_import(Path(tmp), rows)
        print(f"\nimport of a project.json of {rows} resource rows: {seconds:.1f} s")


if __name__ == "__main__":
    main()
