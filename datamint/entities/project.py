"""A project: the unit a dataset is built from."""

from __future__ import annotations

from datamint.entities.base import Entity


class Project(Entity):
    """A Datamint project. Build from a ``GET /projects`` record."""

    @property
    def name(self) -> str:
        """The project's name; datasets find a project by exact name."""
        return str(self._record.get("name", ""))

    @property
    def description(self) -> str | None:
        """Free text, or None."""
        return self._record.get("description")

    @property
    def worklist_id(self) -> str | None:
        """The project's main worklist id, when the server sends one."""
        return self._record.get("worklist_id")

    def __repr__(self) -> str:
        return f"Project(id={self._record.get('id')!r}, name={self.name!r})"
