"""Dataset ids: a project name with an optional variant selector, e.g.
``demo[kind=volume,plane=axial,merge=mode,semantic=true]``, and the dataset object each
variant describes.

The variant axes (:data:`DATASET_VARIANTS`):

============  =======================  =========  ==========================================
Key           Type and values          Default    Dataset
============  =======================  =========  ==========================================
``kind``      image | volume | video   volume     ``ImageDataset`` / ``VolumeDataset`` /
                                                  ``VideoDataset``
``plane``     null | axial | coronal   null       ``.slice(plane)``: one item per slice;
              | sagittal                          volumes only
``frames``    bool                     false      ``.frame_by_frame()``; videos only
``merge``     null | union |           null       ``semantic_seg_merge_strategy``; needs
              intersection | mode                 ``semantic=true``
``semantic``  bool                     false      ``return_as_semantic_segmentation``
============  =======================  =========  ==========================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamint.variants import AxesVariants, Axis

__all__ = ["DATASET_VARIANTS", "VARIANT_ARGUMENTS", "DatasetId", "build_variant", "parse_id"]

_KIND_CLASSES = {
    "image": ("datamint.dataset.image_dataset", "ImageDataset"),
    "volume": ("datamint.dataset.volume_dataset", "VolumeDataset"),
    "video": ("datamint.dataset.video_dataset", "VideoDataset"),
}

VARIANT_ARGUMENTS = frozenset(
    {"project", "resources", "return_as_semantic_segmentation", "semantic_seg_merge_strategy"}
)
"""Constructor arguments that the variant sets; passing them too is an error."""


def _check(variant: dict[str, Any]) -> None:
    if variant["plane"] is not None and variant["kind"] != "volume":
        raise ValueError(
            f"variant key 'plane' ({variant['plane']}) needs kind=volume, "
            f"not kind={variant['kind']}"
        )
    if variant["frames"] and variant["kind"] != "video":
        raise ValueError(f"variant key 'frames' needs kind=video, not kind={variant['kind']}")
    if variant["merge"] is not None and not variant["semantic"]:
        raise ValueError(f"variant key 'merge' ({variant['merge']}) needs semantic=true")


DATASET_VARIANTS = AxesVariants(
    [
        Axis("kind", str, "volume", choices=("image", "volume", "video"), help="dataset class"),
        Axis(
            "plane",
            str | None,
            None,
            choices=("axial", "coronal", "sagittal"),
            help="slice volumes along this plane",
        ),
        Axis("frames", bool, False, help="one item per video frame"),
        Axis(
            "merge",
            str | None,
            None,
            choices=("union", "intersection", "mode"),
            help="merge annotators' semantic masks",
        ),
        Axis("semantic", bool, False, help="semantic instead of instance masks"),
    ],
    check=_check,
)
"""The variants of a project's dataset (see the module table)."""

_ID_RE = re.compile(r"^(?P<name>[^\[\]]+?)\s*(?:\[(?P<selector>[^\[\]]*)\])?$")


@dataclass(frozen=True)
class DatasetId:
    """A parsed dataset id.

    Attributes:
        project: The project name (exact, surrounding spaces removed).
        variant: The full typed variant (every key of :data:`DATASET_VARIANTS`).
    """

    project: str
    variant: dict[str, Any]

    @property
    def selector(self) -> str:
        """The canonical selector: every key, sorted, defaults included."""
        return DATASET_VARIANTS.format_selector(self.variant)

    @property
    def canonical(self) -> str:
        """``project[canonical selector]``: one spelling per variant."""
        return f"{self.project}[{self.selector}]"

    @property
    def cache_key(self) -> str:
        """Folder name of this variant's entries (see :meth:`Variants.cache_key`)."""
        return DATASET_VARIANTS.cache_key(self.variant)

    def __str__(self) -> str:
        """The canonical id."""
        return self.canonical


def parse_id(
    dataset_id: str | DatasetId, variant: str | Mapping[str, Any] | None = None
) -> DatasetId:
    """Split ``"name[selector]"`` into the project name and the full typed variant.

    Args:
        dataset_id: ``"demo"``, ``"demo[kind=video,frames=true]"``, or a ``DatasetId``.
        variant: A selector (text or dict) for an id without one.

    Returns:
        The :class:`DatasetId`.

    Raises:
        ValueError: If the id is empty or has unbalanced or nested brackets; if the id
            has a selector and ``variant=`` is given too (naming both); or, naming the
            key, for an unknown key, a bad value or a forbidden combination.
    """
    if isinstance(dataset_id, DatasetId):
        if variant is not None:
            raise ValueError(
                f"dataset id {dataset_id.canonical!r} already selects a variant; "
                f"drop variant={variant!r}"
            )
        return dataset_id
    if not isinstance(dataset_id, str):
        raise ValueError(f"a dataset id is text such as 'demo[kind=volume]', got {dataset_id!r}")
    match = _ID_RE.match(dataset_id.strip())
    if match is None:
        raise ValueError(
            f"dataset id {dataset_id!r} is not 'project' or 'project[key=value,...]' "
            "(project names cannot contain brackets)"
        )
    selector = match.group("selector")
    if selector is not None and variant is not None:
        raise ValueError(
            f"dataset id {dataset_id!r} has the selector [{selector}] and variant={variant!r} "
            "was given too; give one of them"
        )
    full = DATASET_VARIANTS.resolve(selector if selector is not None else variant)
    return DatasetId(match.group("name").strip(), full)


def build_variant(dataset_id: DatasetId, **kwargs: Any) -> Any:
    """The (unprepared) dataset object that a dataset id describes.

    Args:
        dataset_id: A parsed id.
        **kwargs: Other constructor arguments of ``DatamintBaseDataset`` (``server_url``,
            ``api_key``, ``cache_dir``, ``offline``, ``return_metainfo``, ...).

    Returns:
        ``ImageDataset``/``VolumeDataset``/``VideoDataset`` built with
        ``return_as_semantic_segmentation=semantic`` and
        ``semantic_seg_merge_strategy=merge``, then ``.slice(plane)`` or
        ``.frame_by_frame()`` when the variant asks. Nothing is sent yet.

    Raises:
        ValueError: If ``kwargs`` sets an argument the variant controls (naming it).
    """
    import importlib

    clash = sorted(VARIANT_ARGUMENTS & set(kwargs))
    if clash:
        raise ValueError(
            f"{clash[0]}= is set by the dataset id {dataset_id.canonical!r}; "
            "change the selector instead"
        )
    variant = dataset_id.variant
    module, name = _KIND_CLASSES[variant["kind"]]
    cls = getattr(importlib.import_module(module), name)
    dataset = cls(
        project=dataset_id.project,
        return_as_semantic_segmentation=variant["semantic"],
        semantic_seg_merge_strategy=variant["merge"],
        **kwargs,
    )
    if variant["plane"] is not None:
        dataset = dataset.slice(variant["plane"])
    if variant["frames"]:
        dataset = dataset.frame_by_frame()
    return dataset
