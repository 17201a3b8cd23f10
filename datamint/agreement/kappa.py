"""Chance-corrected agreement on nominal ratings: Cohen's kappa and Fleiss' kappa.

Both are ``(p_o - p_e) / (1 - p_e)``: observed agreement corrected by the agreement
expected by chance. They differ in the chance model.

- Cohen's kappa (Cohen 1960, *Educational and Psychological Measurement* 20(1):37-46): two
  raters on the same items, chance from each rater's own marginal frequencies,
  ``p_e = Σ_k p_a(k) p_b(k)``. Same values as scikit-learn's ``cohen_kappa_score``
  (unweighted), implemented here in a few lines rather than adding scikit-learn.
- Fleiss' kappa (Fleiss 1971, *Psychological Bulletin* 76(5):378-382): any number of
  raters per item, chance from the pooled category frequencies. With a varying number of
  raters per item we use Gwet's generalisation (Gwet 2014, *Handbook of Inter-Rater
  Reliability*, 4th ed., ch. 2; R package irrCAC, ``fleiss.kappa.raw``): ``p_o`` is the
  mean over items rated at least twice of ``Σ_k r_ik (r_ik - 1) / (r_i (r_i - 1))``, and
  ``p_e = Σ_k π_k²`` with ``π_k`` the mean over rated items of ``r_ik / r_i``. With the
  same number of raters on every item this is Fleiss' 1971 formula exactly.

Undefined values
    When ``p_e == 1`` (every rating in one category) kappa is 0/0: the functions return
    ``nan``; the observed agreement (1.0 then) tells the rest. No item in common gives
    ``nan`` as well.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["KappaResult", "cohen_kappa", "fleiss_kappa", "rating_counts"]


@dataclass(frozen=True)
class KappaResult:
    """A kappa statistic with its parts.

    Attributes:
        kappa: ``(observed - expected) / (1 - expected)``; ``nan`` when undefined.
        observed: Observed agreement ``p_o`` in [0, 1] (``nan`` with no item).
        expected: Chance agreement ``p_e`` in [0, 1] (``nan`` with no item).
        n_items: Items that entered the statistic.
    """

    kappa: float
    observed: float
    expected: float
    n_items: int


def _kappa(observed: float, expected: float) -> float:
    if math.isnan(observed) or math.isnan(expected) or expected >= 1.0 - 1e-12:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> KappaResult:
    """Cohen's kappa of two raters on the same items (Cohen 1960; nominal, unweighted).

    Args:
        a: Rater A's category for each item (any hashable values, e.g. 0/1 or names).
        b: Rater B's category for the same items, in the same order.

    Returns:
        A :class:`KappaResult`; ``kappa`` is ``nan`` when there is no item or when
        both raters put every item in one and the same category.

    Raises:
        ValueError: If ``a`` and ``b`` differ in length.
    """
    if len(a) != len(b):
        raise ValueError(f"the raters rated different numbers of items: {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return KappaResult(math.nan, math.nan, math.nan, 0)
    categories = {c: i for i, c in enumerate(dict.fromkeys([*a, *b]))}
    ia = np.fromiter((categories[c] for c in a), np.int64, n)
    ib = np.fromiter((categories[c] for c in b), np.int64, n)
    k = len(categories)
    observed = float(np.mean(ia == ib))
    pa = np.bincount(ia, minlength=k) / n
    pb = np.bincount(ib, minlength=k) / n
    expected = float(pa @ pb)
    return KappaResult(_kappa(observed, expected), observed, expected, n)


def fleiss_kappa(counts: np.ndarray) -> KappaResult:
    """Fleiss' kappa from an items x categories count table (Fleiss 1971; Gwet 2014).

    Args:
        counts: Integer array ``(n_items, n_categories)``: how many raters put item i in
            category k. Rows may sum to different numbers of raters (module docstring);
            rows summing to 0 are ignored, rows summing to 1 count only in ``p_e``.

    Returns:
        A :class:`KappaResult`; ``n_items`` counts the items rated at least twice.
        ``kappa`` is ``nan`` when no item has two ratings or ``p_e == 1``.

    Raises:
        ValueError: If ``counts`` is not 2-D or has negative entries.
    """
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError(f"counts must be (n_items, n_categories), got shape {table.shape}")
    if (table < 0).any():
        raise ValueError("counts must not be negative")
    raters = table.sum(axis=1)
    table, raters = table[raters > 0], raters[raters > 0]
    multi = raters >= 2
    if not multi.any():
        return KappaResult(math.nan, math.nan, math.nan, 0)
    pairs = (table[multi] * (table[multi] - 1)).sum(axis=1)
    observed = float(np.mean(pairs / (raters[multi] * (raters[multi] - 1))))
    pi = (table / raters[:, None]).mean(axis=0)
    expected = float(pi @ pi)
    return KappaResult(_kappa(observed, expected), observed, expected, int(multi.sum()))


def rating_counts(
    ratings: Iterable[Mapping[str, Hashable]], categories: Sequence[Hashable] | None = None
) -> tuple[np.ndarray, list[Hashable]]:
    """The count table :func:`fleiss_kappa` takes, from each item's ratings.

    Args:
        ratings: Per item, rater -> category (raters who did not rate it are absent).
        categories: The category order; default: order of first appearance.

    Returns:
        ``(counts, categories)``: int64 ``(n_items, n_categories)`` and the column order.

    Raises:
        ValueError: If a rating is not in ``categories``.
    """
    items = [dict(r) for r in ratings]
    order = list(categories) if categories is not None else []
    if categories is None:
        for item in items:
            for value in item.values():
                if value not in order:
                    order.append(value)
    index = {c: i for i, c in enumerate(order)}
    counts = np.zeros((len(items), len(order)), dtype=np.int64)
    for row, item in enumerate(items):
        for rater, value in item.items():
            if value not in index:
                raise ValueError(f"rater {rater!r} gave {value!r}, not one of {order}")
            counts[row, index[value]] += 1
    return counts, order
