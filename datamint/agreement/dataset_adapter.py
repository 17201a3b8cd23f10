"""Masks and spacing of a datamint dataset's resources, for :func:`agreement_table`.

Masks come the way items get theirs: each author's instance masks over the whole
resource (frame-scoped masks placed at their ``frame_index``), OR-ed per label, from the
dataset's cached loader. Spacing comes from the resource's header geometry, so the image
itself is never decoded. A project holding several kinds of resources (2-D images,
volumes, videos) is covered by :func:`project_agreement`, which builds one dataset per
kind and compares across all of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datamint.agreement.compute import MasksOf, SpacingOf, agreement_table
from datamint.agreement.table import AgreementTable

__all__ = ["dataset_accessors", "dataset_agreement", "project_agreement"]


def dataset_accessors(dataset: Any) -> tuple[MasksOf, SpacingOf]:
    """``masks_of`` and ``spacing_of`` for a datamint dataset.

    Args:
        dataset: A prepared or unprepared ``DatamintBaseDataset`` (its ``resources``,
            ``resource_annotations``, ``segmentation_labels``, ``processor`` and
            ``loader``).

    Returns:
        ``(masks_of, spacing_of)``: ``masks_of(i)`` gives ``{author: {label: bool
        (D, H, W)}}`` for resource ``i`` (loading and caching its segmentation files);
        ``spacing_of(i)`` gives its ``(D, H, W)`` spacing in mm from the header, with
        None for an axis without physical spacing (a 2-D image's depth), or None for a
        resource without calibration (videos, PNG/JPEG).
    """
    resources = list(dataset.resources)
    annotations = list(dataset.resource_annotations)
    classes = list(dataset.segmentation_labels)

    def masks_of(index: int) -> dict[str, dict[str, np.ndarray]]:
        from datamint.dataset.regions import Region

        loader, processor = dataset.loader, dataset.processor
        dhw = tuple(loader.header(resources[index]).shape[1:])
        instances, codes = processor.instances(
            annotations[index],
            dhw,
            Region(),
            lambda ann: loader.mask_on_image(ann, resources[index]),
        )
        out: dict[str, dict[str, np.ndarray]] = {}
        for author, masks in instances.items():
            per_label = out.setdefault(author, {})
            for mask, code in zip(masks, codes[author], strict=True):
                label = classes[code - 1]
                if label in per_label:
                    per_label[label] |= mask != 0
                else:
                    per_label[label] = np.asarray(mask) != 0
        return out

    def spacing_of(index: int) -> tuple[float | None, ...] | None:
        geometry = dataset.loader.geometry(resources[index])
        return None if geometry is None else geometry.spacing_mm

    return masks_of, spacing_of


def dataset_agreement(
    dataset: Any,
    labels: Collection[str] | None = None,
    annotators: Collection[str] | None = None,
    *,
    progress: bool = False,
) -> AgreementTable:
    """The agreement table of one dataset (what ``ds.agreement()`` returns).

    Args:
        dataset: A datamint dataset; its filters (annotators, names, trusted sources)
            already apply to what is compared.
        labels: Only these segmentation labels, image labels and category identifiers.
        annotators: Only these annotators (``Annotation.author``).
        progress: Show a progress bar over resources.

    Returns:
        An :class:`AgreementTable` (see :func:`agreement_table` for the rules).

    Raises:
        ValueError: If a resource's masks do not fit together (names it).
    """
    masks_of, spacing_of = dataset_accessors(dataset)
    return agreement_table(
        dataset, masks_of, spacing_of, labels=labels, annotators=annotators, progress=progress
    )


class _Combined:
    """Several datasets' resources as one, each resource once (first dataset wins)."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.resources: list[Any] = []
        self.resource_annotations: list[Any] = []
        self._route: list[tuple[int, int]] = []
        self._accessors = [dataset_accessors(ds) for ds in datasets]
        seen: set[str] = set()
        for d, ds in enumerate(datasets):
            for i, (res, anns) in enumerate(
                zip(ds.resources, ds.resource_annotations, strict=True)
            ):
                if res.id in seen:
                    continue
                seen.add(res.id)
                self.resources.append(res)
                self.resource_annotations.append(anns)
                self._route.append((d, i))

    def masks_of(self, index: int) -> Any:
        d, i = self._route[index]
        return self._accessors[d][0](i)

    def spacing_of(self, index: int) -> Any:
        d, i = self._route[index]
        return self._accessors[d][1](i)


def project_agreement(
    project: str,
    *,
    server_url: str | None = None,
    api_key: str | None = None,
    cache_dir: str | Path | None = None,
    labels: Collection[str] | None = None,
    annotators: Collection[str] | None = None,
    progress: bool = False,
) -> AgreementTable:
    """The agreement table of every resource of a project, whatever its kind.

    Builds an ``ImageDataset``, a ``VolumeDataset`` and a ``VideoDataset`` of the project
    with their default settings (so the default trusted annotation sources apply) and
    compares across their resources together; kappas run over all of them.

    Args:
        project: The project name.
        server_url: Server base URL; default ``DATAMINT_API_URL``, then the config file.
        api_key: API key; default ``DATAMINT_API_KEY``, then the config file.
        cache_dir: Cache root; default ``DATAMINT_CACHE_DIR`` or the user cache dir.
        labels: Only these labels / category identifiers.
        annotators: Only these annotators.
        progress: Show a progress bar over resources.

    Returns:
        An :class:`AgreementTable`.

    Raises:
        DatamintException: If the server cannot be reached, the key is refused or the
            project does not exist (the datasets' errors).
        ValueError: If a resource's masks do not fit together.
    """
    from datamint.dataset.image_dataset import ImageDataset
    from datamint.dataset.video_dataset import VideoDataset
    from datamint.dataset.volume_dataset import VolumeDataset

    kwargs = {"server_url": server_url, "api_key": api_key, "cache_dir": cache_dir}
    datasets = [
        cls(project=project, **kwargs) for cls in (ImageDataset, VolumeDataset, VideoDataset)
    ]
    combined = _Combined(datasets)
    return agreement_table(
        combined,
        combined.masks_of,
        combined.spacing_of,
        labels=labels,
        annotators=annotators,
        progress=progress,
    )
