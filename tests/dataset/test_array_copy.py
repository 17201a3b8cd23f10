"""fresh_array: the item path's one copy of a (possibly flipped) slice view."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from datamint.dataset.array_copy import fresh_array

DTYPES = [np.uint8, np.int16, np.uint16, np.int32, np.int64, np.float16, np.float32, np.float64]
VIEWS = {
    "columns reversed": np.s_[..., ::-1],
    "rows and columns reversed": np.s_[..., ::-1, ::-1],
    "rows reversed": np.s_[..., ::-1, :],
    "strided, columns reversed": np.s_[..., 1:6:2, ::-2],
    "one channel, both reversed": np.s_[1:2, ::-1, ::-1],
    "plain": np.s_[...],
}


@pytest.mark.parametrize("view", list(VIEWS), ids=list(VIEWS))
@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(DTYPES, [None, np.float32, np.uint8, np.int64]))
)
def test_fresh_array_equals_numpy_copy(view: str, source: type, target: type | None) -> None:
    rng = np.random.default_rng(0)
    stored = (rng.random((3, 7, 9)) * 250).astype(source)  # (C, h, w), values fit every dtype
    for array in (stored[VIEWS[view]], np.swapaxes(stored[VIEWS[view]], -1, -2)):
        got = fresh_array(array, target)
        want = np.array(array, dtype=target)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want)
        assert got.flags.c_contiguous and got.flags.owndata and got.flags.writeable
        assert not np.shares_memory(got, stored)


def test_fresh_array_of_a_1d_and_an_empty_view() -> None:
    line = np.arange(5, dtype=np.int16)[::-1]
    assert np.array_equal(fresh_array(line, np.float32), line.astype(np.float32))
    empty = np.zeros((1, 0, 4), np.int16)[..., ::-1]
    assert fresh_array(empty, np.float32).shape == (1, 0, 4)
