"""Which annotations a dataset keeps."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from datamint.dataset.label_schema import LabelSchema
from datamint.entities import Annotation
from datamint.exceptions import ValidationError

__all__ = ["AnnotationFilter", "IncludeExclude"]


@dataclass(frozen=True)
class IncludeExclude:
    """An include list or an exclude list (never both); None means no constraint."""

    include: frozenset[str] | None = None
    exclude: frozenset[str] | None = None

    @classmethod
    def of(
        cls, include: Iterable[str] | None, exclude: Iterable[str] | None, *, name: str
    ) -> IncludeExclude:
        """Build from the ``include_<name>`` / ``exclude_<name>`` constructor arguments.

        Raises:
            ValidationError: If both are given, or one is a plain string.
        """
        if include is not None and exclude is not None:
            raise ValidationError(f"include_{name} and exclude_{name} are mutually exclusive")
        for value, arg in ((include, "include"), (exclude, "exclude")):
            if isinstance(value, str):
                raise ValidationError(f"{arg}_{name} must be a list of strings, not a string")
        return cls(
            include=None if include is None else frozenset(include),
            exclude=None if exclude is None else frozenset(exclude),
        )

    @property
    def unconstrained(self) -> bool:
        """True when neither list was given."""
        return self.include is None and self.exclude is None

    def passes(self, value: str | None) -> bool:
        """True when ``value`` is allowed."""
        if self.include is not None:
            return value in self.include
        if self.exclude is not None:
            return value not in self.exclude
        return True


@dataclass(frozen=True)
class AnnotationFilter:
    """The per-annotation filters (annotators, names, sources), applied after the schema is built.

    Attributes:
        annotators: Matched against ``created_by``.
        segmentation_names, image_label_names, frame_label_names: Matched against the
            identifier of segmentations, image-scoped and frame-scoped labels.
        allow_external: Keep identifiers that the schema does not define.
    """

    annotators: IncludeExclude = IncludeExclude()
    segmentation_names: IncludeExclude = IncludeExclude()
    image_label_names: IncludeExclude = IncludeExclude()
    frame_label_names: IncludeExclude = IncludeExclude()
    allow_external: bool = False

    def keeps(self, ann: Annotation, schema: LabelSchema) -> bool:
        """True when ``ann`` survives every filter for its type."""
        if not self.annotators.passes(ann.created_by):
            return False
        kind = ann.annotation_type
        if kind == "segmentation":
            known = ann.identifier in schema.segmentation_classes
            return (known or self.allow_external) and self.segmentation_names.passes(ann.identifier)
        if kind == "label":
            if ann.frame_index is None:
                known = ann.identifier in schema.image_labels
                return (known or self.allow_external) and self.image_label_names.passes(
                    ann.identifier
                )
            known = ann.identifier in schema.frame_labels
            return (known or self.allow_external) and self.frame_label_names.passes(ann.identifier)
        if kind == "category":
            return self.allow_external or ann.identifier in schema.category_identifiers
        return True


def trusted(annotations: Iterable[Annotation], sources: Collection[str] | None) -> list[Annotation]:
    """Drop annotations whose ``source`` is set and not in ``sources`` (None keeps all)."""
    if sources is None:
        return list(annotations)
    allowed = set(sources)
    return [a for a in annotations if a.source is None or a.source in allowed]
