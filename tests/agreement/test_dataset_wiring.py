"""The dataset side of annotator agreement: ``ds.agreement()``, the STAPLE and mean merges in
items, and the ``annotators`` key that says who contributed (on the demo project)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from datamint.dataset import VolumeDataset
from tests.dataset.conftest import index_of


@pytest.fixture
def demo_kwargs(demo_server: Any, tmp_path: Path) -> dict[str, Any]:
    """Constructor arguments that point a dataset at the demo server."""
    return {"server_url": demo_server.url, "api_key": demo_server.api_key, "cache_dir": tmp_path}


def test_ds_agreement_gives_pairwise_dice_on_the_demo(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    table = ds.agreement(labels=["lesion"])
    rows = [r for r in table.to_dicts() if r.get("dice") is not None]
    assert rows and all(r["label"] == "lesion" for r in rows)
    assert all(0.0 <= r["dice"] <= 1.0 for r in rows)
    assert {r["resource_id"] for r in rows} <= {r.id for r in ds.resources}


def test_staple_and_mean_merges_in_items(demo_kwargs):
    kw = {"return_as_semantic_segmentation": True, **demo_kwargs}
    staple = VolumeDataset(project="demo", semantic_seg_merge_strategy="staple", **kw)
    mean = VolumeDataset(project="demo", semantic_seg_merge_strategy="mean", **kw)
    i = index_of(staple, "volumes/brain1_mr.nii.gz")
    item = staple[i]
    assert isinstance(item["masks"], torch.Tensor) and item["masks"].dtype == torch.float32
    n_classes = len(staple.segmentation_labels) + 1
    assert item["staple_sensitivity"].shape == (len(staple.annotators), n_classes)
    took_part = item["annotators"].astype(bool)
    assert took_part.sum() >= 2  # brain1 has several annotators
    rates = item["staple_sensitivity"][took_part]
    assert np.isfinite(rates).any() and np.all(np.isnan(item["staple_sensitivity"][~took_part]))
    soft = mean[i]["masks"]
    values = torch.unique(soft)
    assert values.min() >= 0 and values.max() <= 1 and len(values) > 2  # fractions, not 0/1


def test_annotators_key_is_a_multi_hot_over_the_dataset(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    parts = ds.split(train=0.5, val=0.5, seed=0)
    assert parts["train"].annotators == parts["val"].annotators == ds.annotators
    for i in range(len(ds)):
        item = ds[i]
        authors = {a.author for a in ds.get_annotations(i)}
        expected = [int(a in authors) for a in ds.annotators]
        assert item["annotators"].tolist() == expected and item["annotators"].dtype == np.int32
