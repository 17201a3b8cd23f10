"""Search resources with a small query language: ``tag:ct modality:CT has:segmentation``.

A query is terms separated by spaces; every term must hold (AND). A term is
``key:value``, optionally prefixed by ``-`` to negate it; values with spaces are quoted
(``tag:"left knee"``). Comparisons ignore case.

==============  ==========================================================================
Term            Holds when
==============  ==========================================================================
``tag:T``       ``T`` is one of the resource's ``tags``
``kind:K``      the resource belongs in the dataset class of kind ``K`` (:func:`dataset_kinds`):
                ``image`` (PNG/JPEG, and single-frame DICOM/NIfTI), ``volume`` (DICOM,
                NIfTI, volume resources of any depth), ``video``; or its exact resource kind
                of the resource record: ``dicom``, ``nifti``, ``generic``
``modality:M``  the resource's ``modality`` (else ``metadata.Modality``) is ``M``
``annotator:A`` some annotation was created by ``A``: the whole email, or its part before ``@``
``has:X``       some annotation has type ``X`` (``segmentation``, ``label``, ``category``,
                ``square``, ... every annotation type); ``has:annotations``: any
==============  ==========================================================================

Example::

    >>> cond = Condition.parse("modality:CT has:segmentation")
    >>> cond.matches(resource_record, annotation_records)  # doctest: +SKIP
    True

A malformed query (a term without ``:``, an unknown key, an empty value, an unknown kind
or annotation type, an unbalanced quote) raises :class:`ValueError` naming the term.
"""

from __future__ import annotations

import abc
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datamint.schema import ANNOTATION_TYPES, ResourceKind, annotation_field, resource_depth
from datamint.schema import resource_kind as schema_resource_kind

__all__ = [
    "DATASET_KINDS",
    "AndCondition",
    "AnnotatorCondition",
    "Condition",
    "HasCondition",
    "ModalityCondition",
    "NotCondition",
    "SearchHit",
    "SearchResult",
    "TagCondition",
    "TypeCondition",
    "dataset_kinds",
    "needs_annotations",
    "search_resources",
]

DATASET_KINDS = ("image", "volume", "video")
"""The kinds that name a dataset class (``ImageDataset``, ``VolumeDataset``, ``VideoDataset``)."""

_EXACT_KINDS = tuple(k.value for k in ResourceKind if k.value not in DATASET_KINDS)
HAS_ANY = "annotations"


def _record(obj: Any) -> Mapping[str, Any]:
    """The JSON record of an entity (``.record``) or the mapping itself."""
    record = getattr(obj, "record", obj)
    if not isinstance(record, Mapping):
        raise TypeError(f"expected a record (dict) or an entity, got {type(obj).__name__}")
    return record


def dataset_kinds(resource: Any) -> frozenset[str]:
    """The dataset kinds a resource belongs to, as the dataset classes choose resources.

    ``ImageDataset`` holds image resources and DICOM/NIfTI/volume resources of depth 1;
    ``VolumeDataset`` holds every DICOM/NIfTI/volume resource (depth 1 included);
    ``VideoDataset`` holds video resources (by resource kind and metadata depth).

    Args:
        resource: A resource record or :class:`~datamint.entities.Resource`.

    Returns:
        A subset of ``{"image", "volume", "video"}``; empty for generic resources. A
        single-frame DICOM gives ``{"image", "volume"}``.
    """
    record = _record(resource)
    kind = schema_resource_kind(record)
    if kind is ResourceKind.VIDEO:
        return frozenset({"video"})
    if kind is ResourceKind.IMAGE:
        return frozenset({"image"})
    if kind.is_volume:
        try:
            single = resource_depth(record) == 1
        except ValueError:
            single = False
        return frozenset({"image", "volume"} if single else {"volume"})
    return frozenset()


def _annotations(annotations: Iterable[Any] | None) -> list[Mapping[str, Any]]:
    return [_record(a) for a in annotations or ()]


class Condition(abc.ABC):
    """A test on a resource and its annotations; build one with :meth:`parse`."""

    needs_annotations: bool = False
    """Whether :meth:`matches` reads the annotations (so a caller can skip fetching them)."""

    @abc.abstractmethod
    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """Whether the resource (and its annotations) meet the condition.

        Args:
            resource: A resource record (dict) or :class:`~datamint.entities.Resource`.
            annotations: Its annotation records or entities; ``None`` counts as none.

        Returns:
            True when the condition holds.
        """

    @abc.abstractmethod
    def __str__(self) -> str:
        """The condition as query text (parsing it gives an equal condition)."""

    @staticmethod
    def parse(query: str) -> Condition:
        """Parse a query into a condition (see the module docstring for the terms).

        Args:
            query: E.g. ``"tag:ct modality:CT annotator:alice has:segmentation kind:volume"``.
                An empty query matches everything.

        Returns:
            One condition, or an :class:`AndCondition` of several.

        Raises:
            ValueError: Naming the bad term: no ``:``, an unknown key, an empty value,
                an unknown ``kind`` or ``has`` value, or an unbalanced quote.
        """
        if not isinstance(query, str):
            raise ValueError(f"a search query is text such as 'tag:ct', got {query!r}")
        try:
            terms = shlex.split(query)
        except ValueError as exc:
            raise ValueError(f"search query {query!r}: {exc}") from None
        parts = [_parse_term(term) for term in terms]
        return parts[0] if len(parts) == 1 else AndCondition(parts)


def _parse_term(term: str) -> Condition:
    negate = term.startswith("-")
    body = term[1:] if negate else term
    key, sep, value = body.partition(":")
    key, value = key.strip().lower(), value.strip()
    if not sep or not key:
        raise ValueError(
            f"search term {term!r} is not key:value (keys: {', '.join(sorted(_PARSERS))})"
        )
    if not value:
        raise ValueError(f"search term {term!r} has an empty value")
    parser = _PARSERS.get(key)
    if parser is None:
        raise ValueError(
            f"search term {term!r}: unknown key {key!r}; the keys are {', '.join(sorted(_PARSERS))}"
        )
    try:
        condition = parser(value)
    except ValueError as exc:
        raise ValueError(f"search term {term!r}: {exc}") from None
    return NotCondition(condition) if negate else condition


def _quote(value: str) -> str:
    return shlex.quote(value)


@dataclass(frozen=True)
class AndCondition(Condition):
    """Every part holds (an empty list holds always).

    Args:
        parts: The conditions.
    """

    parts: Sequence[Condition]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))

    @property
    def needs_annotations(self) -> bool:  # type: ignore[override]
        """True when some part reads annotations."""
        return any(p.needs_annotations for p in self.parts)

    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """True when every part matches."""
        annotations = _annotations(annotations)
        return all(p.matches(resource, annotations) for p in self.parts)

    def __str__(self) -> str:
        """The parts' text joined by spaces."""
        return " ".join(str(p) for p in self.parts)


@dataclass(frozen=True)
class NotCondition(Condition):
    """The inner condition does not hold (query ``-key:value``).

    Args:
        inner: The negated condition.
    """

    inner: Condition

    @property
    def needs_annotations(self) -> bool:  # type: ignore[override]
        """As the inner condition."""
        return self.inner.needs_annotations

    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """True when the inner condition does not match."""
        return not self.inner.matches(resource, annotations)

    def __str__(self) -> str:
        """``-`` and the inner text."""
        return f"-{self.inner}"


@dataclass(frozen=True)
class TagCondition(Condition):
    """The resource carries a tag (case ignored).

    Args:
        tag: The tag.
    """

    tag: str

    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """True when ``tag`` is among the record's ``tags``."""
        tags = _record(resource).get("tags") or ()
        wanted = self.tag.casefold()
        return any(str(t).casefold() == wanted for t in tags)

    def __str__(self) -> str:
        """``tag:<tag>``."""
        return f"tag:{_quote(self.tag)}"


@dataclass(frozen=True)
class TypeCondition(Condition):
    """The resource is of a kind (see :func:`dataset_kinds` and the module table).

    Args:
        kind: ``image``, ``volume`` or ``video`` (dataset kinds), or ``dicom``, ``nifti``,
            ``generic`` (exact resource kinds).

    Raises:
        ValueError: For any other kind.
    """

    kind: str

    def __post_init__(self) -> None:
        kind = self.kind.lower()
        if kind not in DATASET_KINDS + _EXACT_KINDS:
            raise ValueError(
                f"unknown kind {self.kind!r}; expected one of "
                f"{', '.join(DATASET_KINDS + _EXACT_KINDS)}"
            )
        object.__setattr__(self, "kind", kind)

    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """True when the resource is of this kind."""
        if self.kind in DATASET_KINDS:
            return self.kind in dataset_kinds(resource)
        return schema_resource_kind(_record(resource)).value == self.kind

    def __str__(self) -> str:
        """``kind:<kind>``."""
        return f"kind:{self.kind}"


@dataclass(frozen=True)
class ModalityCondition(Condition):
    """The resource's modality (``modality``, else ``metadata.Modality``; case ignored).

    Args:
        modality: E.g. ``CT``, ``MR``, ``US``.
    """

    modality: str

    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """True when the modality equals ``modality``."""
        record = _record(resource)
        value = record.get("modality") or (record.get("metadata") or {}).get("Modality")
        return value is not None and str(value).casefold() == self.modality.casefold()

    def __str__(self) -> str:
        """``modality:<modality>``."""
        return f"modality:{_quote(self.modality)}"


@dataclass(frozen=True)
class AnnotatorCondition(Condition):
    """Some annotation was created by this annotator (email, or its part before ``@``).

    Args:
        annotator: ``alice@example.org`` or ``alice`` (case ignored).
    """

    annotator: str
    needs_annotations = True

    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """True when some annotation's ``created_by`` is the annotator."""
        wanted = self.annotator.casefold()
        for ann in _annotations(annotations):
            author = annotation_field(ann, "created_by")
            if author is None:
                continue
            author = str(author).casefold()
            if wanted in (author, author.split("@", 1)[0]):
                return True
        return False

    def __str__(self) -> str:
        """``annotator:<annotator>``."""
        return f"annotator:{_quote(self.annotator)}"


@dataclass(frozen=True)
class HasCondition(Condition):
    """Some annotation has a type (``has:annotations``: any annotation at all).

    Args:
        what: An annotation type (``segmentation``, ``label``, ...), or
            ``annotations``.

    Raises:
        ValueError: For an unknown type.
    """

    what: str
    needs_annotations = True

    def __post_init__(self) -> None:
        what = self.what.lower()
        if what not in (*ANNOTATION_TYPES, HAS_ANY):
            raise ValueError(
                f"unknown annotation type {self.what!r}; expected {HAS_ANY} or one of "
                f"{', '.join(ANNOTATION_TYPES)}"
            )
        object.__setattr__(self, "what", what)

    def matches(self, resource: Any, annotations: Iterable[Any] | None = None) -> bool:
        """True when some annotation has the type (or any exists, for ``annotations``)."""
        anns = _annotations(annotations)
        if self.what == HAS_ANY:
            return bool(anns)
        return any(str(annotation_field(a, "type", "")).lower() == self.what for a in anns)

    def __str__(self) -> str:
        """``has:<type>``."""
        return f"has:{self.what}"


_PARSERS = {
    "tag": TagCondition,
    "kind": TypeCondition,
    "modality": ModalityCondition,
    "annotator": AnnotatorCondition,
    "has": HasCondition,
}


def needs_annotations(condition: Condition) -> bool:
    """Whether evaluating ``condition`` reads annotations (so they must be fetched)."""
    return bool(condition.needs_annotations)


@dataclass(frozen=True)
class SearchHit:
    """One resource that matched, with its project.

    Attributes:
        project_id: The project's id.
        project_name: The project's name.
        resource: The resource record, as the server (or the manifest) holds it.
    """

    project_id: str
    project_name: str
    resource: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready line: project, resource id, filename, kind, modality, tags."""
        record = self.resource
        return {
            "project": self.project_name,
            "project_id": self.project_id,
            "resource_id": record.get("id"),
            "filename": record.get("filename"),
            "kind": schema_resource_kind(record).value,
            "dataset_kinds": sorted(dataset_kinds(record)),
            "modality": record.get("modality"),
            "tags": list(record.get("tags") or []),
        }


@dataclass
class SearchResult:
    """What :func:`search_resources` found.

    Attributes:
        hits: The matching resources, per project in listing order, resources in
            server order.
        unsynced: Offline only: ids of resources that were left out because the
            condition reads annotations and theirs were never synced.
    """

    hits: list[SearchHit]
    unsynced: list[str]


def search_resources(
    api: Any, condition: Condition | str, project: str | None = None
) -> SearchResult:
    """Every resource of the readable projects (or of one) that meets a condition.

    Sends ``GET /projects`` (or looks the name up), ``GET /projects/{id}/resources`` per
    project, and ``POST /annotations/search`` per project only when the condition reads
    annotations. Works the same over an :class:`~datamint.api.offline.OfflineApi`
    (the local manifests; nothing is sent), where resources whose annotations were not
    synced are left out of annotation conditions and listed in ``unsynced``.

    Args:
        api: An :class:`~datamint.api.Api` or ``OfflineApi``.
        condition: A condition, or query text for :meth:`Condition.parse`.
        project: A project name (exact); every project the key can read when ``None``.

    Returns:
        A :class:`SearchResult`.

    Raises:
        ValueError: For a malformed query (naming the term).
        ItemNotFoundError: If ``project`` does not exist (online).
        OfflineCacheMissError: Offline, if the project was never synced.
    """
    cond = Condition.parse(condition) if isinstance(condition, str) else condition
    projects = [api.get_project_by_name(project)] if project else api.get_projects()
    result = SearchResult([], [])
    offline_manifest = getattr(api, "manifest", None)  # OfflineApi only
    for proj in projects:
        resources = api.get_project_resources(proj["id"])
        by_resource: dict[str, list[dict[str, Any]]] = {}
        if cond.needs_annotations and resources:
            ids = [str(r["id"]) for r in resources]
            if callable(offline_manifest):
                synced = set(offline_manifest(str(proj["id"])).annotations_for)
                result.unsynced += [i for i in ids if i not in synced]
                ids = [i for i in ids if i in synced]
                resources = [r for r in resources if str(r["id"]) in synced]
            for ann in api.search_annotations(ids) if ids else ():
                by_resource.setdefault(str(ann.get("resource_id")), []).append(ann)
        for record in resources:
            if cond.matches(record, by_resource.get(str(record.get("id")), [])):
                result.hits.append(SearchHit(str(proj["id"]), str(proj.get("name")), record))
    return result
