"""Datasets derived from a dataset: subsets, filters, splits, folds (``DatamintBaseDataset`` mixin).

Every derived dataset is a shallow copy sharing the settings and holding a selection of
the prepared resources; nothing is fetched again from the server.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from torch.utils.data import ConcatDataset, Dataset

from datamint.entities import Annotation, Resource
from datamint.exceptions import ValidationError

if TYPE_CHECKING:
    from datamint.dataset.base import DatamintBaseDataset
    from datamint.dataset.preparation import Prepared

__all__ = ["SelectionMixin"]


class SelectionMixin:
    """subset / filter / items / + / group_by_patient / split / kfold / split_spec."""

    prepared: Prepared
    _prepared: Prepared | None

    def _derive(self, prepared: Prepared) -> DatamintBaseDataset:
        """A shallow copy of this dataset holding ``prepared`` (settings are shared)."""
        new = copy.copy(self)
        new._prepared = prepared
        return new

    def subset(self, indices: Sequence[int]) -> DatamintBaseDataset:
        """A dataset of the resources at ``indices`` (positions in :attr:`resources`).

        Raises:
            IndexError: If an index is out of range.
        """
        n = len(self.prepared.resources)
        for i in indices:
            if not 0 <= int(i) < n:
                raise IndexError(f"subset index {i} is out of range for {n} resources")
        return self._derive(self.prepared.select([int(i) for i in indices]))

    def filter(
        self,
        *,
        tags: Sequence[str] | None = None,
        filename_pattern: str | None = None,
        has_annotations: bool | None = None,
        annotation_names: Sequence[str] | None = None,
        custom_fn: Callable[[Resource, list[Annotation]], bool] | None = None,
    ) -> DatamintBaseDataset:
        """A dataset of the resources that meet every given criterion (chainable).

        Args:
            tags: Keep resources with any of these tags.
            filename_pattern: ``fnmatch`` pattern on the filename.
            has_annotations: Keep resources with (True) or without (False) annotations.
            annotation_names: Keep resources with an annotation of any of these identifiers.
            custom_fn: ``(resource, annotations) -> bool``.

        Raises:
            ValidationError: If no criterion is given.
        """
        if all(
            c is None
            for c in (tags, filename_pattern, has_annotations, annotation_names, custom_fn)
        ):
            raise ValidationError("filter() needs at least one criterion")
        keep = []
        for i, (res, anns) in enumerate(self.items()):
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
            if custom_fn is not None and not custom_fn(res, anns):
                continue
            keep.append(i)
        return self._derive(self.prepared.select(keep))

    def items(self) -> Iterator[tuple[Resource, list[Annotation]]]:
        """Yield ``(resource, annotations)`` pairs."""
        for res, anns in zip(self.prepared.resources, self.prepared.annotations, strict=True):
            yield res, list(anns)

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])

    def group_by_patient(
        self, strategy: str = "individual"
    ) -> dict[str | None, DatamintBaseDataset]:
        """``{patient_id: subset}``; resources without one follow ``strategy`` (as in split)."""
        from datamint.splits.local import NONE_PATIENT_STRATEGIES

        if strategy not in NONE_PATIENT_STRATEGIES:
            raise ValidationError(f"strategy={strategy!r} is not one of {NONE_PATIENT_STRATEGIES}")
        groups: dict[Any, list[int]] = {}
        for i, res in enumerate(self.prepared.resources):
            pid = res.patient_id
            if pid is None:
                if strategy == "error":
                    raise ValidationError(f"resource {res.id} ({res.filename}) has no patient id")
                if strategy == "skip":
                    continue
                pid = None if strategy == "group" else f"__resource__{res.id}"
            groups.setdefault(pid, []).append(i)
        return {pid: self.subset(idx) for pid, idx in groups.items()}

    def split(self, **kwargs: Any) -> Any:
        """Split the resources into named datasets (a ``SplitResult``).

        ``split(*, seed=None, use_project_splits=None, as_of_timestamp=None,
        by_patient=False, none_patient_id_strategy='individual', stratify_by=None,
        **ratios)``; see :func:`datamint.dataset.splitting.split_dataset` for the modes,
        counting and errors (``SplitError``, a ValueError).
        """
        from datamint.dataset.splitting import split_dataset

        return split_dataset(self, **kwargs)

    def kfold(
        self, k: int, **kwargs: Any
    ) -> Iterator[tuple[DatamintBaseDataset, DatamintBaseDataset]]:
        """Yield ``(train, val)`` for each of ``k`` folds whose val parts partition the resources.

        ``kfold(k, *, seed=None, by_patient=False, none_patient_id_strategy='individual',
        stratify_by=None)``; see :func:`datamint.dataset.splitting.kfold_dataset`.
        """
        from datamint.dataset.splitting import kfold_dataset

        return kfold_dataset(self, k, **kwargs)

    def split_spec(self, spec: str, **split_kwargs: Any) -> DatamintBaseDataset:
        """``self.split(**split_kwargs).select(spec)``.

        Example: ``split_spec("train[:50%]", use_project_splits=True)``.

        Raises:
            SplitError: As :meth:`split` and :meth:`SplitResult.select`.
        """
        return self.split(**split_kwargs).select(spec)
