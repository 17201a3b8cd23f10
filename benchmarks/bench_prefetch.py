"""Prefetch throughput of the demo project: 1 vs 8 parallel downloads, against a disk read.

Serves the bundled demo project on 127.0.0.1 (the reference server in a child process, so
that client and server do not share one GIL), then times, in one run:

* ``disk read``: reading every cached file of the project back (page cache warm), the
  ceiling for any prefetch;
* ``prefetch, N workers``: :func:`datamint.api.sync.fetch_files` of every resource and
  segmentation file into a fresh cache root (locked, verified, atomic), N = 1 and 8;
* the same two with 20 ms of injected latency per file request
  (:class:`datamint.testing.faults.FaultInjector`), closer to a real network, where
  parallel downloads pay off.

Each design runs ``REPEATS`` times (fresh cache root each time); the median is shown, as
MB/s (10**6 bytes per second), files/s and the ratio to the disk read.
Run: ``.venv/bin/python benchmarks/bench_prefetch.py``.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datamint.api import Api
from datamint.api.sync import fetch_files
from datamint.storage.file_cache import FileCache
from datamint.testing.faults import FaultInjector
from datamint.testing.server import build_demo_store, running_server

REPEATS = 5
LATENCY_S = 0.020
FILE_ROUTE = r"/file$"


def _read_all(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
    return total


def _serve(store: str, latency_s: float, conn: object) -> None:
    """Child process: serve ``store`` (with injected latency) until the parent says stop."""
    faults = FaultInjector()
    if latency_s:
        faults.add_latency(FILE_ROUTE, latency_s)
    with running_server(store, wrap_app=faults.wrap) as server:
        conn.send(server.url)  # type: ignore[attr-defined]
        conn.recv()  # type: ignore[attr-defined]


@contextmanager
def _server_process(store: Path, latency_s: float = 0.0) -> Iterator[str]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(str(store), latency_s, child), daemon=True)
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=30)


def main() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        project_id, key = build_demo_store(tmp / "store")
        runs = 0
        rows: list[tuple[str, float]] = []
        for latency_s in (0.0, LATENCY_S):
            with _server_process(tmp / "store", latency_s) as url:
                with Api(url, key, check_connection=False) as api:
                    resources = api.get_project_resources(project_id)
                    annotations = api.search_annotations([r["id"] for r in resources])
                jobs = [("resources", r) for r in resources] + [
                    ("annotations", a) for a in annotations if a["type"] == "segmentation"
                ]
                n_bytes = sum(int(r["size"]) for _, r in jobs)

                def prefetch(
                    workers: int, url: str = url, jobs: list = jobs, n_bytes: int = n_bytes
                ) -> float:
                    nonlocal runs
                    runs += 1
                    cache = FileCache(tmp / f"cache-{runs}")
                    with Api(url, key, check_connection=False) as client:
                        report = fetch_files(client, cache, jobs, workers=workers, progress=False)
                    assert not report.failed and report.bytes_downloaded == n_bytes, report
                    return report.seconds

                if latency_s == 0.0:
                    prefetch(8)  # warm up the server (imports, SQLite pages, page cache)
                    cache = FileCache(tmp / "cache-1")
                    paths = [
                        cache.resource_file(None, r)
                        if k == "resources"
                        else cache.segmentation_file(None, r)
                        for k, r in jobs
                    ]
                    disk = []
                    for _ in range(REPEATS):
                        started = time.perf_counter()
                        assert _read_all(paths) == n_bytes
                        disk.append(time.perf_counter() - started)
                    rows.append(("disk read (warm)", statistics.median(disk)))
                label = f"+{latency_s * 1000:.0f} ms/file, " if latency_s else "prefetch, "
                for workers in (1, 8):
                    seconds = [prefetch(workers) for _ in range(REPEATS)]
                    rows.append((f"{label}{workers} worker(s)", statistics.median(seconds)))

    print(f"demo project: {len(jobs)} files, {n_bytes / 1e6:.1f} MB; median of {REPEATS} runs")
    base = n_bytes / 1e6 / rows[0][1]
    print(f"{'design':<30} {'s':>7} {'MB/s':>9} {'files/s':>9} {'x disk':>8}")
    for name, seconds in rows:
        rate = n_bytes / 1e6 / seconds
        print(
            f"{name:<30} {seconds:>7.3f} {rate:>9.1f} {len(jobs) / seconds:>9.1f} "
            f"{rate / base:>8.3f}"
        )


if __name__ == "__main__":
    main()
