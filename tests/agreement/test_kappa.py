"""Cohen's and Fleiss' kappa on tables whose values are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datamint.agreement import cohen_kappa, fleiss_kappa, rating_counts

# 50 items: both yes 20, A yes / B no 5, A no / B yes 10, both no 15.
A_YES_NO = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
B_YES_NO = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15

# Fleiss' kappa worked example (10 subjects, 14 raters, 5 categories) as given in the
# Wikipedia article "Fleiss' kappa": P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def test_cohen_two_by_two():
    """p_o = 35/50 = 0.7; p_e = 0.5 x 0.6 + 0.5 x 0.4 = 0.5; kappa = 0.2 / 0.5 = 0.4."""
    result = cohen_kappa(A_YES_NO, B_YES_NO)
    assert (result.observed, result.expected, result.n_items) == (0.7, 0.5, 50)
    assert result.kappa == pytest.approx(0.4)


def test_cohen_three_categories():
    """p_o = 4/6; marginals A (2, 2, 2)/6, B (2, 3, 1)/6: p_e = 12/36; kappa = 0.5."""
    result = cohen_kappa([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0])
    assert result.expected == pytest.approx(1 / 3)
    assert result.kappa == pytest.approx(0.5)


def test_cohen_undefined_cases():
    same = cohen_kappa([1, 1, 1], [1, 1, 1])
    assert math.isnan(same.kappa) and same.observed == 1.0
    assert math.isnan(cohen_kappa([], []).kappa)
    with pytest.raises(ValueError, match="different numbers of items: 2 and 1"):
        cohen_kappa([0, 1], [0])


def test_fleiss_worked_example():
    result = fleiss_kappa(FLEISS_TABLE)
    assert result.observed == pytest.approx(0.378, abs=5e-4)
    assert result.expected == pytest.approx(0.213, abs=5e-4)
    assert result.kappa == pytest.approx(0.210, abs=5e-4)
    assert result.n_items == 10


def test_fleiss_with_two_raters_is_scotts_pi():
    """Pooled marginals yes 55/100, no 45/100: p_e = 0.505, pi = (0.7 - 0.505) / 0.495."""
    items = [{"a": a, "b": b} for a, b in zip(A_YES_NO, B_YES_NO, strict=True)]
    counts, categories = rating_counts(items)
    assert categories == ["yes", "no"] and counts.sum() == 100
    result = fleiss_kappa(counts)
    assert result.kappa == pytest.approx(0.195 / 0.495)
    assert result.kappa != pytest.approx(cohen_kappa(A_YES_NO, B_YES_NO).kappa)


def test_fleiss_with_a_varying_number_of_raters():
    """Gwet's generalisation. Items (2, 0), (1, 1), (3, 0), (0, 1): p_o over the three
    items rated twice or more = (1 + 0 + 1) / 3; pi = mean of per-item shares =
    (0.625, 0.375); p_e = 0.53125; kappa = (2/3 - 17/32) / (15/32) = 13/45."""
    result = fleiss_kappa(np.array([[2, 0], [1, 1], [3, 0], [0, 1], [0, 0]]))
    assert result.observed == pytest.approx(2 / 3)
    assert result.expected == pytest.approx(0.53125)
    assert result.kappa == pytest.approx(13 / 45)
    assert result.n_items == 3


def test_rating_counts_rejects_an_unknown_category():
    with pytest.raises(ValueError, match="rater 'a' gave 2"):
        rating_counts([{"a": 2}], categories=[0, 1])
