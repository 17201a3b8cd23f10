"""Another user's entities answer exactly like unknown ones: no existence oracle.

Before, another user's resource id answered 403 and an unknown one 404, and ``POST
/projects`` with another user's project name answered 409 naming that project. Now every
route with an entity id in its path answers the same status and message (but for the id)
for a foreign id as for an unknown one, and project names are unique per owner.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

from .conftest import MEMBER, OUTSIDER, RelServer, build_store

pytestmark = pytest.mark.reliability

_ID_PARAMS = ("project_id", "resource_id", "annotation_id", "worklist_id", "dataset_id")


def _foreign_ids(server: RelServer) -> dict[str, str]:
    theirs = server.theirs
    project = server.store.projects.get(theirs.project_id)
    assert project is not None
    return {
        "project_id": theirs.project_id,
        "resource_id": theirs.image_id,
        "annotation_id": theirs.mask_annotation_id,
        "worklist_id": theirs.worklist_id,
        "dataset_id": project["dataset_id"],
    }


def _entity_operations(server: RelServer) -> list[tuple[str, str, dict[str, Any]]]:
    schema = httpx.get(f"{server.url}/openapi.json", trust_env=False).json()
    found = []
    for path, methods in schema["paths"].items():
        if not any("{" + name + "}" in path for name in _ID_PARAMS):
            continue
        for method, operation in methods.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            found.append((method.upper(), path, content))
    return found


def _call(client: httpx.Client, method: str, path: str, content: dict[str, Any]) -> httpx.Response:
    if "multipart/form-data" in content:
        return client.request(method, path, files={"file": ("m.png", b"\x89PNG")})
    if "application/json" in content:
        return client.request(method, path, json={})
    return client.request(method, path)


def _normalised(response: httpx.Response, ids: dict[str, str]) -> tuple[int, str]:
    text = response.text
    for value in ids.values():
        text = text.replace(value, "<id>")
    return response.status_code, text


def test_every_entity_route_answers_a_foreign_id_like_an_unknown_one(rel: RelServer) -> None:
    foreign = _foreign_ids(rel)
    unknown = {name: str(uuid.uuid4()) for name in _ID_PARAMS}
    operations = _entity_operations(rel)
    assert len(operations) >= 30
    checked = 0
    with rel.client(MEMBER) as client:
        for method, path, content in operations:
            answers = []
            for ids in (foreign, unknown):
                url = re.sub(r"\{(\w+)\}", lambda m, ids=ids: ids.get(m.group(1), "x"), path)
                answers.append(_normalised(_call(client, method, url, content), ids))
            assert answers[0] == answers[1], (method, path, answers)
            if answers[0][0] == 404:
                checked += 1
    assert checked >= 25  # most routes reach the lookup; the rest fail earlier for both


def test_foreign_ids_inside_bodies_are_not_found_either(rel: RelServer) -> None:
    foreign, unknown = rel.theirs.image_id, str(uuid.uuid4())
    with rel.client(MEMBER) as client:
        for rid in (foreign, unknown):
            for response in (
                client.post("/projects", json={"name": f"steal-{rid}", "resource_ids": [rid]}),
                client.post("/resources/bulk-publish", json={"resource_ids": [rid]}),
                client.put("/resources/tags", json={"resource_ids": [rid], "tags": ["x"]}),
            ):
                assert response.status_code == 404, response.text
                assert response.json()["message"] == f"resource {rid} not found"


def test_another_users_project_name_is_no_clash_and_never_named(rel: RelServer) -> None:
    theirs = rel.store.projects.get(rel.theirs.project_id)
    assert theirs is not None and theirs["created_by"] == OUTSIDER
    with rel.client(MEMBER) as client:
        mine = client.post("/projects", json={"name": theirs["name"]})
        assert mine.status_code == 201, mine.text
        assert rel.theirs.project_id not in mine.text
        again = client.post("/projects", json={"name": theirs["name"]})
        assert again.status_code == 409  # the user's own projects keep unique names
        assert rel.theirs.project_id not in again.text and OUTSIDER not in again.text
    with rel.client(OUTSIDER) as client:  # the other user still sees only their own
        listed = client.get("/projects").json()["data"]
        assert [p["id"] for p in listed] == [rel.theirs.project_id]


def test_a_schema_2_store_is_migrated_to_names_per_owner(tmp_path: Path) -> None:
    store, _, mine, theirs = build_store(tmp_path)
    with sqlite3.connect(store.db_path) as conn:  # turn it back into a schema-2 store
        conn.executescript(
            """
            PRAGMA foreign_keys=OFF;
            CREATE TABLE old (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
            INSERT INTO old SELECT id, name, record FROM projects;
            DROP TABLE projects;
            ALTER TABLE old RENAME TO projects;
            DROP TABLE upload_usage;
            UPDATE meta SET value = '2' WHERE key = 'schema_version';
            """
        )
    migrated = ProjectStore(store.store_dir)
    with migrated.db.read() as conn:
        assert (
            conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
        )
        owners = dict(conn.execute("SELECT id, owner FROM projects").fetchall())
    assert owners == {mine.project_id: MEMBER, theirs.project_id: OUTSIDER}
    assert migrated.member_project_ids(MEMBER) == {mine.project_id}
    assert migrated.usage.used_bytes(MEMBER) == 0
    with (
        running_server(store.store_dir) as server,
        httpx.Client(
            base_url=server.url, headers={"apikey": migrated.create_user(MEMBER)}, trust_env=False
        ) as client,
    ):
        assert client.post("/projects", json={"name": "theirs"}).status_code == 201
        assert client.get(f"/projects/{mine.project_id}/resources").status_code == 200
