"""Where each segmentation class is, per volume: indexed once, shared by every worker.

Foreground-centred patches need a random voxel of a class. Searching the masks for it
per item would read whole volumes; instead, the first draw for a ``(volume, class)``
stores the sorted flat indices (C order over the volume's ``(D, H, W)``) of every voxel
that any annotator marked with that class, as one ``.npy`` in the array cache
(:class:`~datamint.storage.array_cache.ArrayCache`: atomic writes under a per-key lock,
so concurrent workers build it once per node, then memory-map it). The dtype is int32
(int64 for volumes of 2**31 voxels or more): 4 bytes per foreground voxel.

The key holds the volume's version, its shape, the class and the version of every
annotation that contributes (id, dates, file, sha256), so a new, edited or deleted mask
gives a new index and never a stale one.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from datamint.dataset.annotation_processor import AnnotationProcessor
from datamint.dataset.loading import ItemLoader
from datamint.dataset.regions import Region
from datamint.entities import Annotation, Resource
from datamint.storage.layout import annotation_version_info

__all__ = ["FOREGROUND_RULES_VERSION", "ForegroundIndex"]

FOREGROUND_RULES_VERSION = "1"  # bump when what counts as foreground changes


class ForegroundIndex:
    """Flat foreground voxel indices per ``(volume, class)``, cached on disk.

    Args:
        loader: This process's loader (masks on the image grid, the array cache).
        processor: The dataset's annotation processor (gathers each class's masks,
            frame-scoped ones included).
        memo_size: ``(volume, class)`` indices kept open in this process.
    """

    def __init__(
        self, loader: ItemLoader, processor: AnnotationProcessor, memo_size: int = 256
    ) -> None:
        self.loader = loader
        self.processor = processor
        self.memo_size = memo_size
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()

    def voxels(
        self,
        resource: Resource,
        annotations: Sequence[Annotation],
        dhw: Sequence[int],
        label: str,
    ) -> np.ndarray:
        """The flat indices of the voxels of class ``label`` in ``resource``.

        Args:
            resource: The volume.
            annotations: Its annotations after the dataset's filters.
            dhw: The volume's ``(D, H, W)``.
            label: A segmentation class name.

        Returns:
            A read-only sorted int32 (or int64) ``(N,)`` array, ``N >= 0``; recover
            ``(d, h, w)`` with ``np.unravel_index(i, dhw)``.

        Raises:
            AnnotationError: If a mask does not fit the volume (names the annotation).
        """
        chosen = [a for a in annotations if a.is_segmentation and a.identifier == label]
        if not chosen:
            return np.zeros(0, dtype=np.int32)
        versions = sorted(
            [a.id, json.dumps(annotation_version_info(a.record), sort_keys=True, default=str)]
            for a in chosen
        )
        key = {
            "op": "foreground",
            "rules": FOREGROUND_RULES_VERSION,
            "resource": json.dumps(self.loader.version(resource), default=str),
            "dhw": [int(n) for n in dhw],
            "label": label,
            "annotations": versions,
        }
        memo_key = json.dumps(key, sort_keys=True)
        found = self._memo.get(memo_key)
        if found is not None:
            self._memo.move_to_end(memo_key)
            return found

        def build() -> tuple[np.ndarray, dict[str, Any]]:
            instances, _ = self.processor.instances(
                chosen,
                dhw,
                Region(),
                lambda ann: self.loader.mask_on_image(ann, resource),
            )
            union = np.zeros(tuple(int(n) for n in dhw), dtype=bool)
            for masks in instances.values():
                for mask in masks:
                    union |= np.asarray(mask, dtype=bool)
            dtype = np.int32 if union.size < 2**31 else np.int64
            return np.flatnonzero(union).astype(dtype), {"voxels": int(union.sum())}

        array, _ = self.loader.array_cache.get_or_build(key, build)
        self._memo[memo_key] = array
        if len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)
        return array

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_memo"] = OrderedDict()
        return state
