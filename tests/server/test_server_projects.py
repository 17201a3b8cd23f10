"""Projects: listing, paging, one project, its resources (contract §4.2, §13.2-3)."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import httpx
import pytest

from .conftest import Scratch, demo_manifest

ISO_US = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
REQUIRED_RESOURCE_KEYS = {
    "id",
    "resource_uri",
    "storage",
    "location",
    "upload_channel",
    "filename",
    "mimetype",
    "status",
    "created_at",
    "created_by",
    "customer_id",
    "published",
    "deleted",
}


def test_list_shape_and_project_fields(demo_http: httpx.Client, demo_server: Any) -> None:
    response = demo_http.get("/projects", params={"offset": 0, "limit": 5000})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["data"]
    (project,) = body["data"]
    manifest = demo_manifest()["project"]
    assert project["id"] == demo_server.project_id == manifest["id"]
    assert project["name"] == manifest["name"]
    assert "description" in project
    assert project["archived"] is False
    assert project["resource_count"] == len(demo_manifest()["resources"])
    assert ISO_US.match(project["created_at"])


def test_archived_projects_only_with_include_archived(
    member: httpx.Client, scratch: Scratch
) -> None:
    default = {p["name"] for p in member.get("/projects").json()["data"]}
    everything = member.get("/projects", params={"includeArchived": "true"}).json()["data"]
    assert "synthetic" not in default
    assert {p["name"] for p in everything} == default | {"synthetic"}
    assert next(p for p in everything if p["name"] == "synthetic")["archived"] is True


def test_paging_with_offset_and_limit(member: httpx.Client) -> None:
    full = member.get("/projects", params={"includeArchived": "true", "limit": 5000}).json()["data"]
    assert len(full) == 2
    pages = [
        member.get("/projects", params={"includeArchived": "true", "offset": i, "limit": 1}).json()[
            "data"
        ]
        for i in range(3)
    ]
    assert [len(p) for p in pages] == [1, 1, 0]
    assert pages[0] + pages[1] == full


@pytest.mark.parametrize("limit", [-1, 5001])
def test_limit_out_of_range_is_422(member: httpx.Client, limit: int) -> None:
    response = member.get("/projects", params={"limit": limit})
    assert response.status_code == 422
    assert "limit" in response.json()["message"]


def test_get_one_project_matches_the_listing(demo_http: httpx.Client, demo_server: Any) -> None:
    listed = demo_http.get("/projects").json()["data"][0]
    assert demo_http.get(f"/projects/{demo_server.project_id}").json() == listed


@pytest.mark.parametrize(
    "path",
    [
        f"/projects/{uuid.uuid4()}",
        "/projects/not-a-uuid",
        f"/projects/{uuid.uuid4()}/resources",
        f"/resources/{uuid.uuid4()}",
        "/resources/xyz",
        f"/resources/{uuid.uuid4()}/file",
        f"/annotations/{uuid.uuid4()}",
        f"/annotationsets/{uuid.uuid4()}",
        "/no/such/route",
    ],
)
def test_unknown_entities_are_404_not_found(demo_http: httpx.Client, path: str) -> None:
    response = demo_http.get(path)
    assert response.status_code == 404
    assert "not found" in response.json()["message"].lower()


def test_project_resources_is_a_bare_array_of_full_records(
    demo_http: httpx.Client, demo_resources: list[dict[str, Any]]
) -> None:
    manifest = {r["id"]: r for r in demo_manifest()["resources"]}
    assert [r["id"] for r in demo_resources] == list(manifest)
    for record in demo_resources:
        assert set(record) >= REQUIRED_RESOURCE_KEYS, record["id"]
        assert record["resource_uri"] == f"/resources/{record['id']}/file"
        assert record["deleted"] is False and record["deleted_at"] is None
        assert ISO_US.match(record["created_at"])
        assert record["metadata"]["frame_count"] >= 1
        source = manifest[record["id"]]
        for key, value in source.items():
            if key not in ("size", "sha256", "created_at"):
                assert record[key] == value, (record["id"], key)


def test_resource_size_and_sha256_describe_the_served_bytes(
    demo_http: httpx.Client, demo_resources: list[dict[str, Any]]
) -> None:
    for record in demo_resources:
        response = demo_http.get(record["resource_uri"])
        assert response.status_code == 200
        assert len(response.content) == record["size"], record["filename"]
        assert hashlib.sha256(response.content).hexdigest() == record["sha256"]
        assert response.headers["etag"] == f'"{record["sha256"]}"'
