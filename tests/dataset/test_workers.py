"""Every dataset class through multi-worker DataLoaders (fork and spawn); augmentation streams."""

from __future__ import annotations

import albumentations as alb
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from datamint.dataset import ImageDataset, VideoDataset, VolumeDataset


def _datasets(kw):
    volumes = VolumeDataset(project="demo", **kw).filter(
        filename_pattern="volumes/b*"
    )  # brain1, breast1
    videos = VideoDataset(project="demo", **kw).filter(filename_pattern="*ct_lung2*")
    return {
        "image": ImageDataset(project="demo", **kw).filter(filename_pattern="*.png"),
        "volume": volumes,
        "video": videos,
        "sliced_volume": volumes.slice("axial").subset([0]),
        "sliced_video": videos.frame_by_frame(),
    }


@pytest.mark.parametrize("context", ["fork", "spawn"])
@pytest.mark.parametrize("name", ["image", "volume", "video", "sliced_volume", "sliced_video"])
def test_multiworker_loading(demo_kwargs, context, name):
    ds = _datasets(demo_kwargs)[name]
    order = list(range(min(len(ds), 4)))
    expected = [ds[i] for i in order]
    loader = DataLoader(
        ds, batch_size=None, sampler=order, num_workers=2, multiprocessing_context=context
    )
    got = list(loader)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a["metainfo"]["resource_id"] == b["metainfo"]["resource_id"]
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))
        for author in b["masks"]:
            assert np.array_equal(np.asarray(a["masks"][author]), np.asarray(b["masks"][author]))


def _augmented_images(ds, context, seed):
    torch.manual_seed(seed)
    loader = DataLoader(
        ds, batch_size=None, sampler=[0, 0, 0, 0], num_workers=2, multiprocessing_context=context
    )
    return [np.asarray(item["image"]) for item in loader]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_augmentations_differ_across_workers_and_repeat_with_a_seed(demo_kwargs, context):
    ds = ImageDataset(
        project="demo", alb_transform=alb.Affine(rotate=(-40, 40), p=1.0), **demo_kwargs
    )
    ds = ds.filter(filename_pattern="images2d/histology_he_tile.png")
    first = _augmented_images(ds, context, seed=7)
    # items 0, 2 come from worker 0 and 1, 3 from worker 1: the two workers must differ
    assert not np.array_equal(first[0], first[1])
    again = _augmented_images(ds, context, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    other = _augmented_images(ds, context, seed=8)
    assert not np.array_equal(first[0], other[0])


def test_volume_augmentation_replays_on_masks_and_repeats(demo_kwargs):
    ds = VolumeDataset(project="demo", alb_transform=alb.HorizontalFlip(p=0.5), **demo_kwargs)
    ds = ds.filter(filename_pattern="volumes/breast1*")
    plain = VolumeDataset(project="demo", **demo_kwargs).filter(
        filename_pattern="volumes/breast1*"
    )[0]
    torch.manual_seed(3)
    runs = [ds[0] for _ in range(6)]
    flips = []
    for item in runs:
        flipped = np.array_equal(item["image"], plain["image"][..., ::-1])
        assert flipped or np.array_equal(item["image"], plain["image"])
        for author, mask in item["masks"].items():
            reference = plain["masks"][author][..., ::-1] if flipped else plain["masks"][author]
            assert np.array_equal(mask, reference)  # the same flip on every instance
        flips.append(flipped)
    assert len(set(flips)) == 2  # both outcomes within six draws (p = 1 - 2 / 64)
    torch.manual_seed(3)
    ds2 = VolumeDataset(
        project="demo", alb_transform=alb.HorizontalFlip(p=0.5), **demo_kwargs
    ).filter(filename_pattern="volumes/breast1*")
    assert [np.array_equal(ds2[0]["image"], plain["image"][..., ::-1]) for _ in range(6)] == flips
