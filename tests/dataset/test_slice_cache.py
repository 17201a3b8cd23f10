"""Sliced datasets over the per-slice decoded cache: every format gives the decoded slices,
each volume is decoded once whatever the workers, items keep the stored dtype."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import blosc2
import nibabel as nib
import numpy as np
import pytest
from torch.utils.data import DataLoader

import datamint.dataset.loading as loading
from datamint.dataset import VideoDataset, VolumeDataset
from datamint.readers import FileHint, read_file


def _kwargs(demo_server, cache: Path, fmt: str | None) -> dict:
    return {
        "server_url": demo_server.url,
        "api_key": demo_server.api_key,
        "cache_dir": cache,
        "return_segmentations": False,
        "return_metainfo": False,
        "cache_format": fmt,
    }


@pytest.mark.parametrize("fmt", ["b2nd", "npy.gz", "npy", None])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_items_equal_slices_of_the_decoded_volume(demo_server, tmp_path, fmt, axis):
    volumes = VolumeDataset(project="demo", **_kwargs(demo_server, tmp_path / "cache", fmt))
    sliced = volumes.filter(filename_pattern="volumes/b*").slice(axis)
    for res in sliced.resources:
        decoded = read_file(
            sliced.loader._fetch_resource(res), FileHint(res.filename, res.mimetype, res.storage)
        ).array
        expected, _ = loading.to_item_dtype(decoded)
        assert expected.dtype == np.int16  # the cache keeps the NIfTI's stored dtype ...
        expected = expected.astype(np.float32)  # ... and items are float32 by default
        first = int(sliced.item_index.offsets[sliced.resources.index(res)])
        n = expected.shape[1 + sliced.slice_axis_index]
        for k in (0, n // 2, n - 1):
            image = sliced[first + k]["image"]
            assert image.dtype == expected.dtype
            assert np.array_equal(image, np.take(expected, k, axis=1 + sliced.slice_axis_index))
    assert all(tmp_path in p.parents or p == tmp_path for p in (tmp_path / "cache").rglob("*"))


@pytest.mark.parametrize(
    ("image_dtype", "want"),
    [("stored", np.int16), (np.float32, np.float32), ("float64", np.float64), (None, np.float32)],
)
def test_image_dtype_chooses_the_item_dtype(demo_server, tmp_path, image_dtype, want):
    kwargs = _kwargs(demo_server, tmp_path / "cache", None)
    sliced = (
        VolumeDataset(project="demo", image_dtype=image_dtype, **kwargs)
        .filter(filename_pattern="volumes/brain1*")
        .slice(2)
    )
    image = nib.Nifti1Image.from_bytes(
        gzip.decompress(sliced.loader._fetch_resource(sliced.resources[0]).read_bytes())
    )
    stored = np.asanyarray(image.dataobj)  # (x, y, z) int16; sagittal slice k is x = k
    for k in (0, 100):
        item = sliced[k]["image"]
        assert item.dtype == want
        np.testing.assert_array_equal(item[0], stored[k].T.astype(want))  # (z, y)
    b2nd = list((tmp_path / "cache").rglob("*.b2nd"))
    assert b2nd and all(blosc2.open(str(p)).dtype == np.int16 for p in b2nd)


def test_image_dtype_rejects_what_is_not_a_dtype(demo_server, tmp_path):
    with pytest.raises(ValueError, match=r"image_dtype.*'int17'"):
        VolumeDataset(project="demo", image_dtype="int17", **_kwargs(demo_server, tmp_path, None))


def test_stored_keeps_uint16_unscaled(demo_server, tmp_path):
    from datamint.exceptions import DatamintWarning

    kwargs = _kwargs(demo_server, tmp_path / "cache", None)
    stored = VolumeDataset(project="demo", image_dtype="stored", **kwargs)
    contract = VolumeDataset(project="demo", item_format="client", **kwargs)
    found = False
    for i, res in enumerate(stored.resources):
        decoded = read_file(
            stored.loader._fetch_resource(res), FileHint(res.filename, res.mimetype, res.storage)
        ).array
        if decoded.dtype != np.uint16:
            continue
        found = True
        assert np.array_equal(stored[i]["image"], decoded)
        with pytest.warns(DatamintWarning, match="uint16"):
            assert contract[i]["image"].dtype == np.uint8
        break
    assert found, "the demo project has a uint16 volume (MR DICOM)"


def test_video_frames_from_the_slice_cache(demo_server, tmp_path):
    videos = VideoDataset(project="demo", **_kwargs(demo_server, tmp_path, "b2nd")).filter(
        filename_pattern="*ct_lung2*"
    )
    frames = videos.frame_by_frame()
    whole = np.asarray(videos[0]["image"])
    assert frames[1]["image"].dtype == np.float32
    assert np.array_equal(frames[1]["image"], whole[:, 1])


def test_offsets_are_a_numpy_array(demo_server, tmp_path):
    sliced = VolumeDataset(project="demo", **_kwargs(demo_server, tmp_path, None)).slice("axial")
    offsets = sliced.item_index.offsets
    assert isinstance(offsets, np.ndarray) and offsets.dtype == np.int64
    assert len(sliced) == offsets[-1] and sliced.locate(int(offsets[1])) == (1, 0)


@pytest.mark.parametrize("fmt", ["b2nd", "npy"])
def test_each_volume_decoded_once_with_two_workers(demo_server, tmp_path, monkeypatch, fmt):
    counter = tmp_path / "decodes.txt"
    real = loading.read_file

    def counting(path, hint=None):
        with open(counter, "a") as fh:
            fh.write(f"{os.getpid()} {Path(path).parent.parent.name}\n")
        return real(path, hint)

    monkeypatch.setattr(loading, "read_file", counting)
    sliced = VolumeDataset(project="demo", **_kwargs(demo_server, tmp_path / "cache", fmt)).slice(
        "sagittal"
    )
    sliced.prefetch(progress=False)  # downloads only
    loader = DataLoader(
        sliced,
        batch_size=8,
        shuffle=True,
        num_workers=2,
        multiprocessing_context="fork",
        collate_fn=lambda items: [i["image"] for i in items],
    )
    with sliced.api:  # close the parent's connections before the dataset is dropped
        n_items = sum(len(batch) for batch in loader)
    assert n_items == len(sliced)
    lines = counter.read_text().splitlines()
    assert len(lines) == len(sliced.resources)
    assert len({line.split()[1] for line in lines}) == len(sliced.resources)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "decodes.txt"]


def test_prefetch_decode_fills_the_cache_once(demo_server, tmp_path):
    sliced = (
        VolumeDataset(project="demo", **_kwargs(demo_server, tmp_path, None))
        .filter(filename_pattern="volumes/b*")
        .slice("coronal")
    )
    report = sliced.prefetch(progress=False, decode=True, decode_workers=2)
    assert report.decoded == len(sliced.resources) and report.decode_cached == 0
    assert len(list((tmp_path / "arrays" / "slices").rglob("coronal.json"))) == len(
        sliced.resources
    )
    assert not list((tmp_path / "arrays" / "slices").rglob("axial.json"))
    again = sliced.prefetch(progress=False, decode=True)
    assert again.decoded == 0 and again.decode_cached == len(sliced.resources)


@pytest.mark.parametrize("fmt", ["b2nd", "npy.gz", "npy"])
@pytest.mark.parametrize("image_dtype", ["stored", None])
def test_items_are_fresh_writable_arrays(demo_server, tmp_path, fmt, image_dtype):
    """Writing into an item's image never reaches the cache or the next item."""
    kwargs = _kwargs(demo_server, tmp_path / "cache", fmt)
    sliced = (
        VolumeDataset(project="demo", image_dtype=image_dtype, **kwargs)
        .filter(filename_pattern="volumes/b*")
        .slice("axial")
    )
    first = sliced[3]["image"]
    before = first.copy()
    assert first.flags.writeable and first.flags.owndata
    first[...] = 0
    np.testing.assert_array_equal(sliced[3]["image"], before)


def test_masks_are_opened_once_per_annotation_version(demo_server, tmp_path, monkeypatch):
    from datamint.entities import Annotation

    ds = VolumeDataset(
        project="demo", **{**_kwargs(demo_server, tmp_path, None), "return_segmentations": True}
    )
    sliced = ds.filter(filename_pattern="volumes/b*").slice("axial")
    annotation = next(a for anns in sliced.prepared.annotations for a in anns if a.is_segmentation)
    loader = sliced.loader
    opened = []
    real = loader._open_mask
    monkeypatch.setattr(loader, "_open_mask", lambda a: opened.append(a.id) or real(a))
    for k in range(3):
        sliced[k]
    first = loader.mask(annotation)
    assert loader.mask(annotation) is first and not first.flags.writeable
    assert opened.count(annotation.id) == 1
    changed = Annotation.from_dict({**annotation.record, "created_at": "2031-01-01T00:00:00Z"})
    loader.mask(changed)  # a new version of the file is looked up again
    assert opened.count(annotation.id) == 2
