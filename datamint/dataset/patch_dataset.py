"""``PatchVolumeDataset``: 3-D patches of volumes, random (training) or on a grid (inference).

The class lives in :mod:`datamint.dataset.volume_dataset` next to the dataset it
cuts (each returns the other); this module keeps the import path.
"""

from datamint.dataset.volume_dataset import PatchVolumeDataset, grid_spec, patch_spec

__all__ = ["PatchVolumeDataset", "grid_spec", "patch_spec"]
