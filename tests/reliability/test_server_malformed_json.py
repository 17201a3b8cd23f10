"""Malformed input is a 4xx, never a 500, and non-finite numbers are never stored.

The adversarial fuzz had 32 of 881 cases answered 500: bodies with a lone surrogate
(``"\\udcff"``), ``NaN``/``Infinity`` and ``1e999999``. Each poison body is sent here to
every operation of the served schema that takes a JSON body.
"""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import MEMBER, RelServer

pytestmark = pytest.mark.reliability

POISON = {
    "lone surrogate": b'{"name": "\\udcff", "resource_ids": ["\\udcff"]}',
    "NaN": b'{"name": "n", "x": NaN, "limit": NaN}',
    "Infinity": b'{"name": "i", "x": Infinity}',
    "-Infinity": b'{"name": "i", "x": -Infinity}',
    "1e999999": b'{"name": "e", "x": 1e999999, "offset": 1e999999}',
    "huge integer": b'{"name": "h", "x": 1' + b"0" * 400 + b"}",
    "invalid UTF-8": b'{"name": "\xff\xfe"}',
    "UTF-8 surrogate": b'{"name": "\xed\xb3\xbf"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


def _fill(path: str, server: RelServer) -> str:
    ids = {
        "project_id": server.mine.project_id,
        "resource_id": server.mine.image_id,
        "annotation_id": server.mine.label_annotation_id,
        "worklist_id": server.mine.worklist_id,
    }
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "x"), path)


def _json_operations(server: RelServer) -> list[tuple[str, str]]:
    schema = httpx.get(f"{server.url}/openapi.json", trust_env=False).json()
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                found.append((method.upper(), _fill(path, server)))
    return found


@pytest.mark.parametrize("poison", sorted(POISON))
def test_no_json_operation_answers_5xx_to_a_poison_body(rel: RelServer, poison: str) -> None:
    operations = _json_operations(rel)
    assert len(operations) >= 15
    with rel.client() as client:
        for method, path in operations:
            response = client.request(
                method, path, content=POISON[poison], headers={"content-type": "application/json"}
            )
            assert response.status_code in (400, 422), (poison, method, path, response.text)
            assert response.json()["message"]


def test_non_finite_numbers_are_refused_not_stored(rel: RelServer) -> None:
    body = b'{"name": "inf-project", "x": 1e999999}'
    with rel.client() as client:
        response = client.post(
            "/projects", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert "out of range" in response.json()["message"]
        names = [p["name"] for p in client.get("/projects").json()["data"]]
    assert "inf-project" not in names
    assert rel.store.project_id_by_name("inf-project") is None


def test_valid_unicode_still_goes_through(rel: RelServer) -> None:
    with rel.client() as client:
        created = client.post(
            "/projects",
            content=b'{"name": "smile \\ud83d\\ude00", "x": 1.5e300}',
            headers={"content-type": "application/json"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["name"] == "smile \U0001f600" and created.json()["x"] == 1.5e300


def test_multipart_json_fields_are_strict_too(rel: RelServer) -> None:
    from .conftest import noise_png

    with rel.client(MEMBER) as client:
        response = client.post(
            "/resources",
            files={"resource": ("a.png", noise_png(8), "image/png")},
            data={"metadata": '{"x": NaN}'},
        )
    assert response.status_code == 422, response.text
    assert "metadata" in response.json()["message"]


@pytest.mark.parametrize("query", ["%ED%B3%BF", "%FF", "%00", "NaN"])
def test_odd_query_values_are_not_5xx(rel: RelServer, query: str) -> None:
    with rel.client() as client:
        for path in ("/resources", "/projects", f"/projects/{rel.mine.project_id}/splits"):
            raw = f"{rel.url}{path}?filename={query}&project={query}&as_of_timestamp={query}"
            assert client.get(raw).status_code < 500, (path, query)
