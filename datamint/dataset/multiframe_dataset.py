"""``MultiFrameDataset``: the shared base of volumes and videos (items ``(C, N, H, W)``)."""

from __future__ import annotations

from typing import Any

from datamint.dataset.base import DatamintBaseDataset
from datamint.dataset.regions import Region

__all__ = ["MultiFrameDataset"]


class MultiFrameDataset(DatamintBaseDataset):
    """Items hold a whole resource: ``image`` ``(C, N, H, W)``, masks ``(…, N, H, W)``.

    See :class:`~datamint.dataset.base.DatamintBaseDataset` for the arguments.
    """

    def _get_item(self, index: int) -> dict[str, Any]:
        return self._make_item(index, Region())
