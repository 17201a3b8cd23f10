"""A dataset's label schema: segmentation classes, image/frame labels, categories.

The schema comes from the project's worklists (their annotation specs and
segmentation groups) or, with ``worklists=None`` or no project, from the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from datamint.entities import Annotation
from datamint.exceptions import DatamintDatasetException

__all__ = ["FoundLabels", "LabelSchema", "schema_from_annotations", "schema_from_worklists"]

UNKNOWN_CLASS = "UNKNOWN"


class NameFilter(Protocol):
    """An include or exclude list of names (e.g.
    :class:`~datamint.dataset.annotation_filter.IncludeExclude`)."""

    @property
    def unconstrained(self) -> bool:
        """True when no list was given."""
        ...

    def passes(self, value: str | None) -> bool:
        """True when ``value`` is allowed."""
        ...


@dataclass(frozen=True)
class LabelSchema:
    """What each code of a target means.

    Attributes:
        segmentation_classes: Class names; the code of ``segmentation_classes[i]`` is
            ``i + 1`` (0 is background). Gaps in the worklist's group indices are
            ``'UNKNOWN'``.
        image_labels: Image-scoped label identifiers; position = bit of the multi-hot.
        frame_labels: Frame-scoped label identifiers (used for filtering only).
        categories: ``(identifier, value)`` pairs; position = category index.
        box_classes: Identifiers of ``square`` annotations, coded from 0.
        segmentation_colors: Class name -> RGBA colour, when the worklist gives one.
    """

    segmentation_classes: tuple[str, ...] = ()
    image_labels: tuple[str, ...] = ()
    frame_labels: tuple[str, ...] = ()
    categories: tuple[tuple[str, str], ...] = ()
    box_classes: tuple[str, ...] = ()
    segmentation_colors: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def segmentation_code(self, identifier: str) -> int | None:
        """1-based code of a segmentation class, or None when unknown."""
        try:
            return self.segmentation_classes.index(identifier) + 1
        except ValueError:
            return None

    @property
    def category_identifiers(self) -> frozenset[str]:
        """Identifiers that have at least one category value."""
        return frozenset(ident for ident, _ in self.categories)

    def restricted(
        self, segmentation_names: NameFilter, image_label_names: NameFilter
    ) -> LabelSchema:
        """The schema of a dataset with ``include_*_names`` / ``exclude_*_names`` lists.

        The kept segmentation classes and image labels stay in schema order and are
        renumbered without gaps: with ``include_segmentation_names=["lesion"]`` the only
        class is ``"lesion"`` (code 1), so semantic masks have 2 channels (background and
        lesion) and image label vectors have one entry per kept label. Without a list the
        schema is unchanged (its codes, ``'UNKNOWN'`` gaps included, are the worklist's).
        """
        classes, labels = self.segmentation_classes, self.image_labels
        if not segmentation_names.unconstrained:
            classes = tuple(
                c for c in classes if c != UNKNOWN_CLASS and segmentation_names.passes(c)
            )
        if not image_label_names.unconstrained:
            labels = tuple(label for label in labels if image_label_names.passes(label))
        if (classes, labels) == (self.segmentation_classes, self.image_labels):
            return self
        return replace(self, segmentation_classes=classes, image_labels=labels)

    def with_external(self, annotations: Iterable[Annotation] | FoundLabels) -> LabelSchema:
        """Append identifiers found in ``annotations`` but missing here, in sorted order.

        Used with ``allow_external_annotations=True``: segmentation
        names get the next codes, labels and categories are appended.
        """
        found = _collect(annotations)
        return LabelSchema(
            segmentation_classes=self.segmentation_classes
            + tuple(sorted(found.segmentations - set(self.segmentation_classes))),
            image_labels=self.image_labels
            + tuple(sorted(found.image_labels - set(self.image_labels))),
            frame_labels=self.frame_labels
            + tuple(sorted(found.frame_labels - set(self.frame_labels))),
            categories=self.categories + tuple(sorted(found.categories - set(self.categories))),
            box_classes=self.box_classes,
            segmentation_colors=self.segmentation_colors,
        )


@dataclass
class FoundLabels:
    """The identifiers a set of annotations uses, per kind (what a schema is inferred
    from): collect them in one pass with :meth:`add`, then pass this object where an
    iterable of annotations is accepted."""

    segmentations: set[str] = field(default_factory=set)
    image_labels: set[str] = field(default_factory=set)
    frame_labels: set[str] = field(default_factory=set)
    categories: set[tuple[str, str]] = field(default_factory=set)
    boxes: set[str] = field(default_factory=set)

    def add(self, ann: Annotation) -> None:
        """Count the identifier of ``ann`` (segmentation, label, category value or box)."""
        kind = ann.annotation_type
        if kind == "segmentation":
            self.segmentations.add(ann.identifier)
        elif kind == "label":
            (self.image_labels if ann.frame_index is None else self.frame_labels).add(
                ann.identifier
            )
        elif kind == "category" and ann.text_value is not None:
            self.categories.add((ann.identifier, str(ann.text_value)))
        elif kind == "square":
            self.boxes.add(ann.identifier)


def _collect(annotations: Iterable[Annotation] | FoundLabels) -> FoundLabels:
    if isinstance(annotations, FoundLabels):
        return annotations
    found = FoundLabels()
    for ann in annotations:
        found.add(ann)
    return found


def box_classes(annotations: Iterable[Annotation] | FoundLabels) -> tuple[str, ...]:
    """Sorted unique identifiers of ``square`` annotations (coded from 0)."""
    return tuple(sorted(_collect(annotations).boxes))


def schema_from_annotations(annotations: Iterable[Annotation] | FoundLabels) -> LabelSchema:
    """Infer the schema from the data: sorted unique identifiers per kind.

    Args:
        annotations: Every annotation of the dataset (after the source filter), or
            the :class:`FoundLabels` collected from them.

    Returns:
        The inferred schema; segmentation codes ``1..N`` in sorted order.
    """
    found = _collect(annotations)
    return LabelSchema(
        segmentation_classes=tuple(sorted(found.segmentations)),
        image_labels=tuple(sorted(found.image_labels)),
        frame_labels=tuple(sorted(found.frame_labels)),
        categories=tuple(sorted(found.categories)),
        box_classes=tuple(sorted(found.boxes)),
    )


_CONFLICT_HINT = "Set worklists=None to infer labels from data."


def _merge_specs(worklists: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Specs of every worklist merged by (scope, identifier), first occurrence order."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for worklist in worklists:
        for spec in worklist.get("annotations") or ():
            key = (str(spec.get("scope", "image")), str(spec["identifier"]))
            if key in merged and _spec_core(merged[key]) != _spec_core(spec):
                raise DatamintDatasetException(
                    f"worklist {worklist.get('name') or worklist.get('id')!r} defines "
                    f"{key[1]!r} ({key[0]} scope) differently from another worklist: "
                    f"{_spec_core(merged[key])} vs {_spec_core(spec)}. {_CONFLICT_HINT}"
                )
            merged.setdefault(key, spec)
    return list(merged.values())


def _spec_core(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    return (spec.get("type"), tuple(spec.get("values") or ()))


def _merge_groups(groups: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Segmentation groups merged by name; the same index for two names is an error."""
    by_name: dict[str, Mapping[str, Any]] = {}
    by_index: dict[int, str] = {}
    for group in groups:
        for name, definition in (group.get("groups") or {}).items():
            index = int(definition["index"])
            if name in by_name and int(by_name[name]["index"]) != index:
                raise DatamintDatasetException(
                    f"segmentation class {name!r} has index {by_name[name]['index']} in one "
                    f"worklist and {index} in another. {_CONFLICT_HINT}"
                )
            if by_index.get(index, name) != name:
                raise DatamintDatasetException(
                    f"segmentation index {index} names both {by_index[index]!r} and {name!r}. "
                    f"{_CONFLICT_HINT}"
                )
            by_name[name] = definition
            by_index[index] = name
    return by_name


def schema_from_worklists(
    worklists: Sequence[Mapping[str, Any]],
    segmentation_groups: Sequence[Mapping[str, Any]],
    annotations: Iterable[Annotation] | FoundLabels,
) -> LabelSchema:
    """Build the schema from worklists.

    Args:
        worklists: Full worklists, each with ``annotations`` (a list of specs
            ``{type, scope, identifier, values?}``).
        segmentation_groups: ``{"groups": {name: {"index", "color"}}}`` per worklist.
            The groups, not the specs, define the segmentation classes.
        annotations: The dataset's annotations, or their :class:`FoundLabels` (for the
            box classes, which always come from the data).

    Returns:
        The schema: labels and categories in spec order, classes by group index.

    Raises:
        DatamintDatasetException: On conflicting specs or groups across worklists; the
            message says "Set worklists=None to infer labels from data".
    """
    specs = _merge_specs(worklists)
    groups = _merge_groups(segmentation_groups)
    n_classes = max((int(d["index"]) for d in groups.values()), default=0)
    classes = [UNKNOWN_CLASS] * n_classes
    colors: dict[str, tuple[int, ...]] = {}
    for name, definition in groups.items():
        classes[int(definition["index"]) - 1] = name
        if definition.get("color") is not None:
            colors[name] = tuple(int(c) for c in definition["color"])
    image_labels = [
        s["identifier"]
        for s in specs
        if s.get("type") == "label" and s.get("scope", "image") == "image"
    ]
    frame_labels = [
        s["identifier"] for s in specs if s.get("type") == "label" and s.get("scope") == "frame"
    ]
    categories = [
        (str(s["identifier"]), str(v))
        for s in specs
        if s.get("type") == "category"
        for v in s.get("values") or ()
    ]
    return LabelSchema(
        segmentation_classes=tuple(classes),
        image_labels=tuple(image_labels),
        frame_labels=tuple(frame_labels),
        categories=tuple(categories),
        box_classes=box_classes(annotations),
        segmentation_colors=colors,
    )
