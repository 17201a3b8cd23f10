"""``SlicedVolumeDataset``: 2-D slices of volumes along one axis.

The class lives in :mod:`datamint.dataset.volume_dataset` next to the dataset it
slices (each returns the other); this module keeps the import path.
"""

from datamint.dataset.volume_dataset import SlicedVolumeDataset

__all__ = ["SlicedVolumeDataset"]
