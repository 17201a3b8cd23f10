"""k-fold cross-validation over resources or patients."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from datamint.exceptions import SplitError
from datamint.splits.local import _majority, allocate, patient_groups

__all__ = ["kfold_indices"]


def kfold_indices(
    n: int,
    k: int,
    seed: int | None,
    *,
    patient_ids: Sequence[str | None] | None = None,
    none_patient_id_strategy: str = "individual",
    strata: Sequence[Hashable] | None = None,
) -> list[tuple[list[int], list[int]]]:
    """``k`` folds whose validation parts partition the items.

    Units (items, or patients when ``patient_ids`` is given) are allocated to ``k``
    equal-ratio folds by :func:`datamint.splits.local.allocate`'s largest-remainder
    counting (stratified when ``strata`` is given), so fold sizes differ by at most one
    unit; fold ``i`` validates on its own units and trains on the rest.

    Args:
        n: Number of items.
        k: Number of folds, 2 <= k <= number of units.
        seed: Seed for ``random.Random``.
        patient_ids: Per item, its patient id; keeps each patient in one fold.
        none_patient_id_strategy: For items without a patient id (see ``patient_groups``).
        strata: Per item, its class.

    Returns:
        ``[(train_indices, val_indices), ...]``, each list sorted.

    Raises:
        SplitError: If ``k`` is out of range.
    """
    if patient_ids is not None:
        groups = patient_groups(patient_ids, none_patient_id_strategy)
    else:
        groups = [[i] for i in range(n)]
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= len(groups):
        raise SplitError(
            f"k={k!r} folds needs an integer between 2 and the {len(groups)} units to split"
        )
    # One stratum when unstratified: largest-remainder counting keeps fold sizes within one
    # of each other (the round()-then-remainder rule of splits would not: 23 / 5 -> 5,5,5,5,3).
    unit_strata = (
        [0] * len(groups) if strata is None else [_majority([strata[i] for i in g]) for g in groups]
    )
    folds = allocate(len(groups), {f"fold{i}": 1 / k for i in range(k)}, seed, unit_strata)
    members = [sorted(i for g in units for i in groups[g]) for units in folds.values()]
    everything = sorted(i for g in groups for i in g)
    out = []
    for val in members:
        held = set(val)
        out.append(([i for i in everything if i not in held], val))
    return out
