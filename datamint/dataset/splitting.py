"""``dataset.split()``: mode selection and the split datasets (contract §9).

Splits always partition *resources*: the slices of one volume, or the frames of
one video, never straddle two splits, also on sliced views.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from datamint.exceptions import DatamintWarning, SplitError
from datamint.splits import SplitResult, local_split, patient_split, project_assignments, utc_now_iso

if TYPE_CHECKING:
    from datamint.dataset.base import DatamintBaseDataset

__all__ = ["FALLBACK_RATIOS", "split_dataset"]

FALLBACK_RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}
_FALLBACK_WARNING = (
    "No split assignments found on the server for this project. Generating a local "
    "train=0.7 / val=0.15 / test=0.15 split. Call parts.save() to persist it to the server."
)


def _result(
    ds: DatamintBaseDataset, parts: dict[str, list[int]], source: str, as_of: str | None
) -> SplitResult:
    result = SplitResult()
    for name, indices in parts.items():
        child = ds.subset(indices)
        child.split_name, child.split_source, child.split_as_of_timestamp = name, source, as_of
        result[name] = child
    return result


def _project_split(ds: DatamintBaseDataset, as_of_timestamp: str | None) -> SplitResult | None:
    """The server's assignment as of ``as_of_timestamp`` (now when None), or None if empty."""
    project = ds.project
    if project is None:
        raise SplitError("project splits need a dataset built from a project")
    resolved = as_of_timestamp or utc_now_iso()
    assignment = project_assignments(ds.api, project.id, as_of_timestamp)
    parts: dict[str, list[int]] = {}
    for i, res in enumerate(ds.resources):
        name = assignment.get(res.id)
        if name is not None:
            parts.setdefault(name, []).append(i)
    if not parts:
        return None
    return _result(ds, parts, "project_api", resolved)


def split_dataset(
    ds: DatamintBaseDataset,
    *,
    seed: int | None = None,
    use_project_splits: bool | None = None,
    as_of_timestamp: str | None = None,
    by_patient: bool = False,
    none_patient_id_strategy: str = "individual",
    **ratios: float,
) -> SplitResult:
    """Split a dataset's resources into named datasets (contract §9).

    Modes, in this order: ``by_patient=True`` (whole patients shuffled and assigned;
    needs ratios); automatic project mode (no ratios, ``use_project_splits`` None, and a
    project or ``as_of_timestamp``): the server's split, falling back to a local
    70/15/15 split with a warning when the server has none; ``use_project_splits=True``:
    the server's split or an error; otherwise a local split by ``ratios``. Local splits
    shuffle with ``random.Random(seed)``; sizes are ``round(ratio * n)`` in keyword
    order and the last split takes the rest.

    Args:
        ds: The dataset (sliced views split by resource too).
        seed: Shuffle seed; None is non-deterministic.
        use_project_splits: See above.
        as_of_timestamp: Replay the project split as it stood at this ISO-8601 instant.
        by_patient: Keep every patient in one split (``resource.patient_id``, falling back
            to ``metadata.PatientID``).
        none_patient_id_strategy: ``'individual'``, ``'group'``, ``'skip'`` or ``'error'``.
        **ratios: split name -> fraction, e.g. ``train=0.8, val=0.2``.

    Returns:
        A :class:`SplitResult`; each dataset has ``split_name``, ``split_source`` and
        ``split_as_of_timestamp`` set.

    Raises:
        SplitError: (a ValueError) for invalid combinations or ratios, or when the server
            has no assignment where one is required.
    """
    n = len(ds.resources)
    if by_patient:
        if not ratios:
            raise SplitError("by_patient=True needs ratios, e.g. train=0.8, val=0.2")
        if use_project_splits:
            raise SplitError("by_patient=True cannot be combined with use_project_splits")
        pids = [r.patient_id for r in ds.resources]
        return _result(ds, patient_split(pids, ratios, seed, none_patient_id_strategy), "local_by_patient", None)
    if use_project_splits is None and not ratios and (ds.project_arg is not None or as_of_timestamp):
        result = _project_split(ds, as_of_timestamp)
        if result is not None:
            return result
        if as_of_timestamp is not None:
            raise SplitError(
                f"the server has no split assignment as of {as_of_timestamp} for this dataset's "
                "resources; as_of_timestamp applies only to project splits"
            )
        warnings.warn(_FALLBACK_WARNING, DatamintWarning, stacklevel=3)
        return _result(ds, local_split(n, FALLBACK_RATIOS, seed), "local", None)
    if use_project_splits:
        if ratios:
            raise SplitError("use_project_splits=True takes no ratios")
        result = _project_split(ds, as_of_timestamp)
        if result is None:
            raise SplitError("the server has no split assignment for this dataset's resources")
        return result
    if as_of_timestamp is not None:
        raise SplitError("as_of_timestamp applies only to project splits (give no ratios)")
    if not ratios:
        raise SplitError("give split ratios, e.g. split(train=0.8, val=0.2, seed=0)")
    return _result(ds, local_split(n, ratios, seed), "local", None)
