"""Albumentations transforms applied to an item's image and instance masks.

Randomness: :class:`TransformRunner` seeds the transform from the DataLoader worker's
seed (``torch.utils.data.get_worker_info().seed``, which PyTorch derives from the
loader's base seed + worker id, new each epoch unless workers persist) or, in the main
process, from ``torch.initial_seed()``. So two workers never repeat each other's
augmentations, and ``torch.manual_seed(s)`` before building the loader makes a run
repeat exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["TransformRunner", "apply_2d", "apply_3d", "current_seed"]


def current_seed() -> int:
    """The seed of this DataLoader worker, or the process's torch seed, modulo 2**32."""
    info = torch.utils.data.get_worker_info()
    seed = info.seed if info is not None else torch.initial_seed()
    return int(seed) % 2**32


class TransformRunner:
    """A user's albumentations transform, seeded per worker, with its ``ReplayCompose``.

    Args:
        transform: An albumentations transform or ``Compose``.
    """

    def __init__(self, transform: Any) -> None:
        self.transform = transform
        self._replay: Any = None
        self._seed: int | None = None

    def _reseed(self) -> None:
        seed = current_seed()
        if seed != self._seed:
            self._seed = seed
            self.transform.set_random_seed(seed)
            if self._replay is not None:
                self._replay.set_random_seed(seed)

    def run_2d(
        self,
        image: np.ndarray,
        instances: dict[str, list[np.ndarray]],
        boxes: dict[str, torch.Tensor] | None,
    ) -> tuple[Any, dict[str, list[np.ndarray]], dict[str, torch.Tensor] | None]:
        """:func:`apply_2d` with this runner's seeded transform."""
        self._reseed()
        return apply_2d(self.transform, image, instances, boxes)

    def run_3d(
        self, volume: np.ndarray, instances: dict[str, list[np.ndarray]]
    ) -> tuple[Any, dict[str, list[np.ndarray]]]:
        """:func:`apply_3d` with one ``ReplayCompose`` kept (and seeded) for the process."""
        if self._replay is None:
            import albumentations as alb

            self._replay = alb.ReplayCompose([self.transform])
            self._seed = None
        self._reseed()
        return apply_3d(self._replay, volume, instances)

    def __getstate__(self) -> dict[str, Any]:
        return {"transform": self.transform}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["transform"])  # type: ignore[misc]


def _split_back(flat: Sequence[Any], counts: dict[str, int]) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    pos = 0
    for author, n in counts.items():
        out[author] = [np.asarray(m, dtype=np.uint8) for m in flat[pos : pos + n]]
        pos += n
    return out


def apply_2d(
    transform: Any,
    image: np.ndarray,
    instances: dict[str, list[np.ndarray]],
    boxes: dict[str, torch.Tensor] | None = None,
) -> tuple[Any, dict[str, list[np.ndarray]], dict[str, torch.Tensor] | None]:
    """Run a 2-D albumentations transform.

    The transform is called with ``image`` ``(H, W, C)``, ``masks`` (a flat list over
    authors and instances, each ``(H, W)``) and, when boxes are requested, ``bboxes``
    plus ``labels`` (so the pipeline needs ``bbox_params`` with ``label_fields=['labels']``).

    Args:
        transform: An ``albumentations`` transform or ``Compose``.
        image: ``(C, H, W)``.
        instances: author -> list of ``(H, W)`` uint8 masks.
        boxes: ``{"boxes": (N, 4), "box_labels": (N,)}`` or None.

    Returns:
        The image as ``(C, H', W')`` ndarray, or the tensor ``ToTensorV2`` made; the
        transformed instances; the transformed boxes (or None).
    """
    counts = {a: len(ms) for a, ms in instances.items()}
    flat = [m for ms in instances.values() for m in ms]
    kwargs: dict[str, Any] = {"image": np.moveaxis(np.asarray(image), 0, -1)}
    if flat:
        kwargs["masks"] = flat
    if boxes is not None:
        kwargs["bboxes"] = boxes["boxes"].numpy()
        kwargs["labels"] = boxes["box_labels"].numpy()
    result = transform(**kwargs)
    out_image = result["image"]
    if isinstance(out_image, np.ndarray):
        out_image = np.moveaxis(out_image, -1, 0) if out_image.ndim == 3 else out_image[None]
    new_instances = _split_back(result.get("masks", []), counts)
    new_boxes = None
    if boxes is not None:
        new_boxes = {
            "boxes": torch.as_tensor(np.asarray(result["bboxes"], dtype=np.float32)).reshape(-1, 4),
            "box_labels": torch.as_tensor(np.asarray(result["labels"], dtype=np.int64)),
        }
    return out_image, new_instances, new_boxes


def apply_3d(
    replay: Any, volume: np.ndarray, instances: dict[str, list[np.ndarray]]
) -> tuple[Any, dict[str, list[np.ndarray]]]:
    """Run a ``ReplayCompose`` on a volume, replaying it on every instance.

    It is called with ``volume`` ``(D, H, W, C)``; the recorded parameters are replayed
    with ``mask3d`` on each instance mask ``(D, H, W)``, so every instance gets the same
    random crop, flip, etc. as the image.

    Args:
        replay: ``albumentations.ReplayCompose([transform])`` (build it once: a new one
            re-seeds its children from OS entropy).
        volume: ``(C, D, H, W)``.
        instances: author -> list of ``(D, H, W)`` uint8 masks.

    Returns:
        The volume as ``(C, D', H', W')`` (ndarray, or a tensor when ``ToTensorV2`` is in
        the pipeline) and the transformed instances.
    """
    data = replay(volume=np.ascontiguousarray(np.moveaxis(np.asarray(volume), 0, -1)))
    out = data["volume"]
    new_instances = {
        author: [
            np.asarray(
                replay.replay(data["replay"], mask3d=np.asarray(m))["mask3d"], dtype=np.uint8
            )
            for m in masks
        ]
        for author, masks in instances.items()
    }
    if isinstance(out, np.ndarray):
        out = np.moveaxis(out, -1, 0)
        if _has_to_tensor(replay):  # albumentations' ToTensorV2 leaves a volume as an ndarray
            out = torch.from_numpy(np.ascontiguousarray(out))
    elif isinstance(out, torch.Tensor) and out.ndim == 4 and out.shape[-1] == volume.shape[0]:
        out = out.permute(3, 0, 1, 2)
    return out, new_instances


def _has_to_tensor(transform: Any) -> bool:
    """Whether ``ToTensorV2`` is anywhere in an albumentations pipeline."""
    if type(transform).__name__ == "ToTensorV2":
        return True
    return any(_has_to_tensor(t) for t in getattr(transform, "transforms", ()) or ())
