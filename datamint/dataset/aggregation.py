"""Per-patch predictions back into one volume: sliding-window aggregation.

:class:`PatchAggregator` sums each patch's prediction, weighted, into the voxels the
patch covers and divides by the summed weights. ``mode="gaussian"`` weights voxels near
a patch's centre more than those at its border, where a network sees less context
(nnU-Net; MONAI ``sliding_window_inference(mode="gaussian", sigma_scale=0.125)``);
``mode="average"`` weights every voxel 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from datamint.dataset.patch_region import grid_starts, parse_overlap, parse_size

__all__ = ["AGGREGATION_MODES", "PatchAggregator", "gaussian_importance"]

AGGREGATION_MODES = ("gaussian", "average")


def gaussian_importance(
    size: Sequence[int], sigma_scale: float = 0.125, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The Gaussian importance map of a patch, ``(D, H, W)``.

    ``exp(-x^2 / (2 sigma^2))`` per axis with ``x`` the distance in voxels from voxel
    ``size // 2`` and ``sigma = sigma_scale * size``, multiplied over the axes,
    normalised to a maximum of 1, values that underflow to 0 raised to the smallest
    nonzero one (as nnU-Net's and MONAI's ``compute_importance_map``, which sample the
    same Gaussian through a filter kernel).

    Args:
        size: Patch size ``(D, H, W)``.
        sigma_scale: Sigma as a fraction of the size (nnU-Net and MONAI: 0.125).
        dtype: The result's dtype.

    Raises:
        ValueError: For a non-positive ``sigma_scale``.
    """
    if not sigma_scale > 0:
        raise ValueError(f"sigma_scale must be > 0; got {sigma_scale!r}")
    weights = torch.ones((), dtype=torch.float64)
    for n in parse_size(tuple(size)):
        x = torch.arange(n, dtype=torch.float64) - n // 2
        weights = weights[..., None] * torch.exp(-0.5 * (x / (sigma_scale * n)) ** 2)
    weights = weights / weights.max()
    weights = weights.clamp_min(weights[weights > 0].min())
    return weights.to(dtype)


def _tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    return torch.as_tensor(np.asarray(value))


class PatchAggregator:
    """Collects predictions of a volume's patches into one volume prediction.

    Feed every patch of a grid (``VolumeDataset.grid``, or :attr:`locations`) through
    :meth:`add` in any order and any batching, then call :meth:`result`. Patches may
    extend past the volume (padded patches): the part outside is dropped.

    Args:
        volume_shape: The volume's ``(D, H, W)``.
        size: Patch size ``(D, H, W)`` (or one int).
        overlap: The grid's overlap (voxels, or fractions of ``size``; see
            ``VolumeDataset.grid``); it decides :attr:`locations` only.
        mode: ``"gaussian"`` (default) or ``"average"`` (module docstring).
        sigma_scale: The Gaussian's sigma as a fraction of the patch size.
        dtype: The dtype sums are kept in (float32; float64 for exact sums of many
            overlapping patches).
        device: Where sums are kept; default: the device of the first predictions.

    Raises:
        ValueError: For an unknown mode, or a bad shape, size or overlap.
    """

    def __init__(
        self,
        volume_shape: Sequence[int],
        size: int | Sequence[int],
        overlap: float | Sequence[float] = 0,
        mode: str = "gaussian",
        *,
        sigma_scale: float = 0.125,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device | None = None,
    ) -> None:
        if mode not in AGGREGATION_MODES:
            raise ValueError(f"mode must be one of {AGGREGATION_MODES}; got {mode!r}")
        self.volume_shape = parse_size(tuple(volume_shape))
        self.size = parse_size(size)
        self.overlap = parse_overlap(overlap, self.size)
        self.mode = mode
        self.dtype = dtype
        self.device = None if device is None else torch.device(device)
        self._weights_patch = (
            gaussian_importance(self.size, sigma_scale, dtype)
            if mode == "gaussian"
            else torch.ones(self.size, dtype=dtype)
        )
        self._sum: torch.Tensor | None = None
        self._weight: torch.Tensor | None = None

    @property
    def locations(self) -> np.ndarray:
        """int64 ``(n, 6)``: every grid patch ``(d0, h0, w0, d1, h1, w1)`` of this volume,
        in the order ``VolumeDataset.grid`` numbers them (``d`` slowest)."""
        starts = [
            grid_starts(s, p, o)
            for s, p, o in zip(self.volume_shape, self.size, self.overlap, strict=True)
        ]
        grid = np.stack(np.meshgrid(*starts, indexing="ij"), axis=-1).reshape(-1, 3)
        return np.concatenate([grid, grid + np.asarray(self.size)], axis=1).astype(np.int64)

    def add(self, predictions: Any, locations: Any) -> None:
        """Add a batch of patch predictions.

        Args:
            predictions: ``(B, C, D, H, W)`` (tensor on any device, or array), ``(D, H,
                W)`` the patch size; C the same in every call.
            locations: int ``(B, 6)``: each patch's ``(d0, h0, w0, d1, h1, w1)`` (the
                items' ``location``).

        Raises:
            ValueError: If the shapes do not match the patch size, the channel count
                changes, or a location is not a patch of this size.
        """
        preds = _tensor(predictions)
        locs = _tensor(locations).to("cpu", torch.int64).reshape(-1, 6)
        if preds.ndim != 5 or tuple(preds.shape[2:]) != self.size or len(preds) != len(locs):
            raise ValueError(
                f"predictions must be (B, C, {', '.join(map(str, self.size))}) with one "
                f"location each; got {tuple(preds.shape)} and {len(locs)} locations"
            )
        if self._sum is None:
            device = self.device or preds.device
            self._sum = torch.zeros(
                (preds.shape[1], *self.volume_shape), dtype=self.dtype, device=device
            )
            self._weight = torch.zeros(self.volume_shape, dtype=self.dtype, device=device)
            self._weights_patch = self._weights_patch.to(device)
        assert self._weight is not None
        if preds.shape[1] != self._sum.shape[0]:
            raise ValueError(
                f"predictions have {preds.shape[1]} channels, earlier ones {self._sum.shape[0]}"
            )
        preds = preds.to(self._sum.device, self.dtype)
        for pred, loc in zip(preds, locs.tolist(), strict=True):
            start, stop = loc[:3], loc[3:]
            if [b - a for a, b in zip(start, stop, strict=True)] != list(self.size):
                raise ValueError(f"location {loc} is not a patch of size {self.size}")
            lo = [min(max(a, 0), n) for a, n in zip(start, self.volume_shape, strict=True)]
            hi = [min(max(b, 0), n) for b, n in zip(stop, self.volume_shape, strict=True)]
            if any(a >= b for a, b in zip(lo, hi, strict=True)):
                continue  # wholly outside the volume
            inner = tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start, strict=True))
            outer = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
            weight = self._weights_patch[inner]
            channels_out = (slice(None), *outer)
            channels_in = (slice(None), *inner)
            self._sum[channels_out] += pred[channels_in] * weight
            self._weight[outer] += weight

    def result(self) -> torch.Tensor:
        """The aggregated prediction, ``(C, D, H, W)`` of ``dtype`` on the sums' device.

        Raises:
            ValueError: If nothing was added, or some voxels got no prediction (names
                how many; a grid that misses patches).
        """
        if self._sum is None or self._weight is None:
            raise ValueError("no prediction was added")
        missing = int((self._weight == 0).sum())
        if missing:
            raise ValueError(
                f"{missing} of {self._weight.numel()} voxels got no prediction; add every "
                "patch of the grid (see .locations)"
            )
        return self._sum / self._weight
