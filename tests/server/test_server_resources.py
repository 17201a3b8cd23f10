"""Resources: the paged list, one resource, and the file route (ETag, Range, series)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

from .conftest import MEMBER, Scratch, demo_manifest, write_synthetic_project


def _resources(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/resources", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "totalCount"}
    assert len(body["data"]) == 1 and set(body["data"][0]) == {"resources"}
    return dict(body)


def test_list_is_paged_with_total_count(demo_http: httpx.Client) -> None:
    everything = _resources(demo_http, limit=5000)
    total = everything["totalCount"]
    assert total == len(demo_manifest()["resources"])
    ids = [r["id"] for r in everything["data"][0]["resources"]]
    pages = [
        _resources(demo_http, offset=offset, limit=10)["data"][0]["resources"]
        for offset in range(0, total + 10, 10)
    ]
    assert [r["id"] for page in pages for r in page] == ids
    last = _resources(demo_http, offset=total - 5, limit=5)
    assert len(last["data"][0]["resources"]) == 5 and last["totalCount"] == total


def test_project_filter_json_text_and_plain_name(member: httpx.Client, scratch: Scratch) -> None:
    as_json = json.dumps({"items": ["synthetic"], "filterType": "intersection"})
    by_json = _resources(member, project=as_json, limit=5)
    by_name = _resources(member, project="synthetic", limit=5)
    expected = {scratch.synthetic.image_id, scratch.synthetic.series_id}
    assert {r["id"] for r in by_json["data"][0]["resources"]} == expected
    assert by_name == by_json
    both = json.dumps({"items": ["synthetic", "demo"], "filterType": "intersection"})
    assert _resources(member, project=both)["totalCount"] == 0
    either = json.dumps({"items": ["synthetic", "demo"], "filterType": "union"})
    assert _resources(member, project=either)["totalCount"] == 2 + len(demo_manifest()["resources"])


def test_plain_filters_and_ordering(demo_http: httpx.Client) -> None:
    manifest = demo_manifest()["resources"]
    ct = _resources(demo_http, modality="ct")
    assert ct["totalCount"] == sum(r.get("modality") == "CT" for r in manifest)
    tags = _resources(demo_http, tags=json.dumps({"items": ["series"], "filterType": "union"}))
    assert tags["totalCount"] == sum("series" in r.get("tags", []) for r in manifest)
    nifti = _resources(demo_http, filename=".nii.gz", order_field="filename", order_by_asc="true")
    names = [r["filename"] for r in nifti["data"][0]["resources"]]
    assert names == sorted(r["filename"] for r in manifest if r["filename"].endswith(".nii.gz"))
    assert _resources(demo_http, status="inbox")["totalCount"] == 0
    assert _resources(demo_http, deleted="only")["totalCount"] == 0
    assert _resources(demo_http, **{"from": "2000-01-01", "to": "2999-12-31"})["totalCount"] == len(
        manifest
    )
    assert demo_http.get("/resources", params={"deleted": "maybe"}).status_code == 422


def test_get_one_resource_equals_the_listed_record(
    demo_http: httpx.Client, demo_resources: list[dict[str, Any]]
) -> None:
    for record in demo_resources[:3]:
        assert demo_http.get(f"/resources/{record['id']}").json() == record
    upper = demo_resources[0]["id"].upper()
    assert demo_http.get(f"/resources/{upper}").json()["id"] == demo_resources[0]["id"]


@pytest.fixture
def dicom_record(demo_resources: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in demo_resources if r["filename"].endswith(".dcm"))


def test_file_headers(demo_http: httpx.Client, dicom_record: dict[str, Any]) -> None:
    response = demo_http.get(
        dicom_record["resource_uri"], headers={"accept": "application/octet-stream"}
    )
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{dicom_record["sha256"]}"'
    assert response.headers["content-length"] == str(dicom_record["size"])
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content[128:132] == b"DICM"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, None),
        ("bytes=-50", None, None),
        ("bytes=10-999999999", 10, None),
    ],
)
def test_file_range_is_206(
    demo_http: httpx.Client,
    dicom_record: dict[str, Any],
    header: str,
    first: int | None,
    last: int | None,
) -> None:
    whole = demo_http.get(dicom_record["resource_uri"]).content
    size = len(whole)
    start = size - 50 if first is None else first
    end = size - 1 if last is None else last
    response = demo_http.get(dicom_record["resource_uri"], headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["etag"] == f'"{dicom_record["sha256"]}"'
    assert response.content == whole[start : end + 1]


def test_file_unsatisfiable_range_is_416(
    demo_http: httpx.Client, dicom_record: dict[str, Any]
) -> None:
    size = dicom_record["size"]
    response = demo_http.get(dicom_record["resource_uri"], headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert "not satisfiable" in response.json()["message"]


def test_file_ignored_ranges_and_conditionals(
    demo_http: httpx.Client, dicom_record: dict[str, Any]
) -> None:
    uri, etag = dicom_record["resource_uri"], f'"{dicom_record["sha256"]}"'
    for ignored in ("bytes=5-2", "items=0-1", "bytes=0-1,4-5"):
        response = demo_http.get(uri, headers={"Range": ignored})
        assert response.status_code == 200 and len(response.content) == dicom_record["size"]
    stale = demo_http.get(uri, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200
    fresh = demo_http.get(uri, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and len(fresh.content) == 10
    unchanged = demo_http.get(uri, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    head = demo_http.head(uri)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(dicom_record["size"])


def test_series_is_served_as_one_dicom_file(
    demo_http: httpx.Client, demo_resources: list[dict[str, Any]]
) -> None:
    source = next(r for r in demo_manifest()["resources"] if len(r.get("files") or []) > 1)
    record = next(r for r in demo_resources if r["id"] == source["id"])
    response = demo_http.get(record["resource_uri"])
    assert response.headers["content-type"] == "application/dicom"
    assert 'filename="ct_lung2.dcm"' in response.headers["content-disposition"]
    assert hashlib.sha256(response.content).hexdigest() == record["sha256"]
    assert response.content[128:132] == b"DICM" and not zipfile.is_zipfile(
        io.BytesIO(response.content)
    )


def test_missing_blob_is_a_json_500_and_busy_port_fails_fast(tmp_path: Path) -> None:
    store = ProjectStore(tmp_path / "store")
    project = write_synthetic_project(tmp_path / "p", "p", MEMBER)
    import_project(store, project.root)
    key = store.create_user(MEMBER)
    found = store.resources.get(project.image_id)
    assert found is not None
    store.blob_path(found[1]).unlink()
    with running_server(store.store_dir) as server:
        response = httpx.get(
            f"{server.url}/resources/{project.image_id}/file",
            headers={"apikey": key},
            trust_env=False,
        )
        assert response.status_code == 500
        assert "missing" in response.json()["message"]
        with (
            pytest.raises(RuntimeError, match="stopped while starting"),
            running_server(store.store_dir, port=server.port),
        ):
            pass
