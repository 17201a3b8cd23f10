"""Which resources a derived dataset keeps: ``filter()`` criteria and patient groups.

Pure functions over a prepared dataset's resources and annotations; the dataset
methods (:meth:`~datamint.dataset.base.DatamintBaseDataset.filter`,
``group_by_patient``) turn the positions they return into derived datasets.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence

from datamint.entities import Annotation, Resource
from datamint.exceptions import ValidationError

__all__ = ["filter_positions", "patient_groups"]


def filter_positions(
    resources: Sequence[Resource],
    annotations: Sequence[Sequence[Annotation]],
    *,
    tags: Sequence[str] | None = None,
    filename_pattern: str | None = None,
    has_annotations: bool | None = None,
    annotation_names: Sequence[str] | None = None,
    custom_fn: Callable[[Resource, list[Annotation]], bool] | None = None,
) -> list[int]:
    """Positions of the resources that meet every given criterion.

    Args:
        resources: The resources.
        annotations: Per resource, its annotations.
        tags: Keep resources with any of these tags.
        filename_pattern: ``fnmatch`` pattern on the filename.
        has_annotations: Keep resources with (True) or without (False) annotations.
        annotation_names: Keep resources with an annotation of any of these identifiers.
        custom_fn: ``(resource, annotations) -> bool``.

    Raises:
        ValidationError: If no criterion is given.
    """
    if all(
        c is None for c in (tags, filename_pattern, has_annotations, annotation_names, custom_fn)
    ):
        raise ValidationError("filter() needs at least one criterion")
    keep = []
    for i, (res, anns) in enumerate(zip(resources, annotations, strict=True)):
        if tags is not None and not set(tags) & set(res.tags):
            continue
        if filename_pattern is not None and not fnmatch.fnmatch(res.filename, filename_pattern):
            continue
        if has_annotations is not None and bool(anns) != has_annotations:
            continue
        if annotation_names is not None and not {a.identifier for a in anns} & set(
            annotation_names
        ):
            continue
        if custom_fn is not None and not custom_fn(res, list(anns)):
            continue
        keep.append(i)
    return keep


def patient_groups(resources: Sequence[Resource], strategy: str) -> dict[str | None, list[int]]:
    """Resource positions grouped by patient id.

    Args:
        resources: The resources.
        strategy: For resources without a patient id: ``'individual'`` (each its own
            group, keyed ``__resource__<id>``), ``'group'`` (one ``None`` group),
            ``'skip'`` (left out) or ``'error'``.

    Raises:
        ValidationError: For an unknown strategy, or with ``'error'`` a resource without
            a patient id (named).
    """
    from datamint.splits.local import NONE_PATIENT_STRATEGIES

    if strategy not in NONE_PATIENT_STRATEGIES:
        raise ValidationError(f"strategy={strategy!r} is not one of {NONE_PATIENT_STRATEGIES}")
    groups: dict[str | None, list[int]] = {}
    for i, res in enumerate(resources):
        pid = res.patient_id
        if pid is None:
            if strategy == "error":
                raise ValidationError(f"resource {res.id} ({res.filename}) has no patient id")
            if strategy == "skip":
                continue
            pid = None if strategy == "group" else f"__resource__{res.id}"
        groups.setdefault(pid, []).append(i)
    return groups
