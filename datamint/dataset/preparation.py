"""Preparation: a project (or a resource list) to a dataset's resources, annotations and schema.

This is the only place where a dataset talks to the server before items are read:
resolve the project, list its resources, search their
annotations in one body, read the worklists and segmentation groups, then filter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from datamint.dataset.annotation_filter import AnnotationFilter, trusted
from datamint.dataset.label_schema import (
    LabelSchema,
    schema_from_annotations,
    schema_from_worklists,
)
from datamint.entities import Annotation, Project, Resource
from datamint.exceptions import DatamintDatasetException, ItemNotFoundError, ValidationError

if TYPE_CHECKING:
    from datamint.api.client import Api

__all__ = ["PrepareOptions", "Prepared", "prepare"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareOptions:
    """The constructor arguments that decide what a dataset holds."""

    worklists: str | Sequence[Any] | None = "all"
    trusted_sources: Collection[str] | None = ("imported", "manual")
    annotation_filter: AnnotationFilter = AnnotationFilter()  # noqa: RUF009 - frozen, shared safely
    include_unannotated: bool = True


@dataclass(frozen=True)
class Prepared:
    """What a prepared dataset holds.

    Attributes:
        project: The project, or None for a dataset built from resources.
        resources: The kept resources, in server order.
        annotations: Per resource (parallel to ``resources``), its kept annotations.
        schema: Codes of classes, labels, categories and boxes.
        excluded: Resources of the project that this dataset class cannot represent.
        annotators: Every author of the kept annotations, sorted; kept by :meth:`select`,
            so the parts of a split share it.
    """

    project: Project | None
    resources: tuple[Resource, ...]
    annotations: tuple[tuple[Annotation, ...], ...]
    schema: LabelSchema
    excluded: tuple[Resource, ...] = ()
    annotators: tuple[str, ...] = ()

    def select(self, indices: Sequence[int]) -> Prepared:
        """A copy holding only ``resources[i]`` for ``i`` in ``indices`` (in that order)."""
        return replace(
            self,
            resources=tuple(self.resources[i] for i in indices),
            annotations=tuple(self.annotations[i] for i in indices),
        )


def _is_deleted(record: Resource | Annotation) -> bool:
    return bool(record.get("deleted")) or record.deleted_at is not None


def _resolve_project(api: Api, project: str | Project) -> Project:
    if isinstance(project, Project):
        return project
    return Project(api.get_project_by_name(str(project)))


def _worklists(api: Api, project: Project, wanted: str | Sequence[Any]) -> list[dict[str, Any]]:
    """Full worklists of the project, limited to ``wanted`` unless 'all'."""
    items = []
    for item in api.get_project_worklists(project.id):
        item = dict(item)
        item.setdefault("id", item.get("worklist_id"))
        item.setdefault("name", item.get("worklist_name"))
        items.append(item)
    if wanted != "all":
        keys = {
            w
            if isinstance(w, str)
            else (w.get("id") if isinstance(w, dict) else getattr(w, "id", None))
            for w in wanted
        }
        items = [w for w in items if w["id"] in keys or w["name"] in keys]
        if not items:
            raise DatamintDatasetException(
                f"project {project.name!r}: none of the worklists {sorted(map(str, keys))} exists"
            )
    full = []
    for item in items:
        if "annotations" not in item:
            item = {
                **api.get_annotation_set(item["id"]),
                **{k: v for k, v in item.items() if v is not None},
            }
        full.append(item)
    return full


def _given_resources(api: Api, given: Sequence[Resource | dict[str, Any] | str]) -> list[Resource]:
    """Resources passed as entities, records or ids; ids are fetched (``GET /resources/{id}``).

    Raises:
        ItemNotFoundError: Naming every id the server does not know (or that is no UUID).
    """
    records, unknown = [], []
    for item in given:
        if isinstance(item, Resource):
            records.append(item)
        elif isinstance(item, str):
            try:
                records.append(Resource(api.get_resource(item)))
            except (ItemNotFoundError, ValidationError):
                unknown.append(item)
        else:
            records.append(Resource(item))
    if unknown:
        raise ItemNotFoundError(f"resources not found on the server: {', '.join(unknown)}")
    return records


def prepare(
    api: Api,
    *,
    project: str | Project | None,
    resources: Sequence[Resource | dict[str, Any] | str] | None,
    accepts: Callable[[Resource], bool],
    options: PrepareOptions,
) -> Prepared:
    """Fetch and filter everything a dataset needs.

    Args:
        api: The client.
        project: A project name (a UUID string is a name too) or a Project.
        resources: Resources instead of a project: entities, records, or resource ids
            (each fetched with ``GET /resources/{id}``).
        accepts: Whether the dataset class can represent a resource (by kind/depth).
        options: Schema and filter settings.

    Returns:
        The prepared state.

    Raises:
        ItemNotFoundError: If no project has that name, or a resource id is unknown (the
            message lists every such id).
        DatamintDatasetException: On conflicting worklist schemas, or an annotation for
            a resource that was not asked for.
    """
    proj = _resolve_project(api, project) if project is not None else None
    if proj is not None:
        records = [Resource(r) for r in api.get_project_resources(proj.id)]
    else:
        records = _given_resources(api, resources or ())
    records = [r for r in records if not _is_deleted(r)]
    kept = [r for r in records if accepts(r)]
    excluded = tuple(r for r in records if not accepts(r))
    if excluded:
        _LOG.info("%d resources of kinds this dataset does not hold were left out", len(excluded))

    by_resource: dict[str, list[Annotation]] = {r.id: [] for r in kept}
    if kept:
        for record in api.search_annotations([r.id for r in kept]):
            ann = Annotation(record)
            if ann.resource_id not in by_resource:
                raise DatamintDatasetException(
                    f"the server returned annotation {ann.id} for resource {ann.resource_id}, "
                    "which was not asked for"
                )
            if not _is_deleted(ann):
                by_resource[ann.resource_id].append(ann)
    for rid, anns in by_resource.items():
        by_resource[rid] = trusted(anns, options.trusted_sources)
    everything = [a for anns in by_resource.values() for a in anns]

    if proj is not None and options.worklists is not None:
        worklists = _worklists(api, proj, options.worklists)
        groups = [api.get_segmentation_group(w["id"]) for w in worklists]
        schema = schema_from_worklists(worklists, groups, everything)
    else:
        schema = schema_from_annotations(everything)
    flt = options.annotation_filter
    if flt.allow_external:
        schema = schema.with_external(everything)
    schema = schema.restricted(flt.segmentation_names, flt.image_label_names)

    final_resources, final_annotations = [], []
    for res in kept:
        anns = tuple(a for a in by_resource[res.id] if flt.keeps(a, schema))
        if not anns and not options.include_unannotated:
            continue
        final_resources.append(res)
        final_annotations.append(anns)
    annotators = tuple(sorted({a.author for anns in final_annotations for a in anns}))
    return Prepared(
        proj, tuple(final_resources), tuple(final_annotations), schema, excluded, annotators
    )
