"""Benchmark the reference server over loopback: listings, search and file downloads.

What it measures, against a server running in a separate process (so that client and
server do not share one interpreter):

1. ``GET /resources`` paged 5000 at a time (the existing client's loop) over a generated
   project of ``--resources`` resources, and ``GET /projects/{id}/resources`` (one bare
   array) - seconds, MB of JSON, MB/s, items/s; JSON decoding is included.
2. ``POST /annotations/search`` with every resource id in each body, paged 5000 at a time
   (what a dataset sends), over ``--resources`` x ``--annotations-per-resource`` annotations.
3. ``GET /resources/{id}/file`` of a ``--file-mib`` MiB file against reading the same
   bytes from disk in 1 MiB chunks, as ratios measured in the same run: with the file
   evicted from the page cache before each read (``posix_fadvise(DONTNEED)``: a real disk
   read on both sides) and with it cached (memory speed on both sides). Downloads are read
   with ``http.client`` into a reused buffer (what the server can deliver) and with httpx
   ``iter_bytes()`` (what datamint's own client does; httpx reads 64 KiB per call).

Targets: listing 100 000 resources in under 5 s; downloads at least 50 % of the disk rate.
Run::

    .venv/bin/python benchmarks/bench_server.py                 # 100 000 / 500 000, 512 MiB
    .venv/bin/python benchmarks/bench_server.py --resources 20000 --file-mib 128

Not run by the test suite. Everything is written under a temporary folder, removed at exit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from datamint.server.store import ProjectStore
from datamint.server.synthetic import generate_project
from datamint.server.timeutil import format_us, now_us

PAGE = 5000
EMAIL = "bench@example.org"
_SERVE = (
    "import sys\n"
    "from datamint.testing.server import running_server\n"
    "with running_server(sys.argv[1]) as s:\n"
    "    print(s.url, flush=True)\n"
    "    sys.stdin.read()\n"
)


def _serve(store_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(store_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _list_resources(client: httpx.Client, project: str) -> tuple[int, int]:
    items = nbytes = offset = 0
    filt = json.dumps({"items": [project], "filterType": "intersection"})
    while True:
        r = client.get(
            "/resources", params={"project": filt, "offset": offset, "limit": PAGE, "status": ""}
        )
        r.raise_for_status()
        nbytes += len(r.content)
        page = r.json()["data"][0]["resources"]
        items += len(page)
        offset += len(page)
        if len(page) < PAGE:
            return items, nbytes


def _search(client: httpx.Client, resource_ids: list[str]) -> tuple[int, int]:
    items = nbytes = offset = 0
    while True:
        body = {"resource_ids": resource_ids, "offset": str(offset), "limit": str(PAGE)}
        r = client.post("/annotations/search", json=body)
        r.raise_for_status()
        nbytes += len(r.content)
        page = r.json()["data"][0]["annotations"]
        items += len(page)
        offset += len(page)
        if len(page) < PAGE:
            return items, nbytes


def _download(client: httpx.Client, rid: str) -> int:
    total = 0
    with client.stream(
        "GET", f"/resources/{rid}/file", headers={"accept": "application/octet-stream"}
    ) as r:
        r.raise_for_status()
        for chunk in r.iter_raw(1 << 20):
            total += len(chunk)
    return total


def _download_readinto(url: str, key: str, rid: str) -> int:
    host, port = httpx.URL(url).host, httpx.URL(url).port
    conn = http.client.HTTPConnection(host, port, timeout=900)
    buffer = memoryview(bytearray(8 << 20))
    total = 0
    try:
        conn.request("GET", f"/resources/{rid}/file", headers={"apikey": key})
        response = conn.getresponse()
        assert response.status == 200, response.status
        while n := response.readinto(buffer):
            total += n
    finally:
        conn.close()
    return total


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _read_disk(path: Path) -> int:
    total = 0
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(1 << 20):
            total += len(chunk)
    return total


def _timed(fn, repeats: int = 1):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, times


def _big_file(store: ProjectStore, project_id: str, mib: int) -> str:
    staged = store.blobs.stage()
    chunk = os.urandom(1 << 20)
    for i in range(mib):
        staged.write(chunk[i % 7 :] + chunk[: i % 7])
    sha, size = store.blobs.put_staged(staged)
    rid = str(uuid.uuid4())
    record = {
        "id": rid,
        "resource_uri": f"/resources/{rid}/file",
        "storage": "VideoResource",
        "location": f"blobs/{sha[:2]}/{sha}",
        "upload_channel": "bench",
        "filename": "big.mp4",
        "mimetype": "video/mp4",
        "status": "published",
        "published": True,
        "deleted": False,
        "created_at": format_us(now_us()),
        "created_by": EMAIL,
        "customer_id": "local",
        "size": size,
        "sha256": sha,
        "metadata": {},
    }
    with store.db.write() as conn:
        store.resources.upsert(conn, record, sha)
        store.projects.link_resources(conn, project_id, [rid])
    return rid


def main() -> None:
    """Run the benchmark and print a table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--annotations-per-resource", type=int, default=5)
    parser.add_argument("--file-mib", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        store = ProjectStore(Path(tmp) / "store")
        (synthetic, gen_s) = _timed(
            lambda: generate_project(
                store,
                "bench",
                resources=args.resources,
                annotations_per_resource=args.annotations_per_resource,
                members=(EMAIL,),
            )
        )
        key = store.create_user(EMAIL)
        big = _big_file(store, synthetic.project_id, args.file_mib)
        blob = store.blob_path(store.resources.get(big)[1])  # type: ignore[index]
        n_ann = args.resources * args.annotations_per_resource
        print(f"generated {args.resources} resources, {n_ann} annotations in {gen_s[0]:.1f} s")
        proc, url = _serve(store.store_dir)
        try:
            with httpx.Client(
                base_url=url, headers={"apikey": key}, timeout=900, trust_env=False
            ) as c:
                (items, nbytes), t = _timed(lambda: _list_resources(c, "bench"), args.repeats)
                best = min(t)
                rows.append(
                    (
                        "GET /resources (paged 5000)",
                        f"{items}",
                        f"{best:.2f} s",
                        f"{nbytes / 1e6 / best:.0f} MB/s ({nbytes / 1e6:.0f} MB)",
                    )
                )
                pid = synthetic.project_id

                def bare() -> tuple[int, int]:
                    r = c.get(f"/projects/{pid}/resources")
                    return len(r.json()), len(r.content)

                (items, nbytes), t = _timed(bare, args.repeats)
                best = min(t)
                rows.append(
                    (
                        "GET /projects/{id}/resources",
                        f"{items}",
                        f"{best:.2f} s",
                        f"{nbytes / 1e6 / best:.0f} MB/s ({nbytes / 1e6:.0f} MB)",
                    )
                )
                ids = synthetic.resource_ids
                (items, nbytes), t = _timed(lambda: _search(c, ids), args.repeats)
                best = min(t)
                rows.append(
                    (
                        "POST /annotations/search (paged)",
                        f"{items}",
                        f"{best:.2f} s",
                        f"{nbytes / 1e6 / best:.0f} MB/s ({nbytes / 1e6:.0f} MB)",
                    )
                )
                mib = f"{args.file_mib} MiB"

                def measure(label: str, fn: Any, cold: bool) -> float:
                    times = []
                    for _ in range(args.repeats):
                        if cold:
                            _evict(blob)
                        else:
                            _read_disk(blob)
                        started = time.perf_counter()
                        size = fn()
                        times.append(time.perf_counter() - started)
                    rate = size / 1e6 / statistics.median(times)
                    rows.append(
                        (label, mib, f"{statistics.median(times):.3f} s", f"{rate:.0f} MB/s")
                    )
                    return rate

                for cold in (True, False):
                    cache = "page cache evicted" if cold else "page cache warm"
                    disk = measure(f"disk read, {cache}", lambda: _read_disk(blob), cold)
                    fast = measure(
                        f"download http.client, {cache}",
                        lambda: _download_readinto(url, key, big),
                        cold,
                    )
                    slow = measure(f"download httpx, {cache}", lambda: _download(c, big), cold)
                    rows.append(
                        (
                            f"download / disk, {cache}",
                            "",
                            "",
                            f"http.client {fast / disk:.0%}, httpx {slow / disk:.0%}",
                        )
                    )
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
    widths = [max(len(r[i]) for r in [*rows, ("what", "items", "time", "rate")]) for i in range(4)]
    print()
    for row in [("what", "items", "time", "rate"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
