"""Local splits (contract §9.2): sizes, determinism, patients kept whole."""

import pytest

from datamint.exceptions import SplitError
from datamint.splits import local_split, patient_split


@pytest.mark.parametrize(
    ("n", "ratios", "sizes"),
    [
        (5, {"train": 0.6, "test": 0.4}, [3, 2]),
        (5, {"train": 0.7, "val": 0.15, "test": 0.15}, [4, 1, 0]),
        (10, {"train": 0.8, "val": 0.2}, [8, 2]),
        (0, {"train": 0.5, "val": 0.5}, [0, 0]),
    ],
)
def test_sizes_follow_python_round(n, ratios, sizes):
    parts = local_split(n, ratios, seed=0)
    assert list(parts) == list(ratios)
    assert [len(v) for v in parts.values()] == sizes
    assert sorted(i for v in parts.values() for i in v) == list(range(n))


def test_same_seed_same_split_other_seed_differs():
    a = local_split(50, {"train": 0.8, "val": 0.2}, seed=7)
    assert a == local_split(50, {"train": 0.8, "val": 0.2}, seed=7)
    assert a != local_split(50, {"train": 0.8, "val": 0.2}, seed=8)


@pytest.mark.parametrize(
    ("ratios", "message"),
    [
        ({"train": 1.0}, "at least 2"),
        ({"train": 0.9, "val": 0.0}, "must be a number > 0"),
        ({"train": 0.5, "val": 0.3}, "sum to 1"),
    ],
)
def test_bad_ratios(ratios, message):
    with pytest.raises(SplitError, match=message):
        local_split(10, ratios, seed=0)
    with pytest.raises(ValueError):  # SplitError is a ValueError
        local_split(10, ratios, seed=0)


def test_patient_split_keeps_each_patient_in_one_split():
    pids = ["p1", "p1", "p2", "p3", "p3", "p3", "p4", None, None]
    parts = patient_split(pids, {"train": 0.5, "val": 0.5}, seed=3)
    where = {}
    for name, idx in parts.items():
        for i in idx:
            if pids[i] is not None:
                assert where.setdefault(pids[i], name) == name
    assert sorted(i for v in parts.values() for i in v) == list(range(len(pids)))


def test_patient_split_none_strategies():
    pids = ["p1", None, None, "p2"]
    skipped = patient_split(pids, {"a": 0.5, "b": 0.5}, seed=0, none_patient_id_strategy="skip")
    assert sorted(i for v in skipped.values() for i in v) == [0, 3]
    grouped = patient_split(pids, {"a": 0.5, "b": 0.5}, seed=0, none_patient_id_strategy="group")
    assert any({1, 2} <= set(v) for v in grouped.values())
    with pytest.raises(SplitError, match="item 1 has no patient id"):
        patient_split(pids, {"a": 0.5, "b": 0.5}, seed=0, none_patient_id_strategy="error")
