"""Local splits (contract §9.2): sizes, determinism, patients kept whole."""

import json
import math
import os
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamint.exceptions import SplitError
from datamint.splits import kfold_indices, local_split, patient_split


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


# -- stratification, k-fold, determinism, properties ------------------------------------


@pytest.mark.parametrize(
    "ratios",
    [
        {"train": 0.8, "val": 0.2},
        {"a": 0.5, "b": 0.3, "c": 0.2},
        {"w": 0.25, "x": 0.25, "y": 0.25, "z": 0.25},
    ],
)
def test_stratified_shares_within_one_per_class(ratios):
    strata = ["A"] * 37 + ["B"] * 11 + ["C"] * 3 + [None] * 5
    parts = local_split(len(strata), ratios, seed=4, strata=strata)
    assert sorted(i for v in parts.values() for i in v) == list(range(len(strata)))
    for name, idx in parts.items():
        per_class = Counter(strata[i] for i in idx)
        for cls, total in Counter(strata).items():
            assert abs(per_class.get(cls, 0) - ratios[name] * total) <= 1, (name, cls)
        assert abs(len(idx) - ratios[name] * len(strata)) <= len(ratios)


def test_stratification_balances_split_sizes_across_many_small_strata():
    strata = list(range(40))  # 40 classes of one item each
    parts = local_split(40, {"train": 0.8, "val": 0.2}, seed=0, strata=strata)
    assert [len(v) for v in parts.values()] == [32, 8]


def test_stratified_patient_split_keeps_patients_whole():
    pids = [f"p{i // 3}" for i in range(30)]
    strata = ["pos" if (i // 3) % 4 == 0 else "neg" for i in range(30)]
    parts = patient_split(pids, {"train": 0.5, "val": 0.5}, seed=2, strata=strata)
    owners = {pids[i]: name for name, idx in parts.items() for i in idx}
    assert all(owners[pids[i]] == name for name, idx in parts.items() for i in idx)
    positives = {name: sum(strata[i] == "pos" for i in idx) // 3 for name, idx in parts.items()}
    assert sorted(positives.values()) in ([1, 2], [2, 1], [1, 1], [2, 2])  # 3 positive patients


def test_kfold_val_parts_partition():
    folds = kfold_indices(23, 5, seed=0)
    vals = [v for _, v in folds]
    assert sorted(i for v in vals for i in v) == list(range(23))
    assert max(map(len, vals)) - min(map(len, vals)) <= 1
    for train, val in folds:
        assert sorted(train + val) == list(range(23)) and not set(train) & set(val)


def test_kfold_by_patient_and_stratified():
    pids = [f"p{i // 2}" for i in range(20)]
    strata = ["x" if i < 8 else "y" for i in range(20)]
    folds = kfold_indices(20, 4, seed=1, patient_ids=pids, strata=strata)
    for _, val in folds:
        assert {pids[i] for i in val}.isdisjoint(
            {pids[i] for t, v in folds if v is not val for i in v}
        )
        assert 0 < sum(strata[i] == "x" for i in val) <= 4


@pytest.mark.parametrize("k", [1, 0, 24, 2.0])
def test_kfold_bad_k(k):
    with pytest.raises(SplitError, match="folds needs an integer between 2 and the 23 units"):
        kfold_indices(23, k, seed=0)


_SNIPPET = """
import json
from datamint.splits import kfold_indices, patient_split
pids = ["pat-%d" % (i % 7) for i in range(40)] + [None] * 3
strata = ["s%d" % (i % 3) for i in range(43)]
ratios = {"train": 0.6, "val": 0.2, "test": 0.2}
print(json.dumps([patient_split(pids, ratios, 11, "individual", strata),
                  kfold_indices(43, 4, 5, patient_ids=pids, strata=strata)]))
"""


def test_determinism_across_processes_and_hash_seeds():
    outputs = set()
    for hash_seed in ("0", "1", "random"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", _SNIPPET], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop())[0]["train"]


@settings(max_examples=150, deadline=None)
@given(
    pids=st.lists(
        st.one_of(st.none(), st.sampled_from([f"p{i}" for i in range(12)])), min_size=0, max_size=60
    ),
    strategy=st.sampled_from(["individual", "group", "skip"]),
    weights=st.lists(st.integers(1, 9), min_size=2, max_size=4),
    seed=st.integers(0, 2**31),
    stratify=st.booleans(),
)
def test_no_patient_in_two_parts_for_any_layout(pids, strategy, weights, seed, stratify):
    total = sum(weights)
    ratios = {f"s{i}": w / total for i, w in enumerate(weights)}
    strata = [(i * 7) % 3 for i in range(len(pids))] if stratify else None
    parts = patient_split(pids, ratios, seed, strategy, strata)
    owner: dict = {}
    seen = []
    for name, idx in parts.items():
        seen += idx
        for i in idx:
            key = pids[i] if pids[i] is not None or strategy == "group" else ("none", i)
            assert owner.setdefault(key, name) == name
    expected = [i for i, p in enumerate(pids) if not (p is None and strategy == "skip")]
    assert sorted(seen) == expected
    assert math.isclose(sum(ratios.values()), 1.0)
