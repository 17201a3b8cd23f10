"""Local splits: seeded shuffles of resources or of patients (contract §9.2).

The shuffle is ``random.Random(seed).shuffle`` (Python's Mersenne Twister), so a
seed gives the same split on every machine and Python 3 version. Every split but
the last gets ``round(ratio * n)`` items (Python's round: half to even); the last
takes the remainder, which may be empty.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence

from datamint.exceptions import SplitError

__all__ = ["local_split", "patient_split", "validate_ratios"]

NONE_PATIENT_STRATEGIES = ("individual", "group", "skip", "error")


def validate_ratios(ratios: Mapping[str, float]) -> None:
    """Check split ratios.

    Raises:
        SplitError: (a ValueError) unless there are at least 2 splits, every ratio is
            > 0, and the ratios sum to 1 within 0.01.
    """
    if len(ratios) < 2:
        raise SplitError(f"split needs at least 2 named ratios, e.g. train=0.8, val=0.2; got {dict(ratios)}")
    for name, ratio in ratios.items():
        if not isinstance(ratio, int | float) or ratio <= 0:
            raise SplitError(f"split ratio {name}={ratio!r} must be a number > 0")
    total = sum(ratios.values())
    if abs(total - 1.0) > 0.01:
        raise SplitError(f"split ratios must sum to 1 (±0.01); {dict(ratios)} sums to {total:.4f}")


def _counts(n: int, ratios: Mapping[str, float]) -> list[int]:
    names = list(ratios)
    counts = [round(ratios[name] * n) for name in names[:-1]]
    taken = 0
    for i, c in enumerate(counts):  # never hand out more than n
        counts[i] = max(0, min(c, n - taken))
        taken += counts[i]
    return [*counts, n - taken]


def local_split(n: int, ratios: Mapping[str, float], seed: int | None) -> dict[str, list[int]]:
    """Shuffle ``0..n-1`` and cut it by ``ratios``, in keyword order.

    Args:
        n: Number of items (resources).
        ratios: split name -> fraction.
        seed: Seed for ``random.Random``; None is non-deterministic.

    Returns:
        split name -> item indices.

    Raises:
        SplitError: If the ratios are invalid (see :func:`validate_ratios`).
    """
    validate_ratios(ratios)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    out: dict[str, list[int]] = {}
    start = 0
    for name, count in zip(ratios, _counts(n, ratios), strict=True):
        out[name] = order[start : start + count]
        start += count
    return out


def patient_split(
    patient_ids: Sequence[str | None],
    ratios: Mapping[str, float],
    seed: int | None,
    none_patient_id_strategy: str = "individual",
) -> dict[str, list[int]]:
    """Split items so that every patient's items land in one split.

    Patients (in order of first appearance) are shuffled and counted like items in
    :func:`local_split`. Items without a patient id follow ``none_patient_id_strategy``:
    ``'individual'`` (each its own pseudo-patient), ``'group'`` (one shared group),
    ``'skip'`` (left out) or ``'error'``.

    Args:
        patient_ids: Per item, its patient id or None.
        ratios: split name -> fraction (of patients).
        seed: Seed for ``random.Random``.
        none_patient_id_strategy: See above.

    Returns:
        split name -> item indices.

    Raises:
        SplitError: On invalid ratios, an unknown strategy, or a missing id under ``'error'``.
    """
    validate_ratios(ratios)
    if none_patient_id_strategy not in NONE_PATIENT_STRATEGIES:
        raise SplitError(
            f"none_patient_id_strategy={none_patient_id_strategy!r} is not one of {NONE_PATIENT_STRATEGIES}"
        )
    groups: dict[Hashable, list[int]] = {}
    for i, pid in enumerate(patient_ids):
        if pid is None:
            if none_patient_id_strategy == "error":
                raise SplitError(f"item {i} has no patient id (none_patient_id_strategy='error')")
            if none_patient_id_strategy == "skip":
                continue
            key: Hashable = ("__no_patient__", i) if none_patient_id_strategy == "individual" else None
        else:
            key = pid
        groups.setdefault(key, []).append(i)
    patients = list(groups)
    cut = local_split(len(patients), ratios, seed)
    return {name: sorted(i for p in idx for i in groups[patients[p]]) for name, idx in cut.items()}
