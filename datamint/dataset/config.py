"""``DatasetConfig``: every constructor argument of a dataset, checked once, immutable.

A dataset and every dataset derived from it (subsets, filters, split parts, sliced
views) share one config object; nothing in it changes after construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from datamint.dataset.annotation_filter import AnnotationFilter, IncludeExclude
from datamint.dataset.annotation_processor import TargetOptions
from datamint.dataset.loading import parse_image_dtype
from datamint.dataset.preparation import PrepareOptions
from datamint.entities import Project, Resource
from datamint.exceptions import ValidationError
from datamint.targets.merge import SEMANTIC_MERGE_STRATEGIES, MergeStrategy

__all__ = ["ITEM_FORMATS", "ON_ERROR", "DatasetConfig", "build_config"]

ITEM_FORMATS = ("standard", "client")
ON_ERROR = ("raise", "skip", "warn")


@dataclass(frozen=True)
class DatasetConfig:
    """The settings of a dataset (see :class:`~datamint.dataset.base.DatamintBaseDataset`).

    Attributes:
        project: Project name or ``Project``; None when built from ``resources``.
        resources: Resources (entities, records or ids) instead of a project.
        auto_update: Whether the client runs its connectivity probe.
        api_key: Explicit API key (never shown in ``repr``).
        server_url: Explicit server URL.
        return_metainfo: Whether items carry ``metainfo``.
        targets: Which target keys items carry and how annotators are merged.
        prepare: Schema and annotation filters applied at preparation.
        cache_dir: Explicit cache root.
        offline: Build from the local manifest only.
        cache_format: Decoded-image cache format, or None for the default.
        image_dtype: ``np.dtype``, ``"stored"`` or None (the item format's default).
        item_format: ``"standard"`` (arrays, numbers and strings) or ``"client"``.
        on_error: ``"raise"``, ``"skip"`` or ``"warn"`` for unreadable resources.
    """

    project: str | Project | None
    resources: tuple[Any, ...] | None
    auto_update: bool
    api_key: str | None = field(repr=False)
    server_url: str | None
    return_metainfo: bool
    targets: TargetOptions
    prepare: PrepareOptions
    cache_dir: str | Path | None
    offline: bool
    cache_format: str | None
    image_dtype: str | np.dtype | None
    item_format: str
    on_error: str

    @property
    def cache_root(self) -> Path:
        """``cache_dir``, else ``DATAMINT_CACHE_DIR`` or the platform's user cache folder."""
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        from datamint.settings import cache_root

        return cache_root()

    @property
    def loader_dtype(self) -> str | np.dtype | None:
        """The ``image_dtype`` the decoder applies: float32 by default in the standard
        format, the existing client's rules (None) by default in the client format."""
        if self.image_dtype is None and self.item_format == "standard":
            return np.dtype(np.float32)
        return self.image_dtype


def _choice(value: str, allowed: Sequence[str], argument: str) -> str:
    if value not in allowed:
        raise ValidationError(f"{argument}={value!r} is not one of {', '.join(allowed)}")
    return value


def build_config(
    project: str | Project | None,
    resources: Sequence[Resource | dict[str, Any] | str] | None,
    auto_update: bool,
    api_key: str | None,
    server_url: str | None,
    return_metainfo: bool,
    return_segmentations: bool,
    return_boxes: bool,
    return_as_semantic_segmentation: bool,
    semantic_seg_merge_strategy: str | None,
    include_unannotated: bool,
    filters: dict[str, Sequence[str] | None],
    allow_external_annotations: bool,
    image_labels_merge_strategy: str | None,
    image_categories_merge_strategy: str | None,
    worklists: str | Sequence[Any] | None,
    trusted_annotation_sources: Sequence[str] | None,
    cache_dir: str | Path | None,
    offline: bool | None,
    cache_format: str | None,
    image_dtype: DTypeLike | None,
    item_format: str,
    on_error: str,
) -> DatasetConfig:
    """Check the constructor arguments and build the config.

    Args:
        filters: ``include_<x>`` / ``exclude_<x>`` lists keyed by argument name, for x in
            annotators, segmentation_names, image_label_names, frame_label_names.
        (others): As the dataset constructor.

    Raises:
        ValidationError: On contradictory arguments (both include and exclude lists, a
            merge strategy without semantic masks, neither or both of project/resources),
            an unknown ``item_format`` or ``on_error``.
        ValueError: For an unknown ``cache_format`` or ``image_dtype``.
    """
    if (project is None) == (resources is None):
        raise ValidationError("give exactly one of project= (a name or Project) or resources=")
    semantic_merge = MergeStrategy.parse(
        semantic_seg_merge_strategy,
        argument="semantic_seg_merge_strategy",
        allowed=SEMANTIC_MERGE_STRATEGIES,
    )
    if semantic_merge is not None and not return_as_semantic_segmentation:
        raise ValidationError(
            "semantic_seg_merge_strategy requires return_as_semantic_segmentation=True"
        )

    def pair(name: str) -> IncludeExclude:
        return IncludeExclude.of(filters[f"include_{name}"], filters[f"exclude_{name}"], name=name)

    if offline is None:
        from datamint.settings import offline_requested

        offline = offline_requested()
    if cache_format is not None:
        from datamint.dataset.loading import CACHE_FORMATS

        _choice(cache_format, CACHE_FORMATS, "cache_format")
    return DatasetConfig(
        project=project,
        resources=tuple(resources) if resources is not None else None,
        auto_update=auto_update,
        api_key=api_key,
        server_url=server_url,
        return_metainfo=return_metainfo,
        targets=TargetOptions(
            return_segmentations=return_segmentations,
            return_boxes=return_boxes,
            semantic=return_as_semantic_segmentation,
            semantic_merge=semantic_merge,
            image_labels_merge=MergeStrategy.parse(
                image_labels_merge_strategy, argument="image_labels_merge_strategy"
            ),
            image_categories_merge=MergeStrategy.parse(
                image_categories_merge_strategy, argument="image_categories_merge_strategy"
            ),
        ),
        prepare=PrepareOptions(
            worklists=worklists,
            trusted_sources=None
            if trusted_annotation_sources is None
            else tuple(trusted_annotation_sources),
            annotation_filter=AnnotationFilter(
                annotators=pair("annotators"),
                segmentation_names=pair("segmentation_names"),
                image_label_names=pair("image_label_names"),
                frame_label_names=pair("frame_label_names"),
                allow_external=allow_external_annotations,
            ),
            include_unannotated=include_unannotated,
        ),
        cache_dir=cache_dir,
        offline=bool(offline),
        cache_format=cache_format,
        image_dtype=parse_image_dtype(image_dtype),
        item_format=_choice(item_format, ITEM_FORMATS, "item_format"),
        on_error=_choice(on_error, ON_ERROR, "on_error"),
    )
