"""Annotations: search (paging in the body, resource filter, deleted), one, file."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from .conftest import Scratch, demo_manifest

CHECKLIST_KEYS = {
    "id",
    "resource_id",
    "identifier",
    "type",
    "scope",
    "frame_index",
    "value",
    "created_by",
    "created_at",
    "deleted_at",
    "associated_file",
    "file",
    "source",
}


def _search(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/annotations/search", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"data", "totalCount"} and len(payload["data"]) == 1
    return dict(payload)


def test_search_all_resources_returns_every_annotation(
    demo_http: httpx.Client, demo_resources: list[dict[str, Any]]
) -> None:
    ids = [r["id"] for r in demo_resources]
    payload = _search(demo_http, {"resource_ids": ids, "offset": "0", "limit": "5000"})
    found = payload["data"][0]["annotations"]
    manifest = demo_manifest()["annotations"]
    assert payload["totalCount"] == len(found) == len(manifest)
    assert {a["id"] for a in found} == {a["id"] for a in manifest}
    assert {a["source"] for a in found} == {a["source"] for a in manifest}
    for annotation in found:
        assert set(annotation) >= CHECKLIST_KEYS, annotation["id"]
        if annotation["scope"] == "image":
            assert annotation["frame_index"] is None


def test_search_returns_only_the_requested_resources(
    demo_http: httpx.Client, demo_resources: list[dict[str, Any]]
) -> None:
    wanted = {r["id"] for r in demo_resources[:3]}
    payload = _search(demo_http, {"resource_ids": sorted(wanted), "offset": "0", "limit": "5000"})
    found = payload["data"][0]["annotations"]
    assert found and {a["resource_id"] for a in found} <= wanted
    expected = [a["id"] for a in demo_manifest()["annotations"] if a["resource_id"] in wanted]
    assert [a["id"] for a in found] == expected
    one = _search(demo_http, {"resource_id": demo_resources[0]["id"]})
    assert {a["resource_id"] for a in one["data"][0]["annotations"]} == {demo_resources[0]["id"]}


def test_search_paging_with_string_and_int_values(
    demo_http: httpx.Client, demo_resources: list[dict[str, Any]]
) -> None:
    ids = [r["id"] for r in demo_resources]
    full = _search(demo_http, {"resource_ids": ids})["data"][0]["annotations"]
    pages = [
        _search(demo_http, {"resource_ids": ids, "offset": str(o), "limit": "50"})
        for o in range(0, len(full), 50)
    ]
    assert [a for p in pages for a in p["data"][0]["annotations"]] == full
    assert all(p["totalCount"] == len(full) for p in pages)
    as_ints = _search(demo_http, {"resource_ids": ids, "offset": 100, "limit": 5})
    assert as_ints["data"][0]["annotations"] == full[100:105]


@pytest.mark.parametrize(
    "body",
    [
        {"limit": "abc"},
        {"limit": "5001"},
        {"offset": "-1"},
        {"resource_ids": ["nope"]},
        {"deleted": "sometimes"},
    ],
)
def test_search_bad_body_is_422(demo_http: httpx.Client, body: dict[str, Any]) -> None:
    response = demo_http.post("/annotations/search", json=body)
    assert response.status_code == 422
    assert response.json()["message"]


def test_search_filters(demo_http: httpx.Client) -> None:
    manifest = demo_manifest()["annotations"]
    for body, keep in [
        ({"annotation_type": "segmentation"}, lambda a: a["type"] == "segmentation"),
        ({"source": "model_pipeline"}, lambda a: a["source"] == "model_pipeline"),
        ({"annotatorEmail": "BOB@example.org"}, lambda a: a["created_by"] == "bob@example.org"),
    ]:
        found = _search(demo_http, body)["data"][0]["annotations"]
        assert [a["id"] for a in found] == [a["id"] for a in manifest if keep(a)], body


def test_deleted_annotations_only_when_asked(member: httpx.Client, scratch: Scratch) -> None:
    synthetic = scratch.synthetic
    body: dict[str, Any] = {"resource_ids": [synthetic.image_id], "offset": "0", "limit": "5000"}
    default = {a["id"] for a in _search(member, body)["data"][0]["annotations"]}
    assert default == {synthetic.mask_annotation_id, synthetic.label_annotation_id}
    everything = _search(member, {**body, "deleted": "include"})["data"][0]["annotations"]
    assert synthetic.deleted_annotation_id in {a["id"] for a in everything}
    only = _search(member, {**body, "deleted": "only"})["data"][0]["annotations"]
    assert [a["id"] for a in only] == [synthetic.deleted_annotation_id]
    assert only[0]["deleted_at"] == "2026-01-03T00:00:00.000000Z"
    unfiltered = {a["id"] for a in _search(member, {})["data"][0]["annotations"]}
    assert synthetic.deleted_annotation_id not in unfiltered
    record = member.get(f"/annotations/{synthetic.deleted_annotation_id}").json()
    assert record["deleted_at"] is not None


def test_get_one_annotation_and_its_file(demo_http: httpx.Client) -> None:
    manifest = demo_manifest()["annotations"]
    source = next(a for a in manifest if a["type"] == "segmentation" and a.get("sha256"))
    record = demo_http.get(f"/annotations/{source['id']}").json()
    assert record["file"] == source["file"]
    assert record["sha256"] == source["sha256"] and record["size"] == source["size"]
    assert source["sha256"] in record["associated_file"]
    uri = f"/annotations/{source['resource_id']}/annotations/{source['id']}/file"
    response = demo_http.get(uri)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == source["sha256"]
    assert response.headers["etag"] == f'"{source["sha256"]}"'
    assert response.headers["accept-ranges"] == "bytes"
    part = demo_http.get(uri, headers={"Range": "bytes=1-3"})
    assert part.status_code == 206 and part.content == response.content[1:4]
    beyond = demo_http.get(uri, headers={"Range": f"bytes={len(response.content)}-"})
    assert beyond.status_code == 416


def test_annotation_file_404s(demo_http: httpx.Client) -> None:
    manifest = demo_manifest()["annotations"]
    label = next(a for a in manifest if a["file"] is None)
    seg = next(a for a in manifest if a["file"] is not None)
    other_resource = next(
        a["resource_id"] for a in manifest if a["resource_id"] != seg["resource_id"]
    )
    for uri in (
        f"/annotations/{label['resource_id']}/annotations/{label['id']}/file",
        f"/annotations/{other_resource}/annotations/{seg['id']}/file",
    ):
        response = demo_http.get(uri)
        assert response.status_code == 404
        assert "not found" in response.json()["message"]
