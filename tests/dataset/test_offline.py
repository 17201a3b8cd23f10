"""Training with no server: prefetch online, stop the server, build and train offline."""

from __future__ import annotations

import shutil

import albumentations as alb
import httpx
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from datamint.dataset import VolumeDataset
from datamint.demo.train import collate_for_training
from datamint.demo.unet import TinyUNet
from datamint.exceptions import OfflineCacheMissError
from datamint.testing.server import build_demo_store, running_server


def _kwargs():
    return {
        "return_as_semantic_segmentation": True,
        "semantic_seg_merge_strategy": "mode",
        "alb_transform": alb.Resize(32, 32),
    }


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """Prefetch the demo volumes, save and read a project split, then stop the server."""
    cache = tmp_path_factory.mktemp("offline-cache")
    store = tmp_path_factory.mktemp("offline-store")
    _, key = build_demo_store(store)
    with running_server(store) as server:
        online = VolumeDataset(
            project="demo", server_url=server.url, api_key=key, cache_dir=cache, **_kwargs()
        )
        online.prefetch(include_annotations=True, progress=False)
        online.split(train=0.8, val=0.2, seed=0).save()
        project_split = online.split(use_project_splits=True)
        reference = online.slice("axial")[7]
        members = {name: [r.id for r in part.resources] for name, part in project_split.items()}
    return {"cache": cache, "members": members, "reference": reference}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network call was made offline")

    monkeypatch.setattr(httpx.Client, "send", refuse)


def test_train_one_epoch_offline(synced, no_network):
    ds = VolumeDataset(project="demo", offline=True, cache_dir=synced["cache"], **_kwargs())
    sliced = ds.slice("axial")
    item = sliced[7]
    assert np.array_equal(np.asarray(item["image"]), np.asarray(synced["reference"]["image"]))
    assert torch.equal(item["masks"], synced["reference"]["masks"])
    parts = sliced.split(use_project_splits=True)
    assert {name: [r.id for r in p.resources] for name, p in parts.items()} == synced["members"]
    model = TinyUNet(1, len(ds.segmentation_labels) + 1, width=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = DataLoader(
        parts["train"], batch_size=16, shuffle=True, num_workers=2, collate_fn=collate_for_training
    )
    seen = 0
    for image, mask in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(image), mask)
        loss.backward()
        optimizer.step()
        seen += image.shape[0]
        assert torch.isfinite(loss)
    assert seen == len(parts["train"]) > 0


def test_offline_from_the_environment(synced, no_network, monkeypatch):
    monkeypatch.setenv("DATAMINT_OFFLINE", "1")
    ds = VolumeDataset(project="demo", cache_dir=synced["cache"])
    assert ds.offline and len(ds) == 18


def test_a_file_missing_from_the_cache_is_named(synced, no_network, tmp_path):
    partial = tmp_path / "cache"
    shutil.copytree(synced["cache"] / "manifests", partial / "manifests")
    ds = VolumeDataset(project="demo", offline=True, cache_dir=partial)
    assert len(ds) == 18  # preparation needs only the manifest
    with pytest.raises(OfflineCacheMissError, match=ds.resources[0].id):
        ds[0]
