"""Make pydicom datasets picklable, so DICOM metainfo can cross a DataLoader worker boundary.

pydicom 3 wraps a multi-valued element whose values already have the right type in a
``MultiValue`` whose ``_constructor`` is a function local to
``DataElement._convert_value`` (``_skip_conversion``). Python cannot pickle a local
function, so pickling such a dataset raises ``AttributeError: Can't pickle local object``
(seen on the palette lookup table descriptors (0028,1101)-(0028,1103) of a palette-colour
ultrasound image). In a DataLoader worker that failure happens in the queue's feeder
thread, and the main process waits for the lost batch forever.

:func:`register` installs a ``copyreg`` reducer for ``MultiValue`` that pickles its values
with a module-level constructor when the original one cannot be pickled by name; values
and their types are kept. It is installed when :mod:`datamint.readers.dicom` is imported.
"""

from __future__ import annotations

import copyreg
from typing import Any

from pydicom.multival import MultiValue

__all__ = ["register", "unchanged"]


def unchanged(value: Any) -> Any:
    """The identity: a picklable stand-in for a local ``MultiValue`` constructor."""
    return value


def _reduce(values: MultiValue[Any]) -> tuple[Any, tuple[Any, list[Any]]]:
    constructor = getattr(values, "_constructor", unchanged)
    if "<locals>" in getattr(constructor, "__qualname__", "<locals>"):
        constructor = unchanged
    return MultiValue, (constructor, list(values))


def register() -> None:
    """Install the ``MultiValue`` reducer (idempotent)."""
    copyreg.pickle(MultiValue, _reduce)
