"""3-D patches through the real server: foreground oversampling, pixels, affines, grids.

A generated project (NIfTI volumes with random int16 voxels and small lesions drawn by
two annotators, imported with ``import_folder``) is served on 127.0.0.1. Every expected
value is computed here from the NIfTI files with nibabel, independently of the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import albumentations as alb
import cv2
import nibabel as nib
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import datamint.dataset.loading as loading
from datamint.dataset import VolumeDataset
from datamint.dataset.aggregation import PatchAggregator, gaussian_importance
from datamint.dataset.patch_dataset import PatchVolumeDataset
from datamint.exceptions import DatamintWarning, ValidationError
from datamint.server.import_folder import import_folder
from datamint.server.store import ProjectStore
from datamint.storage.box_format import BoxReader
from datamint.testing.server import running_server

# (D, H, W) of each volume; vol2 is thinner than the patch; vol3 has no lesion
SHAPES = {"vol0": (24, 40, 48), "vol1": (20, 36, 44), "vol2": (6, 32, 40), "vol3": (16, 48, 32)}
LESIONS = {"vol0": (5, 30, 12), "vol1": (15, 8, 35), "vol2": (3, 20, 4)}  # (d, h, w) corner
PATCH = (8, 16, 16)
AFFINE = np.array(  # (x, y, z) -> RAS mm, an oblique one: rows and columns both matter
    [[0.8, 0.1, 0.0, -10.0], [-0.1, 0.9, 0.0, 20.0], [0.0, 0.0, 2.0, 5.0], [0, 0, 0, 1]]
)


def _save(array_dhw: np.ndarray, path: Path) -> None:
    nib.save(nib.Nifti1Image(np.ascontiguousarray(array_dhw.transpose(2, 1, 0)), AFFINE), path)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The generated project, served; ``volumes``/``masks`` are the (D, H, W) truths."""
    folder = tmp_path_factory.mktemp("patches") / "lesions"
    folder.mkdir()
    rng = np.random.default_rng(7)
    volumes: dict[str, np.ndarray] = {}
    masks: dict[tuple[str, str, str], np.ndarray] = {}  # (stem, label, annotator) -> uint8
    for stem, dhw in SHAPES.items():
        volumes[stem] = rng.integers(-1000, 1000, size=dhw, dtype=np.int16)
        _save(volumes[stem], folder / f"{stem}.nii.gz")
        if stem in LESIONS:
            d, h, w = LESIONS[stem]
            for who, extent in (("alice", 2), ("bob", 3)):
                mask = np.zeros(dhw, np.uint8)
                mask[d : d + 2, h : h + extent, w : w + extent] = 1
                masks[(stem, "lesion", who)] = mask
    vessel = np.zeros(SHAPES["vol1"], np.uint8)
    vessel[2:18, 30, 5] = 1
    masks[("vol1", "vessel", "alice")] = vessel
    for (stem, label, who), mask in masks.items():
        _save(mask, folder / f"{stem}__{label}__{who}.nii.gz")
    frame = np.zeros(SHAPES["vol0"][1:], np.uint8)  # a frame-scoped mask: slice 10 of vol0
    frame[28:33, 10:16] = 255
    (folder / "vol0").mkdir()
    cv2.imwrite(str(folder / "vol0" / "f010__lesion__carol.png"), frame)
    masks[("vol0", "lesion", "carol")] = np.zeros(SHAPES["vol0"], np.uint8)
    masks[("vol0", "lesion", "carol")][10] = frame > 0
    store_dir = tmp_path_factory.mktemp("patches-store")
    store = ProjectStore(store_dir)
    import_folder(store, folder, name="lesions", members=["owner@lab.org"])
    key = store.create_user("owner@lab.org")
    with running_server(store_dir) as server:
        yield {
            "volumes": volumes,
            "masks": masks,
            "kwargs": {"project": "lesions", "server_url": server.url, "api_key": key},
        }


def _stem(ds: Any, index: int) -> str:
    return ds.get_resource(index).filename.split("/")[-1].split(".")[0]


def _cut(array: np.ndarray, location: np.ndarray, fill: Any) -> np.ndarray:
    """``array[d0:d1, h0:h1, w0:w1]``, padded with ``fill`` outside (numpy's own pad)."""
    start, stop = location[:3], location[3:]
    before = np.maximum(-start, 0)
    after = np.maximum(stop - np.array(array.shape), 0)
    padded = np.pad(array, list(zip(before, after, strict=True)), constant_values=fill)
    lo = start + before
    return padded[lo[0] : lo[0] + PATCH[0], lo[1] : lo[1] + PATCH[1], lo[2] : lo[2] + PATCH[2]]


def _lesion(project: dict[str, Any], stem: str) -> np.ndarray:
    union = np.zeros(SHAPES[stem], bool)
    for (s, label, _), mask in project["masks"].items():
        if s == stem and label == "lesion":
            union |= mask.astype(bool)
    return union


def _uniform_hit_probability(union: np.ndarray) -> float:
    """P(a uniform patch of ``random_start`` overlaps ``union``), by enumerating starts."""
    ranges = [(min(0, n - p), max(0, n - p)) for n, p in zip(union.shape, PATCH, strict=True)]
    hit = np.zeros([hi - lo + 1 for lo, hi in ranges], bool)
    for voxel in np.argwhere(union):
        box = []
        for v, p, (lo, hi) in zip(voxel, PATCH, ranges, strict=True):
            box.append(slice(max(v - p + 1, lo) - lo, min(v, hi) - lo + 1))
        hit[tuple(box)] = True
    return float(hit.mean())


def test_foreground_share_matches_the_ratio(project: dict[str, Any], tmp_path: Path) -> None:
    ratio, per_volume = 0.33, 150
    volumes = VolumeDataset(cache_dir=tmp_path, image_dtype="stored", **project["kwargs"])
    patches = volumes.patches(PATCH, per_volume, foreground_ratio=ratio, label="lesion", seed=3)
    patches.set_epoch(0)
    expected, hits, forced = [], 0, 0
    for i in range(len(patches)):
        stem = _stem(patches, i)
        union = _lesion(project, stem)
        if union.any():
            forced += patches.item_index.locate(i)[1].foreground
        share = ratio if union.any() else 0.0
        expected.append(share + (1 - share) * _uniform_hit_probability(union))
        item = patches[i]
        code = volumes.segmentation_labels.index("lesion") + 1
        got = any(
            stack[labels == code].any()
            for stack, labels in zip(
                item["masks"].values(), item["mask_labels"].values(), strict=True
            )
        )
        assert got == _cut(union, item["location"], False).any()
        if patches.item_index.locate(i)[1].foreground:
            assert got, f"item {i} was drawn on a lesion voxel but holds none"
        hits += got
    n, p = len(patches), float(np.mean(expected))
    assert abs(hits / n - p) < 4 * np.sqrt(p * (1 - p) / n)
    n_forceable = per_volume * sum(_lesion(project, s).any() for s in SHAPES)
    assert abs(forced / n_forceable - ratio) < 4 * np.sqrt(ratio * (1 - ratio) / n_forceable)


def test_any_label_picks_a_present_class_uniformly(project: dict[str, Any], tmp_path: Path):
    volumes = VolumeDataset(cache_dir=tmp_path, **project["kwargs"]).filter(
        filename_pattern="*vol1*"
    )
    patches = volumes.patches(PATCH, 400, foreground_ratio=1.0, seed=0)
    vessel = project["masks"][("vol1", "vessel", "alice")].astype(bool)
    lesion = _lesion(project, "vol1")
    on_vessel = on_lesion = 0
    for i in range(len(patches)):
        region = patches.item_index.locate(i)[1]
        assert region.foreground
        on_vessel += _cut(vessel, region.location, False).any()
        on_lesion += _cut(lesion, region.location, False).any()
    assert on_vessel + on_lesion >= 400  # every patch holds foreground of some class
    assert 140 < on_lesion < 260 and 140 < on_vessel < 260  # ~half each (the lesion is tiny)
    only_vessel = volumes.patches(PATCH, 50, foreground_ratio=1.0, label="vessel")
    assert all(
        _cut(vessel, only_vessel.item_index.locate(i)[1].location, False).any() for i in range(50)
    )


@pytest.mark.parametrize("fmt", ["b2nd", "npy", "npy.gz"])
def test_patch_pixels_equal_the_decoded_volume(
    project: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    volumes = VolumeDataset(
        cache_dir=tmp_path, image_dtype="stored", cache_format=fmt, **project["kwargs"]
    )
    patches = volumes.patches(PATCH, per_volume=12, foreground_ratio=0.5, seed=1)
    padded = 0
    for i in range(len(patches)):
        item, stem = patches[i], _stem(patches, i)
        volume = project["volumes"][stem]
        location = item["location"]
        assert location.dtype == np.int64 and list(location[3:] - location[:3]) == list(PATCH)
        assert item["image"].dtype == np.int16 and item["image"].shape == (1, *PATCH)
        assert np.array_equal(item["image"][0], _cut(volume, location, volume.min()))
        padded += bool((location[:3] < 0).any() or (location[3:] > volume.shape).any())
        expected = {
            (f"{who}@example.org", label): mask
            for (s, label, who), mask in project["masks"].items()
            if s == stem
        }
        got = {
            (author, volumes.segmentation_labels[code - 1]): mask
            for author, stack in item["masks"].items()
            for code, mask in zip(item["mask_labels"][author], stack, strict=True)
        }
        assert set(got) == set(expected)
        for key, mask in expected.items():
            assert np.array_equal(got[key], _cut(mask, location, 0)), (i, key)
        assert item["metainfo"]["plane"] == "patch"
    assert padded >= 12  # vol2 is thinner than the patch: every one of its patches is padded


def test_patches_read_boxes_not_whole_volumes(project: dict[str, Any], tmp_path: Path, monkeypatch):
    volumes = VolumeDataset(cache_dir=tmp_path, return_segmentations=False, **project["kwargs"])
    patches = volumes.patches(PATCH, per_volume=2)
    first = [patches[i]["image"] for i in range(len(patches))]  # builds the layouts
    layouts = tmp_path / "arrays" / "slices"
    assert len(list(layouts.rglob("chunks.json"))) == len(SHAPES)
    assert not list(layouts.rglob("axial.json"))  # decoded straight into 3-D chunks

    def refuse(self: Any) -> np.ndarray:
        raise AssertionError("a patch read the whole volume")

    monkeypatch.setattr(BoxReader, "read_all", refuse)
    again = volumes.patches(PATCH, per_volume=2)
    for i in range(len(again)):
        assert np.array_equal(again[i]["image"], first[i])


def test_patch_affine_maps_its_voxels_to_ras(project: dict[str, Any], tmp_path: Path) -> None:
    volumes = VolumeDataset(cache_dir=tmp_path, return_segmentations=False, **project["kwargs"])
    patches = volumes.patches(PATCH, per_volume=3, foreground_ratio=0.0, seed=5)
    d, h, w = np.meshgrid(*(np.arange(n) for n in PATCH), indexing="ij")
    index = np.stack([d, h, w, np.ones_like(d)], axis=-1).reshape(-1, 4).astype(float)
    for i in range(len(patches)):
        item = patches[i]
        whole = volumes[patches.item_index.resource_position(i)]
        start = item["location"][:3]
        xyz1 = np.stack([w + start[2], h + start[1], d + start[0], np.ones_like(d)], axis=-1)
        ras = xyz1.reshape(-1, 4) @ AFFINE.T  # nibabel's own affine over (x, y, z)
        np.testing.assert_allclose(index @ item["affine"].T, ras, atol=1e-5)  # float32 sform
        shifted = np.concatenate([index[:, :3] + start, index[:, 3:]], axis=1)
        np.testing.assert_allclose(index @ item["affine"].T, shifted @ whole["affine"].T)
        np.testing.assert_allclose(item["spacing"], whole["spacing"])


@pytest.mark.parametrize("overlap", [0, 0.5, (2, 5, 3)])
def test_grid_and_aggregation_rebuild_each_volume(
    project: dict[str, Any], tmp_path: Path, overlap: Any
) -> None:
    volumes = VolumeDataset(
        cache_dir=tmp_path, return_segmentations=False, image_dtype=np.float32, **project["kwargs"]
    )
    grid = volumes.grid(PATCH, overlap=overlap)
    assert len(grid) == sum(len(grid.volume_items(p)) for p in range(len(volumes)))
    for position in range(len(volumes)):
        truth = volumes[position]["image"]
        items = grid.volume_items(position)
        average = grid.aggregator(position, mode="average")
        gaussian = grid.aggregator(position)
        assert np.array_equal(np.stack([grid[i]["location"] for i in items]), average.locations)
        loader = DataLoader(torch.utils.data.Subset(grid, list(items)), batch_size=5)
        for batch in loader:
            assert batch["image"].shape[1:] == (1, *PATCH)
            average.add(batch["image"], batch["location"])  # identity "predictions"
            gaussian.add(batch["image"].numpy(), batch["location"].numpy())
        assert np.array_equal(average.result().numpy(), truth)
        np.testing.assert_allclose(gaussian.result().numpy(), truth, rtol=1e-5, atol=1e-3)
        stops = average.locations[:, 3:].max(axis=0)
        dhw = np.array(truth.shape[1:])
        assert np.all((stops == dhw) | (dhw < PATCH))  # the last patch is flush with the edge


def test_aggregator_refuses_an_incomplete_grid() -> None:
    agg = PatchAggregator((10, 20, 20), (4, 8, 8), overlap=2, mode="average")
    locations = agg.locations
    agg.add(torch.ones(len(locations) - 1, 2, 4, 8, 8), locations[1:])
    with pytest.raises(ValueError, match="got no prediction"):
        agg.result()
    with pytest.raises(ValueError, match="predictions must be"):
        agg.add(torch.ones(1, 2, 4, 8, 7), locations[:1])
    weights = gaussian_importance((9, 9, 9))
    assert weights[4, 4, 4] == 1 and weights.min() > 0 and weights[0, 4, 4] < weights[2, 4, 4]


def test_epochs_draw_new_patches_reproducibly(project: dict[str, Any], tmp_path: Path) -> None:
    volumes = VolumeDataset(cache_dir=tmp_path, return_segmentations=False, **project["kwargs"])
    patches = volumes.patches(PATCH, per_volume=8, seed=11)

    def locations(ds: Any) -> list[list[int]]:
        return [ds.item_index.locate(i)[1].location.tolist() for i in range(len(ds))]

    unset = locations(patches)
    patches.set_epoch(0)
    assert patches.epoch == 0 and locations(patches) == unset
    patches.set_epoch(1)
    epoch1 = locations(patches)
    assert epoch1 != unset and locations(patches) == epoch1
    other_seed = volumes.patches(PATCH, per_volume=8, seed=12)
    other_seed.set_epoch(1)
    assert locations(other_seed) != epoch1
    with pytest.raises(ValueError, match="epoch"):
        patches.set_epoch(-1)


def _worker_epoch(ds: Any, loader: DataLoader) -> dict[int, list[int]]:
    """``{item index: location}`` of one epoch through ``loader`` (items carry their index)."""
    found: dict[int, list[int]] = {}
    for batch in loader:
        for index, location in zip(
            batch["index"].tolist(), batch["location"].tolist(), strict=True
        ):
            found[index] = location
    assert len(found) == len(ds)
    return found


class _Indexed(torch.utils.data.Dataset):
    def __init__(self, ds: Any) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"index": i, "location": self.ds[i]["location"]}


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_follow_set_epoch(project: dict[str, Any], tmp_path: Path, persistent: bool):
    volumes = VolumeDataset(cache_dir=tmp_path, return_segmentations=False, **project["kwargs"])
    patches = volumes.patches(PATCH, per_volume=6, seed=2)
    loader = DataLoader(
        _Indexed(patches),
        batch_size=4,
        shuffle=True,
        num_workers=2,
        multiprocessing_context="fork",
        persistent_workers=persistent,
    )
    with patches.api:
        for epoch in (0, 1):
            patches.set_epoch(epoch)
            expected = {i: patches.item_index.locate(i)[1].location.tolist() for i in range(24)}
            assert _worker_epoch(patches, loader) == expected


def test_workers_without_set_epoch_differ_per_epoch_and_repeat_by_torch_seed(
    project: dict[str, Any], tmp_path: Path
) -> None:
    volumes = VolumeDataset(cache_dir=tmp_path, return_segmentations=False, **project["kwargs"])
    patches = volumes.patches(PATCH, per_volume=6, seed=2)
    loader = DataLoader(
        _Indexed(patches), batch_size=4, shuffle=True, num_workers=2, multiprocessing_context="fork"
    )
    with patches.api:
        torch.manual_seed(0)
        first, second = _worker_epoch(patches, loader), _worker_epoch(patches, loader)
        torch.manual_seed(0)
        again = _worker_epoch(patches, loader)
    assert first != second and again == first


def test_a_two_worker_epoch_decodes_each_volume_once(
    project: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "decodes.txt"
    real = loading.read_file

    def counting(path: Any, hint: Any = None) -> Any:
        with open(counter, "a") as fh:
            fh.write(f"{os.getpid()} {path}\n")
        return real(path, hint)

    monkeypatch.setattr(loading, "read_file", counting)
    volumes = VolumeDataset(cache_dir=tmp_path / "cache", **project["kwargs"])
    patches = volumes.patches(PATCH, per_volume=8, foreground_ratio=0.5, label="lesion")
    patches.prefetch(include_annotations=True, progress=False)  # downloads only
    loader = DataLoader(
        patches,
        batch_size=4,
        shuffle=True,
        num_workers=2,
        multiprocessing_context="fork",
        collate_fn=lambda items: [i["image"] for i in items],
    )
    with patches.api:
        assert sum(len(batch) for batch in loader) == len(patches)
    paths = [line.split(" ", 1)[1] for line in counter.read_text().splitlines()]
    assert len(paths) == len(set(paths))  # every file decoded once on this node
    assert len(paths) == len(SHAPES) + len(project["masks"])  # each volume and mask file
    sidecars = (tmp_path / "cache" / "arrays").rglob("*.json")
    indexed = [p for p in sidecars if '"op": "foreground"' in p.read_text()]
    assert len(indexed) == len(LESIONS)  # one foreground index per volume with lesions


def test_batches_transforms_splits_and_errors(project: dict[str, Any], tmp_path: Path) -> None:
    volumes = VolumeDataset(
        cache_dir=tmp_path,
        return_as_semantic_segmentation=True,
        semantic_seg_merge_strategy="union",
        **project["kwargs"],
    )
    patches = volumes.patches(PATCH, per_volume=4, seed=4)
    batch = next(iter(DataLoader(patches, batch_size=6)))  # torch's default collate
    n_classes = len(volumes.segmentation_labels) + 1
    assert batch["image"].shape == (6, 1, *PATCH) and batch["image"].dtype == torch.float32
    assert batch["masks"].shape == (6, n_classes, *PATCH)
    assert batch["location"].shape == (6, 6) and batch["affine"].shape == (6, 4, 4)

    flipped = VolumeDataset(
        cache_dir=tmp_path, alb_transform=alb.HorizontalFlip(p=1.0), **project["kwargs"]
    ).patches(PATCH, per_volume=4, seed=4)
    for i in (0, 5, 13):
        plain, flip = patches[i], flipped[i]
        assert np.array_equal(flip["image"], plain["image"][..., ::-1])
        assert np.isnan(flip["affine"]).all()  # a flip moves pixels: no position claimed

    parts = patches.split(train=0.5, val=0.5, seed=0, by_patient=True)
    for part in parts.values():
        assert isinstance(part, PatchVolumeDataset)
        assert len(part) == 4 * len(part.resources) and part[0]["image"].shape == (1, *PATCH)
    assert sum(len(p.resources) for p in parts.values()) == len(SHAPES)

    with pytest.raises(ValueError, match=r"'tumour' is not a segmentation class.*lesion"):
        volumes.patches(PATCH, label="tumour")
    with pytest.raises(ValueError, match="patch size"):
        volumes.patches((8, 16))
    with pytest.raises(ValueError, match="foreground_ratio"):
        volumes.patches(PATCH, foreground_ratio=1.5)
    with pytest.raises(ValueError, match="overlap"):
        volumes.grid(PATCH, overlap=8)
    with pytest.raises(ValidationError, match="cannot be sliced"):
        patches.slice("axial")
    with pytest.raises(ValidationError, match="return_boxes"):
        VolumeDataset(cache_dir=tmp_path, return_boxes=True, **project["kwargs"]).patches(PATCH)


def test_pad_value_and_offline(project: dict[str, Any], tmp_path: Path, monkeypatch) -> None:
    volumes = VolumeDataset(cache_dir=tmp_path, image_dtype="stored", **project["kwargs"])
    thin = volumes.filter(filename_pattern="*vol2*")
    online = thin.patches(PATCH, per_volume=3, pad_value=-2000, seed=9)
    items = [online[i] for i in range(3)]
    for item in items:
        volume = project["volumes"]["vol2"]
        assert np.array_equal(item["image"][0], _cut(volume, item["location"], -2000))
    online.prefetch(include_annotations=True, progress=False)

    import httpx

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a network call was made offline")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    offline = VolumeDataset(
        project="lesions", offline=True, cache_dir=tmp_path, image_dtype="stored"
    ).filter(filename_pattern="*vol2*")
    again = offline.patches(PATCH, per_volume=3, pad_value=-2000, seed=9)
    for i, item in enumerate(items):
        assert np.array_equal(again[i]["image"], item["image"])
        assert np.array_equal(again[i]["location"], item["location"])


def test_prefetch_decode_writes_the_chunked_layout(project: dict[str, Any], tmp_path: Path):
    patches = VolumeDataset(cache_dir=tmp_path, **project["kwargs"]).patches(PATCH)
    report = patches.prefetch(progress=False, decode=True, decode_workers=2)
    assert report.decoded == len(SHAPES)
    layouts = tmp_path / "arrays" / "slices"
    assert len(list(layouts.rglob("chunks.json"))) == len(SHAPES)
    assert not list(layouts.rglob("axial.json"))


def test_the_patches_recipe_runs(demo_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks of docs/patches.md, against the demo server."""
    monkeypatch.setenv("DATAMINT_API_URL", demo_server.url)
    monkeypatch.setenv("DATAMINT_API_KEY", demo_server.api_key)
    text = (Path(__file__).parents[2] / "docs" / "patches.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/patches.md", "exec"), {})


def test_demo_patches_equal_their_whole_volume_items(demo_kwargs: dict[str, Any]) -> None:
    """Every demo volume (DICOM series and multi-frame, NIfTI, 2-D DICOM as depth 1):
    patches equal the whole item cut at their location, masks included."""
    volumes = VolumeDataset(project="demo", image_dtype="stored", **demo_kwargs)
    patches = volumes.patches((4, 48, 40), per_volume=3, foreground_ratio=0.5, seed=8)
    for position in range(len(volumes)):
        whole = volumes[position]
        for i in range(position * 3, position * 3 + 3):
            item = patches[i]

            def cut(array: np.ndarray, fill: Any, location: np.ndarray = item["location"]) -> Any:
                start, stop = location[:3], location[3:]
                before = np.maximum(-start, 0)
                after = np.maximum(stop - np.array(array.shape[-3:]), 0)
                pads = [(0, 0)] * (array.ndim - 3) + list(zip(before, after, strict=True))
                padded = np.pad(array, pads, constant_values=fill)
                lo = start + before
                return padded[..., lo[0] : lo[0] + 4, lo[1] : lo[1] + 48, lo[2] : lo[2] + 40]

            assert np.array_equal(item["image"], cut(whole["image"], whole["image"].min()))
            assert set(item) == set(whole) | {"location"}  # the standard keys, and where
            assert np.array_equal(item["annotators"], whole["annotators"])
            assert set(item["masks"]) == set(whole["masks"])
            for author, stack in whole["masks"].items():
                assert np.array_equal(item["masks"][author], cut(stack, 0)), (i, author)
                assert np.array_equal(item["mask_labels"][author], whole["mask_labels"][author])


def test_a_damaged_chunk_is_rebuilt_with_a_warning(project: dict[str, Any], tmp_path: Path) -> None:
    """A flipped byte inside a chunk of ``chunks.b2nd`` (same size, same mtime) is caught
    by the chunk's checksum when a box reads it: the layout is removed, a warning names
    it, and the patch comes from the rebuilt layout."""
    volumes = VolumeDataset(
        cache_dir=tmp_path, image_dtype="stored", return_segmentations=False, **project["kwargs"]
    ).filter(filename_pattern="*vol0.nii.gz")
    grid = volumes.grid(PATCH, overlap=0)
    expected = [grid[i]["image"] for i in range(len(grid))]
    (path,) = (tmp_path / "arrays" / "slices").rglob("chunks.b2nd")
    import blosc2

    schunk = blosc2.open(str(path)).schunk
    chunk = bytes(schunk.get_chunk(schunk.nchunks - 1))
    raw = bytearray(path.read_bytes())
    at = raw.rindex(chunk) + len(chunk) // 2  # a byte inside the last chunk's payload
    raw[at] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    fresh = VolumeDataset(
        cache_dir=tmp_path, image_dtype="stored", return_segmentations=False, **project["kwargs"]
    ).filter(filename_pattern="*vol0.nii.gz")
    again = fresh.grid(PATCH, overlap=0)
    with pytest.warns(DatamintWarning, match="chunks.b2nd") as caught:
        got = [again[i]["image"] for i in range(len(again))]
    assert len([w for w in caught if issubclass(w.category, DatamintWarning)]) == 1
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a, b)


def test_the_digest_names_the_patch_settings(project: dict[str, Any], tmp_path: Path) -> None:
    volumes = VolumeDataset(cache_dir=tmp_path, **project["kwargs"])
    digests = {
        volumes.digest,
        volumes.patches(PATCH).digest,
        volumes.patches(PATCH, seed=1).digest,
        volumes.patches((8, 8, 8)).digest,
        volumes.grid(PATCH).digest,
        volumes.grid(PATCH, overlap=0).digest,
    }
    assert len(digests) == 6
    assert volumes.patches(PATCH).digest == volumes.patches(PATCH).digest
