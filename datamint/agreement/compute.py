"""``agreement_table``: compare every two annotators of a dataset, label by label.

Who is compared
    An annotator *takes part* in a resource for a kind of annotation when they made at
    least one annotation of that kind on it: a segmentation (any frame), an image-scoped
    image label, or (for categories) a category of that identifier. Annotators who did
    not take part are not counted as disagreeing: pairs where either one did not take
    part are skipped. This is the rule the semantic merges use (an absent author never
    vetoes).

    - Segmentations: a pair is compared on a label of a resource when both take part and
      at least one of them marked that label there. A taking-part annotator who did not
      mark the label has an empty mask (Dice 0 against a non-empty one: a miss).
    - Image labels: per label, each taking-part annotator's decision on a resource is 1
      if they set the label, else 0 (the multi-hot of the merges); Cohen's kappa per pair
      over the resources both took part in, Fleiss' kappa over all of them.
    - Categories: per identifier (e.g. ``body_part``), each annotator's first value of it
      on the resource; nominal kappas as for labels.

    Frame-scoped image labels and categories are not used (items never emit them).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from datamint.agreement.kappa import cohen_kappa, fleiss_kappa, rating_counts
from datamint.agreement.segmentation_metrics import compare_masks
from datamint.agreement.table import AgreementTable

__all__ = ["AnnotatedResources", "MasksOf", "SpacingOf", "agreement_table"]

MasksOf = Callable[[int], Mapping[str, Mapping[str, np.ndarray]]]
"""``masks_of(resource_index) -> {author: {label: bool (D, H, W)}}``: each author's
binary mask per segmentation label on that resource, all of one shape."""

SpacingOf = Callable[[int], Sequence[float | None] | None]
"""``spacing_of(resource_index) -> (D, H, W) spacing in mm`` (None entries where unknown,
or None when the resource has no physical spacing)."""


class AnnotatedResources(Protocol):
    """What :func:`agreement_table` reads from a dataset (its public API)."""

    @property
    def resources(self) -> Sequence[Any]:
        """Resources with ``.id`` and ``.filename``."""
        ...

    @property
    def resource_annotations(self) -> Sequence[Sequence[Any]]:
        """Per resource, annotations with ``.author``, ``.identifier``,
        ``.is_segmentation``, ``.annotation_type``, ``.frame_index``, ``.text_value``."""
        ...


def _keep(value: str, wanted: Collection[str] | None) -> bool:
    return wanted is None or value in wanted


def _segmentation_rows(
    index: int,
    resource: Any,
    annotations: Sequence[Any],
    masks_of: MasksOf,
    spacing_of: SpacingOf | None,
    labels: Collection[str] | None,
    annotators: Collection[str] | None,
) -> list[dict[str, Any]]:
    authors = sorted(
        {a.author for a in annotations if a.is_segmentation and _keep(a.author, annotators)}
    )
    if len(authors) < 2:
        return []
    masks = masks_of(index)
    spacing = spacing_of(index) if spacing_of is not None else None
    marked = {author: dict(masks.get(author, {})) for author in authors}
    names = sorted({label for per in marked.values() for label in per if _keep(label, labels)})
    rows = []
    for label in names:
        for a, b in itertools.combinations(authors, 2):
            mask_a, mask_b = marked[a].get(label), marked[b].get(label)
            if mask_a is None and mask_b is None:
                continue  # neither marked it here: nothing to compare
            shape = (mask_a if mask_a is not None else mask_b).shape  # type: ignore[union-attr]
            mask_a = mask_a if mask_a is not None else np.zeros(shape, bool)
            mask_b = mask_b if mask_b is not None else np.zeros(shape, bool)
            try:
                scores = compare_masks(mask_a, mask_b, spacing)
            except ValueError as exc:
                raise ValueError(
                    f"resource {resource.id} ({resource.filename}), label {label!r}, "
                    f"{a} vs {b}: {exc}"
                ) from exc
            rows.append(
                {
                    "kind": "segmentation",
                    "resource_id": resource.id,
                    "filename": resource.filename,
                    "label": label,
                    "annotator_a": a,
                    "annotator_b": b,
                    **scores.to_dict(),
                }
            )
    return rows


def _image_label_ratings(
    dataset: AnnotatedResources,
    labels: Collection[str] | None,
    annotators: Collection[str] | None,
) -> dict[str, list[dict[str, Hashable]]]:
    """Per image label, per resource where anybody took part: annotator -> 0/1."""
    per_resource: list[dict[str, set[str]]] = []
    used: dict[str, None] = {}
    for anns in dataset.resource_annotations:
        chosen: dict[str, set[str]] = {}
        for ann in anns:
            if ann.annotation_type != "label" or ann.frame_index is not None:
                continue
            if not _keep(ann.author, annotators):
                continue
            chosen.setdefault(ann.author, set()).add(ann.identifier)
            if _keep(ann.identifier, labels):
                used.setdefault(ann.identifier)
        per_resource.append(chosen)
    return {
        label: [
            {author: int(label in marked) for author, marked in chosen.items()}
            for chosen in per_resource
            if chosen
        ]
        for label in sorted(used)
    }


def _category_ratings(
    dataset: AnnotatedResources,
    labels: Collection[str] | None,
    annotators: Collection[str] | None,
) -> dict[str, list[dict[str, Hashable]]]:
    """Per category identifier, per resource: annotator -> their first value."""
    out: dict[str, list[dict[str, Hashable]]] = {}
    for anns in dataset.resource_annotations:
        chosen: dict[str, dict[str, Hashable]] = {}
        for ann in anns:
            if ann.annotation_type != "category" or ann.frame_index is not None:
                continue
            if not (_keep(ann.author, annotators) and _keep(ann.identifier, labels)):
                continue
            chosen.setdefault(ann.identifier, {}).setdefault(ann.author, str(ann.text_value))
        for identifier, ratings in chosen.items():
            out.setdefault(identifier, []).append(ratings)
    return dict(sorted(out.items()))


def _kappa_rows(kind: str, label: str, items: list[dict[str, Hashable]]) -> list[dict[str, Any]]:
    raters = sorted({r for item in items for r in item})
    rows = []
    for a, b in itertools.combinations(raters, 2):
        common = [item for item in items if a in item and b in item]
        if not common:
            continue
        result = cohen_kappa([i[a] for i in common], [i[b] for i in common])
        rows.append(
            {
                "kind": kind,
                "label": label,
                "annotator_a": a,
                "annotator_b": b,
                "method": "cohen",
                "kappa": result.kappa,
                "observed_agreement": result.observed,
                "n_items": result.n_items,
                "n_annotators": 2,
            }
        )
    categories = [0, 1] if kind == "image_label" else None
    counts, _ = rating_counts(items, categories)
    fleiss = fleiss_kappa(counts)
    if fleiss.n_items:
        rows.append(
            {
                "kind": kind,
                "label": label,
                "method": "fleiss",
                "kappa": fleiss.kappa,
                "observed_agreement": fleiss.observed,
                "n_items": fleiss.n_items,
                "n_annotators": len(raters),
            }
        )
    return rows


def agreement_table(
    dataset: AnnotatedResources,
    masks_of: MasksOf | None = None,
    spacing_of: SpacingOf | None = None,
    *,
    labels: Collection[str] | None = None,
    annotators: Collection[str] | None = None,
    progress: bool = False,
) -> AgreementTable:
    """Compare every two annotators on every label (module docstring for the rules).

    Args:
        dataset: Anything with ``resources`` and ``resource_annotations`` (a datamint
            dataset; see :class:`AnnotatedResources`).
        masks_of: Loads one resource's masks, ``{author: {label: bool (D, H, W)}}``
            (:data:`MasksOf`); None skips segmentations. Called only for resources with
            at least two taking-part annotators.
        spacing_of: The resource's ``(D, H, W)`` spacing in mm (:data:`SpacingOf`);
            None leaves the distances ``nan``.
        labels: Only these segmentation labels, image labels and category identifiers;
            None for all.
        annotators: Only these annotators (``Annotation.author``: the creator's email,
            else the model name); None for all.
        progress: Show a tqdm bar over resources on stderr.

    Returns:
        An :class:`~datamint.agreement.table.AgreementTable`: segmentation rows in
        resource order, then kappa rows for image labels and categories.

    Raises:
        ValueError: If two masks of a resource differ in shape or its spacing does not
            fit them; names the resource, label and annotators.
    """
    resources = list(dataset.resources)
    per_resource = list(dataset.resource_annotations)
    if len(resources) != len(per_resource):
        raise ValueError(
            f"{len(resources)} resources but {len(per_resource)} annotation lists; "
            "resource_annotations must have one list per resource"
        )
    rows: list[dict[str, Any]] = []
    if masks_of is not None:
        indices: Any = range(len(resources))
        if progress:
            from tqdm.auto import tqdm

            indices = tqdm(indices, desc="segmentation agreement", unit="resource")
        for i in indices:
            rows += _segmentation_rows(
                i, resources[i], per_resource[i], masks_of, spacing_of, labels, annotators
            )
    for label, items in _image_label_ratings(dataset, labels, annotators).items():
        rows += _kappa_rows("image_label", label, items)
    for identifier, items in _category_ratings(dataset, labels, annotators).items():
        rows += _kappa_rows("category", identifier, items)
    return AgreementTable(rows)
