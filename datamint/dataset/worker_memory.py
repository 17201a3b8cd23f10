"""Memory reuse inside DataLoader worker processes (glibc's malloc).

A worker builds a batch of items, collates them into shared memory and frees them, batch
after batch. With glibc's defaults, an item array of a few MB (a 480x640 RGB float32 frame
is 3.7 MB) is carved from the top of the heap, and once the batch is freed the heap top is
returned to the kernel (its trim threshold adapts to twice the largest freed block, ~7 MB
here), so the next batch faults every page in again: ~900 page faults and ~1.5 ms per
such item, more than reading and casting the frame. glibc's ``mallopt`` tunables
(``M_TRIM_THRESHOLD``, ``M_MMAP_THRESHOLD``, see ``mallopt(3)``) let a process keep
freed memory for reuse instead.

:func:`keep_freed_memory_in_worker` sets them once per DataLoader worker process (never in
the main process, whose memory is the user's): blocks under 64 MiB come from the heap and
up to 256 MiB of freed heap is kept, so a worker's resident memory stays near its peak
batch instead of shrinking between batches; larger blocks (whole volumes) are mapped and
unmapped as before. On other C libraries it does nothing.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["keep_freed_memory_in_worker"]

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD_BYTES = 256 << 20
MMAP_THRESHOLD_BYTES = 64 << 20

_checked: dict[int, bool] = {}  # pid -> whether the tunables are set in that process


def keep_freed_memory_in_worker() -> bool:
    """In a torch DataLoader worker on glibc, set the malloc tunables (module docstring)
    once for this process.

    Returns:
        True when this process is a DataLoader worker whose tunables are set (now or
        earlier); False elsewhere (the main process, no glibc).
    """
    pid = os.getpid()
    done = _checked.get(pid)
    if done is None:
        done = _checked[pid] = _tune()
    return done


def _tune() -> bool:
    from torch.utils.data import get_worker_info

    if get_worker_info() is None:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
