"""Dataset ids: parsing, the dataset variant axes and their rules, the objects they build."""

from __future__ import annotations

import pytest

from datamint.catalog import DATASET_VARIANTS, DatasetId, build_variant, parse_id
from datamint.dataset import (
    ImageDataset,
    SlicedVideoDataset,
    SlicedVolumeDataset,
    VideoDataset,
    VolumeDataset,
)

DEFAULTS = {"frames": False, "kind": "volume", "merge": None, "plane": None, "semantic": False}


def test_a_bare_name_is_every_default():
    did = parse_id("demo")
    assert did == DatasetId("demo", DEFAULTS)
    assert did.canonical == "demo[frames=false,kind=volume,merge=null,plane=null,semantic=false]"


def test_the_example_id():
    did = parse_id("demo[kind=volume,plane=axial,merge=mode,semantic=true]")
    assert did.project == "demo"
    assert did.variant == {**DEFAULTS, "plane": "axial", "merge": "mode", "semantic": True}
    assert parse_id(did.canonical) == did
    assert parse_id(" my project [ semantic = true ] ").project == "my project"


def test_variant_argument_for_a_bare_name():
    assert parse_id("demo", variant="kind=video,frames=true") == parse_id(
        "demo[frames=true,kind=video]"
    )
    assert parse_id("demo", variant={"kind": "image"}).variant["kind"] == "image"


def test_selector_and_variant_together_is_an_error():
    with pytest.raises(ValueError, match=r"\[kind=image\].*variant="):
        parse_id("demo[kind=image]", variant="kind=video")
    with pytest.raises(ValueError, match="variant="):
        parse_id(parse_id("demo"), variant="kind=video")


@pytest.mark.parametrize(
    ("dataset_id", "key"),
    [
        ("demo[kind=video,plane=axial]", "plane"),
        ("demo[kind=image,plane=axial]", "plane"),
        ("demo[frames=true]", "frames"),
        ("demo[merge=mode]", "merge"),
        ("demo[kind=tensor]", "kind"),
        ("demo[plane=oblique]", "plane"),
        ("demo[semantic=maybe]", "semantic"),
        ("demo[colour=red]", "colour"),
    ],
)
def test_bad_variants_name_the_key(dataset_id, key):
    with pytest.raises(ValueError, match=f"'{key}'"):
        parse_id(dataset_id)


@pytest.mark.parametrize("bad", ["", "[kind=image]", "demo[kind=image", "demo[a[b]]", "de]mo"])
def test_malformed_ids(bad):
    with pytest.raises(ValueError, match="dataset id"):
        parse_id(bad)


def test_every_allowed_variant_has_its_own_cache_key():
    variants = list(DATASET_VARIANTS.enumerate())
    # image: 2 semantic x (1 + 3 merges when semantic) ... counted by the rules:
    # merge needs semantic (4 values when semantic, 1 otherwise) = 5 per (kind, plane, frames)
    # (kind, plane, frames): image 1, volume 4 planes, video 2 frames = 7
    assert len(variants) == 7 * 5
    keys = {DATASET_VARIANTS.cache_key(v) for v in variants}
    assert len(keys) == len(variants)


@pytest.mark.parametrize(
    ("dataset_id", "cls", "semantic", "merge"),
    [
        ("demo[kind=image]", ImageDataset, False, None),
        ("demo", VolumeDataset, False, None),
        ("demo[plane=coronal,semantic=true,merge=union]", SlicedVolumeDataset, True, "union"),
        ("demo[kind=video]", VideoDataset, False, None),
        ("demo[kind=video,frames=true,semantic=true]", SlicedVideoDataset, True, None),
    ],
)
def test_build_variant_makes_the_described_object(dataset_id, cls, semantic, merge):
    ds = build_variant(parse_id(dataset_id), server_url="http://127.0.0.1:9", api_key="k")
    assert type(ds) is cls
    assert ds.config.targets.semantic is semantic
    got = ds.config.targets.semantic_merge
    assert (got.value if got is not None else None) == merge
    if cls is SlicedVolumeDataset:
        assert ds.slice_axis_name == "coronal"


def test_build_variant_refuses_arguments_the_id_fixes():
    with pytest.raises(ValueError, match="return_as_semantic_segmentation"):
        build_variant(parse_id("demo"), return_as_semantic_segmentation=True)
