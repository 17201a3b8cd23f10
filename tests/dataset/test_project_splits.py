"""Splits on datasets: project snapshots on a real server, replay, save, k-fold, specs, tags."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from datamint.api.client import Api
from datamint.dataset import ImageDataset, VolumeDataset
from datamint.exceptions import DatamintWarning, SplitError
from datamint.splits import utc_now_iso
from datamint.testing.server import build_demo_store, running_server


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A private server: these tests write split assignments."""
    store = tmp_path_factory.mktemp("split-store")
    _, key = build_demo_store(store)
    with running_server(store) as server:
        yield {
            "server_url": server.url,
            "api_key": key,
            "cache_dir": tmp_path_factory.mktemp("split-cache"),
        }


def _members(parts) -> dict[str, set[str]]:
    return {name: {r.id for r in part.resources} for name, part in parts.items()}


def _pause() -> str:
    """A timestamp strictly between two server writes."""
    time.sleep(0.01)
    stamp = utc_now_iso()
    time.sleep(0.01)
    return stamp


def test_save_then_replay_after_two_reassignments(writable):
    ds = VolumeDataset(project="demo", **writable)
    before_any = _pause()
    with pytest.warns(DatamintWarning, match="No split assignments found on the server"):
        fallback = ds.split(seed=0)
    assert [len(p) for p in fallback.values()] == [13, 3, 2]  # 18 * 0.7/0.15/0.15
    first = ds.split(train=0.5, val=0.5, seed=1)
    first.save()
    t1 = _pause()
    second = ds.split(train=0.6, val=0.2, test=0.2, seed=2)
    with pytest.raises(SplitError, match="already has split assignments; pass force=True"):
        second.save()
    second.save(force=True)
    t2 = _pause()
    third = ds.split(train=0.5, val=0.5, seed=3)
    third.save(force=True)

    assert _members(ds.split(as_of_timestamp=t1)) == _members(first)
    assert _members(ds.split(as_of_timestamp=t2)) == _members(second)
    current = ds.split(use_project_splits=True)
    assert _members(current) == _members(third)
    assert _members(ds.split()) == _members(third)  # automatic project mode
    for part in current.values():
        assert part.split_source == "project_api"
        stamp = part.split_as_of_timestamp
        assert stamp.endswith("Z") and datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    replayed = ds.split(as_of_timestamp=current["train"].split_as_of_timestamp)
    assert _members(replayed) == _members(third)
    assert replayed["train"].split_as_of_timestamp == current["train"].split_as_of_timestamp
    with pytest.raises(SplitError, match="no split assignment as of"):
        ds.split(as_of_timestamp=before_any)


def test_project_split_errors(writable):
    ds = VolumeDataset(project="demo", **writable)
    with pytest.raises(SplitError, match="takes no ratios"):
        ds.split(use_project_splits=True, train=0.8, val=0.2)
    with pytest.raises(SplitError, match="cannot be combined"):
        ds.split(by_patient=True, use_project_splits=True, train=0.8, val=0.2)
    with pytest.raises(SplitError, match="needs ratios"):
        ds.split(by_patient=True)
    with pytest.raises(SplitError, match="applies only to project splits"):
        ds.split(train=0.8, val=0.2, as_of_timestamp="2026-01-01T00:00:00Z")


def test_resources_dataset_has_no_project_split(writable):
    records = Api(
        server_url=writable["server_url"], api_key=writable["api_key"]
    ).get_project_resources(VolumeDataset(project="demo", **writable).project.id)
    ds = VolumeDataset(resources=records, **writable)
    with pytest.raises(SplitError, match="project splits need a dataset built from a project"):
        ds.split(use_project_splits=True)


def test_split_parts_slice_with_their_members_and_attributes(demo_kwargs):
    parts = VolumeDataset(project="demo", **demo_kwargs).split(train=0.8, val=0.2, seed=0)
    val_slices = parts["val"].slice("axial")
    assert {r.id for r in val_slices.resources} == {r.id for r in parts["val"].resources}
    assert (val_slices.split_name, val_slices.split_source) == ("val", "local")
    assert len(val_slices) == sum(r.depth for r in parts["val"].resources)


def test_by_patient_keeps_patients_whole(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    for seed in range(5):
        parts = ds.split(train=0.5, val=0.5, seed=seed, by_patient=True)
        owner = {}
        for name, part in parts.items():
            for r in part.resources:
                assert owner.setdefault(r.patient_id, name) == name
    lung = {r.filename for r in ds.resources if r.patient_id == "pyradiomics-lung2"}
    assert lung == {"series/ct_lung2/", "volumes/lung2_ct.nii.gz"}


def test_stratify_by_label_and_category(demo_kwargs):
    ds = ImageDataset(project="demo", **demo_kwargs)
    parts = ds.split(train=0.5, val=0.5, seed=0, stratify_by="body_part")
    assert sum(len(p) for p in parts.values()) == len(ds)
    from datamint.dataset.splitting import stratum_values

    for cls in set(stratum_values(ds, "body_part")):
        counts = [stratum_values(p, "body_part").count(cls) for p in parts.values()]
        assert abs(counts[0] - counts[1]) <= 1, cls
    labelled = ds.split(train=0.5, val=0.5, seed=0, stratify_by="burned_in_text")
    bits = [stratum_values(p, "burned_in_text") for p in labelled.values()]
    assert abs(sum(bits[0]) - sum(bits[1])) <= 1
    with pytest.raises(SplitError, match="neither an image label"):
        ds.split(train=0.5, val=0.5, stratify_by="no_such_label")


def test_kfold_on_a_dataset(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    folds = list(ds.kfold(3, seed=0, by_patient=True))
    assert len(folds) == 3
    vals = [{r.id for r in val.resources} for _, val in folds]
    assert set().union(*vals) == {r.id for r in ds.resources}
    assert sum(map(len, vals)) == len(ds)
    for i, (train, val) in enumerate(folds):
        assert train.fold == val.fold == i and (train.split_name, val.split_name) == (
            "train",
            "val",
        )
        assert not {r.patient_id for r in train.resources} & {r.patient_id for r in val.resources}


def test_select_and_split_spec(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    parts = ds.split(train=0.8, val=0.2, seed=0)
    picked = parts.select("train[:50%]+val")
    train_ids = [r.id for r in parts["train"].resources]
    assert [r.id for r in picked.resources] == train_ids[:7] + [
        r.id for r in parts["val"].resources
    ]
    assert (picked.split_name, picked.split_source) == ("train[:50%]+val", "local")
    assert len(picked.slice("axial")) == sum(r.depth for r in picked.resources)
    half = ds.split_spec("train[:50%]", train=0.8, val=0.2, seed=0)
    assert [r.id for r in half.resources] == train_ids[:7]
    with pytest.raises(SplitError, match=r"names 'test'; the splits are \['train', 'val'\]"):
        parts.select("test")


def test_deprecated_tag_mode(demo_server, demo_kwargs):
    project_id = VolumeDataset(project="demo", **demo_kwargs).project.id
    records = list(  # a list of dicts: the client's table of records is read-only
        Api(server_url=demo_server.url, api_key=demo_server.api_key).get_project_resources(
            project_id
        )
    )
    for i, record in enumerate(records):
        record["tags"] = [*record.get("tags", []), f"split:{'train' if i % 3 else 'test'}"]
    ds = VolumeDataset(resources=records, **demo_kwargs)
    with pytest.warns(DeprecationWarning, match="use_server_splits=True"):
        parts = ds.split(use_server_splits=True)
    assert set(parts) == {"train", "test"} and sum(len(p) for p in parts.values()) == len(ds)
    with pytest.raises(SplitError, match="takes no ratios"):
        ds.split(use_server_splits=True, train=0.5, test=0.5)
