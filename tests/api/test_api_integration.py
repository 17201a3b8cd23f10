"""Api and FileCache against the real reference server (``demo_server``)."""

from __future__ import annotations

import hashlib
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from datamint.api import Api
from datamint.exceptions import (
    AuthenticationError,
    IntegrityError,
    ItemNotFoundError,
    NetworkError,
)
from datamint.storage.file_cache import FileCache

from .support import CountingTransport


@pytest.fixture
def counter() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def api(demo_server: Any, counter: CountingTransport) -> Iterator[Api]:
    with Api(
        demo_server.url, demo_server.api_key, check_connection=False, transport=counter
    ) as client:
        yield client


@pytest.fixture(scope="module")
def resources(demo_server: Any) -> list[dict]:
    with Api(demo_server.url, demo_server.api_key, check_connection=False) as client:
        return client.get_project_resources(demo_server.project_id)


@pytest.fixture(scope="module")
def annotations(demo_server: Any, resources: list[dict]) -> list[dict]:
    with Api(demo_server.url, demo_server.api_key, check_connection=False) as client:
        return client.search_annotations([r["id"] for r in resources])


def test_probe_succeeds_once_per_process(demo_server: Any, counter: CountingTransport) -> None:
    Api(demo_server.url, demo_server.api_key, transport=counter).close()
    Api(demo_server.url + "/", demo_server.api_key, transport=counter).close()
    assert counter.count == 1
    request, status = counter.exchanges[0]
    assert (request.url.path, dict(request.url.params), status) == (
        "/projects",
        {"offset": "0", "limit": "1"},
        200,
    )


def test_projects(api: Api, demo_server: Any) -> None:
    projects = api.get_projects()
    assert demo_server.project_id in {p["id"] for p in projects}
    project = api.get_project(demo_server.project_id)
    assert "description" in project
    assert api.get_project_by_name(project["name"])["id"] == demo_server.project_id
    with pytest.raises(ItemNotFoundError, match=repr(project["name"])):
        api.get_project_by_name(project["name"] + " (missing)")


def test_unknown_project_id_is_item_not_found(api: Api) -> None:
    with pytest.raises(ItemNotFoundError, match="not found"):
        api.get_project(str(uuid.uuid4()))


def test_resources(api: Api, demo_server: Any, resources: list[dict]) -> None:
    assert len(resources) > 5
    ids = {r["id"] for r in resources}
    one = api.get_resource(resources[0]["id"])
    assert one["id"] == resources[0]["id"]
    assert one["sha256"] == resources[0]["sha256"]
    project = api.get_project(demo_server.project_id)
    sample = api.get_resources(project=project["name"], limit=5)
    assert len(sample) == 5
    assert {r["id"] for r in sample} <= ids
    assert {r["id"] for r in api.get_resources(project=project["name"])} == ids


def test_annotation_search(
    api: Api, resources: list[dict], annotations: list[dict], counter: CountingTransport
) -> None:
    ids = {r["id"] for r in resources}
    assert annotations
    assert {a["resource_id"] for a in annotations} <= ids
    segs = api.search_annotations(sorted(ids), annotation_type="segmentation")
    assert segs
    assert {a["type"] for a in segs} == {"segmentation"}
    assert {a["id"] for a in segs} < {a["id"] for a in annotations}
    one = api.get_annotation(segs[0]["id"])
    assert one["id"] == segs[0]["id"]


def test_worklists_and_segmentation_group(api: Api, demo_server: Any) -> None:
    worklists = api.get_project_worklists(demo_server.project_id)
    assert worklists
    wid = worklists[0]["worklist_id"]
    full = api.get_annotation_set(wid)
    assert isinstance(full["annotations"], list)
    group = api.get_segmentation_group(wid)
    assert group["groups"]
    assert all(isinstance(g["index"], int) for g in group["groups"].values())


def test_download_resource_file_is_verified(
    api: Api, resources: list[dict], tmp_path: Path
) -> None:
    record = resources[0]
    dest = tmp_path / "file"
    result = api.download_resource_file(
        record["id"], dest, expected_size=record["size"], expected_sha256=record["sha256"]
    )
    assert result.sha256 == record["sha256"]
    assert result.size == record["size"]
    assert result.etag == record["sha256"]
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == record["sha256"]


def test_partial_download_is_resumed(
    api: Api, resources: list[dict], tmp_path: Path, counter: CountingTransport
) -> None:
    record = max(resources, key=lambda r: r["size"])
    whole = tmp_path / "whole"
    api.download_resource_file(record["id"], whole)
    dest = tmp_path / "resumed"
    half = record["size"] // 2
    dest.with_name("resumed.incomplete").write_bytes(whole.read_bytes()[:half])
    counter.exchanges.clear()
    result = api.download_resource_file(record["id"], dest, expected_sha256=record["sha256"])
    assert result.sha256 == record["sha256"]
    assert dest.read_bytes() == whole.read_bytes()
    [(request, status)] = counter.exchanges
    assert request.headers["Range"] == f"bytes={half}-"
    assert status == 206
    assert not dest.with_name("resumed.incomplete").exists()


def test_wrong_expected_hash_keeps_the_existing_file(
    api: Api, resources: list[dict], tmp_path: Path
) -> None:
    dest = tmp_path / "file"
    dest.write_bytes(b"the previous, good copy")
    with pytest.raises(IntegrityError, match="failed verification"):
        api.download_resource_file(resources[0]["id"], dest, expected_sha256="f" * 64)
    assert dest.read_bytes() == b"the previous, good copy"
    assert not dest.with_name("file.incomplete").exists()


def test_download_segmentation_file(api: Api, annotations: list[dict], tmp_path: Path) -> None:
    seg = next(a for a in annotations if a["type"] == "segmentation")
    result = api.download_segmentation_file(
        seg["resource_id"], seg["id"], tmp_path / "mask", expected_sha256=seg.get("sha256")
    )
    assert result.size > 0
    assert result.etag == result.sha256


def test_wrong_key_says_what_to_set(demo_server: Any) -> None:
    with pytest.raises(NetworkError, match="rejected the API key") as info:
        Api(demo_server.url, "not-a-real-key")
    assert isinstance(info.value.__cause__, AuthenticationError)
    assert "DATAMINT_API_KEY" in str(info.value)
    assert "not-a-real-key" not in str(info.value)
    with (
        Api(demo_server.url, "not-a-real-key", check_connection=False) as bad,
        pytest.raises(AuthenticationError, match="DATAMINT_API_KEY") as info2,
    ):
        bad.get_projects()
    assert info2.value.status_code == 401
    assert "api_key=" in str(info2.value)
    assert "not-a-real-key" not in str(info2.value)


def test_file_cache_hit_sends_no_request(
    api: Api,
    resources: list[dict],
    annotations: list[dict],
    counter: CountingTransport,
    tmp_path: Path,
) -> None:
    cache = FileCache(tmp_path / "cache")
    record = resources[1]
    seg = next(a for a in annotations if a["type"] == "segmentation")
    path = cache.resource_file(api, record)
    mask = cache.segmentation_file(api, seg)
    assert counter.count == 2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]
    assert cache.resource_file(api, record) == path
    assert cache.segmentation_file(api, seg) == mask
    reopened = pickle.loads(pickle.dumps(cache))
    assert reopened.resource_file(api, record) == path
    assert counter.count == 2
    assert all(p.is_relative_to(tmp_path / "cache") for p in (tmp_path / "cache").rglob("*"))


def test_pickled_api_works(api: Api, demo_server: Any) -> None:
    clone = pickle.loads(pickle.dumps(api))
    try:
        assert clone.get_project(demo_server.project_id)["id"] == demo_server.project_id
        assert demo_server.api_key not in repr(clone)
    finally:
        clone.close()


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A server of our own, for tests that change server state."""
    from datamint.testing.server import build_demo_store, running_server

    store = tmp_path_factory.mktemp("private-store")
    project_id, api_key = build_demo_store(store)
    with running_server(store) as handle:
        yield SimpleNamespace(url=handle.url, api_key=api_key, project_id=project_id)


def test_split_round_trip(private_server: SimpleNamespace) -> None:
    pid = private_server.project_id
    with Api(private_server.url, private_server.api_key) as client:
        rids = [r["id"] for r in client.get_project_resources(pid)]
        assert client.get_project_splits(pid) == []
        assert client.get_resource_split(pid, rids[0]) is None
        client.assign_split(pid, rids[:2], "train")
        client.assign_split(pid, [], "test")
        rows = client.get_project_splits(pid)
        assert {(r["resource_id"], r["split_name"]) for r in rows} == {
            (rids[0], "train"),
            (rids[1], "train"),
        }
        before = min(r["created_at"] for r in rows)
        client.assign_split(pid, [rids[0]], "val")
        assert client.get_resource_split(pid, rids[0])["split_name"] == "val"
        assert client.get_resource_split(pid, rids[2]) is None
        assert {r["resource_id"] for r in client.get_project_splits(pid, split_name="train")} == {
            rids[1]
        }
        as_of = client.get_project_splits(pid, as_of_timestamp=before)
        assert {(r["resource_id"], r["split_name"]) for r in as_of} == {
            (rids[0], "train"),
            (rids[1], "train"),
        }
