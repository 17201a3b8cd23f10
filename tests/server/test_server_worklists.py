"""Worklists and segmentation groups (contract §4.5, §13.7)."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import demo_manifest


def test_project_worklists_list_items(demo_http: httpx.Client, demo_server: Any) -> None:
    response = demo_http.get(f"/projects/{demo_server.project_id}/worklists")
    assert response.status_code == 200
    items = response.json()
    manifest = demo_manifest()["worklists"]
    assert isinstance(items, list) and len(items) == len(manifest)
    for item, source in zip(items, manifest, strict=True):
        assert item["worklist_id"] == source["id"]
        assert item["worklist_name"] == source["name"]
        assert item["annotators"] == source["annotators"]
        assert item["annotations"] == source["annotations"]
        assert "id" not in item and "name" not in item


def test_full_worklist_and_segmentation_group(demo_http: httpx.Client) -> None:
    for source in demo_manifest()["worklists"]:
        full = demo_http.get(f"/annotationsets/{source['id']}").json()
        assert full["id"] == source["id"] and full["name"] == source["name"]
        assert full["annotations"] == source["annotations"]
        assert full["annotators"] == source["annotators"]
        group = demo_http.get(f"/annotationsets/{source['id']}/segmentation-group").json()
        assert group == {"groups": source["segmentation_group"]["groups"]}
        assert sorted(g["index"] for g in group["groups"].values())[0] == 1
