"""Project statistics and annotation statuses, computed from records.

Definitions (documented in the OpenAPI schema as well):

- the project's **resources** are its non-deleted resources; its **annotations** are the
  non-deleted annotations on them (``deleted`` counts the soft-deleted ones);
- its **annotators** are its members plus every author (``created_by``) of one of its
  annotations, lower-cased;
- the **status** of a (resource, annotator) pair is ``pending`` when the annotator has no
  current annotation on the resource, ``closed`` when all of them are ``published``
  (approved), else ``annotated``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from datamint.server.store import ProjectStore
from datamint.server.store.users import user_id_of

__all__ = [
    "STATUSES",
    "ProjectFacts",
    "annotation_statuses",
    "annotations_statistic",
    "annotators_statistic",
    "files_matrix_statistic",
]

#: Values of ``status`` in annotation statuses, in the order they progress.
STATUSES = ("pending", "annotated", "closed")


@dataclass
class ProjectFacts:
    """What every statistic reads: a project's resources, annotations and annotators.

    Attributes:
        project_id: The project's id.
        resources: Non-deleted Resource records, in project order.
        annotations: Non-deleted annotations on them, in insertion order.
        deleted: How many of their annotations are soft-deleted.
        annotators: Member and author emails (lower case), sorted.
    """

    project_id: str
    resources: list[dict[str, Any]]
    annotations: list[dict[str, Any]]
    deleted: int
    annotators: list[str]

    @classmethod
    def load(cls, store: ProjectStore, project_id: str) -> ProjectFacts:
        """Read the facts of one project.

        Args:
            store: The store.
            project_id: An existing project.

        Returns:
            The project's facts.
        """
        resources = store.resources.project_records(project_id)
        every = store.annotations.on_resources([r["id"] for r in resources])
        current = [a for a in every if a.get("deleted_at") is None]
        people = {email.lower() for email in store.users.members(project_id)}
        people.update(_author(a) for a in current if _author(a))
        return cls(project_id, resources, current, len(every) - len(current), sorted(people))


def _author(annotation: dict[str, Any]) -> str:
    return str(annotation.get("created_by") or annotation.get("added_by") or "").lower()


def _by_pair(facts: ProjectFacts) -> dict[tuple[str, str], list[dict[str, Any]]]:
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for annotation in facts.annotations:
        pairs[(annotation["resource_id"], _author(annotation))].append(annotation)
    return pairs


def _status(annotations: list[dict[str, Any]]) -> str:
    if not annotations:
        return "pending"
    return "closed" if all(a.get("status") == "published" for a in annotations) else "annotated"


def _latest(annotations: list[dict[str, Any]]) -> str | None:
    stamps = [str(a["created_at"]) for a in annotations if a.get("created_at")]
    return max(stamps) if stamps else None


def annotation_statuses(
    facts: ProjectFacts,
    status: str | None = None,
    email: str | None = None,
    resource_id: str | None = None,
) -> list[dict[str, Any]]:
    """Return the annotation status of every (resource, annotator) pair, filtered.

    Args:
        facts: The project's facts.
        status: Keep only this status (one of :data:`STATUSES`).
        email: Keep only this annotator (lower case).
        resource_id: Keep only this resource.

    Returns:
        ``[{resource_id, user_id, email, status, annotation_count, last_annotated_at}]``,
        in project resource order, then by email.
    """
    pairs = _by_pair(facts)
    rows = []
    for resource in facts.resources:
        if resource_id is not None and resource["id"] != resource_id:
            continue
        for person in facts.annotators:
            if email is not None and person != email:
                continue
            mine = pairs.get((resource["id"], person), [])
            state = _status(mine)
            if status is None or state == status:
                rows.append(
                    {
                        "resource_id": resource["id"],
                        "user_id": user_id_of(person),
                        "email": person,
                        "status": state,
                        "annotation_count": len(mine),
                        "last_annotated_at": _latest(mine),
                    }
                )
    return rows


def annotators_statistic(facts: ProjectFacts) -> list[dict[str, Any]]:
    """Return per annotator: annotations made, resources annotated, counts by type.

    Args:
        facts: The project's facts.

    Returns:
        ``[{email, user_id, annotation_count, annotated_resource_count, by_type,
        last_annotated_at}]`` sorted by email (annotators without annotations included).
    """
    mine: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for annotation in facts.annotations:
        mine[_author(annotation)].append(annotation)
    return [
        {
            "email": person,
            "user_id": user_id_of(person),
            "annotation_count": len(mine[person]),
            "annotated_resource_count": len({a["resource_id"] for a in mine[person]}),
            "by_type": dict(sorted(Counter(str(a.get("type")) for a in mine[person]).items())),
            "last_annotated_at": _latest(mine[person]),
        }
        for person in facts.annotators
    ]


def _count(annotations: list[dict[str, Any]], *keys: str) -> dict[str, int]:
    counter = Counter(
        str(next((a[k] for k in keys if a.get(k) is not None), None)) for a in annotations
    )
    return dict(sorted(counter.items()))


def annotations_statistic(facts: ProjectFacts) -> dict[str, Any]:
    """Return counts of the project's current annotations by type, label, status, source.

    Args:
        facts: The project's facts.

    Returns:
        ``{project_id, total, deleted, by_type, by_identifier, by_status, by_source}``;
        a missing value counts under ``"None"``.
    """
    return {
        "project_id": facts.project_id,
        "total": len(facts.annotations),
        "deleted": facts.deleted,
        "by_type": _count(facts.annotations, "type"),
        "by_identifier": _count(facts.annotations, "identifier", "name"),
        "by_status": _count(facts.annotations, "status"),
        "by_source": _count(facts.annotations, "source"),
    }


def files_matrix_statistic(facts: ProjectFacts) -> dict[str, Any]:
    """Return resource counts by mimetype and modality, and the status matrix per annotator.

    Args:
        facts: The project's facts.

    Returns:
        ``{project_id, resource_count, annotated_resource_count,
        not_annotated_resource_count, by_mimetype, by_modality, by_annotator: {email:
        {"pending": n, "annotated": n, "closed": n}}}``.
    """
    annotated = {a["resource_id"] for a in facts.annotations}
    matrix = {person: dict.fromkeys(STATUSES, 0) for person in facts.annotators}
    for row in annotation_statuses(facts):
        matrix[row["email"]][row["status"]] += 1
    count = len(facts.resources)
    done = sum(1 for r in facts.resources if r["id"] in annotated)
    return {
        "project_id": facts.project_id,
        "resource_count": count,
        "annotated_resource_count": done,
        "not_annotated_resource_count": count - done,
        "by_mimetype": _count(facts.resources, "mimetype"),
        "by_modality": _count(facts.resources, "modality"),
        "by_annotator": matrix,
    }
