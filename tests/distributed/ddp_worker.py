"""One rank of the multi-process tests, started by ``torchrun`` (gloo, CPU).

Usage: ``torchrun ... ddp_worker.py MODE OUT_DIR`` with ``MODE`` ``stream`` (the sharded
``stream()``) or ``sampler`` (the map-style dataset with ``DistributedSampler``), and the
server, key and this node's cache root in ``DATAMINT_API_URL``, ``DATAMINT_API_KEY`` and
``DATAMINT_CACHE_DIR``. Each rank reads one epoch through a DataLoader with 2 workers and
writes ``OUT_DIR/rank<RANK>.json``: its node (``GROUP_RANK``), cache root, the items it
saw (dataset index, resource id, frame) and, per worker process, how many volumes that
process decoded.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from datamint.dataset import VideoDataset
from datamint.dataset.streaming import stream

SEED = 7
EPOCH = 1


class WithIndex(Dataset):
    """``(index, item)`` pairs of a map-style dataset (for the sampler mode)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset[index]


def main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    frames = VideoDataset(
        project="demo", return_metainfo=False, return_segmentations=False
    ).frame_by_frame()

    def describe(pair: tuple[int, Any]) -> dict[str, Any]:
        # runs in the DataLoader worker (fork): ``frames`` is that worker's copy
        index, _item = pair
        _, frame = frames.locate(index)
        return {
            "index": int(index),
            "resource": frames.get_resource(index).id,
            "frame": frame,
            "pid": os.getpid(),
            "decodes": frames.loader.slice_cache.decodes,
        }

    if mode == "stream":
        streamed = stream(frames, seed=SEED, uneven="exact", with_index=True)
        streamed.set_epoch(EPOCH)
        loader = DataLoader(streamed, batch_size=None, num_workers=2, collate_fn=describe)
    elif mode == "sampler":
        sampler = DistributedSampler(frames, shuffle=True, seed=SEED, drop_last=False)
        sampler.set_epoch(EPOCH)
        loader = DataLoader(
            WithIndex(frames), sampler=sampler, batch_size=None, num_workers=2, collate_fn=describe
        )
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    seen = list(loader)
    decodes: dict[int, int] = {}
    for row in seen:  # the counter only grows: the last value per process is its total
        decodes[row["pid"]] = max(decodes.get(row["pid"], 0), row["decodes"])
    result = {
        "rank": rank,
        "world": world,
        "node": int(os.environ["GROUP_RANK"]),
        "cache": os.environ["DATAMINT_CACHE_DIR"],
        "n": len(frames),
        "resources": [r.id for r in frames.resources],
        "items": [[row["index"], row["resource"], row["frame"]] for row in seen],
        "decodes": decodes,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{rank}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
