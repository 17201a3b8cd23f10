"""Datasets by id: ``demo[kind=volume,plane=axial,merge=mode,semantic=true]``.

An id names a project and, in brackets, a variant of its dataset (which class, slicing,
mask merging; see :mod:`datamint.catalog.ids`). :func:`prepare_dataset` downloads what an
id needs into this node's cache and records it; :func:`get_dataset` builds it from that
cache with no server; :func:`find_dataset` reads the server's metadata only;
:class:`Context` says where things live and what is prepared.

Modules: ``ids`` (parsing ids, the variant axes, building the dataset object),
``context`` (:class:`Context`, the on-disk markers), ``prepare`` (the three functions).
"""

from __future__ import annotations

from datamint.catalog.context import Context, PreparedDataset
from datamint.catalog.ids import DATASET_VARIANTS, DatasetId, build_variant, parse_id
from datamint.catalog.prepare import DatasetInfo, find_dataset, get_dataset, prepare_dataset

__all__ = [
    "DATASET_VARIANTS",
    "Context",
    "DatasetId",
    "DatasetInfo",
    "PreparedDataset",
    "build_variant",
    "find_dataset",
    "get_dataset",
    "parse_id",
    "prepare_dataset",
]
