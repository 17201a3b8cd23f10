"""``dataset.split()``, ``kfold()``, ``split_spec()``: modes and split datasets.

Splits always partition *resources* (or patients): the slices of one volume, or the
frames of one video, never straddle two splits, also on sliced views, and a split
part's ``.slice()`` / ``.frame_by_frame()`` keeps its members and split attributes.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterator, Sequence
from typing import TYPE_CHECKING

import torch

from datamint.dataset.item_targets import ItemTargets, TargetOptions
from datamint.exceptions import DatamintWarning, SplitError
from datamint.splits import (
    SplitResult,
    local_split,
    patient_split,
    project_assignments,
    utc_now_iso,
)
from datamint.splits.kfold import kfold_indices
from datamint.targets.merge import MergeStrategy

if TYPE_CHECKING:
    from datamint.dataset.views import V

__all__ = ["FALLBACK_RATIOS", "kfold_dataset", "split_dataset", "stratum_values"]

FALLBACK_RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}
_FALLBACK_WARNING = (
    "No split assignments found on the server for this project. Generating a local "
    "train=0.7 / val=0.15 / test=0.15 split. Call parts.save() to persist it to the server."
)
TAG_PREFIX = "split:"


def make_part(
    ds: V,
    indices: Sequence[int],
    name: str | None,
    source: str | None,
    as_of: str | None,
) -> V:
    """A subset of ``ds`` carrying the three split attributes."""
    child = ds.subset(list(indices))
    child.split_name, child.split_source, child.split_as_of_timestamp = name, source, as_of
    return child


def _result(ds: V, parts: dict[str, list[int]], source: str, as_of: str | None) -> SplitResult:
    return SplitResult(
        {name: make_part(ds, idx, name, source, as_of) for name, idx in parts.items()}
    )


def stratum_values(ds: V, stratify_by: str) -> list[Hashable]:
    """Per resource, its class for stratification.

    For an image label: 1 when the annotators' majority (``mode``: at least half of them) marks
    it, else 0. For a category identifier: the majority value (``mode``, ties to the
    lowest index) or None when nobody set it.

    Raises:
        SplitError: If ``stratify_by`` is neither an image label nor a category.
    """
    schema = ds.schema
    if stratify_by in schema.image_labels:
        processor = ItemTargets(schema, TargetOptions(image_labels_merge=MergeStrategy.MODE))
        bit = schema.image_labels.index(stratify_by)
        marks: list[Hashable] = []
        for _, anns in ds.items():
            merged = processor.image_labels(anns)
            assert isinstance(merged, torch.Tensor)  # merged by the mode
            marks.append(int(merged[bit]))
        return marks
    if stratify_by in schema.category_identifiers:
        processor = ItemTargets(schema, TargetOptions(image_categories_merge=MergeStrategy.MODE))
        values: list[Hashable] = []
        for _, anns in ds.items():
            chosen = processor.image_categories([a for a in anns if a.identifier == stratify_by])
            assert isinstance(chosen, torch.Tensor)  # merged by the mode
            index = int(chosen)
            values.append(None if index < 0 else schema.categories[index][1])
        return values
    raise SplitError(
        f"stratify_by={stratify_by!r} is neither an image label {list(schema.image_labels)} nor a "
        f"category {sorted(schema.category_identifiers)} of this dataset"
    )


def _project_split(ds: V, as_of_timestamp: str | None) -> SplitResult | None:
    """The server's assignment as of ``as_of_timestamp`` (now when None), or None if empty."""
    project = ds.project
    if project is None:
        raise SplitError("project splits need a dataset built from a project")
    resolved = as_of_timestamp or utc_now_iso()
    assignment = ds.source.recorded(
        lambda api: project_assignments(api, project.id, as_of_timestamp), project.id
    )
    parts: dict[str, list[int]] = {}
    for i, res in enumerate(ds.prepared.resources):
        name = assignment.get(res.id)
        if name is not None:
            parts.setdefault(name, []).append(i)
    return _result(ds, parts, "project_api", resolved) if parts else None


def _tag_split(ds: V) -> SplitResult:
    """Deprecated: parts from resource tags ``split:<name>`` (removed from the existing client)."""
    warnings.warn(
        "use_server_splits=True (resource tags 'split:<name>') is deprecated; store the split "
        "with parts.save() and read it with use_project_splits=True",
        DeprecationWarning,
        stacklevel=4,
    )
    parts: dict[str, list[int]] = {}
    for i, res in enumerate(ds.prepared.resources):
        for tag in res.tags:
            if tag.startswith(TAG_PREFIX):
                parts.setdefault(tag[len(TAG_PREFIX) :], []).append(i)
                break
    if not parts:
        raise SplitError(f"no resource of this dataset has a '{TAG_PREFIX}<name>' tag")
    return _result(ds, parts, "server_tags", None)


def split_dataset(
    ds: V,
    *,
    seed: int | None = None,
    use_project_splits: bool | None = None,
    as_of_timestamp: str | None = None,
    by_patient: bool = False,
    none_patient_id_strategy: str = "individual",
    stratify_by: str | None = None,
    use_server_splits: bool = False,
    **ratios: float,
) -> SplitResult:
    """Split a dataset's resources into named datasets.

    Modes, in this order: ``by_patient=True`` (whole patients shuffled and assigned;
    needs ratios); automatic project mode (no ratios, ``use_project_splits`` None, and a
    project or ``as_of_timestamp``): the server's split, falling back to a local
    70/15/15 split with a warning when the server has none; ``use_project_splits=True``:
    the server's split or an error; otherwise a local split by ``ratios``.

    Local splits shuffle with ``random.Random(seed)``; sizes are ``round(ratio * n)`` in
    keyword order and the last split takes the rest. With ``stratify_by`` each split
    holds every class's share to within one resource (largest remainder; see
    :mod:`datamint.splits.local`).

    Args:
        ds: The dataset (sliced views split by resource too).
        seed: Shuffle seed; None is non-deterministic.
        use_project_splits: See above.
        as_of_timestamp: Replay the project split as it stood at this ISO-8601 instant.
        by_patient: Keep every patient in one split (``resource.patient_id``, falling back
            to ``metadata.PatientID``).
        none_patient_id_strategy: ``'individual'``, ``'group'``, ``'skip'`` or ``'error'``.
        stratify_by: An image label or category identifier to stratify on (local modes).
        use_server_splits: Deprecated tag mode: parts from resource tags ``split:<name>``.
        **ratios: split name -> fraction, e.g. ``train=0.8, val=0.2``.

    Returns:
        A :class:`SplitResult`; each dataset has ``split_name``, ``split_source`` and
        ``split_as_of_timestamp`` set (the resolved instant for project splits).

    Raises:
        SplitError: (a ValueError) for invalid combinations or ratios, or when the server
            has no assignment where one is required.
    """
    if use_server_splits:
        if ratios or use_project_splits or by_patient or as_of_timestamp or stratify_by:
            raise SplitError("use_server_splits=True takes no ratios and no other split mode")
        return _tag_split(ds)
    if stratify_by is not None and not ratios:
        raise SplitError(
            "stratify_by applies to local splits: give ratios, e.g. train=0.8, val=0.2"
        )
    strata = stratum_values(ds, stratify_by) if stratify_by is not None else None
    n = len(ds.prepared)
    if by_patient:
        if not ratios:
            raise SplitError("by_patient=True needs ratios, e.g. train=0.8, val=0.2")
        if use_project_splits:
            raise SplitError("by_patient=True cannot be combined with use_project_splits")
        if as_of_timestamp is not None:
            raise SplitError("as_of_timestamp applies only to project splits, not to by_patient")
        pids = [r.patient_id for r in ds.prepared.resources]
        parts = patient_split(pids, ratios, seed, none_patient_id_strategy, strata)
        return _result(ds, parts, "local_by_patient", None)
    if (
        use_project_splits is None
        and not ratios
        and (ds.config.project is not None or as_of_timestamp)
    ):
        result = _project_split(ds, as_of_timestamp)
        if result is not None:
            return result
        if as_of_timestamp is not None:
            raise SplitError(
                f"the server has no split assignment as of {as_of_timestamp} for this dataset's "
                "resources; as_of_timestamp applies only to project splits"
            )
        warnings.warn(_FALLBACK_WARNING, DatamintWarning, stacklevel=3)
        return _result(ds, local_split(n, FALLBACK_RATIOS, seed), "local", None)
    if use_project_splits:
        if ratios:
            raise SplitError(
                "use_project_splits=True takes no ratios; drop them or set use_project_splits=False"
            )
        result = _project_split(ds, as_of_timestamp)
        if result is None:
            when = f" as of {as_of_timestamp}" if as_of_timestamp else ""
            raise SplitError(
                f"the server has no split assignment{when} for this dataset's resources"
            )
        return result
    if as_of_timestamp is not None:
        raise SplitError(
            "as_of_timestamp applies only to project splits; give no ratios to replay one"
        )
    if not ratios:
        raise SplitError("give split ratios, e.g. split(train=0.8, val=0.2, seed=0)")
    return _result(ds, local_split(n, ratios, seed, strata), "local", None)


def kfold_dataset(
    ds: V,
    k: int,
    *,
    seed: int | None = None,
    by_patient: bool = False,
    none_patient_id_strategy: str = "individual",
    stratify_by: str | None = None,
) -> Iterator[tuple[V, V]]:
    """Yield ``(train, val)`` for each of ``k`` folds; the val parts partition the resources.

    Each part has ``split_name`` ``'train'``/``'val'``, ``split_source`` ``'local'`` (or
    ``'local_by_patient'``) and ``fold`` = the fold index.

    Raises:
        SplitError: If ``k`` is not between 2 and the number of resources (patients).
    """
    strata = stratum_values(ds, stratify_by) if stratify_by is not None else None
    pids = [r.patient_id for r in ds.prepared.resources] if by_patient else None
    source = "local_by_patient" if by_patient else "local"
    folds = kfold_indices(
        len(ds.prepared),
        k,
        seed,
        patient_ids=pids,
        none_patient_id_strategy=none_patient_id_strategy,
        strata=strata,
    )
    for i, (train, val) in enumerate(folds):
        parts = make_part(ds, train, "train", source, None), make_part(ds, val, "val", source, None)
        for part in parts:
            part.fold = i
        yield parts
