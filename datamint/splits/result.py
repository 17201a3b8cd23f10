"""The result of ``split()``: a dict of datasets that can be saved as a project split."""

from __future__ import annotations

from typing import Any

from datamint.exceptions import SplitError

__all__ = ["SplitResult"]


class SplitResult(dict):  # type: ignore[type-arg]
    """A ``dict`` of split name -> dataset, in split order.

    Each dataset carries ``split_name``, ``split_source`` (``'local'``,
    ``'local_by_patient'`` or ``'project_api'``) and ``split_as_of_timestamp``.
    """

    def save(self, force: bool = False) -> None:
        """Store this split on the server as the project's split (contract §9.5).

        Sends ``POST /projects/{pid}/splits`` once per split, in order, empty ones
        included. Nothing is deleted: the server re-assigns resources.

        Args:
            force: Overwrite when the project already has assignments.

        Raises:
            SplitError: If the datasets have no project, or the project already has
                assignments and ``force`` is false.
        """
        if not self:
            return
        first: Any = next(iter(self.values()))
        project = first.project
        if project is None:
            raise SplitError("only a dataset built from a project can save its split to the server")
        api = first.api
        if not force and api.get_project_splits(project.id):
            raise SplitError(
                f"project {project.name!r} already has split assignments; pass force=True to "
                "re-assign (earlier assignments stay replayable with as_of_timestamp)"
            )
        for name, dataset in self.items():
            api.assign_split(project.id, [r.id for r in dataset.resources], name)
