"""A prepared dataset holds its records in compact tables, not an object per resource."""

from __future__ import annotations

import gc
from typing import Any

import httpx
import pytest
from torch.utils.data import DataLoader

import datamint.dataset.preparation as preparation
from datamint.api import Api
from datamint.dataset import ImageDataset, VolumeDataset
from datamint.storage.record_table import RecordTable


def test_records_live_in_tables_shared_by_derived_datasets(demo_kwargs: dict[str, Any]) -> None:
    vol = VolumeDataset(project="demo", **demo_kwargs)
    prepared = vol.prepared
    assert isinstance(prepared.records.resources, RecordTable)
    assert isinstance(prepared.records.annotations, RecordTable)
    assert len(prepared.records.annotations) == sum(len(a) for a in vol.resource_annotations)
    assert [r.id for r in prepared.resources] == [r.id for r in vol.resources]
    parts = vol.split(train=0.5, val=0.5, seed=0)
    for part in (*parts.values(), vol.slice("axial"), vol.subset([2, 0])):
        assert part.prepared.records is prepared.records  # rows into the same tables
    joined = parts.select("val+train")
    assert joined.prepared.records is prepared.records
    assert sorted(r.id for r in joined.resources) == sorted(r.id for r in vol.resources)


def test_annotations_searched_in_batches_equal_one_search(
    demo_server: Any, demo_kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = VolumeDataset(project="demo", **demo_kwargs)
    len(whole)  # prepared with one search
    searches: list[int] = []
    original = Api.search_annotations

    def search(self: Api, resource_ids: list[str] | None, **filters: Any) -> Any:
        searches.append(len(resource_ids or ()))
        return original(self, resource_ids, **filters)

    monkeypatch.setattr(Api, "search_annotations", search)
    monkeypatch.setattr(preparation, "SEARCH_BATCH", 4)
    batched = VolumeDataset(project="demo", **demo_kwargs)
    assert len(batched) == len(whole)
    assert searches and max(searches) == 4 and sum(searches) == len(whole.resources)
    assert batched.resources == whole.resources
    assert batched.resource_annotations == whole.resource_annotations
    assert batched.schema == whole.schema


def test_the_resource_listing_is_read_as_a_stream(demo_server: Any) -> None:
    api = Api(server_url=demo_server.url, api_key=demo_server.api_key)
    listed = api.get_project_resources(demo_server.project_id)
    raw = httpx.get(
        f"{demo_server.url}/projects/{demo_server.project_id}/resources",
        headers={"apikey": demo_server.api_key},
    ).json()
    assert isinstance(listed, RecordTable) and listed == raw


def test_a_dataloader_worker_freezes_what_it_inherited(demo_kwargs: dict[str, Any]) -> None:
    images = ImageDataset(project="demo", return_segmentations=False, **demo_kwargs)
    images[0]  # the main process builds items too, and freezes nothing
    assert gc.get_freeze_count() == 0
    loader = DataLoader(images, num_workers=1, collate_fn=lambda batch: gc.get_freeze_count())
    assert next(iter(loader)) > 0
