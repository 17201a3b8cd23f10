"""Conformance of every route with contract/API.md §3-§4, driven with plain httpx requests.

The store holds generated projects written through the store API (fast bulk inserts):
an empty project, exactly 5000 resources, 5001 resources, and a small project with
deleted rows. Paging edge cases, shapes, error bodies and status codes are checked on a
real server over loopback.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from datamint.server.app import create_app
from datamint.server.store import ProjectStore
from datamint.server.synthetic import SyntheticProject, generate_project
from datamint.testing.server import running_server

MEMBER = "member@example.org"
OUTSIDER = "outsider@example.org"
PAGE = 5000


@dataclass
class Conf:
    """The conformance server and what its store holds."""

    url: str
    store: ProjectStore
    key: str
    outsider_key: str
    empty_id: str
    exact: SyntheticProject
    over: SyntheticProject
    mixed: SyntheticProject
    foreign: SyntheticProject
    deleted_resource: str
    deleted_annotation: str

    def client(self, key: str | None = None) -> httpx.Client:
        """httpx client sending ``apikey`` (the member's by default)."""
        headers = {} if key == "" else {"apikey": key or self.key}
        return httpx.Client(base_url=self.url, headers=headers, trust_env=False, timeout=60)


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conf]:
    store = ProjectStore(tmp_path_factory.mktemp("conformance") / "store")
    empty_id = str(uuid.uuid4())
    store.projects.create(
        {
            "id": empty_id,
            "name": "empty",
            "description": None,
            "archived": False,
            "created_at": "2026-01-01T00:00:00.000Z",
            "created_by": MEMBER,
        },
        [MEMBER],
    )
    exact = generate_project(
        store, "exact", resources=PAGE, annotations_per_resource=1, members=(MEMBER,)
    )
    over = generate_project(
        store, "over", resources=PAGE + 1, annotations_per_resource=1, members=(MEMBER,)
    )
    mixed = generate_project(
        store, "mixed", resources=3, annotations_per_resource=2, members=(MEMBER,)
    )
    foreign = generate_project(
        store, "foreign", resources=2, annotations_per_resource=1, members=(OUTSIDER,)
    )
    deleted_resource = mixed.resource_ids[0]
    store.resources.modify([deleted_resource], _mark_deleted)
    annotation = json.loads(
        store.annotations.records_by_seq(
            store.annotations.search_seqs(
                store.visibility(MEMBER), _filter([mixed.resource_ids[1]])
            )[:1]
        )[0]
    )
    store.annotations.soft_delete([annotation["id"]], MEMBER)
    key, outsider_key = store.create_user(MEMBER), store.create_user(OUTSIDER)
    with running_server(store.store_dir) as server:
        yield Conf(
            server.url,
            store,
            key,
            outsider_key,
            empty_id,
            exact,
            over,
            mixed,
            foreign,
            deleted_resource,
            annotation["id"],
        )


def _mark_deleted(record: dict[str, Any]) -> bool:
    record.update(deleted=True, deleted_at="2026-02-01T00:00:00.000000Z", deleted_by=MEMBER)
    return True


def _filter(resource_ids: list[str]) -> Any:
    from datamint.server.store.annotations import AnnotationFilter

    return AnnotationFilter(resource_ids=resource_ids)


def _project_filter(name: str) -> str:
    return json.dumps({"items": [name], "filterType": "intersection"})


def _resources(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], int]:
    response = client.get("/resources", params={"status": "", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "totalCount"} and isinstance(body["totalCount"], int)
    assert len(body["data"]) == 1 and set(body["data"][0]) == {"resources"}
    return body["data"][0]["resources"], body["totalCount"]


def _search(client: httpx.Client, **body: Any) -> tuple[list[dict[str, Any]], int]:
    response = client.post("/annotations/search", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"data", "totalCount"}
    assert len(payload["data"]) == 1 and set(payload["data"][0]) == {"annotations"}
    return payload["data"][0]["annotations"], payload["totalCount"]


def _client_loop(fetch: Any) -> list[dict[str, Any]]:
    """The existing client's paging loop (contract §3.2): stop on a short page."""
    items: list[dict[str, Any]] = []
    while True:
        page = fetch(len(items))
        items += page
        if len(page) < PAGE:
            return items


# -- every route: auth, unknown and malformed ids -------------------------------------------


def _routes(tmp_path: Path) -> list[tuple[str, str]]:
    schema = create_app(tmp_path / "schema-store").openapi()
    return [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops]


def test_every_route_needs_a_key(conf: Conf, tmp_path: Path) -> None:
    routes = _routes(tmp_path)
    assert len(routes) >= 35
    with conf.client("") as client:
        for method, path in routes:
            url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            response = client.request(method, url)
            assert response.status_code == 401, (method, path, response.text)
            assert "API key" in response.json()["message"]


def test_malformed_and_unknown_ids_are_404_not_found(conf: Conf, tmp_path: Path) -> None:
    with conf.client() as client:
        for method, path in _routes(tmp_path):
            if method != "GET" or "{" not in path:
                continue
            for value in ("not-a-uuid", str(uuid.uuid4())):
                response = client.get(re.sub(r"\{[^}]+\}", value, path))
                assert response.status_code == 404, (path, value, response.text)
                assert "not found" in response.json()["message"].lower()
        unknown_route = client.get("/no/such/route")
        assert unknown_route.status_code == 404 and "not found" in unknown_route.text.lower()


def test_foreign_entities_are_404_on_reads_and_writes(conf: Conf) -> None:
    pid, rid = conf.foreign.project_id, conf.foreign.resource_ids[0]
    with conf.client() as client:
        for path in (
            f"/projects/{pid}",
            f"/projects/{pid}/resources",
            f"/projects/{pid}/members",
            f"/projects/{pid}/worklists",
            f"/projects/{pid}/splits",
            f"/resources/{rid}",
            f"/resources/{rid}/file",
            f"/annotationsets/{conf.foreign.worklist_id}",
        ):
            response = client.get(path)
            assert response.status_code == 404 and "not found" in response.text, path
        writes = [
            client.post(
                f"/annotations/{rid}/annotations", json=[{"type": "label", "identifier": "x"}]
            ),
            client.post(f"/resources/{rid}/publish"),
            client.put(f"/resources/{rid}/tags", json={"tags": ["x"]}),
            client.delete("/resources", params={"resource_ids": rid}),
            client.post("/resources/bulk-publish", json={"resource_ids": [rid]}),
            client.post(f"/projects/{pid}/splits", json={"resource_ids": [rid], "split_name": "a"}),
            client.post(
                f"/projects/{conf.empty_id}/resources", json={"resource_ids_to_add": [rid]}
            ),
            client.post("/projects", json={"name": "steal", "resource_ids": [rid]}),
        ]
        for response in writes:
            assert response.status_code == 404, response.request.url
            assert "not found" in response.json()["message"]
        assert client.get("/projects/" + pid).json()["message"] == f"project {pid} not found"


# -- shapes and paging ------------------------------------------------------------------------


def test_empty_project(conf: Conf) -> None:
    with conf.client() as client:
        project = client.get(f"/projects/{conf.empty_id}").json()
        assert project["resource_count"] == 0 and "description" in project
        assert client.get(f"/projects/{conf.empty_id}/resources").json() == []
        assert client.get(f"/projects/{conf.empty_id}/worklists").json() == []
        assert client.get(f"/projects/{conf.empty_id}/splits").json() == []
        assert _resources(client, project=_project_filter("empty"), limit=PAGE) == ([], 0)
        assert _search(client, resource_ids=[], offset="0", limit="5000") == ([], 0)
        members = client.get(f"/projects/{conf.empty_id}/members").json()
        assert [m["email"] for m in members] == [MEMBER]
        assert members[0]["roles"] == ["PROJECT_OWNER"]


def test_exactly_5000_items_then_an_empty_page(conf: Conf) -> None:
    with conf.client() as client:
        name = _project_filter("exact")
        first, total = _resources(client, project=name, offset=0, limit=PAGE)
        assert len(first) == PAGE and total == PAGE
        assert _resources(client, project=name, offset=PAGE, limit=PAGE) == ([], PAGE)
        assert [r["id"] for r in first] == conf.exact.resource_ids
        bare = client.get(f"/projects/{conf.exact.project_id}/resources").json()
        assert [r["id"] for r in bare] == conf.exact.resource_ids
        ids = conf.exact.resource_ids
        page, total = _search(client, resource_ids=ids, offset="0", limit="5000")
        assert len(page) == PAGE == total
        assert {a["resource_id"] for a in page} == set(ids)
        assert _search(client, resource_ids=ids, offset="5000", limit="5000") == ([], PAGE)


def test_5001_items_take_two_pages(conf: Conf) -> None:
    ids = conf.over.resource_ids
    with conf.client() as client:
        name = _project_filter("over")
        resources = _client_loop(
            lambda off: _resources(client, project=name, offset=off, limit=PAGE)[0]
        )
        assert [r["id"] for r in resources] == ids
        annotations = _client_loop(
            lambda off: _search(client, resource_ids=ids, offset=str(off), limit=str(PAGE))[0]
        )
        assert len(annotations) == PAGE + 1 and {a["resource_id"] for a in annotations} == set(ids)
        assert len({a["id"] for a in annotations}) == PAGE + 1
        last, total = _resources(client, project=name, offset=PAGE, limit=PAGE)
        assert len(last) == 1 and total == PAGE + 1
        assert _resources(client, project=name, offset=10**6, limit=10) == ([], PAGE + 1)
        assert _resources(client, project=name, limit=0) == ([], PAGE + 1)
        assert len(client.get("/projects", params={"limit": PAGE}).json()["data"]) >= 4


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({"limit": PAGE + 1}, {"limit": str(PAGE + 1)}),
        ({"limit": -1}, {"limit": "-1"}),
        ({"offset": -1}, {"offset": "-1"}),
        ({"offset": "x"}, {"offset": "zero"}),
    ],
)
def test_bad_paging_is_422(conf: Conf, params: dict[str, Any], body: dict[str, Any]) -> None:
    with conf.client() as client:
        for response in (
            client.get("/resources", params=params),
            client.get("/projects", params=params),
            client.post("/annotations/search", json=body),
        ):
            assert response.status_code == 422, response.request.url
            assert response.json()["message"]


def test_bad_bodies_are_422(conf: Conf) -> None:
    rid = conf.mixed.resource_ids[1]
    with conf.client() as client:
        for response in (
            client.post("/annotations/search", json={"resource_ids": ["not-a-uuid"]}),
            client.post("/annotations/search", json={"resource_ids": "oops"}),
            client.post("/annotations/search", json={"from": "yesterday"}),
            client.post(
                "/annotations/search",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            client.post(
                f"/annotations/{rid}/annotations", json=[{"type": "nonsense", "identifier": "x"}]
            ),
            client.post(f"/annotations/{rid}/annotations", json=[{"type": "label"}]),
            client.post(
                f"/annotations/{rid}/annotations",
                json=[{"type": "label", "identifier": "x", "frame_index": 5}],
            ),
            client.post("/annotations/delete-batch", json={"ids": ["x"]}),
            client.get("/resources", params={"deleted": "maybe"}),
            client.get("/resources", params={"order_field": "size"}),
            client.get("/resources", params={"tags": '{"items": 3}'}),
            client.get("/resources", params={"from": "2026-13-45"}),
            client.post("/resources", content=b"plain", headers={"content-type": "text/plain"}),
        ):
            assert response.status_code == 422, (response.request.url, response.text)
            assert isinstance(response.json()["message"], str)


def test_deleted_rows(conf: Conf) -> None:
    ids = conf.mixed.resource_ids
    name = _project_filter("mixed")
    with conf.client() as client:
        live, total = _resources(client, project=name)
        assert total == 2 and conf.deleted_resource not in {r["id"] for r in live}
        both, total = _resources(client, project=name, deleted="include")
        assert total == 3 and len(both) == 3
        only, _ = _resources(client, project=name, deleted="only")
        assert [r["id"] for r in only] == [conf.deleted_resource] and only[0]["deleted"] is True
        assert only[0]["deleted_at"] is not None
        bare = client.get(f"/projects/{conf.mixed.project_id}/resources").json()
        assert conf.deleted_resource not in {r["id"] for r in bare}
        assert client.get(f"/projects/{conf.mixed.project_id}").json()["resource_count"] == 2
        assert client.get(f"/resources/{conf.deleted_resource}").json()["deleted"] is True
        current, _ = _search(client, resource_ids=ids)
        assert conf.deleted_annotation not in {a["id"] for a in current}
        with_deleted, _ = _search(client, resource_ids=ids, deleted="include")
        assert len(with_deleted) == len(current) + 1
        only_deleted, _ = _search(client, resource_ids=ids, deleted="only")
        assert [a["id"] for a in only_deleted] == [conf.deleted_annotation]
        assert client.get(f"/annotations/{conf.deleted_annotation}").json()["deleted_at"]


def test_as_of_before_any_split(conf: Conf) -> None:
    pid, rid = conf.mixed.project_id, conf.mixed.resource_ids[1]
    with conf.client() as client:
        assert (
            client.get(
                f"/projects/{pid}/splits", params={"as_of_timestamp": "2020-01-01T00:00:00Z"}
            ).json()
            == []
        )
        assert client.get(f"/projects/{pid}/resources/{rid}/split").status_code == 404
        rows = client.post(
            f"/projects/{pid}/splits", json={"resource_ids": [rid], "split_name": "train"}
        )
        assert rows.status_code == 201
        created = rows.json()[0]["created_at"]
        before = client.get(
            f"/projects/{pid}/splits", params={"as_of_timestamp": "2020-01-01T00:00:00.000Z"}
        )
        assert before.status_code == 200 and before.json() == []
        at = client.get(f"/projects/{pid}/splits", params={"as_of_timestamp": created}).json()
        assert [r["resource_id"] for r in at] == [rid]
        assert client.get(f"/projects/{pid}/resources/{rid}/split").json()["split_name"] == "train"
        bad = client.get(f"/projects/{pid}/splits", params={"as_of_timestamp": "soon"})
        assert bad.status_code == 422


def test_listing_filters_and_order(conf: Conf) -> None:
    with conf.client() as client:
        name = _project_filter("over")
        by_name, _ = _resources(
            client, project=name, order_field="filename", order_by_asc="false", limit=3
        )
        assert [r["filename"] for r in by_name] == [
            "img/0005000.png",
            "img/0004999.png",
            "img/0004998.png",
        ]
        _, total = _resources(client, project=name, **{"from": "2026-01-01", "to": "2026-01-01"})
        assert total == PAGE + 1  # 5001 seconds after midnight is still 2026-01-01
        assert _resources(client, project=name, **{"from": "2026-01-02"})[1] == 0
        assert _resources(client, project=name, filename="0000042", limit=5)[1] == 1
        tagged = json.dumps({"items": ["generated", "nope"], "filterType": "union"})
        assert _resources(client, tags=tagged, project=name)[1] == PAGE + 1
        both = json.dumps({"items": ["generated", "nope"], "filterType": "intersection"})
        assert _resources(client, tags=both)[1] == 0
        assert _resources(client, project=_project_filter("foreign"))[1] == 0
        channels = client.get("/resources/channels").json()
        assert channels["data"][0]["channels"][0]["channel_name"] == "generated"
        datasets = client.get("/datasets").json()
        assert {d["name"] for d in datasets} == {"empty", "exact", "over", "mixed"}
        exact = next(d for d in datasets if d["name"] == "exact")
        assert exact["total_resource"] == PAGE
        assert (
            client.get(f"/datasets/{exact['id']}").json()["resource_ids"] == conf.exact.resource_ids
        )


def test_openapi_documents_every_route(conf: Conf) -> None:
    with conf.client("") as client:
        schema = client.get("/openapi.json").json()
    operations = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    for method, path in [
        ("GET", "/projects"),
        ("POST", "/projects"),
        ("GET", "/projects/{project_id}/members"),
        ("POST", "/resources"),
        ("GET", "/resources/channels"),
        ("DELETE", "/resources"),
        ("POST", "/annotations/{resource_id}/segmentations/file"),
        ("PUT", "/annotationsets/{worklist_id}/segmentation-group"),
        ("GET", "/datasets"),
    ]:
        assert (method, path) in operations
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            ok = op["responses"].get("200") or op["responses"].get("201")
            assert ok is not None, (method, path)
            assert "401" in op["responses"], (method, path)
    assert "apikey" in json.dumps(schema["components"]["securitySchemes"])
