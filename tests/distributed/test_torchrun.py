"""Real multi-process runs with ``torchrun`` (gloo, CPU), counted at the reference server.

- one node, 2 ranks x 2 DataLoader workers, one cache;
- two nodes simulated on this machine: two ``torchrun --nnodes=2`` launches meeting at a
  c10d rendezvous on 127.0.0.1, each with its own ``DATAMINT_CACHE_DIR``.

For ``stream()`` and for the map-style dataset with ``DistributedSampler``: the items of
one epoch, over all ranks and workers, are the dataset (stream: each exactly once; sampler
with ``drop_last=False``: padded with the first items of its order up to a multiple of the
world size); each node downloads, and decodes, each file it needs exactly once; and the
server sees one download per file per node that needed it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120

pytestmark = pytest.mark.skipif(
    shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
    reason="torchrun is not installed",
)


def _torchrun() -> list[str]:
    local = Path(sys.executable).parent / "torchrun"
    return [str(local)] if local.exists() else ["torchrun"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(counted, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMINT_")}
    env.update(
        DATAMINT_API_URL=counted.url,
        DATAMINT_API_KEY=counted.api_key,
        DATAMINT_CACHE_DIR=str(cache),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        GLOO_SOCKET_IFNAME="lo",
    )
    return env


def _check(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


def _results(out: Path, world: int) -> list[dict]:
    results = [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]
    assert [r["world"] for r in results] == [world] * world
    return results


def _run_one_node(counted, tmp_path: Path, mode: str) -> list[dict]:
    out = tmp_path / "out"
    cmd = [
        *_torchrun(),
        "--standalone",
        "--nnodes=1",
        "--nproc_per_node=2",
        str(WORKER),
        mode,
        str(out),
    ]
    proc = subprocess.run(
        cmd,
        env=_env(counted, tmp_path / "node0"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    _check(proc)
    return _results(out, 2)


def _run_two_nodes(counted, tmp_path: Path, mode: str) -> list[dict]:
    out = tmp_path / "out"
    port = _free_port()
    procs = []
    for node in (0, 1):
        cmd = [
            *_torchrun(),
            "--nnodes=2",
            "--nproc_per_node=2",
            f"--node_rank={node}",
            "--rdzv_backend=c10d",
            f"--rdzv_endpoint=127.0.0.1:{port}",
            "--rdzv_id=datamint-two-nodes",
            f"--rdzv_conf=is_host={int(node == 0)}",
            str(WORKER),
            mode,
            str(out),
        ]
        env = _env(counted, tmp_path / f"node{node}")
        procs.append(
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        _check(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return _results(out, 4)


def _cached_resources(cache: Path) -> set[str]:
    folder = cache / "files" / "resources"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _check_epoch(results: list[dict], mode: str) -> None:
    n = results[0]["n"]
    world = len(results)
    seen = Counter((idx, rid, frame) for r in results for idx, rid, frame in r["items"])
    assert {idx for idx, _, _ in seen} == set(range(n))
    assert len({(rid, frame) for _, rid, frame in seen}) == n  # one (resource, frame) per index
    if mode == "stream":
        assert max(seen.values()) == 1  # uneven="exact": every item exactly once
        assert sum(seen.values()) == n
    else:  # DistributedSampler(drop_last=False) pads to a multiple of the world size
        padded = -(-n // world) * world
        assert sum(seen.values()) == padded
        assert sum(c - 1 for c in seen.values()) == padded - n


def _check_downloads_and_decodes(results: list[dict], faults) -> dict[str, set[str]]:
    by_node: dict[str, set[str]] = {}
    decodes: Counter[str] = Counter()
    for r in results:
        by_node.setdefault(r["cache"], set()).update(rid for _, rid, _ in r["items"])
        decodes[r["cache"]] += sum(r["decodes"].values())
    for cache, needed in by_node.items():
        # each node holds exactly the files its ranks needed, each decoded once there
        assert _cached_resources(Path(cache)) == needed
        assert decodes[cache] == len(needed)
    for rid in results[0]["resources"]:
        nodes_needing = sum(rid in needed for needed in by_node.values())
        assert faults.count(rf"^/resources/{rid}/file$") == nodes_needing
    return by_node


@pytest.mark.parametrize("mode", ["stream", "sampler"])
def test_one_node_two_ranks_two_workers(counted, faults, tmp_path, mode):
    results = _run_one_node(counted, tmp_path, mode)
    assert {r["node"] for r in results} == {0}
    _check_epoch(results, mode)
    _check_downloads_and_decodes(results, faults)
    assert faults.count(r"^/resources/[^/]+/file$") == len(results[0]["resources"]) == 3


@pytest.mark.parametrize("mode", ["stream", "sampler"])
def test_two_nodes_with_their_own_caches(counted, faults, tmp_path, mode):
    results = _run_two_nodes(counted, tmp_path, mode)
    nodes = {r["node"]: r["cache"] for r in results}
    assert sorted(nodes) == [0, 1]
    assert len({r["cache"] for r in results}) == 2
    for r in results:  # the two ranks of a node share that node's cache
        assert r["cache"] == nodes[r["node"]]
    _check_epoch(results, mode)
    by_node = _check_downloads_and_decodes(results, faults)
    if mode == "stream":
        # contiguous chunks of whole resources: the two nodes share at most one file
        files = len(results[0]["resources"])
        assert sum(len(needed) for needed in by_node.values()) <= files + 1
