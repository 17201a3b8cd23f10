"""Stream a dataset in shards: every item once per epoch across ranks and DataLoader workers.

:func:`stream` wraps a map-style dataset in a :class:`torch.utils.data.IterableDataset`.
Each epoch is planned the same way in every process, from ``(seed, epoch)`` alone:

1. **Groups.** Items of one resource form a group (the slices of a volume, the frames of
   a video; one item per resource otherwise). With shuffling on, the groups are put in
   a random order (``numpy.random.default_rng([seed, e]).permutation``) with ``e = 0``,
   or ``e = epoch`` with ``reshard=True``. Items of a group stay together, so a chunk
   touches few resources and each node downloads and decodes only its share of files.
2. **Chunks.** The flat item sequence is cut into ``nchunks`` contiguous chunks, one per
   rank (``chunk`` = rank); the ranks of a node hold neighbouring chunks. The chunk's item
   list is cached under ``<cache root>/streams/<dataset digest>/`` as a small JSON file,
   keyed by the chunk spec, as datatap caches its stream. By default (``reshard=False``)
   a chunk holds the same groups every epoch, as ``split_dataset_by_node`` of Hugging Face
   ``datasets`` gives each node fixed shards: after the first epoch nothing is downloaded
   again, and DDP's gradient all-reduce still mixes every chunk in each step. Each epoch
   the chunk's groups are put in a new order (``default_rng([seed, epoch, chunk])``).
   ``reshard=True`` deals the groups out afresh each epoch instead (each node then
   downloads new files every epoch until its cache holds most of the dataset).
3. **Workers.** A chunk is cut again, contiguously, among the rank's DataLoader workers
   (``torch.utils.data.get_worker_info``); workers of one rank may differ by one item.
4. **Shuffle buffer.** Each worker reads its items in order through a buffer of
   ``shuffle_buffer`` items and yields a random one of them each time
   (``default_rng([seed, epoch, chunk, worker])``), as WebDataset and datatap do.
   ``shuffle_buffer=0`` turns shuffling off altogether (groups in dataset order, items in
   order): the deterministic order for validation.

Without ``chunk``/``nchunks``, they are the ``torch.distributed`` rank and world size when
a process group is initialised, else ``0``/``1``. :meth:`StreamDataset.set_epoch`
reshuffles; call it before each epoch on every rank, as with ``DistributedSampler``.

**Uneven counts.** When ``nchunks`` does not divide the number of items, ``uneven`` says
what happens, per epoch:

- ``"pad"`` (default): every chunk has ``ceil(n / nchunks)`` items; the last chunks are
  completed with the first items of the epoch's order, so every item is yielded at least
  once and at most ``nchunks - 1`` items twice. All ranks run the same number of steps,
  which DDP needs (``DistributedSampler(drop_last=False)`` does the same).
- ``"drop"``: every chunk has ``floor(n / nchunks)`` items; the last ``n % nchunks``
  items of the order are not yielded (the same ones each epoch, other ones with
  ``reshard=True``). Every item at most once; equal steps on all ranks.
- ``"exact"``: every item exactly once; chunks differ by at most one item, so ranks may
  run one step more than others (fine without collective operations per step, or with
  ``torch.distributed.algorithms.Join``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from datamint.storage.atomic import atomic_write_text

__all__ = [
    "DEFAULT_SHUFFLE_BUFFER",
    "STREAMS_DIR",
    "UNEVEN_MODES",
    "StreamDataset",
    "epoch_order",
    "group_runs",
    "plan_chunk",
    "shuffle_runs",
    "stream",
]

DEFAULT_SHUFFLE_BUFFER = 256
"""Items held by each worker's shuffle buffer, by default."""

UNEVEN_MODES = ("pad", "drop", "exact")
STREAMS_DIR = "streams"
CHUNK_FORMAT = "datamint-stream-chunk"
KEEP_EPOCHS = 2
"""Cached chunk lists kept per chunk spec with ``reshard=True``: this epoch and the last."""


def _dist_rank_world() -> tuple[int, int]:
    """``(rank, world size)`` of the default process group, or ``(0, 1)`` without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _group_offsets(dataset: Any, n: int) -> np.ndarray:
    """``(G + 1,)`` int64 offsets of the item groups (one group per resource)."""
    offsets = getattr(dataset, "resource_offsets", None)
    if callable(offsets):
        found = np.asarray(offsets(), dtype=np.int64)
        if found.ndim == 1 and found.size >= 1 and found[0] == 0 and found[-1] == n:
            return found
    return np.arange(n + 1, dtype=np.int64)


def epoch_order(offsets: np.ndarray, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The epoch's item order: groups permuted (when ``shuffle``), items of a group together.

    Args:
        offsets: ``(G + 1,)`` group offsets, from 0 to ``n``.
        seed: The stream's seed.
        epoch: The epoch.
        shuffle: Permute the groups with ``default_rng([seed, epoch])``.

    Returns:
        ``(n,)`` int64 item indices.
    """
    n = int(offsets[-1])
    if not shuffle or n == 0:
        return np.arange(n, dtype=np.int64)
    lengths = np.diff(offsets)
    perm = np.random.default_rng([seed, epoch]).permutation(lengths.size)
    taken = lengths[perm]
    before = np.concatenate([[0], np.cumsum(taken)[:-1]]).astype(np.int64)
    order = (
        np.arange(n, dtype=np.int64) - np.repeat(before, taken) + np.repeat(offsets[perm], taken)
    )
    return np.asarray(order, dtype=np.int64)


def group_runs(items: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Start positions in ``items`` of each run of items from one group.

    Args:
        items: Item indices, each group's items contiguous.
        offsets: ``(G + 1,)`` group offsets.

    Returns:
        int64 positions, starting with 0 (empty for no items).
    """
    if items.size == 0:
        return np.zeros(0, dtype=np.int64)
    groups = np.searchsorted(offsets, items, side="right") - 1
    return np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]])).astype(np.int64)


def shuffle_runs(items: np.ndarray, runs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``items`` with its runs (groups) in a random order, each run kept in order.

    Args:
        items: Item indices.
        runs: Start positions of the runs (see :func:`group_runs`).
        rng: The generator.

    Returns:
        A permutation of ``items``.
    """
    if items.size == 0:
        return items
    bounds = np.append(runs, items.size)
    pieces = [items[bounds[k] : bounds[k + 1]] for k in range(runs.size)]
    return np.concatenate([pieces[k] for k in rng.permutation(len(pieces))])


def plan_chunk(order: np.ndarray, chunk: int, nchunks: int, uneven: str) -> np.ndarray:
    """The items of one chunk: a contiguous part of the epoch's order.

    Args:
        order: ``(n,)`` the epoch's item order.
        chunk: This chunk, ``0 <= chunk < nchunks``.
        nchunks: Number of chunks.
        uneven: ``"pad"``, ``"drop"`` or ``"exact"`` (see the module docstring).

    Returns:
        int64 item indices of the chunk, in order.
    """
    n = order.size
    if uneven == "exact":
        return order[chunk * n // nchunks : (chunk + 1) * n // nchunks]
    if uneven == "drop":
        per = n // nchunks
        return order[chunk * per : (chunk + 1) * per]
    per = math.ceil(n / nchunks) if n else 0
    padded = np.resize(order, per * nchunks) if n else order  # repeats from the start
    return padded[chunk * per : (chunk + 1) * per]


def _buffered(items: np.ndarray, size: int, rng: np.random.Generator) -> Iterator[int]:
    """Yield ``items`` through a shuffle buffer of ``size`` (in order when ``size`` <= 1)."""
    if size <= 1:
        yield from (int(i) for i in items)
        return
    buffer: list[int] = []
    for item in items:
        buffer.append(int(item))
        if len(buffer) >= size:
            pick = int(rng.integers(len(buffer)))
            buffer[pick], buffer[-1] = buffer[-1], buffer[pick]
            yield buffer.pop()
    rng.shuffle(buffer)
    yield from buffer


class StreamDataset(IterableDataset[Any]):
    """An iterable view of a map-style dataset, sharded per rank and worker (see :func:`stream`).

    Attributes:
        dataset: The wrapped map-style dataset.
        epoch: The epoch :meth:`set_epoch` set (0 at first).
    """

    def __init__(
        self,
        dataset: Any,
        *,
        chunk: int | None = None,
        nchunks: int | None = None,
        shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
        seed: int = 0,
        uneven: str = "pad",
        reshard: bool = False,
        with_index: bool = False,
        cache_root: str | os.PathLike[str] | None = None,
    ) -> None:
        if (chunk is None) != (nchunks is None):
            raise ValueError("give both chunk= and nchunks=, or neither (then the rank is used)")
        if nchunks is not None and (
            not isinstance(nchunks, int) or nchunks < 1 or not isinstance(chunk, int)
        ):
            raise ValueError(f"nchunks={nchunks!r} must be an int >= 1 and chunk an int")
        if chunk is not None and nchunks is not None and not 0 <= chunk < nchunks:
            raise ValueError(f"chunk={chunk} must be in 0..{nchunks - 1} (nchunks={nchunks})")
        if uneven not in UNEVEN_MODES:
            raise ValueError(f"uneven={uneven!r} is not one of {', '.join(UNEVEN_MODES)}")
        if not isinstance(shuffle_buffer, int) or shuffle_buffer < 0:
            raise ValueError(f"shuffle_buffer={shuffle_buffer!r} must be an int >= 0")
        if not isinstance(seed, int):
            raise ValueError(f"seed={seed!r} must be an int")
        self.dataset = dataset
        self.chunk = chunk
        self.nchunks = nchunks
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.uneven = uneven
        self.reshard = bool(reshard)
        self.with_index = with_index
        self._cache_root = None if cache_root is None else Path(cache_root)
        self.epoch = 0
        self._rank_world: tuple[int, int] | None = None

    def __repr__(self) -> str:
        """Show the wrapped dataset and the chunk spec."""
        chunk, nchunks = self.chunk_spec()
        return (
            f"StreamDataset({self.dataset!r}, chunk={chunk}, nchunks={nchunks}, "
            f"shuffle_buffer={self.shuffle_buffer}, seed={self.seed}, uneven={self.uneven!r}, "
            f"reshard={self.reshard}, epoch={self.epoch})"
        )

    # -- spec ------------------------------------------------------------------------
    @property
    def shuffle(self) -> bool:
        """Whether groups and items are shuffled (``shuffle_buffer > 0``)."""
        return self.shuffle_buffer > 0

    def chunk_spec(self) -> tuple[int, int]:
        """``(chunk, nchunks)``: as given, else the ``torch.distributed`` rank and world size."""
        if self.chunk is not None and self.nchunks is not None:
            return self.chunk, self.nchunks
        if self._rank_world is None or self._rank_world == (0, 1):
            self._rank_world = _dist_rank_world()
        return self._rank_world

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch``; call before each epoch with the same value on every rank.

        Also plans the epoch here (preparing the dataset and writing the chunk list), so
        DataLoader workers started afterwards inherit both instead of each preparing the
        dataset again. Workers get the new epoch when the DataLoader starts them (each
        epoch, unless ``persistent_workers=True``: then build a new DataLoader per epoch).

        Raises:
            ValueError: If ``epoch`` is not an int >= 0.
        """
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch={epoch!r} must be an int >= 0")
        self.epoch = epoch
        self.chunk_items()

    # -- plan ------------------------------------------------------------------------
    @property
    def cache_root(self) -> Path:
        """Where chunk lists are cached: ``cache_root=``, the dataset's, or the default root."""
        if self._cache_root is not None:
            return self._cache_root
        root = getattr(self.dataset, "cache_root", None)
        if root is not None:
            return Path(root)
        from datamint.settings import cache_root

        return cache_root()

    def _digest(self) -> str | None:
        digest = getattr(self.dataset, "digest", None)
        return digest if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]+", digest) else None

    def _spec(self, chunk: int, nchunks: int, epoch: int) -> dict[str, Any]:
        """What a chunk's membership depends on (the epoch only when resharding)."""
        mode = ("reshard" if self.reshard else "fixed") if self.shuffle else "ordered"
        return {
            "chunk": chunk,
            "nchunks": nchunks,
            "uneven": self.uneven,
            "seed": self.seed,
            "mode": mode,
            "epoch": epoch if mode == "reshard" else 0,
        }

    def _chunk_path(self, digest: str, spec: dict[str, Any]) -> Path:
        stem = "c{chunk}of{nchunks}-{uneven}-seed{seed}-{mode}".format(**spec)
        return self.cache_root / STREAMS_DIR / digest / f"{stem}-e{spec['epoch']}.json"

    def _membership(self, chunk: int, nchunks: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """``(items, runs)`` of the chunk: from the chunk-list cache, else planned and cached."""
        spec = self._spec(chunk, nchunks, epoch)
        digest = self._digest()
        path = None if digest is None else self._chunk_path(digest, spec)
        if path is not None and digest is not None:
            cached = _read_chunk(path, digest, spec)
            if cached is not None:
                return cached
        n = len(self.dataset)
        offsets = _group_offsets(self.dataset, n)
        order = epoch_order(offsets, self.seed, spec["epoch"], self.shuffle)
        items = plan_chunk(order, chunk, nchunks, self.uneven)
        runs = group_runs(items, offsets)
        if path is not None and digest is not None:
            _write_chunk(path, digest, spec, items, runs, n)
        return items, runs

    def chunk_items(self, epoch: int | None = None) -> np.ndarray:
        """This chunk's item indices for an epoch, before the worker split and buffer.

        The membership comes from the chunk-list cache when there (else it is planned and
        written there); without ``reshard``, its groups are then put in the epoch's order.

        Args:
            epoch: The epoch; :attr:`epoch` when ``None``.

        Returns:
            int64 indices into the wrapped dataset.
        """
        epoch = self.epoch if epoch is None else epoch
        chunk, nchunks = self.chunk_spec()
        items, runs = self._membership(chunk, nchunks, epoch)
        if self.shuffle and not self.reshard:
            items = shuffle_runs(items, runs, np.random.default_rng([self.seed, epoch, chunk]))
        return items

    def worker_items(self, epoch: int | None = None) -> np.ndarray:
        """The items of the calling DataLoader worker (all of the chunk outside workers)."""
        items = self.chunk_items(epoch)
        info = get_worker_info()
        if info is None:
            return items
        m = items.size
        return items[info.id * m // info.num_workers : (info.id + 1) * m // info.num_workers]

    def __len__(self) -> int:
        """Items this rank (chunk) yields per epoch, over all its workers."""
        return int(self.chunk_items().size)

    def __iter__(self) -> Iterator[Any]:
        """Yield the worker's items (``(index, item)`` with ``with_index=True``)."""
        chunk, _ = self.chunk_spec()
        info = get_worker_info()
        worker = 0 if info is None else info.id
        rng = np.random.default_rng([self.seed, self.epoch, chunk, worker])
        size = self.shuffle_buffer if self.shuffle else 0
        for index in _buffered(self.worker_items(), size, rng):
            item = self.dataset[index]
            yield (index, item) if self.with_index else item

    def __getstate__(self) -> dict[str, Any]:
        """Pickle with the rank resolved here (spawned workers have no process group)."""
        self.chunk_spec()
        return dict(self.__dict__)


def _read_chunk(
    path: Path, digest: str, spec: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (
        isinstance(data, dict)
        and data.get("format") == CHUNK_FORMAT
        and data.get("digest") == digest
        and data.get("spec") == spec
        and isinstance(data.get("items"), list)
        and isinstance(data.get("runs"), list)
    ):
        return None
    items, runs, n = data["items"], data["runs"], data.get("n")
    if not isinstance(n, int) or not all(isinstance(i, int) and 0 <= i < n for i in items):
        return None
    if data.get("sha256") != _checksum(items, runs):
        return None
    if runs != sorted(set(runs)) or (
        items and (not runs or runs[0] != 0 or runs[-1] >= len(items))
    ):
        return None
    return np.asarray(items, dtype=np.int64), np.asarray(runs, dtype=np.int64)


def _checksum(items: list[int], runs: list[int]) -> str:
    return hashlib.sha256(json.dumps([items, runs]).encode("ascii")).hexdigest()


def _write_chunk(
    path: Path, digest: str, spec: dict[str, Any], items: np.ndarray, runs: np.ndarray, n: int
) -> None:
    listed, starts = [int(i) for i in items], [int(r) for r in runs]
    payload = {
        "format": CHUNK_FORMAT,
        "digest": digest,
        "spec": spec,
        "n": n,
        "items": listed,
        "runs": starts,
        "sha256": _checksum(listed, starts),
    }
    with contextlib.suppress(OSError):  # a cache: failing to write it costs a re-plan only
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(payload, separators=(",", ":")))
        stem = path.name.rsplit("-e", 1)[0]
        for old in path.parent.glob(f"{stem}-e*.json"):
            epoch = old.name[len(stem) + 2 : -len(".json")]
            if epoch.isdigit() and int(epoch) < spec["epoch"] - (KEEP_EPOCHS - 1):
                old.unlink(missing_ok=True)


def stream(
    dataset: Any,
    split: str | None = None,
    *,
    chunk: int | None = None,
    nchunks: int | None = None,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    seed: int = 0,
    uneven: str = "pad",
    reshard: bool = False,
    with_index: bool = False,
) -> StreamDataset:
    """Stream a dataset (or one of its project splits) as an ``IterableDataset``, sharded.

    See the module docstring for the plan: groups (resources) shuffled per epoch,
    contiguous chunks per rank, contiguous parts per worker, a shuffle buffer per worker.
    Across all ranks and workers every item is yielded once per epoch, up to the
    ``uneven`` rule.

    Args:
        dataset: A map-style dataset (a datamint dataset, or any with ``len`` and
            indexing; then every item is its own group and nothing is cached).
        split: A project split name (``dataset.split(use_project_splits=True)[split]``),
            or ``None`` for the whole dataset.
        chunk: This shard, ``0 <= chunk < nchunks``; default the ``torch.distributed``
            rank (0 without a process group).
        nchunks: The number of shards; default the world size (1).
        shuffle_buffer: Items in each worker's shuffle buffer; 0 turns shuffling off.
        seed: Seed of every random choice (same on all ranks).
        uneven: ``"pad"`` (default), ``"drop"`` or ``"exact"`` when ``nchunks`` does not
            divide the item count.
        reshard: Deal the groups out to the chunks afresh each epoch; by default each
            chunk keeps its groups and only their order changes per epoch.
        with_index: Yield ``(index, item)`` pairs, ``index`` into the (split) dataset.

    Returns:
        A :class:`StreamDataset`; pass it to a ``DataLoader`` (no sampler, no shuffle).

    Raises:
        ValueError: For inconsistent ``chunk``/``nchunks``, an unknown ``uneven``, a
            negative ``shuffle_buffer``, or a ``split`` the project does not have (the
            message lists those it has).
        SplitError: If the project has no split assignments at all.
    """
    if split is not None:
        parts = dataset.split(use_project_splits=True)
        if split not in parts:
            raise ValueError(
                f"split {split!r} is not one of the project's splits: {', '.join(sorted(parts))}"
            )
        dataset = parts[split]
    return StreamDataset(
        dataset,
        chunk=chunk,
        nchunks=nchunks,
        shuffle_buffer=shuffle_buffer,
        seed=seed,
        uneven=uneven,
        reshard=reshard,
        with_index=with_index,
    )
