"""``stream()``: every item once per epoch across chunks and workers, locality, epochs,
the chunk-list cache, splits; with stand-in datasets and with the demo videos."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest
from torch.utils.data import DataLoader

from datamint.dataset import VideoDataset
from datamint.dataset.streaming import (
    STREAMS_DIR,
    StreamDataset,
    epoch_order,
    plan_chunk,
    stream,
)
from datamint.testing.server import build_demo_store, running_server


class Grouped:
    """A stand-in map-style dataset: items in groups (as slices of volumes), item == index."""

    def __init__(self, lengths, digest=None):
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.digest = digest

    def resource_offsets(self):
        return self.offsets

    def __len__(self):
        return int(self.offsets[-1])

    def __getitem__(self, index):
        return int(index)


LENGTHS = [3, 5, 2, 7, 1, 4, 6]  # 28 items in 7 groups


def _group_of(offsets, index):
    return int(np.searchsorted(offsets, index, side="right")) - 1


@pytest.mark.parametrize("uneven", ["pad", "drop", "exact"])
@pytest.mark.parametrize("nchunks", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("n_lengths", [LENGTHS, [1] * 13, [13], []])
def test_chunks_partition_each_epoch(uneven, nchunks, n_lengths):
    offsets = np.concatenate([[0], np.cumsum(n_lengths)]).astype(np.int64)
    n = int(offsets[-1])
    order = epoch_order(offsets, seed=3, epoch=2, shuffle=True)
    assert sorted(order.tolist()) == list(range(n))
    chunks = [plan_chunk(order, c, nchunks, uneven).tolist() for c in range(nchunks)]
    yielded = Counter(i for chunk in chunks for i in chunk)
    sizes = {len(chunk) for chunk in chunks}
    if uneven == "exact":
        assert yielded == Counter(range(n))
        assert max(sizes) - min(sizes) <= 1
    elif uneven == "drop":
        assert sizes == {n // nchunks}
        assert max(yielded.values(), default=1) == 1
        assert sum(yielded.values()) == n - n % nchunks
    else:
        per = math.ceil(n / nchunks) if n else 0
        assert sizes == {per}
        assert set(yielded) == set(range(n))
        assert sum(yielded.values()) - n == per * nchunks - n  # the padding, repeated items


def test_groups_stay_together_so_chunks_touch_few_resources():
    ds = Grouped([20, 35, 12, 40, 8, 27, 30, 19])
    nchunks = 4
    order = epoch_order(ds.offsets, seed=0, epoch=0, shuffle=True)
    touched = [
        {_group_of(ds.offsets, i) for i in plan_chunk(order, c, nchunks, "exact")}
        for c in range(nchunks)
    ]
    # a boundary between two chunks splits at most one group
    assert sum(len(t) for t in touched) <= len(ds.offsets) - 1 + nchunks - 1
    # groups are contiguous in the order, and permuted
    runs = [_group_of(ds.offsets, i) for i in order]
    changes = sum(a != b for a, b in itertools.pairwise(runs))
    assert changes == len(ds.offsets) - 2
    assert runs != sorted(runs)


@pytest.mark.parametrize("workers", [0, 1, 2])
@pytest.mark.parametrize("uneven", ["pad", "exact"])
def test_dataloader_workers_split_a_chunk_without_overlap(workers, uneven):
    ds = Grouped(LENGTHS)
    yielded = []
    for chunk in range(3):
        streamed = StreamDataset(ds, chunk=chunk, nchunks=3, uneven=uneven, shuffle_buffer=4)
        got = list(DataLoader(streamed, batch_size=None, num_workers=workers))
        assert len(got) == len(streamed)
        assert sorted(got) == sorted(streamed.chunk_items().tolist())
        yielded += got
    if uneven == "exact":
        assert sorted(yielded) == list(range(len(ds)))
    else:
        assert set(yielded) == set(range(len(ds)))
        assert len(yielded) == 30  # ceil(28 / 3) * 3


def test_set_epoch_reshuffles_deterministically():
    ds = Grouped(LENGTHS)
    a, b = (
        StreamDataset(ds, chunk=0, nchunks=1, seed=5),
        StreamDataset(ds, chunk=0, nchunks=1, seed=5),
    )
    epoch0 = list(a)
    assert list(b) == epoch0  # same seed and epoch: same order in any process
    a.set_epoch(1)
    epoch1 = list(a)
    assert epoch1 != epoch0
    assert sorted(epoch1) == sorted(epoch0) == list(range(len(ds)))
    assert list(StreamDataset(ds, chunk=0, nchunks=1, seed=6)) != epoch0
    ordered = StreamDataset(ds, chunk=0, nchunks=1, shuffle_buffer=0)
    ordered.set_epoch(4)
    assert list(ordered) == list(range(len(ds)))
    with pytest.raises(ValueError, match="epoch"):
        a.set_epoch(-1)


def test_without_a_process_group_the_stream_is_one_chunk():
    streamed = stream(Grouped(LENGTHS))
    assert streamed.chunk_spec() == (0, 1)
    assert len(streamed) == len(Grouped(LENGTHS))


def test_chunks_keep_their_groups_across_epochs_unless_resharding():
    ds = Grouped(LENGTHS)
    fixed = [StreamDataset(ds, chunk=c, nchunks=3, uneven="exact") for c in range(3)]
    moved = [StreamDataset(ds, chunk=c, nchunks=3, uneven="exact", reshard=True) for c in range(3)]
    members, orders, resharded = [], [], []
    for epoch in range(4):
        for streams in (fixed, moved):
            for s in streams:
                s.set_epoch(epoch)
        members.append([frozenset(s.chunk_items().tolist()) for s in fixed])
        orders.append([s.chunk_items().tolist() for s in fixed])
        resharded.append([frozenset(s.chunk_items().tolist()) for s in moved])
        assert sorted(i for chunk in members[-1] for i in chunk) == list(range(len(ds)))
        assert sorted(i for chunk in resharded[-1] for i in chunk) == list(range(len(ds)))
        for items in orders[-1]:  # whole groups, in some order
            groups = [_group_of(ds.offsets, i) for i in items]
            assert sum(a != b for a, b in itertools.pairwise(groups)) == len(set(groups)) - 1
    assert all(m == members[0] for m in members)  # same files on the same rank every epoch
    assert len({tuple(tuple(o) for o in epoch) for epoch in orders}) == 4  # new order each epoch
    assert len({tuple(epoch) for epoch in resharded}) > 1


def test_chunk_lists_are_cached_under_the_dataset_digest(tmp_path):
    ds = Grouped(LENGTHS, digest="0123abcd45")
    streamed = StreamDataset(
        ds, chunk=1, nchunks=3, seed=2, uneven="drop", shuffle_buffer=0, cache_root=tmp_path
    )
    items = streamed.chunk_items().tolist()
    folder = tmp_path / STREAMS_DIR / "0123abcd45"
    [path] = folder.iterdir()
    assert path.name == "c1of3-drop-seed2-ordered-e0.json"
    record = json.loads(path.read_text())
    assert record["items"] == items == list(range(9, 18))
    assert record["runs"] == [0, 1, 8]  # groups 2 (9), 3 (10..16), 4 (17)
    assert record["spec"] == {
        "chunk": 1,
        "nchunks": 3,
        "uneven": "drop",
        "seed": 2,
        "mode": "ordered",
        "epoch": 0,
    }

    # it is read back: a list written there is what the stream yields
    other = [0, 1, 2]
    record.update(items=other, runs=[0])
    record["sha256"] = hashlib.sha256(json.dumps([other, [0]]).encode()).hexdigest()
    path.write_text(json.dumps(record))
    assert list(streamed) == other
    # a damaged list is ignored and planned again
    path.write_text(json.dumps({**record, "sha256": "0" * 64}))
    assert streamed.chunk_items().tolist() == items
    path.write_text("{not json")
    assert streamed.chunk_items().tolist() == items


def test_fixed_chunks_are_one_cached_list_resharded_ones_one_per_epoch(tmp_path):
    ds = Grouped(LENGTHS, digest="feed01")
    fixed = StreamDataset(ds, chunk=0, nchunks=2, cache_root=tmp_path)
    moved = StreamDataset(ds, chunk=0, nchunks=2, reshard=True, cache_root=tmp_path)
    for epoch in range(4):
        for s in (fixed, moved):
            s.set_epoch(epoch)
            s.chunk_items()
    names = sorted(p.name for p in (tmp_path / STREAMS_DIR / "feed01").iterdir())
    assert names == [
        "c0of2-pad-seed0-fixed-e0.json",
        "c0of2-pad-seed0-reshard-e2.json",  # older epochs pruned, the last one kept
        "c0of2-pad-seed0-reshard-e3.json",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk": 0}, "both chunk= and nchunks="),
        ({"chunk": 3, "nchunks": 3}, "chunk=3"),
        ({"chunk": 0, "nchunks": 0}, "nchunks=0"),
        ({"uneven": "spread"}, "uneven='spread'"),
        ({"shuffle_buffer": -1}, "shuffle_buffer=-1"),
    ],
)
def test_bad_stream_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stream(Grouped(LENGTHS), **kwargs)


def test_demo_frames_stream_once_per_epoch_across_chunks_and_workers(counted, tmp_path):
    frames = (
        VideoDataset(
            project="demo",
            server_url=counted.url,
            api_key=counted.api_key,
            cache_dir=tmp_path,
            return_metainfo=False,
            return_segmentations=False,
        )
        .filter(filename_pattern="videos/*[24]*.mp4")  # ct_lung2 (19), echo_a4c (120)
        .frame_by_frame()
    )
    n = len(frames)
    assert n == 139
    seen = []
    for chunk in range(2):
        streamed = stream(frames, chunk=chunk, nchunks=2, uneven="exact", with_index=True)
        streamed.set_epoch(1)
        loader = DataLoader(streamed, batch_size=None, num_workers=2, collate_fn=lambda x: x)
        for index, item in loader:
            resource, frame = frames.locate(index)
            assert item["image"].shape[-2:] == frames[index]["image"].shape[-2:]
            seen.append((frames.resources[resource].id, frame))
    assert len(seen) == n
    assert len(set(seen)) == n
    digest_folder = tmp_path / STREAMS_DIR / frames.digest
    assert len(list(digest_folder.glob("c*of2-exact-seed0-fixed-e0.json"))) == 2


def test_split_picks_a_project_split(tmp_path):
    store = tmp_path / "store"
    _, key = build_demo_store(store)
    with running_server(store) as server:
        videos = VideoDataset(
            project="demo", server_url=server.url, api_key=key, cache_dir=tmp_path / "c"
        )
        parts = videos.split(train=0.67, val=0.33, seed=1)
        parts.save()
        train_ids = {r.id for r in parts["train"].resources}
        streamed = stream(videos, "train", chunk=0, nchunks=1, with_index=True)
        assert {streamed.dataset.resources[i].id for i in streamed.chunk_items()} == train_ids
        assert len(streamed) == len(train_ids) == 2
        with pytest.raises(
            ValueError, match="'test' is not one of the project's splits: train, val"
        ):
            stream(videos, "test")
