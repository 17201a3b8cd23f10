"""split() sizes on the demo project, and what a user sees with a wrong or missing key."""

from __future__ import annotations

import pytest

from datamint.dataset import SplitResult, VolumeDataset
from datamint.exceptions import AuthenticationError, SplitError


def test_split_sizes_and_attributes(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    assert len(ds) == 18
    parts = ds.split(train=0.8, val=0.2, seed=0)
    assert isinstance(parts, SplitResult) and list(parts) == ["train", "val"]
    assert [len(p) for p in parts.values()] == [14, 4]  # round(14.4) = 14, the rest 4
    assert {r.id for p in parts.values() for r in p.resources} == {r.id for r in ds.resources}
    for name, part in parts.items():
        assert (part.split_name, part.split_source, part.split_as_of_timestamp) == (
            name,
            "local",
            None,
        )
    assert ds.split_name is None
    three = ds.split(train=0.7, val=0.15, test=0.15, seed=0)
    assert [len(p) for p in three.values()] == [13, 3, 2]  # round(12.6), round(2.7), rest


def test_same_seed_same_split(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    a = ds.split(train=0.8, val=0.2, seed=0)
    b = ds.split(train=0.8, val=0.2, seed=0)
    assert [r.id for r in a["val"].resources] == [r.id for r in b["val"].resources]


def test_sliced_split_keeps_volumes_whole(demo_kwargs):
    sliced = VolumeDataset(project="demo", **demo_kwargs).slice("axial")
    parts = sliced.split(train=0.8, val=0.2, seed=0)
    train_ids = {r.id for r in parts["train"].resources}
    assert not train_ids & {r.id for r in parts["val"].resources}
    assert len(parts["train"]) + len(parts["val"]) == len(sliced)
    assert parts["train"].slice_axis_name == "axial"


def test_split_needs_ratios_without_a_project_split(demo_kwargs):
    ds = VolumeDataset(project="demo", **demo_kwargs)
    with pytest.raises(SplitError, match="applies only to project splits"):
        ds.split(train=0.8, val=0.2, as_of_timestamp="2026-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="sum to 1"):
        ds.split(train=0.8, val=0.3, seed=0)


def test_wrong_api_key_says_what_to_set(demo_server, shared_cache):
    ds = VolumeDataset(
        project="demo", server_url=demo_server.url, api_key="not-a-key", cache_dir=shared_cache
    )
    with pytest.raises(AuthenticationError, match="DATAMINT_API_KEY") as info:
        len(ds)
    assert "not-a-key" not in str(info.value)


def test_wrong_api_key_without_probe(demo_server, shared_cache):
    ds = VolumeDataset(
        project="demo",
        server_url=demo_server.url,
        api_key="not-a-key",
        auto_update=False,
        cache_dir=shared_cache,
    )
    with pytest.raises(AuthenticationError, match="DATAMINT_API_KEY"):
        len(ds)


def test_missing_api_key_message(demo_server, shared_cache):
    ds = VolumeDataset(project="demo", server_url=demo_server.url, cache_dir=shared_cache)
    with pytest.raises(
        AuthenticationError,
        match=r"^API key not provided! Use the environment variable "
        r"DATAMINT_API_KEY or pass it as an argument\.$",
    ):
        len(ds)


def test_key_from_environment(demo_server, shared_cache, monkeypatch):
    monkeypatch.setenv("DATAMINT_API_KEY", demo_server.api_key)
    monkeypatch.setenv("DATAMINT_API_URL", demo_server.url + "/")
    assert len(VolumeDataset(project="demo", cache_dir=shared_cache)) == 18


def test_unknown_project_names_it(demo_kwargs):
    from datamint.exceptions import ItemNotFoundError

    with pytest.raises(ItemNotFoundError, match="no-such-project"):
        len(VolumeDataset(project="no-such-project", **demo_kwargs))
