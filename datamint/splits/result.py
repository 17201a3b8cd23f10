"""The result of ``split()``: a dict of datasets that can be saved as a project split."""

from __future__ import annotations

from typing import Any

from datamint.exceptions import SplitError
from datamint.splits.spec import parse_spec, resolve_part

__all__ = ["SplitResult"]


class SplitResult(dict):  # type: ignore[type-arg]
    """A ``dict`` of split name -> dataset, in split order.

    Each dataset carries ``split_name``, ``split_source`` (``'local'``,
    ``'local_by_patient'`` or ``'project_api'``) and ``split_as_of_timestamp``.
    """

    def save(self, force: bool = False) -> None:
        """Store this split on the server as the project's split.

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

    def select(self, spec: str) -> Any:
        """One dataset from a split spec, e.g. ``"train[:10%]+val"``.

        The grammar is that of Hugging Face ``ReadInstruction`` (see
        :mod:`datamint.splits.spec`): absolute or percent bounds, ``+`` to concatenate,
        ``(pct1_dropremainder)`` rounding. Bounds count resources in split order.

        Args:
            spec: The spec.

        Returns:
            A dataset of the selected resources, in spec order, with ``split_name`` set to
            ``spec`` and the parts' ``split_source`` / ``split_as_of_timestamp`` when they
            agree (else None).

        Raises:
            SplitError: (a ValueError) for an unparsable spec or an unknown split name;
                the message lists the split names.
        """
        parts = parse_spec(spec)
        chosen = []
        for part in parts:
            if part.name not in self:
                raise SplitError(
                    f"split spec {spec!r} names {part.name!r}; the splits are {list(self)}"
                )
            dataset = self[part.name]
            prepared = dataset.prepared
            chosen.append((dataset, prepared, resolve_part(part, len(prepared))))
        first = chosen[0][0]
        combined = type(first.prepared).combine([(p, pos) for _, p, pos in chosen])
        out = first._derive(prepared=combined)
        sources = {d.split_source for d, _, _ in chosen}
        stamps = {d.split_as_of_timestamp for d, _, _ in chosen}
        out.split_name = spec
        out.split_source = sources.pop() if len(sources) == 1 else None
        out.split_as_of_timestamp = stamps.pop() if len(stamps) == 1 else None
        return out
