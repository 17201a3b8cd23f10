"""``Annotation``, as items carry it (its home is :mod:`datamint.entities.annotation`)."""

from datamint.entities.annotation import Annotation

__all__ = ["Annotation"]
