"""collate_items on arrays: the numpy fast path for small arrays gives torch's tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from datamint.dataset.collate import Item, collate_items
from datamint.exceptions import CollateError


def _items(n: int = 4) -> list[Item]:
    rng = np.random.default_rng(0)
    return [
        Item(
            image=rng.random((1, 40, 40)).astype(np.float32),  # 6.4 kB: the shared-memory path
            spacing=np.array([0.7, 0.7]) * (i + 1),
            affine=np.eye(4) * (i + 1),
            labels=np.arange(3, dtype=np.int32) + i,
            flags=np.array([True, i % 2 == 0]),
            metainfo={"resource_id": f"r{i}", "index": i},
        )
        for i in range(n)
    ]


def _torch_batch(items: list[Item]) -> dict:
    """What torch's default_collate gives for the same items as tensors."""
    plain = [
        {k: torch.from_numpy(v.copy()) if isinstance(v, np.ndarray) else v for k, v in it.items()}
        for it in items
    ]
    return default_collate(plain)


@pytest.mark.parametrize("strict", [False, True])
def test_arrays_collate_as_torch_stacks_them(strict: bool) -> None:
    items = _items()
    got, want = collate_items(items, strict=strict), _torch_batch(items)
    for key in ("image", "spacing", "affine", "labels", "flags"):
        assert isinstance(got[key], torch.Tensor)
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape
        assert torch.equal(got[key], want[key])
    assert got["metainfo"]["resource_id"] == want["metainfo"]["resource_id"]
    assert torch.equal(got["metainfo"]["index"], want["metainfo"]["index"])


def test_views_read_only_and_non_contiguous_arrays_collate_to_their_values() -> None:
    values = []
    for size in (24, 24 * 64):  # a small array (numpy stacks it) and a large one (torch does)
        base = np.arange(size, dtype=np.float64).reshape(2, 3, -1)
        read_only = base.copy()
        read_only.flags.writeable = False
        values += [base[..., ::-1], base.transpose(0, 2, 1)[..., :3], read_only]
    for value in values:
        batch = collate_items([Item(x=value), Item(x=value)])["x"]
        assert torch.equal(batch[1], torch.from_numpy(np.array(value)))
        batch[0].fill_(-1)  # the batch never writes through to the item's array
        assert value.min() >= 0


def test_small_arrays_of_different_dtypes_or_shapes_follow_the_policies() -> None:
    mixed = [Item(x=np.zeros(2, np.float32)), Item(x=np.zeros(2, np.float64))]
    assert isinstance(collate_items(mixed)["x"], list)
    with pytest.raises(CollateError, match="different dtypes"):
        collate_items(mixed, strict=True)
    shapes = [Item(x=np.zeros(2)), Item(x=np.zeros(3))]
    with pytest.raises(CollateError, match="different shapes"):
        collate_items(shapes)
    assert collate_items(shapes, on_mismatch="pad")["x"].shape == (2, 3)
    strings = [Item(x=np.array(["a"])), Item(x=np.array(["b"]))]
    assert isinstance(collate_items(strings)["x"], list)
