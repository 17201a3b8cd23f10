"""What a training loop receives: the path users write, ``DataLoader(ds, ...)``, on every class.

- fixed-shape items (semantic masks + a resize) batch into tensors with torch's own
  default collate, and with ``ds.get_dataloader()``;
- default items either batch or raise our ``CollateError`` naming the fix, never a torch
  ``TypeError``/``RuntimeError``;
- two workers over every demo resource finish, metainfo on, in both item formats (the
  palette-colour DICOM's pydicom header used to hang the loader);
- a worker's exception reaches the loop as an error naming the resource;
- every item carries geometry consistent with its array, and its keys are the same on
  every item of a dataset.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import uuid
from pathlib import Path
from typing import Any

import albumentations as alb
import nibabel as nib
import numpy as np
import pytest
import torch
from albumentations.pytorch import ToTensorV2
from torch.utils.data import DataLoader

from datamint.dataset import (
    ImageDataset,
    SlicedVideoDataset,
    SlicedVolumeDataset,
    VideoDataset,
    VolumeDataset,
)
from datamint.exceptions import CollateError, ReaderError
from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

SEMANTIC = {"return_as_semantic_segmentation": True, "semantic_seg_merge_strategy": "union"}
MERGED = {  # one tensor per key: what torch's default collate can batch
    **SEMANTIC,
    "image_labels_merge_strategy": "union",
    "image_categories_merge_strategy": "mode",
}


def _classes(kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "image": ImageDataset(project="demo", **kw),
        "volume": VolumeDataset(project="demo", **kw),
        "video": VideoDataset(project="demo", **kw),
        "sliced_volume": VolumeDataset(project="demo", **kw).slice("axial"),
        "sliced_video": VideoDataset(project="demo", **kw).frame_by_frame(),
    }


@pytest.mark.parametrize("name", ["image", "volume", "video", "sliced_volume", "sliced_video"])
def test_a_plain_dataloader_yields_tensor_batches(demo_kwargs, name):
    ds = _classes({**demo_kwargs, **MERGED, "alb_transform": alb.Resize(32, 32)})[name]
    first = ds[0]
    # whole volumes and videos differ in depth: batch one resource with itself
    sampler = [0, 0] if name in ("volume", "video") else list(range(min(len(ds), 4)))
    for loader in (
        DataLoader(ds, batch_size=2, sampler=sampler),
        ds.get_dataloader(batch_size=2, sampler=sampler),
    ):
        batch = next(iter(loader))
        assert set(batch) == set(first)
        for key in ("image", "masks", "spacing", "affine", "image_labels", "image_categories"):
            assert isinstance(batch[key], torch.Tensor), key
        assert batch["image"].dtype == torch.float32
        assert batch["image"].shape[-2:] == (32, 32)
        assert batch["masks"].shape[1] == len(ds.segmentation_labels) + 1
        assert batch["affine"].shape == (2, 4, 4) and batch["affine"].dtype == torch.float64
        assert isinstance(batch["metainfo"]["resource_id"], list)


def test_default_items_raise_our_error_naming_the_fix(demo_kwargs):
    ds = ImageDataset(project="demo", alb_transform=alb.Resize(32, 32), **demo_kwargs).filter(
        filename_pattern="images2d/[cm][rt]_*.dcm"
    )  # grayscale CR, CT and MR: one channel each, so only the annotators differ
    with pytest.raises(CollateError) as caught:
        next(iter(DataLoader(ds, batch_size=len(ds))))
    message = str(caught.value)
    assert "get_dataloader" in message and "return_as_semantic_segmentation" in message
    with pytest.raises(CollateError, match="cannot batch key 'image'"):  # different sizes
        next(iter(DataLoader(ImageDataset(project="demo", **demo_kwargs), batch_size=4)))
    batch = next(iter(ds.get_dataloader(batch_size=len(ds))))  # ours keeps dicts per item
    assert isinstance(batch["masks"], list) and len(batch["masks"]) == len(ds)
    assert all(isinstance(m, torch.Tensor) for d in batch["masks"] for m in d.values())


def test_the_error_also_comes_out_of_workers(demo_kwargs):
    ds = ImageDataset(project="demo", alb_transform=alb.Resize(32, 32), **demo_kwargs).filter(
        filename_pattern="images2d/[cm][rt]_*.dcm"
    )
    loader = DataLoader(ds, batch_size=len(ds), num_workers=1, timeout=120)
    with pytest.raises(CollateError, match="get_dataloader"):
        next(iter(loader))


@pytest.mark.parametrize("item_format", ["standard", "client"])
@pytest.mark.parametrize("name", ["image", "volume", "video", "sliced_video"])
def test_two_workers_over_every_demo_resource_finish(demo_kwargs, item_format, name):
    ds = _classes({**demo_kwargs, "item_format": item_format, "return_metainfo": True})[name]
    if name == "sliced_video":
        ds = ds.subset([0])  # the frames of one video
    loader = ds.get_dataloader(batch_size=1, num_workers=2, timeout=120, on_mismatch="list")
    seen = [b for b in loader]  # a hang would hit the timeout and raise
    assert len(seen) == len(ds)
    for i in range(min(len(ds), 40)):
        pickle.loads(pickle.dumps(ds[i]))  # everything an item holds pickles


def test_items_of_one_dataset_share_their_keys(demo_kwargs):
    # (the client format keeps the existing client's rule: no mask_labels without masks)
    for kw in ({}, SEMANTIC, MERGED):
        for name, ds in _classes({**demo_kwargs, **kw}).items():
            if name.startswith("sliced"):
                ds = ds.subset([0, len(ds.resources) - 1])
            keys = {tuple(ds[i]) for i in range(len(ds))}
            assert len(keys) == 1, (name, kw, keys)


def test_included_names_decide_the_mask_channels(demo_kwargs):
    ds = VolumeDataset(
        project="demo", include_segmentation_names=["lesion"], **SEMANTIC, **demo_kwargs
    )
    assert ds.segmentation_labels == ["lesion"]
    for i in range(len(ds)):
        assert ds[i]["masks"].shape[0] == 2


def test_to_tensor_in_a_3d_transform_gives_a_tensor(demo_kwargs):
    ds = VolumeDataset(
        project="demo", alb_transform=alb.Compose([ToTensorV2()]), **demo_kwargs
    ).filter(filename_pattern="volumes/breast1*")
    assert isinstance(ds[0]["image"], torch.Tensor) and ds[0]["image"].shape == (1, 21, 120, 45)


@pytest.mark.parametrize("view", ["volume", "axial", "coronal", "sagittal", 0, 2])
def test_geometry_agrees_with_the_files_own_affine(demo_kwargs, view):
    """A voxel's RAS position from the item's affine equals the one nibabel gives from the
    file, for every demo NIfTI volume: located by the voxel values themselves."""
    volumes = VolumeDataset(
        project="demo", image_dtype="stored", return_segmentations=False, **demo_kwargs
    ).filter(filename_pattern="volumes/*.nii.gz")
    ds = volumes if view == "volume" else volumes.slice(view)
    rng = np.random.default_rng(0)
    checked = 0
    for r, resource in enumerate(ds.resources):
        raw = ds.loader._fetch_resource(resource).read_bytes()
        image = nib.Nifti1Image.from_bytes(gzip.decompress(raw))
        data = np.asarray(image.dataobj)
        first = int(ds.resource_offsets()[r])
        count = int(ds.resource_offsets()[r + 1]) - first
        for k in {0, count // 2, count - 1}:
            item = ds[first + k]
            pixels = item["image"][0]
            index = np.stack(
                [rng.integers(0, n, 40) for n in pixels.shape], axis=-1
            )  # 40 random voxels of the item
            for idx in index:
                value = pixels[tuple(idx)]
                matches = np.argwhere(data == value)  # the file's voxels holding that value
                if len(matches) > 4000:
                    continue  # a common value (background) says little about where it is
                voxel = [*idx, 1.0] if view == "volume" else [0.0, *idx, 1.0]
                ours = (item["affine"] @ np.array(voxel))[:3]
                theirs = (np.c_[matches, np.ones(len(matches))] @ image.affine.T)[:, :3]
                assert np.linalg.norm(theirs - ours, axis=1).min() < 1e-3
                checked += 1
    assert checked >= 100, checked


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory):
    """Two readable volumes and one whose bytes are not a NIfTI (but match their sha256)."""
    root = tmp_path_factory.mktemp("broken")
    resources = []
    for i in range(3):
        path = root / f"v{i}.nii.gz"
        if i == 1:
            path.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)  # gzip magic, then junk
        else:
            data = np.arange(2 * 3 * 4, dtype=np.int16).reshape(4, 3, 2) + i
            nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
        blob = path.read_bytes()
        resources.append(
            {
                "id": str(uuid.uuid4()),
                "filename": path.name,
                "mimetype": "application/x-nifti",
                "metadata": {"frame_count": 2},
                "sha256": hashlib.sha256(blob).hexdigest(),
                "size": len(blob),
            }
        )
    manifest = {
        "format": "datamint-project-manifest",
        "format_version": 1,
        "project": {"id": str(uuid.uuid4()), "name": "broken", "created_by": "o@lab.org"},
        "annotators": [],
        "worklists": [],
        "resources": resources,
        "annotations": [],
        "splits": [],
    }
    (root / "project.json").write_text(json.dumps(manifest))
    store_dir = tmp_path_factory.mktemp("broken-store")
    store = ProjectStore(store_dir)
    import_project(store, root, members=["o@lab.org"])
    key = store.create_user("o@lab.org")
    with running_server(store_dir) as server:
        yield {"project": "broken", "server_url": server.url, "api_key": key}


def test_a_worker_exception_names_the_resource(broken_project, tmp_path: Path):
    ds = VolumeDataset(cache_dir=tmp_path, **broken_project)
    bad = next(r for r in ds.resources if r.filename == "v1.nii.gz")
    loader = ds.get_dataloader(batch_size=1, num_workers=2, timeout=120, on_mismatch="list")
    with pytest.raises(Exception, match=bad.id) as caught:
        list(loader)
    assert "v1.nii.gz" in str(caught.value)


def test_on_error_skip_and_warn_substitute_the_next_readable_item(broken_project, tmp_path):
    strict = VolumeDataset(cache_dir=tmp_path, on_error="raise", **broken_project)
    position = [r.filename for r in strict.resources].index("v1.nii.gz")
    with pytest.raises(ReaderError, match=r"v1\.nii\.gz"):  # the reader's own error, named
        strict[position]
    skip = VolumeDataset(cache_dir=tmp_path, on_error="skip", **broken_project)
    names = [r.filename for r in skip.resources]
    bad = names.index("v1.nii.gz")
    item = skip[bad]
    assert item["metainfo"]["filename"] == names[(bad + 1) % 3]
    warn = VolumeDataset(cache_dir=tmp_path, on_error="warn", **broken_project)
    with pytest.warns(UserWarning, match=r"v1\.nii\.gz"):
        warn[bad]
    batches = list(skip.get_dataloader(batch_size=1, num_workers=2, timeout=120))
    assert len(batches) == 3


def test_sliced_classes_stay_the_documented_ones(demo_kwargs):
    assert isinstance(VolumeDataset(project="demo", **demo_kwargs).slice(0), SlicedVolumeDataset)
    frames = VideoDataset(project="demo", **demo_kwargs).frame_by_frame()
    assert isinstance(frames, SlicedVideoDataset) and frames.plane == "frame"


def test_apply_alb_transform_runs_the_transform_on_given_arrays(demo_kwargs):
    ds = ImageDataset(project="demo", alb_transform=alb.Resize(16, 24), **demo_kwargs)
    image = np.zeros((1, 40, 30), np.float32)
    mask = np.zeros((1, 40, 30), np.uint8)
    mask[0, 10:20, 5:15] = 1
    out = ds.apply_alb_transform(image, {"masks": {"a@x.org": mask}, "other": 3})
    assert out["image"].shape == (1, 16, 24) and out["other"] == 3
    assert out["masks"]["a@x.org"].shape == (1, 16, 24) and out["masks"]["a@x.org"].any()
    with pytest.raises(ValueError, match="alb_transform is not set"):
        ImageDataset(project="demo", **demo_kwargs).apply_alb_transform(image, {})
