"""``mean`` and ``staple`` semantic merges, and which arguments take them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datamint.exceptions import ValidationError
from datamint.targets.encode import instances_to_semantic
from datamint.targets.merge import (
    SEMANTIC_MERGE_STRATEGIES,
    MergeStrategy,
    merge_categories,
    merge_image_labels,
    merge_semantic,
    staple_semantic,
)
from datamint.targets.staple import staple

H, W = 12, 16
TUMOR, ORGAN = 1, 2


def _box(r0, r1, c0, c1):
    mask = np.zeros((H, W), np.uint8)
    mask[r0:r1, c0:c1] = 1
    return mask


def _worked_example():
    """alice: tumor 24 px and organ 15 px; bob: tumor 24 px, 8 px shared with alice's."""
    alice = instances_to_semantic(
        np.stack([_box(0, 4, 0, 6), _box(6, 9, 10, 15)]), [TUMOR, ORGAN], 2
    )
    bob = instances_to_semantic(_box(2, 6, 2, 8)[None], [TUMOR], 2)
    return {"alice": alice, "bob": bob}


def test_mean_is_the_fraction_of_annotators():
    merged = merge_semantic(_worked_example(), MergeStrategy.MEAN, 2)
    assert merged.dtype == torch.float32 and merged.shape == (3, H, W)
    tumor = merged[TUMOR]
    assert int((tumor == 1.0).sum()) == 8 and int((tumor == 0.5).sum()) == 32
    assert int((merged[ORGAN] == 0.5).sum()) == 15 and float(merged[ORGAN].max()) == 0.5
    torch.testing.assert_close(merged.sum(0), torch.ones(H, W))  # one-hot in, soft one-hot out


def test_mean_with_three_annotators_has_thirds():
    masks = _worked_example()
    masks["carol"] = masks["bob"].copy()
    merged = merge_semantic(masks, MergeStrategy.MEAN, 2)
    assert sorted(torch.unique(merged[TUMOR]).tolist()) == pytest.approx([0, 1 / 3, 2 / 3, 1])


def test_staple_merge_is_staple_per_channel():
    masks = _worked_example()
    masks["carol"] = masks["bob"].copy()
    merged = merge_semantic(masks, MergeStrategy.STAPLE, 2)
    result = staple_semantic(masks, 2)
    torch.testing.assert_close(merged, result.probabilities)
    decisions = np.stack([m[TUMOR] != 0 for m in masks.values()])
    w, p, q = staple(decisions)
    np.testing.assert_allclose(result.probabilities[TUMOR].numpy(), w)
    np.testing.assert_allclose(result.sensitivity[:, TUMOR], p)
    np.testing.assert_allclose(result.specificity[:, TUMOR], q)
    # bob and carol agree, alice's tumor differs: the consensus follows the majority
    consensus = result.probabilities[TUMOR].numpy() >= 0.5
    np.testing.assert_array_equal(consensus, masks["bob"][TUMOR] != 0)
    assert result.sensitivity[0, TUMOR] < result.sensitivity[1, TUMOR]


def test_staple_metadata_names_authors_and_classes():
    result = staple_semantic(_worked_example(), 2)
    meta = result.as_metadata(["tumor", "organ"])
    assert set(meta) == {"sensitivity", "specificity"}
    assert set(meta["sensitivity"]) == {"alice", "bob"}
    assert list(meta["sensitivity"]["alice"]) == ["background", "tumor", "organ"]
    assert all(isinstance(v, float) for v in meta["specificity"]["bob"].values())
    assert meta["sensitivity"]["alice"]["tumor"] == result.sensitivity[0, TUMOR]
    with pytest.raises(ValueError, match="expected 2 class names, got 1"):
        result.as_metadata(["tumor"])


def test_soft_strategies_are_for_semantic_segmentations_only():
    for name in ("mean", "staple"):
        with pytest.raises(ValidationError, match=f"image_labels_merge_strategy='{name}'"):
            MergeStrategy.parse(name, argument="image_labels_merge_strategy")
        parsed = MergeStrategy.parse(
            name, argument="semantic_seg_merge_strategy", allowed=SEMANTIC_MERGE_STRATEGIES
        )
        assert parsed is MergeStrategy(name)
    with pytest.raises(ValueError, match="merge_image_labels takes"):
        merge_image_labels({"a": torch.tensor([1], dtype=torch.int32)}, MergeStrategy.MEAN, 1)
    with pytest.raises(ValueError, match="merge_categories takes"):
        merge_categories({"a": 0}, MergeStrategy.STAPLE, 1)


def test_votes_are_unchanged_by_the_new_strategies():
    masks = _worked_example()
    union = merge_semantic(masks, MergeStrategy.UNION, 2)
    assert (int(union[TUMOR].sum()), int(union[ORGAN].sum()), int(union[0].sum())) == (40, 15, 184)
