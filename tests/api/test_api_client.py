"""Api against MockTransport: headers, probe, query/body building, pickling, forks.

Everything here the reference server could also show is covered again against it in
``test_api_integration.py``; these tests pin exact request shapes.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import httpx
import pytest

from datamint.api import Api
from datamint.api import connection as connection_module
from datamint.exceptions import (
    AuthenticationError,
    ItemNotFoundError,
    NetworkError,
    ServerError,
    ValidationError,
)

from .support import KEY, URL


class Recorder:
    """A MockTransport handler that records requests and answers from a route table."""

    def __init__(self, routes: dict[tuple[str, str], Any] | None = None) -> None:
        self.routes = routes or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, httpx.Response):
            return answer
        if answer is None:
            return httpx.Response(404, json={"message": f"{request.url.path} not found"})
        return httpx.Response(200, json=answer)

    def params(self, i: int = -1) -> dict[str, str]:
        return dict(self.requests[i].url.params)

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content)


def test_auth_and_accept_headers(make_api) -> None:
    rec = Recorder({("GET", "/projects/p1"): {"id": "p1"}})
    assert make_api(rec).get_project("p1") == {"id": "p1"}
    headers = rec.requests[0].headers
    assert headers["apikey"] == KEY
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["accept"] == "*/*"
    assert headers["user-agent"].startswith("python-httpx/")


def test_env_and_config_are_used_when_no_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAMINT_API_KEY", "env-key")
    monkeypatch.setenv("DATAMINT_API_URL", "http://env.test/")
    api = Api(check_connection=False)
    assert api.server_url == "http://env.test"
    assert api.api_key == "env-key"


def test_missing_key_raises_before_any_request() -> None:
    with pytest.raises(AuthenticationError, match="API key not provided!"):
        Api(URL, check_connection=False)


def test_repr_hides_the_key(make_api) -> None:
    api = make_api(Recorder())
    assert KEY not in repr(api)
    assert URL in repr(api)


def test_probe_is_memoised_per_url_key_and_verify(make_api) -> None:
    rec = Recorder({("GET", "/projects"): {"data": []}})
    make_api(rec, check_connection=True)
    make_api(rec, check_connection=True)
    assert len(rec.requests) == 1
    assert rec.params(0) == {"offset": "0", "limit": "1"}
    make_api(rec, check_connection=True, verify_ssl=False)
    assert len(rec.requests) == 2


def test_probe_401_is_a_network_error_caused_by_authentication(make_api) -> None:
    rec = Recorder({("GET", "/projects"): httpx.Response(401, json={"message": "bad key"})})
    with pytest.raises(NetworkError, match="rejected the API key") as info:
        make_api(rec, check_connection=True)
    assert "DATAMINT_API_KEY" in str(info.value)
    assert "api_key=" in str(info.value)
    assert KEY not in str(info.value)
    assert isinstance(info.value.__cause__, AuthenticationError)


def test_failed_probe_is_not_memoised(make_api) -> None:
    rec = Recorder({("GET", "/projects"): httpx.Response(500, json={"message": "down"})})
    with pytest.raises(NetworkError, match="Connectivity check") as info:
        make_api(rec, check_connection=True, max_retries=0)
    assert isinstance(info.value.__cause__, ServerError)
    rec.routes[("GET", "/projects")] = {"data": []}
    make_api(rec, check_connection=True)
    assert len(rec.requests) == 2


def test_unreachable_probe_is_a_network_error(make_api) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(NetworkError, match="Connectivity check") as info:
        make_api(refuse, check_connection=True)
    assert isinstance(info.value.__cause__, NetworkError)


def test_get_projects_pages_with_include_archived(make_api) -> None:
    def projects(request: httpx.Request) -> dict:
        offset = int(request.url.params["offset"])
        count = 5000 if offset == 0 else 2
        return {"data": [{"id": f"p{offset + i}", "name": f"n{offset + i}"} for i in range(count)]}

    rec = Recorder({("GET", "/projects"): projects})
    api = make_api(rec)
    assert len(api.get_projects()) == 5002
    assert rec.params(0) == {"includeArchived": "true", "offset": "0", "limit": "5000"}
    assert rec.params(1) == {"includeArchived": "true", "offset": "5000", "limit": "5000"}
    api.get_projects(include_archived=False)
    assert "includeArchived" not in rec.params()


def test_get_project_by_name_is_exact(make_api) -> None:
    data = {"data": [{"id": "1", "name": "Demo "}, {"id": "2", "name": "Demo"}]}
    rec = Recorder({("GET", "/projects"): data})
    api = make_api(rec)
    assert api.get_project_by_name("Demo")["id"] == "2"
    assert rec.params()["includeArchived"] == "true"


def test_get_project_by_name_lists_available_names(make_api) -> None:
    names = [f"proj{i:02d}" for i in range(15)]
    rec = Recorder({("GET", "/projects"): {"data": [{"id": n, "name": n} for n in names]}})
    with pytest.raises(ItemNotFoundError, match="'demo' not found") as info:
        make_api(rec).get_project_by_name("demo")
    message = str(info.value)
    assert "'proj00'" in message
    assert "'proj09'" in message
    assert "'proj10'" not in message
    assert "and 5 more" in message


def test_get_resources_query(make_api) -> None:
    rec = Recorder(
        {("GET", "/resources"): {"data": [{"resources": [{"id": "r"}]}], "totalCount": 1}}
    )
    api = make_api(rec)
    assert api.get_resources(project="Demo", limit=5) == [{"id": "r"}]
    params = rec.params()
    assert params["status"] == ""
    assert json.loads(params["project"]) == {"items": ["Demo"], "filterType": "intersection"}
    assert (params["offset"], params["limit"]) == ("0", "5")

    api.get_resources(
        status="published", from_="2026-01-01", tags=["a", "b"], order_by_asc=False, modality=None
    )
    params = rec.params()
    assert params["status"] == "published"
    assert params["from"] == "2026-01-01"
    assert json.loads(params["tags"]) == {"items": ["a", "b"], "filterType": "union"}
    assert params["order_by_asc"] == "false"
    assert "modality" not in params
    assert "project" not in params
    assert params["limit"] == "5000"


def test_search_annotations_body(make_api) -> None:
    def search(request: httpx.Request) -> dict:
        body = json.loads(request.content)
        offset = int(body["offset"])
        count = 5000 if offset == 0 else 1
        items = [{"id": f"a{offset + i}", "resource_id": "r1"} for i in range(count)]
        return {"data": [{"annotations": items}], "totalCount": 5001}

    rec = Recorder({("POST", "/annotations/search"): search})
    found = make_api(rec).search_annotations(["r1", "r2"], annotation_type=None, status="new")
    assert len(found) == 5001
    assert rec.body(0) == {
        "resource_ids": ["r1", "r2"],
        "status": "new",
        "offset": "0",
        "limit": "5000",
    }
    assert rec.body(1)["offset"] == "5000"


@pytest.mark.parametrize(
    "shape",
    [
        lambda items: items,
        lambda items: {"data": items},
        lambda items: {"data": [{"annotations": items}], "totalCount": len(items)},
    ],
    ids=["bare", "data", "wrapped"],
)
def test_search_annotations_accepts_every_shape(make_api, shape) -> None:
    items = [{"id": "a1"}, {"id": "a2"}]
    rec = Recorder({("POST", "/annotations/search"): shape(items)})
    assert make_api(rec).search_annotations(["r1"]) == items


def test_search_with_no_resource_ids_sends_nothing(make_api) -> None:
    rec = Recorder()
    assert make_api(rec).search_annotations([]) == []
    assert rec.requests == []


def test_splits_params_only_when_given(make_api) -> None:
    rec = Recorder({("GET", "/projects/p1/splits"): []})
    api = make_api(rec)
    api.get_project_splits("p1")
    assert rec.params() == {}
    api.get_project_splits("p1", as_of_timestamp="2026-11-21T14:53:43.660946Z")
    assert rec.params() == {"as_of_timestamp": "2026-11-21T14:53:43.660946Z"}
    api.get_project_splits("p1", split_name="train")
    assert rec.params() == {"split_name": "train"}


def test_assign_split_sends_empty_lists_and_is_not_retried(make_api) -> None:
    rec = Recorder({("POST", "/projects/p1/splits"): httpx.Response(503)})
    api = make_api(rec)
    with pytest.raises(ServerError):
        api.assign_split("p1", [], "test")
    assert len(rec.requests) == 1
    assert rec.body() == {"resource_ids": [], "split_name": "test"}


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(404, json={"detail": "x"}), httpx.Response(200, content=b""), None],
    ids=["404", "empty", "404 not found"],
)
def test_resource_split_absent_is_none(make_api, answer) -> None:
    rec = Recorder({("GET", "/projects/p1/resources/r1/split"): answer})
    assert make_api(rec).get_resource_split("p1", "r1") is None


def test_entity_404_is_item_not_found(make_api) -> None:
    rec = Recorder({("GET", "/annotations/a1"): httpx.Response(404, text="nope")})
    with pytest.raises(ItemNotFoundError, match="annotation a1 not found"):
        make_api(rec).get_annotation("a1")


@pytest.mark.parametrize("bad", ["", "..", "a/b", "a?b", "x y", None, 3])
def test_unsafe_ids_are_rejected_before_sending(make_api, bad) -> None:
    rec = Recorder()
    with pytest.raises(ValidationError, match="invalid resource id"):
        make_api(rec).get_resource(bad)
    assert rec.requests == []


def test_segmentation_group_empty_body(make_api) -> None:
    rec = Recorder({("GET", "/annotationsets/w1/segmentation-group"): httpx.Response(200)})
    assert make_api(rec).get_segmentation_group("w1") == {"groups": {}}


def test_non_json_body_is_reported(make_api) -> None:
    rec = Recorder({("GET", "/projects/p1"): httpx.Response(200, text="<html>")})
    with pytest.raises(Exception, match="not JSON"):
        make_api(rec).get_project("p1")


def test_timeouts_per_endpoint_group(make_api) -> None:
    rec = Recorder({("GET", "/projects/p1"): {}, ("GET", "/resources/r1"): {}})
    api = make_api(rec, timeout=12.0)
    api.get_project("p1")
    api.get_resource("r1")
    short, long = (r.extensions["timeout"] for r in rec.requests)
    assert short == {"connect": 12.0, "read": 12.0, "write": 12.0, "pool": 12.0}
    assert long == {"connect": 12.0, "read": 900.0, "write": 900.0, "pool": 900.0}


def test_redirect_off_origin_drops_the_key(make_api) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "datamint.test":
            return httpx.Response(302, headers={"Location": "http://cdn.test/blob"})
        return httpx.Response(200, json={"id": "r1"})

    rec = Recorder({("GET", "/resources/r1"): route, ("GET", "/blob"): route})
    assert make_api(rec).get_resource("r1") == {"id": "r1"}
    first, second = rec.requests
    assert first.headers["apikey"] == KEY
    assert "apikey" not in second.headers
    assert "authorization" not in second.headers


def test_pickle_round_trip_rebuilds_without_probe(make_api, monkeypatch) -> None:
    api = make_api(Recorder(), timeout=7.0, max_retries=4, verify_ssl=False)
    state = api.__getstate__()
    assert state == {
        "server_url": URL,
        "api_key": KEY,
        "timeout": 7.0,
        "max_retries": 4,
        "verify_ssl": False,
    }
    monkeypatch.setattr(Api, "check_connection", lambda self: pytest.fail("probed"))
    clone = pickle.loads(pickle.dumps(api))
    assert (clone.server_url, clone.api_key, clone.timeout) == (URL, KEY, 7.0)
    assert (clone.max_retries, clone.verify_ssl) == (4, False)


def test_http_client_is_rebuilt_after_fork(make_api, monkeypatch) -> None:
    api = make_api(Recorder())
    first = api.http
    assert api.http is first
    monkeypatch.setattr(connection_module.os, "getpid", lambda: -42)
    second = api.http
    assert second is not first
    assert not first.is_closed  # the parent's client is left alone


def test_close_and_context_manager(make_api) -> None:
    rec = Recorder({("GET", "/projects/p1"): {"id": "p1"}})
    with make_api(rec) as api:
        client = api.http
    assert client.is_closed
    assert api.get_project("p1") == {"id": "p1"}  # reopens lazily


def test_verify_ssl_accepts_a_ca_bundle_path(tmp_path) -> None:
    import certifi

    api = Api(URL, KEY, check_connection=False, verify_ssl=certifi.where())
    try:
        assert not api.http.is_closed  # built without httpx's verify=<str> deprecation
    finally:
        api.close()
    assert "verify_ssl" in api.__getstate__()


def test_base_url_with_a_path_prefix(sleeps) -> None:
    rec = Recorder({("GET", "/prefix/projects/p1"): {"id": "p1"}})
    api = Api(URL + "/prefix/", KEY, check_connection=False, transport=httpx.MockTransport(rec))
    try:
        assert api.server_url == URL + "/prefix"
        assert api.get_project("p1") == {"id": "p1"}
    finally:
        api.close()
