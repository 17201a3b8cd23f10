"""The shared base of entities: a mapping-backed, read-only record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Entity:
    """A server record with attribute access.

    Args:
        record: The JSON object as sent by the server. It is copied; unknown keys are kept.
    """

    __slots__ = ("_record",)

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._record = dict(record)

    @property
    def id(self) -> str:
        """The entity's UUID string."""
        return str(self._record["id"])

    @property
    def record(self) -> dict[str, Any]:
        """A copy of the record as sent by the server."""
        return dict(self._record)

    def get(self, key: str, default: Any = None) -> Any:
        """Return a raw record field, or ``default``."""
        return self._record.get(key, default)

    def __getstate__(self) -> dict[str, Any]:
        return {"record": self._record}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._record = state["record"]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._record == self._record  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._record.get("id")))
