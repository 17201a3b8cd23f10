"""Authentication (401), membership (a foreign entity is 404) and the request log."""

from __future__ import annotations

import logging

import httpx
import pytest

from datamint.server.store import ProjectStore

from .conftest import Scratch


def _get(scratch: Scratch, path: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=scratch.url, trust_env=False) as client:
        return client.get(path, headers=headers)


def test_missing_key_is_401_saying_what_to_set(scratch: Scratch) -> None:
    response = _get(scratch, "/projects", {})
    assert response.status_code == 401
    message = response.json()["message"]
    assert "apikey" in message
    assert "DATAMINT_API_KEY" in message


@pytest.mark.parametrize("style", ["apikey", "bearer"])
def test_wrong_key_is_401_in_both_header_styles(scratch: Scratch, style: str) -> None:
    wrong = "not-a-real-key-" + scratch.member_key[:5]
    headers = {"apikey": wrong} if style == "apikey" else {"Authorization": f"Bearer {wrong}"}
    response = _get(scratch, "/projects", headers)
    assert response.status_code == 401
    assert "invalid API key" in response.json()["message"]
    assert wrong not in response.text


@pytest.mark.parametrize("style", ["apikey", "bearer"])
def test_either_header_style_alone_authenticates(scratch: Scratch, style: str) -> None:
    key = scratch.member_key
    headers = {"apikey": key} if style == "apikey" else {"Authorization": f"Bearer {key}"}
    response = _get(scratch, "/projects", headers)
    assert response.status_code == 200
    assert scratch.demo_project_id in {p["id"] for p in response.json()["data"]}


def test_every_protected_route_needs_a_key(scratch: Scratch) -> None:
    other = scratch.other
    paths = [
        f"/projects/{other.project_id}",
        f"/resources/{other.image_id}",
        f"/resources/{other.image_id}/file",
        f"/annotations/{other.mask_annotation_id}",
        f"/annotationsets/{other.worklist_id}",
        f"/projects/{other.project_id}/splits",
    ]
    for path in paths:
        assert _get(scratch, path, {}).status_code == 401, path


def test_non_member_gets_404_on_every_entity(scratch: Scratch) -> None:
    other = scratch.other
    paths = [
        f"/projects/{other.project_id}",
        f"/projects/{other.project_id}/resources",
        f"/projects/{other.project_id}/worklists",
        f"/projects/{other.project_id}/splits",
        f"/projects/{other.project_id}/resources/{other.image_id}/split",
        f"/resources/{other.image_id}",
        f"/resources/{other.image_id}/file",
        f"/annotations/{other.mask_annotation_id}",
        f"/annotations/{other.image_id}/annotations/{other.mask_annotation_id}/file",
        f"/annotationsets/{other.worklist_id}",
        f"/annotationsets/{other.worklist_id}/segmentation-group",
    ]
    with scratch.client() as client:
        for path in paths:
            response = client.get(path)
            assert response.status_code == 404, path
            assert "not found" in response.json()["message"]
        post = client.post(
            f"/projects/{other.project_id}/splits",
            json={"resource_ids": [other.image_id], "split_name": "train"},
        )
        assert post.status_code == 404


def test_non_member_never_sees_foreign_entities_in_lists(scratch: Scratch) -> None:
    other = scratch.other
    with scratch.client() as client:
        projects = client.get("/projects", params={"includeArchived": "true"}).json()["data"]
        resources = client.get("/resources").json()["data"][0]["resources"]
        search = client.post(
            "/annotations/search", json={"resource_ids": [other.image_id], "limit": "5000"}
        ).json()
    assert other.project_id not in {p["id"] for p in projects}
    assert other.image_id not in {r["id"] for r in resources}
    assert search["totalCount"] == 0
    assert search["data"][0]["annotations"] == []


def test_outsider_sees_only_its_project(scratch: Scratch) -> None:
    with scratch.client(scratch.outsider_key) as client:
        projects = client.get("/projects").json()["data"]
        assert [p["id"] for p in projects] == [scratch.other.project_id]
        assert client.get(f"/projects/{scratch.demo_project_id}").status_code == 404


def test_keys_are_stored_hashed_only(scratch: Scratch) -> None:
    key = ProjectStore(scratch.store_dir).create_user("hashed@example.org")
    stored = b"".join(
        path.read_bytes() for path in scratch.store_dir.glob("store.sqlite3*") if path.is_file()
    )
    assert key.encode() not in stored
    assert ProjectStore(scratch.store_dir).user_for_key(key) == "hashed@example.org"


def test_request_log_has_one_line_per_request_and_no_key(
    scratch: Scratch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="datamint.server")
    with scratch.client() as client:
        assert client.get(f"/projects/{scratch.demo_project_id}").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "datamint.server"]
    matching = [line for line in lines if f"/projects/{scratch.demo_project_id} 200" in line]
    assert len(matching) == 1, lines
    assert "member@example.org" in matching[0]
    assert all(scratch.member_key not in line for line in lines)
