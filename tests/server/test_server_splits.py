"""Versioned split assignments (contract §4.6, §13.8)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from datamint.server.timeutil import format_us, to_us

from .conftest import Scratch

ISO_US = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def _splits(client: httpx.Client, project_id: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/projects/{project_id}/splits", params=params)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert isinstance(rows, list)
    return list(rows)


def _assign(client: httpx.Client, project_id: str, ids: list[str], name: str) -> httpx.Response:
    return client.post(
        f"/projects/{project_id}/splits", json={"resource_ids": ids, "split_name": name}
    )


def _by_resource(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {row["resource_id"]: row["split_name"] for row in rows}


def test_assign_reassign_and_replay_snapshots(member: httpx.Client, scratch: Scratch) -> None:
    pid = scratch.demo_project_id
    rids = [r["id"] for r in member.get(f"/projects/{pid}/resources").json()][:4]
    assert _splits(member, pid) == []
    assert member.get(f"/projects/{pid}/resources/{rids[0]}/split").status_code == 404

    first = _assign(member, pid, rids[:3], "train")
    assert first.status_code == 201
    assert _assign(member, pid, rids[3:], "val").status_code == 201
    current = _splits(member, pid)
    assert _by_resource(current) == {
        rids[0]: "train",
        rids[1]: "train",
        rids[2]: "train",
        rids[3]: "val",
    }
    for row in current:
        assert set(row) == {
            "id",
            "split_name",
            "project_id",
            "resource_id",
            "created_at",
            "created_by",
            "deleted_at",
            "deleted_by",
        }
        assert ISO_US.match(row["created_at"]) and row["deleted_at"] is None
        assert row["created_by"] == "member@example.org" and row["project_id"] == pid
    before_reassign = max(row["created_at"] for row in current)

    assert _assign(member, pid, [rids[0]], "test").status_code == 201
    now = _by_resource(_splits(member, pid))
    assert now[rids[0]] == "test" and len(now) == 4
    one = member.get(f"/projects/{pid}/resources/{rids[0]}/split").json()
    assert one["split_name"] == "test"

    # as_of at the instant before the re-assignment: the old state, old row undeleted then
    snapshot = _splits(member, pid, as_of_timestamp=before_reassign)
    assert _by_resource(snapshot) == {
        rids[0]: "train",
        rids[1]: "train",
        rids[2]: "train",
        rids[3]: "val",
    }
    old = next(row for row in snapshot if row["resource_id"] == rids[0])
    assert old["deleted_at"] is not None and old["deleted_by"] == "member@example.org"
    assert to_us(old["deleted_at"]) > to_us(before_reassign)
    # the same instant written in other ISO spellings selects the same rows
    micros = to_us(before_reassign)
    for spelling in (
        format_us(micros).replace("Z", "+00:00"),
        format_us(micros)[:-1],
    ):
        assert _by_resource(_splits(member, pid, as_of_timestamp=spelling)) == _by_resource(
            snapshot
        )
    # before any split
    assert _splits(member, pid, as_of_timestamp="2000-01-01T00:00:00Z") == []
    assert _splits(member, pid, as_of_timestamp="2000-01-01") == []
    # after the re-assignment, and filtered by name
    later = _splits(member, pid, as_of_timestamp="2999-01-01T00:00:00.123Z")
    assert _by_resource(later) == now
    assert {row["resource_id"] for row in _splits(member, pid, split_name="train")} == set(
        rids[1:3]
    )


def test_empty_and_invalid_assignments_change_nothing(
    member: httpx.Client, scratch: Scratch
) -> None:
    pid = scratch.synthetic.project_id
    before = _splits(member, pid)
    empty = _assign(member, pid, [], "train")
    assert empty.status_code == 201 and empty.json() == []
    unknown = _assign(member, pid, [scratch.synthetic.image_id, str(uuid.uuid4())], "test")
    assert unknown.status_code == 404 and "not found" in unknown.json()["message"]
    foreign = _assign(member, pid, [scratch.other.image_id], "test")
    assert foreign.status_code == 404
    malformed = _assign(member, pid, ["not-a-uuid"], "test")
    assert malformed.status_code == 422
    no_name = member.post(f"/projects/{pid}/splits", json={"resource_ids": []})
    assert no_name.status_code == 422
    assert _splits(member, pid) == before


def test_imported_split_rows_are_versioned(member: httpx.Client, scratch: Scratch) -> None:
    synthetic = scratch.synthetic
    pid, image = synthetic.project_id, synthetic.image_id
    current = _splits(member, pid)
    assert [(r["resource_id"], r["split_name"]) for r in current] == [(image, "val")]
    assert current[0]["created_at"] == "2026-01-05T00:00:00.500000Z"
    at = {
        "2026-01-01T23:59:59Z": {},
        "2026-01-02T00:00:00Z": {image: "train"},
        "2026-01-05T00:00:00.4999Z": {image: "train"},
        "2026-01-05T00:00:00.5Z": {image: "val"},
        "2026-01-05T01:00:01+01:00": {image: "val"},
        "2026-01-05T01:00:00+01:00": {image: "train"},
    }
    for stamp, expected in at.items():
        assert _by_resource(_splits(member, pid, as_of_timestamp=stamp)) == expected, stamp
    assert member.get(f"/projects/{pid}/resources/{synthetic.series_id}/split").status_code == 404


@pytest.mark.parametrize("stamp", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00Z"])
def test_bad_as_of_timestamp_is_422(member: httpx.Client, scratch: Scratch, stamp: str) -> None:
    response = member.get(
        f"/projects/{scratch.demo_project_id}/splits", params={"as_of_timestamp": stamp}
    )
    assert response.status_code == 422
    assert "as_of_timestamp" in response.json()["message"]
