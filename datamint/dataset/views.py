"""``DatasetView``: what the helpers of a dataset (splitting, lineage, prefetch) read from
it, stated as a Protocol.

The dataset classes call these helpers; the helpers type their argument with this
Protocol instead of importing the classes, so no module of the package imports one that
imports it back. :class:`~datamint.dataset.base.DatamintBaseDataset` satisfies it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from datamint.api.reader import ProjectReader
    from datamint.dataset.config import DatasetConfig
    from datamint.dataset.label_schema import LabelSchema
    from datamint.dataset.loading import ItemLoader
    from datamint.dataset.prepared import Prepared
    from datamint.dataset.source import DataSource
    from datamint.entities import Annotation, Project, Resource

__all__ = ["DatasetView", "V"]

V = TypeVar("V", bound="DatasetView")


class DatasetView(Protocol):
    """A prepared dataset, as its helpers see it.

    Attributes:
        split_name: The split part it is, or None.
        split_source: Where the split came from (``'local'``, ``'project_api'`` ...).
        split_as_of_timestamp: The instant a project split was replayed at.
        fold: The fold index of a ``kfold`` part, else None.
    """

    split_name: str | None
    split_source: str | None
    split_as_of_timestamp: str | None
    fold: int | None

    @property
    def config(self) -> DatasetConfig:
        """The settings."""
        ...

    @property
    def source(self) -> DataSource:
        """The client, recorder and loader."""
        ...

    @property
    def api(self) -> ProjectReader:
        """The client."""
        ...

    @property
    def loader(self) -> ItemLoader:
        """This process's loader."""
        ...

    @property
    def prepared(self) -> Prepared:
        """The prepared records (prepares on first access)."""
        ...

    @property
    def schema(self) -> LabelSchema:
        """The label schema."""
        ...

    @property
    def project(self) -> Project | None:
        """The project, or None."""
        ...

    @property
    def plane(self) -> str | None:
        """What each item cuts: a plane, ``'frame'``, or None for whole resources."""
        ...

    def __len__(self) -> int:
        """The number of items."""
        ...

    def items(self) -> Iterator[tuple[Resource, list[Annotation]]]:
        """``(resource, annotations)`` pairs, in order."""
        ...

    def subset(self: V, indices: Sequence[int]) -> V:
        """The dataset of the resources at ``indices``."""
        ...
