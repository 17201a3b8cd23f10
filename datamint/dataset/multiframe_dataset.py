"""``MultiFrameDataset``: the shared base of volumes and videos (items ``(C, N, H, W)``)."""

from __future__ import annotations

from datamint.dataset.base import DatamintBaseDataset

__all__ = ["MultiFrameDataset"]


class MultiFrameDataset(DatamintBaseDataset):
    """Items hold a whole resource: ``image`` ``(C, N, H, W)``, masks ``(..., N, H, W)``.

    See :class:`~datamint.dataset.base.DatamintBaseDataset` for the arguments.
    """
