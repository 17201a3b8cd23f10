"""Axial slice throughput on the demo volumes: per-item decoding vs. the decoded-array cache.

Serves the bundled demo project on 127.0.0.1, then times, in one run:

* ``decode per item``: read the volume file with datamint's reader for every slice
  (what a loader without a decoded cache does; the raw file is already local);
* ``cache cold``: a fresh cache root; the first access of each volume decodes it into a
  memory-mapped ``.npy`` (download included);
* ``cache warm``: the same items again, 0 and 2 DataLoader workers.

Prints items/s and the ratio to the per-item decode baseline.
"""

from __future__ import annotations

import random
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from datamint.dataset.volume_dataset import VolumeDataset
from datamint.readers import FileHint, read_file
from datamint.testing.server import build_demo_store, running_server

N_ITEMS = 200


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        _, key = build_demo_store(Path(tmp) / "store")
        with running_server(Path(tmp) / "store") as server:
            sliced = VolumeDataset(
                project="demo",
                server_url=server.url,
                api_key=key,
                return_segmentations=False,
                return_metainfo=False,
                cache_dir=Path(tmp) / "cache",
            ).slice("axial")
            order = random.Random(0).sample(range(len(sliced)), N_ITEMS)
            sliced.prefetch(progress=False)
            paths = {r.id: sliced.loader._fetch_resource(r) for r in sliced.resources}

            def decode_per_item() -> None:
                for i in order:
                    ri, k = sliced.locate(i)
                    res = sliced.resources[ri]
                    volume = read_file(
                        paths[res.id], FileHint(res.filename, res.mimetype, res.storage)
                    ).array
                    np.array(volume[:, k])

            rows = [("decode per item", N_ITEMS / _time(decode_per_item))]
            rows.append(
                ("cache cold (decode once)", N_ITEMS / _time(lambda: [sliced[i] for i in order]))
            )
            rows.append(
                ("cache warm, 0 workers", N_ITEMS / _time(lambda: [sliced[i] for i in order]))
            )
            loader = DataLoader(sliced, batch_size=None, sampler=order, num_workers=2)
            rows.append(("cache warm, 2 workers", N_ITEMS / _time(lambda: list(loader))))
    base = rows[0][1]
    print(f"{'design':<28} {'items/s':>9} {'x decode':>9}")
    for name, rate in rows:
        print(f"{name:<28} {rate:>9.1f} {rate / base:>9.1f}")


if __name__ == "__main__":
    main()
