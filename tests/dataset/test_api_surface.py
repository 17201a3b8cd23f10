"""The rest of the documented dataset surface: processor methods, filters, schemas, collation."""

from __future__ import annotations

import albumentations as alb
import numpy as np
import pytest
import torch

from datamint.dataset import ImageDataset, VideoDataset, VolumeDataset
from datamint.dataset.annotation_processor import AnnotationProcessor
from datamint.exceptions import (
    AnnotationError,
    CollateError,
    DatamintDatasetException,
    ValidationError,
)
from tests.dataset.conftest import index_of


@pytest.fixture
def brain1(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs).filter(filename_pattern="volumes/brain1*")
    return ds


def test_processor_load_segmentations_matches_items(brain1):
    item = brain1[0]
    proc = brain1.processor
    masks, codes, anns = proc.load_segmentations(brain1.get_annotations(0), depth=25)
    assert set(masks) == set(item["masks"])
    for author in masks:
        assert masks[author].dtype == np.uint8 and np.array_equal(
            masks[author], item["masks"][author]
        )
        assert (
            codes[author].dtype == np.int32
            and codes[author].tolist() == item["mask_labels"][author].tolist()
        )
        assert all(a.identifier == "lesion" for a in anns[author])


def test_processor_semantic_and_merge_accept_numpy_and_torch(brain1):
    item = brain1[0]
    proc = brain1.processor
    n = len(brain1.segmentation_labels)
    sem_np = {
        a: proc.instance_to_semantic_segmentation(m, item["mask_labels"][a])
        for a, m in item["masks"].items()
    }
    sem_t = {
        a: proc.instance_to_semantic_segmentation(
            torch.from_numpy(m), torch.from_numpy(item["mask_labels"][a])
        )
        for a, m in item["masks"].items()
    }
    for a in sem_np:
        assert isinstance(sem_np[a], np.ndarray) and isinstance(sem_t[a], torch.Tensor)
        assert sem_np[a].shape == (n + 1, 25, 256, 256) and np.array_equal(
            sem_np[a], sem_t[a].numpy()
        )
    merged_np = proc.apply_merge_strategy(sem_np, "intersection")
    merged_t = proc.apply_merge_strategy(sem_t, "intersection")
    assert isinstance(merged_np, np.ndarray) and isinstance(merged_t, torch.Tensor)
    assert np.array_equal(merged_np, merged_t.numpy())
    assert np.array_equal(
        merged_np[1], item["masks"]["carol@example.org"][0]
    )  # C is inside A and B
    empty = proc.apply_merge_strategy({}, "mode", output_shape=(n + 1, 2, 3))
    assert empty[0].sum() == 6 and empty[1:].sum() == 0
    with pytest.raises(ValueError, match="output_shape is needed"):
        proc.apply_merge_strategy({}, "mode")
    with pytest.raises(ValidationError, match="'vote'"):
        proc.apply_merge_strategy(sem_np, "vote")


def test_processor_label_and_category_helpers(demo_kwargs):
    ds = ImageDataset(project="demo", **demo_kwargs)
    item = {"annotations": ds.get_annotations(index_of(ds, "images2d/ct_spine_jpegll.dcm"))}
    proc = ds.processor
    labels = proc.convert_image_labels(item["annotations"])
    cats = proc.convert_image_categories(item["annotations"])
    assert all(v.dtype == torch.int32 for v in labels.values())
    assert proc.merge_image_categories(cats, "mode").item() == ds.image_categories_set.index(
        ("body_part", "NECK")
    )
    union = proc.merge_image_labels(labels, "union")
    assert union.dtype == torch.int32 and union.shape == (len(ds.image_labels_set),)
    assert proc.get_author(item["annotations"][0]) == item["annotations"][0].created_by
    assert proc.resolve_seg_code("lesion") == 1
    with pytest.raises(AnnotationError, match="'liver' is not a segmentation class"):
        proc.resolve_seg_code("liver")
    groups = proc.group_annotations(item["annotations"], by_author=True)
    assert set(groups) == {(a.author,) for a in item["annotations"]}
    with pytest.raises(ValueError, match="by_author and/or by_identifier"):
        proc.group_annotations(item["annotations"])
    assert all(
        a.is_category
        for a in AnnotationProcessor.filter_annotations(item["annotations"], "category")
    )
    with pytest.raises(ValueError, match="scope='slice'"):
        AnnotationProcessor.filter_annotations(item["annotations"], scope="slice")


def test_collate_frame_segmentations_places_frames(demo_kwargs):
    videos = VideoDataset(project="demo", **demo_kwargs)
    index = index_of(videos, "videos/ct_lung2_slices.mp4")
    item = videos[index]
    alice = [
        a
        for a in videos.get_annotations(index)
        if a.is_segmentation and a.created_by == "alice@example.org"
    ]
    volume, code = videos.processor.collate_frame_segmentations(alice, depth=19)
    assert code == 1 and volume.shape == (19, 160, 160)
    assert np.array_equal(volume, item["masks"]["alice@example.org"][0])


def test_include_and_exclude_filters(demo_kwargs):
    only_bob = VolumeDataset(project="demo", include_annotators=["bob@example.org"], **demo_kwargs)
    index = index_of(only_bob, "volumes/brain1_mr.nii.gz")
    assert set(only_bob[index]["masks"]) == {"bob@example.org"}
    assert {a.created_by for a in only_bob.get_annotations(index)} == {"bob@example.org"}
    no_lesion = VolumeDataset(project="demo", exclude_segmentation_names=["lesion"], **demo_kwargs)
    assert no_lesion[index_of(no_lesion, "volumes/brain1_mr.nii.gz")]["masks"] == {}
    labels = ImageDataset(project="demo", include_image_label_names=["doppler"], **demo_kwargs)
    assert all(a.identifier == "doppler" for _, anns in labels.items() for a in anns if a.is_label)
    with pytest.raises(ValidationError, match="mutually exclusive"):
        VolumeDataset(
            project="demo", include_annotators=["a"], exclude_annotators=["b"], **demo_kwargs
        )
    with pytest.raises(ValidationError, match="requires return_as_semantic_segmentation"):
        VolumeDataset(project="demo", semantic_seg_merge_strategy="union", **demo_kwargs)
    annotated = VolumeDataset(
        project="demo",
        include_unannotated=False,
        exclude_annotators=["alice@example.org", "bob@example.org", "carol@example.org"],
        **demo_kwargs,
    )
    assert len(annotated) == 0  # the model's annotations are untrusted by default


def test_schema_inferred_from_data(demo_kwargs):
    inferred = VolumeDataset(project="demo", worklists=None, **demo_kwargs)
    assert inferred.segmentation_labels == [
        "brain_parcellation",
        "grey_matter",
        "lesion",
    ]  # sorted, trusted only
    assert inferred.image_categories_set == sorted(inferred.image_categories_set)
    from_worklist = VolumeDataset(project="demo", **demo_kwargs)
    assert from_worklist.segmentation_labels[:2] == ["lesion", "brain"]  # by group index


def test_unknown_worklist_is_an_error(demo_kwargs):
    with pytest.raises(DatamintDatasetException, match="none of the worklists"):
        len(VolumeDataset(project="demo", worklists=["nope"], **demo_kwargs))


def test_collate_policies(demo_kwargs):
    ds = ImageDataset(project="demo", return_metainfo=False, **demo_kwargs).filter(
        filename_pattern="*.png"
    )
    batch = [ds[i] for i in range(len(ds))]
    with pytest.raises(CollateError, match="cannot batch key 'image'"):
        ds.get_collate_fn()(batch)
    padded = ds.get_collate_fn("pad")(batch)
    assert padded["image"].shape == (len(batch), 3, 512, 512)
    assert isinstance(padded["image"], torch.Tensor)
    listed = ds.get_collate_fn("list")(batch)
    assert isinstance(listed["image"], list) and isinstance(listed["image"][0], torch.Tensor)
    resized = ImageDataset(project="demo", alb_transform=alb.Resize(32, 32), **demo_kwargs).filter(
        filename_pattern="*histology*"
    )
    loader = resized.get_dataloader(batch_size=2)
    assert next(iter(loader))["image"].shape[-2:] == (32, 32)


def test_set_and_add_transform(demo_kwargs):
    ds = ImageDataset(project="demo", **demo_kwargs).filter(filename_pattern="*he_tile.png")
    ds.set_transform(alb.Resize(16, 20))
    assert ds[0]["image"].shape == (3, 16, 20)
    ds.add_transform(alb.Resize(8, 8))
    assert ds[0]["image"].shape == (3, 8, 8)
    ds.set_transform(None)
    assert ds[0]["image"].shape == (3, 240, 240)


def test_get_resource_and_digest(demo_kwargs):
    vol = VolumeDataset(project="demo", **demo_kwargs)
    axial = vol.slice("axial")
    first_depth = vol.resources[0].depth
    assert axial.get_resource(first_depth).id == vol.resources[1].id
    assert vol.get_resource(-1).id == vol.resources[-1].id
    assert len(vol.digest) == 10 and vol.digest != axial.digest
    parts = vol.split(train=0.5, val=0.5, seed=0)
    assert parts["train"].digest != parts["val"].digest
    assert VolumeDataset(project="demo", **demo_kwargs).digest == vol.digest


def test_model_annotations_with_allow_external(demo_kwargs):
    ds = VolumeDataset(
        project="demo", trusted_annotation_sources=None, worklists=None, **demo_kwargs
    )
    assert "tissue_class" in ds.segmentation_labels and "brain" in ds.segmentation_labels


def test_views_make_no_new_server_calls(demo_kwargs, monkeypatch):
    import httpx

    vol = VolumeDataset(project="demo", **demo_kwargs).filter(filename_pattern="volumes/breast1*")
    vol[0]  # prepared, file cached

    def refuse(*args, **kwargs):
        raise AssertionError("a view made a network call")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    for axis in ("axial", "coronal", "sagittal"):
        view = vol.slice(axis)
        assert len(view) > 0 and view[len(view) - 1]["image"].ndim == 3

    direct = vol.slice("coronal")
    assert len(direct) == 120 and direct.split_name is None


def test_build_dataset_on_the_demo(demo_kwargs):
    from datamint.dataset import ImageDataset, build_dataset

    assert type(build_dataset("demo", **{k: v for k, v in demo_kwargs.items()})) is ImageDataset


def test_direct_sliced_construction_group_by_patient_and_concat(demo_kwargs):
    from datamint.dataset import SlicedVolumeDataset

    direct = SlicedVolumeDataset(project="demo", slice_axis="sagittal", **demo_kwargs)
    view = VolumeDataset(project="demo", **demo_kwargs).slice("sagittal")
    assert len(direct) == len(view) and direct.slice_axis_name == "sagittal"
    with pytest.raises(ValueError, match="slice axis"):
        SlicedVolumeDataset(project="demo", slice_axis=3, **demo_kwargs)
    vol = VolumeDataset(project="demo", **demo_kwargs)
    groups = vol.group_by_patient()
    assert sum(len(g) for g in groups.values()) == len(vol)
    assert {r.filename for r in groups["pyradiomics-lung2"].resources} == {
        "series/ct_lung2/",
        "volumes/lung2_ct.nii.gz",
    }
    both = vol.subset([0]) + vol.subset([1, 2])
    assert len(both) == 3 and both[2]["metainfo"]["resource_id"] == vol.resources[2].id
