"""Worklist edits: renames, removing a class or an annotator.

- ``PUT /annotationsets/{id}/segmentation-group`` honours ``renames``: each item
  ``{"from": old, "to": new}`` (also ``old_identifier``/``new_identifier``, ``old``/``new``,
  or a two-item list) renames the worklist's segmentation annotations labelled ``old`` as
  new annotation versions (see
  :meth:`~datamint.server.store.worklists.WorklistsRepo.set_groups`). ``old`` must be a
  class of the current group and ``new`` a class of the new definitions.
- ``DELETE /annotationsets/{id}/segmentation-group/{identifier}`` removes one class; the
  others keep their index and colour. Annotations are kept (and deleted only by
  ``POST /annotations/delete-batch``): datasets ignore labels outside the group.
- ``PATCH /annotationsets/{id}`` changes ``name``, ``description``, ``status``,
  ``annotations`` (the specs; validated as on create) and ``resource_ids`` (each must be
  in the worklist's project). The segmentation group is changed only by its own PUT.
- ``DELETE /annotationsets/{id}/annotators/{user_id}`` takes an annotator off the
  worklist (by user id, as in ``/projects/{id}/members``, or by email). The entry moves
  to ``removed_annotators`` with ``deleted_at``/``deleted_by``: soft, so history stays.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from datamint.server.deps import ERROR_RESPONSES, StoreDep, UserDep, require_worklist
from datamint.server.errors import ApiError, not_found
from datamint.server.listing import json_response
from datamint.server.models import SegmentationGroup, Worklist
from datamint.server.store.users import user_id_of
from datamint.server.timeutil import format_us, now_us
from datamint.server.worklist_specs import check_specs

__all__ = ["parse_renames", "router"]

router = APIRouter(tags=["worklists"], responses=ERROR_RESPONSES)

_PAIRS = (("from", "to"), ("old_identifier", "new_identifier"), ("old", "new"))


def parse_renames(
    renames: list[Any] | None, current: dict[str, Any], new: dict[str, Any]
) -> dict[str, str]:
    """Validate the ``renames`` of a segmentation-group PUT.

    Args:
        renames: The items as sent, or ``None``.
        current: The group now served (``{name: {...}}``).
        new: The group the definitions describe.

    Returns:
        ``{old: new}`` without no-op renames.

    Raises:
        ApiError: 422 for an item of another shape, an ``old`` outside the current group,
            a ``new`` outside the new definitions, or an ``old`` renamed twice.
    """
    result: dict[str, str] = {}
    for i, item in enumerate(renames or []):
        pair = None
        if isinstance(item, (list, tuple)) and len(item) == 2:
            pair = item
        elif isinstance(item, dict):
            pair = next(((item[a], item[b]) for a, b in _PAIRS if a in item and b in item), None)
        if pair is None or not all(isinstance(p, str) and p for p in pair):
            raise ApiError(
                422, f'renames[{i}]: expected {{"from": old, "to": new}} with non-empty names'
            )
        old, target = pair
        if old not in current:
            raise ApiError(422, f"renames[{i}]: {old!r} is not a class of the current group")
        if target not in new:
            raise ApiError(422, f"renames[{i}]: {target!r} is not in the new definitions")
        if old in result:
            raise ApiError(422, f"renames[{i}]: {old!r} is renamed twice")
        if old != target:
            result[old] = target
    return result


@router.delete(
    "/annotationsets/{worklist_id}/segmentation-group/{identifier}",
    response_model=SegmentationGroup,
)
def delete_segmentation_class(
    store: StoreDep, user: UserDep, worklist_id: str, identifier: str
) -> dict[str, Any]:
    """Remove one class from a worklist's segmentation group.

    Args:
        store: The store.
        user: The authenticated user (a member of the worklist's project).
        worklist_id: The worklist's UUID.
        identifier: The class name.

    Returns:
        ``{"groups": {...}}`` as now served.

    Raises:
        ApiError: 404 when the group has no such class.
    """
    record, groups, _ = require_worklist(store, user, worklist_id)
    groups = dict(groups or {})
    if identifier not in groups:
        raise not_found("segmentation class", identifier, f"in worklist {record['id']}")
    del groups[identifier]
    value_type = (record.get("segmentation_group") or {}).get(
        "segmentation_value_type", "single_label"
    )
    store.worklists.set_groups(record["id"], groups, str(value_type), email=user)
    return {"groups": groups}


_PATCHABLE = ("name", "description", "status", "annotations", "resource_ids")


@router.patch("/annotationsets/{worklist_id}", response_model=Worklist)
def patch_worklist(
    store: StoreDep,
    user: UserDep,
    worklist_id: str,
    body: dict[str, Any] = Body(..., examples=[{"name": "round 2", "status": "closed"}]),  # noqa: B008
) -> Response:
    """Change a worklist's name, description, status, specs or resources.

    Args:
        store: The store.
        user: The authenticated user (a member of the worklist's project).
        worklist_id: The worklist's UUID.
        body: Any of ``name`` (non-empty), ``description``, ``status``, ``annotations``
            (AnnotationSpecs), ``resource_ids`` (resources of the worklist's project).
            Other keys are refused.

    Returns:
        The full worklist as stored.

    Raises:
        ApiError: 422 for an unknown key, an empty name, a bad spec, or a resource that
            is not in the worklist's project.
    """
    record, _, project_id = require_worklist(store, user, worklist_id)
    unknown = sorted(set(body) - set(_PATCHABLE))
    if unknown:
        raise ApiError(422, f"cannot change {unknown} of a worklist; allowed: {list(_PATCHABLE)}")
    changes: dict[str, Any] = {}
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise ApiError(422, "name: a non-empty string is required")
        changes["name"] = body["name"].strip()
    for key in ("description", "status"):
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise ApiError(422, f"{key}: a string or null is required")
            changes[key] = body[key]
    if "annotations" in body:
        if not isinstance(body["annotations"], list):
            raise ApiError(422, "annotations: a list of AnnotationSpecs is required")
        changes["annotations"] = check_specs(body["annotations"])
    if "resource_ids" in body:
        ids = body["resource_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(422, "resource_ids: a list of resource ids is required")
        in_project = set(store.projects.resource_ids(project_id))
        outside = [i for i in ids if i not in in_project]
        if outside:
            raise ApiError(
                422, f"resource_ids: {outside[:5]} are not resources of project {project_id}"
            )
        changes["resource_ids"] = list(dict.fromkeys(ids))
    record = {**record, **changes, "updated_at": format_us(now_us()), "updated_by": user}
    store.worklists.update_record(record["id"], record)
    return json_response(record)


@router.delete("/annotationsets/{worklist_id}/annotators/{user_id}", response_model=Worklist)
def remove_annotator(store: StoreDep, user: UserDep, worklist_id: str, user_id: str) -> Response:
    """Take an annotator off a worklist (soft: kept under ``removed_annotators``).

    Args:
        store: The store.
        user: The authenticated user (a member of the worklist's project).
        worklist_id: The worklist's UUID.
        user_id: The annotator's user id (UUID) or email.

    Returns:
        The full worklist, without the annotator in ``annotators``.

    Raises:
        ApiError: 404 when the worklist has no such annotator.
    """
    record, _, _ = require_worklist(store, user, worklist_id)
    wanted = user_id.strip().lower()
    kept, removed = [], []
    for person in record.get("annotators") or []:
        email = str(person.get("email") or "").lower() if isinstance(person, dict) else ""
        if email and wanted in (email, user_id_of(email)):
            removed.append({**person, "deleted_at": format_us(now_us()), "deleted_by": user})
        else:
            kept.append(person)
    if not removed:
        raise not_found("annotator", user_id, f"in worklist {record['id']}")
    record = {
        **record,
        "annotators": kept,
        "removed_annotators": [*(record.get("removed_annotators") or []), *removed],
    }
    store.worklists.update_record(record["id"], record)
    return json_response(record)
