"""The merge rules of contract §8 on its worked example (a 12x16 image, 192 px)."""

import numpy as np
import pytest
import torch

from datamint.exceptions import AnnotationError, ValidationError
from datamint.targets.encode import instances_to_semantic
from datamint.targets.merge import (
    MergeStrategy,
    empty_semantic,
    merge_categories,
    merge_image_labels,
    merge_semantic,
)

H, W = 12, 16
TUMOR, ORGAN = 1, 2


def _box(r0, r1, c0, c1):
    mask = np.zeros((H, W), np.uint8)
    mask[r0:r1, c0:c1] = 1
    return mask


TUMOR_A = _box(0, 4, 0, 6)  # 24 px
ORGAN_A = _box(6, 9, 10, 15)  # 15 px
TUMOR_B = _box(2, 6, 2, 8)  # 24 px, 8 px shared with TUMOR_A


def _semantic():
    alice = instances_to_semantic(np.stack([TUMOR_A, ORGAN_A]), [TUMOR, ORGAN], 2)
    bob = instances_to_semantic(TUMOR_B[None], [TUMOR], 2)
    return alice, bob


def _counts(merged: torch.Tensor) -> tuple[int, int, int]:
    return int(merged[TUMOR].sum()), int(merged[ORGAN].sum()), int(merged[0].sum())


def test_vector_shapes():
    assert (TUMOR_A.sum(), ORGAN_A.sum(), TUMOR_B.sum(), (TUMOR_A & TUMOR_B).sum()) == (
        24,
        15,
        24,
        8,
    )


def test_instances_to_semantic_is_one_hot():
    alice, _ = _semantic()
    assert alice.dtype == np.float32 and alice.shape == (3, H, W)
    assert np.array_equal(alice.sum(0), np.ones((H, W)))
    assert alice[0].sum() == 192 - 24 - 15


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [(MergeStrategy.UNION, (40, 15, 184)), (MergeStrategy.INTERSECTION, (8, 0, 137))],
)
def test_worked_example_two_authors(strategy, expected):
    alice, bob = _semantic()
    merged = merge_semantic({"alice": alice, "bob": bob}, strategy, 2)
    assert merged.dtype == torch.float32
    assert _counts(merged) == expected


def test_worked_example_mode_three_authors():
    alice, bob = _semantic()
    merged = merge_semantic(
        {"alice": alice, "bob": bob, "carol": bob.copy()}, MergeStrategy.MODE, 2
    )
    assert _counts(merged) == (24, 0, 168)


def test_mode_with_two_authors_equals_union():
    alice, bob = _semantic()
    mode = merge_semantic({"a": alice, "b": bob}, MergeStrategy.MODE, 2)
    union = merge_semantic({"a": alice, "b": bob}, MergeStrategy.UNION, 2)
    assert torch.equal(mode, union)


def test_empty_semantic_is_background():
    empty = empty_semantic(2, (H, W))
    assert empty.shape == (3, H, W) and empty[0].sum() == 192 and empty[1:].sum() == 0


def test_code_zero_is_rejected():
    with pytest.raises(AnnotationError, match="code 0 is outside"):
        instances_to_semantic(TUMOR_A[None], [0], 2)


def test_image_label_merges():
    votes = {
        "a": torch.tensor([1, 0, 1], dtype=torch.int32),
        "b": torch.tensor([1, 1, 0], dtype=torch.int32),
    }
    assert merge_image_labels(votes, MergeStrategy.UNION, 3).tolist() == [1, 1, 1]
    assert merge_image_labels(votes, MergeStrategy.INTERSECTION, 3).tolist() == [1, 0, 0]
    assert merge_image_labels(votes, MergeStrategy.MODE, 3).tolist() == [1, 1, 1]  # tie counts
    assert merge_image_labels({}, MergeStrategy.MODE, 3).dtype == torch.int32


def test_category_mode_tie_goes_to_lowest_index():
    assert merge_categories({"a": 1, "b": 0}, MergeStrategy.MODE, 3).item() == 0
    assert merge_categories({"a": 2, "b": 2, "c": 0}, MergeStrategy.MODE, 3).item() == 2
    none = merge_categories({}, MergeStrategy.MODE, 3)
    assert none.item() == -1 and none.dtype == torch.int64


def test_category_union_intersection():
    assert merge_categories({"a": 1, "b": 2}, MergeStrategy.UNION, 3).tolist() == [0, 1, 1]
    assert merge_categories({"a": 1, "b": 2}, MergeStrategy.INTERSECTION, 3).tolist() == [0, 0, 0]
    assert merge_categories({"a": 1, "b": 1}, MergeStrategy.INTERSECTION, 3).tolist() == [0, 1, 0]


def test_unknown_strategy_names_the_argument():
    with pytest.raises(ValidationError, match="semantic_seg_merge_strategy='majority'"):
        MergeStrategy.parse("majority", argument="semantic_seg_merge_strategy")
