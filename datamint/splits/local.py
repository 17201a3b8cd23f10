"""Local splits: seeded shuffles of resources or of patients, optionally stratified.

The shuffle is ``random.Random(seed).shuffle`` (Python's Mersenne Twister), so a seed
gives the same split on every machine, process and ``PYTHONHASHSEED``. Nothing here
iterates over a set or a hash-ordered mapping.

Counting, unstratified: every split but the last gets ``round(ratio * n)`` units (Python's
round: half to even); the last takes the remainder, which may be empty.

Counting, stratified (``strata`` given): within each stratum of ``n_c`` units, split
``s`` gets ``floor(ratio_s * n_c)`` or one more, so each split holds its ideal share of
every class to within one unit (the largest-remainder method); the extra units go to the
splits furthest below their overall share, keeping split sizes close to ``ratio * n``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping, Sequence

from datamint.exceptions import SplitError

__all__ = [
    "NONE_PATIENT_STRATEGIES",
    "allocate",
    "local_split",
    "patient_groups",
    "patient_split",
    "validate_ratios",
]

NONE_PATIENT_STRATEGIES = ("individual", "group", "skip", "error")


def validate_ratios(ratios: Mapping[str, float]) -> None:
    """Check split ratios.

    Raises:
        SplitError: (a ValueError) unless there are at least 2 splits, every ratio is
            a number > 0, and the ratios sum to 1 within 0.01.
    """
    if len(ratios) < 2:
        raise SplitError(
            f"split needs at least 2 named ratios, e.g. train=0.8, val=0.2; got {dict(ratios)}"
        )
    for name, ratio in ratios.items():
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio > 0:
            raise SplitError(f"split ratio {name}={ratio!r} must be a number > 0")
    total = sum(ratios.values())
    if abs(total - 1.0) > 0.01:
        raise SplitError(f"split ratios must sum to 1 (±0.01); {dict(ratios)} sums to {total:.4f}")


def _counts(n: int, ratios: Mapping[str, float]) -> list[int]:
    """Unstratified sizes: round() for all but the last split, which takes the rest."""
    counts = []
    taken = 0
    for name in list(ratios)[:-1]:
        c = max(0, min(round(ratios[name] * n), n - taken))
        counts.append(c)
        taken += c
    return [*counts, n - taken]


def _stratified_counts(sizes: Sequence[int], ratios: Mapping[str, float]) -> list[list[int]]:
    """Per stratum, per split counts (see the module docstring)."""
    shares = [r / sum(ratios.values()) for r in ratios.values()]
    k = len(shares)
    ideal_total = [0.0] * k
    given_total = [0] * k
    table = []
    for n_c in sizes:
        ideal = [s * n_c for s in shares]
        counts = [math.floor(x + 1e-9) for x in ideal]
        for s in range(k):
            ideal_total[s] += ideal[s]
        rest = n_c - sum(counts)
        order = sorted(
            range(k),
            key=lambda s: (
                -(ideal_total[s] - given_total[s] - counts[s]),
                -(ideal[s] - counts[s]),
                s,
            ),
        )
        for s in order[:rest]:
            counts[s] += 1
        for s in range(k):
            given_total[s] += counts[s]
        table.append(counts)
    return table


def allocate(
    n_units: int,
    ratios: Mapping[str, float],
    seed: int | None,
    strata: Sequence[Hashable] | None = None,
) -> dict[str, list[int]]:
    """Assign units ``0..n_units-1`` to named splits.

    Args:
        n_units: Number of units (resources, or patients).
        ratios: split name -> fraction, in split order.
        seed: Seed for ``random.Random``; None is non-deterministic.
        strata: Per unit, its class (any hashable with a stable ``repr``); None for an
            unstratified split.

    Returns:
        split name -> unit indices (in shuffled order).

    Raises:
        SplitError: If the ratios are invalid, or ``strata`` has the wrong length.
    """
    validate_ratios(ratios)
    rng = random.Random(seed)
    names = list(ratios)
    if strata is None:
        order = list(range(n_units))
        rng.shuffle(order)
        out: dict[str, list[int]] = {}
        start = 0
        for name, count in zip(names, _counts(n_units, ratios), strict=True):
            out[name] = order[start : start + count]
            start += count
        return out
    if len(strata) != n_units:
        raise SplitError(f"strata has {len(strata)} entries for {n_units} units")
    by_stratum: dict[Hashable, list[int]] = {}
    for unit, stratum in enumerate(strata):
        by_stratum.setdefault(stratum, []).append(unit)
    keys = sorted(by_stratum, key=repr)  # a stable order, independent of hash seeds
    table = _stratified_counts([len(by_stratum[key]) for key in keys], ratios)
    out = {name: [] for name in names}
    for key, counts in zip(keys, table, strict=True):
        units = by_stratum[key]
        rng.shuffle(units)
        start = 0
        for name, count in zip(names, counts, strict=True):
            out[name].extend(units[start : start + count])
            start += count
    return out


def local_split(
    n: int, ratios: Mapping[str, float], seed: int | None, strata: Sequence[Hashable] | None = None
) -> dict[str, list[int]]:
    """Shuffle ``0..n-1`` and cut it by ``ratios`` (see :func:`allocate`).

    Returns:
        split name -> item indices, each list sorted.

    Raises:
        SplitError: If the ratios are invalid.
    """
    return {name: sorted(idx) for name, idx in allocate(n, ratios, seed, strata).items()}


def patient_groups(
    patient_ids: Sequence[str | None], none_patient_id_strategy: str = "individual"
) -> list[list[int]]:
    """Group item indices by patient, in order of first appearance.

    Items without a patient id follow ``none_patient_id_strategy``: ``'individual'``
    (each its own pseudo-patient), ``'group'`` (one shared group), ``'skip'`` (left out)
    or ``'error'``.

    Raises:
        SplitError: On an unknown strategy, or a missing id under ``'error'``.
    """
    if none_patient_id_strategy not in NONE_PATIENT_STRATEGIES:
        raise SplitError(
            f"none_patient_id_strategy={none_patient_id_strategy!r} is not one of "
            f"{NONE_PATIENT_STRATEGIES}"
        )
    groups: dict[Hashable, list[int]] = {}
    for i, pid in enumerate(patient_ids):
        if pid is None:
            if none_patient_id_strategy == "error":
                raise SplitError(
                    f"item {i} has no patient id (none_patient_id_strategy='error'); set "
                    "patient_id on the resource or choose 'individual', 'group' or 'skip'"
                )
            if none_patient_id_strategy == "skip":
                continue
            key: Hashable = (
                ("__no_patient__", i) if none_patient_id_strategy == "individual" else None
            )
        else:
            key = pid
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def patient_split(
    patient_ids: Sequence[str | None],
    ratios: Mapping[str, float],
    seed: int | None,
    none_patient_id_strategy: str = "individual",
    strata: Sequence[Hashable] | None = None,
) -> dict[str, list[int]]:
    """Split items so that every patient's items land in one split.

    Patients are the units: they are shuffled and counted like items in
    :func:`allocate`. With ``strata`` (per item), a patient's stratum is the most
    common one among its items (ties: the smallest ``repr``).

    Args:
        patient_ids: Per item, its patient id or None.
        ratios: split name -> fraction (of patients).
        seed: Seed for ``random.Random``.
        none_patient_id_strategy: See :func:`patient_groups`.
        strata: Per item, its class, or None.

    Returns:
        split name -> item indices, each list sorted.

    Raises:
        SplitError: On invalid ratios, an unknown strategy, or a missing id under ``'error'``.
    """
    groups = patient_groups(patient_ids, none_patient_id_strategy)
    group_strata = None
    if strata is not None:
        group_strata = [_majority([strata[i] for i in group]) for group in groups]
    cut = allocate(len(groups), ratios, seed, group_strata)
    return {name: sorted(i for g in idx for i in groups[g]) for name, idx in cut.items()}


def _majority(values: Sequence[Hashable]) -> Hashable:
    counts: dict[str, tuple[int, Hashable]] = {}
    for v in values:
        n, _ = counts.get(repr(v), (0, v))
        counts[repr(v)] = (n + 1, v)
    _, value = min(counts.values(), key=lambda nv: (-nv[0], repr(nv[1])))
    return value
