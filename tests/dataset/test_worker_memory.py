"""keep_freed_memory_in_worker: DataLoader workers reuse freed item memory (glibc)."""

from __future__ import annotations

import platform
import resource

import numpy as np
import pytest
from torch.utils.data import DataLoader, Dataset

from datamint.dataset.worker_memory import keep_freed_memory_in_worker

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")

FRAME = (3, 480, 640)  # a float32 RGB video frame: 3.7 MB
BATCH = 8


class Frames(Dataset):
    """Each item builds a batch's worth of fresh float32 frames (as items of a batch are
    built, then freed) and reports the page faults it took, after one warm-up batch."""

    def __init__(self, tune: bool) -> None:
        self.tune = tune

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> tuple[bool, float]:
        tuned = keep_freed_memory_in_worker() if self.tune else False
        source = np.ones(FRAME, np.uint8)
        before = 0
        for batch in range(3):
            if batch == 1:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            items = [source.astype(np.float32) for _ in range(BATCH)]
            del items
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        return tuned, faults / (2 * BATCH)


def _run(tune: bool) -> list[tuple[bool, float]]:
    # spawn: a fresh worker with glibc's default state (a fork inherits this process's heap)
    loader = DataLoader(
        Frames(tune), batch_size=None, num_workers=1, multiprocessing_context="spawn"
    )
    return [(bool(t), float(f)) for t, f in loader]


def test_worker_keeps_freed_memory_and_main_process_is_untouched() -> None:
    assert keep_freed_memory_in_worker() is False  # the main process is never tuned
    tuned = _run(tune=True)
    untuned = _run(tune=False)
    assert all(flag for flag, _ in tuned)
    pages = np.prod(FRAME) * 4 / 4096
    # untuned, every page of every frame faults again; tuned, freed frames are reused
    assert min(f for _, f in untuned) > 0.5 * pages
    assert max(f for _, f in tuned) < 0.05 * pages
