"""STAPLE (Warfield, Zou & Wells 2004) on synthetic raters of known performance.

The truth is a few boxes; each rater keeps a truly-foreground voxel with probability p
(sensitivity) and marks a truly-background voxel with probability 1 - q (specificity q).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from datamint.exceptions import DatamintWarning
from datamint.targets.staple import staple

SENSITIVITY = np.array([0.95, 0.80, 0.90, 0.70, 0.85])
SPECIFICITY = np.array([0.99, 0.97, 0.995, 0.93, 0.98])


def _truth(shape=(16, 48, 48)) -> np.ndarray:
    truth = np.zeros(shape, bool)
    truth[3:12, 8:30, 10:28] = True
    truth[5:14, 30:44, 30:46] = True
    return truth


def _raters(truth: np.ndarray, p=SENSITIVITY, q=SPECIFICITY, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    draws = rng.random((len(p), *truth.shape))
    p = np.asarray(p).reshape(-1, *[1] * truth.ndim)
    q = np.asarray(q).reshape(-1, *[1] * truth.ndim)
    return np.where(truth, draws < p, draws > q)


def _reference_step(decisions: np.ndarray, w: np.ndarray, prior: float):
    """One M-step then E-step of the paper, voxel by voxel (no pattern compression)."""
    d = decisions.reshape(len(decisions), -1).astype(np.float64)
    w = w.reshape(-1).astype(np.float64)
    p = (d * w).sum(1) / w.sum()
    q = ((1 - d) * (1 - w)).sum(1) / (1 - w).sum()
    a = prior * np.prod(np.where(d == 1, p[:, None], 1 - p[:, None]), axis=0)
    b = (1 - prior) * np.prod(np.where(d == 1, 1 - q[:, None], q[:, None]), axis=0)
    return p, q, a / (a + b)


def test_recovers_the_raters_performance():
    truth = _truth()
    decisions = _raters(truth)
    w, p, q = staple(decisions)
    # the realised rates of each synthetic rater, against the truth it was drawn from
    realised_p = (decisions & truth).sum((1, 2, 3)) / truth.sum()
    realised_q = (~decisions & ~truth).sum((1, 2, 3)) / (~truth).sum()
    np.testing.assert_allclose(p, realised_p, atol=0.01)
    np.testing.assert_allclose(q, realised_q, atol=0.005)
    assert w.dtype == np.float32 and w.shape == truth.shape
    assert np.mean((w >= 0.5) == truth) > 0.99  # better than any single rater
    assert np.mean((w >= 0.5) == truth) > max(np.mean(d == truth) for d in decisions)


def test_is_a_fixed_point_of_the_published_iteration():
    decisions = _raters(_truth(), seed=1)
    w, p, q = staple(decisions, tol=1e-10)
    prior = decisions.mean()
    ref_p, ref_q, ref_w = _reference_step(decisions, w, prior)
    np.testing.assert_allclose(ref_p, p, atol=1e-8)
    np.testing.assert_allclose(ref_q, q, atol=1e-8)
    np.testing.assert_allclose(ref_w, w.reshape(-1), atol=1e-6)


def test_many_raters_take_the_unique_pattern_path():
    """17 raters: more patterns than the bincount table holds."""
    rng = np.random.default_rng(2)
    p = rng.uniform(0.7, 0.95, 17)
    q = rng.uniform(0.9, 0.99, 17)
    decisions = _raters(_truth((6, 24, 24)), p, q, seed=3)
    w, sens, spec = staple(decisions, tol=1e-10)
    ref_p, ref_q, ref_w = _reference_step(decisions, w, decisions.mean())
    np.testing.assert_allclose(ref_p, sens, atol=1e-8)
    np.testing.assert_allclose(ref_q, spec, atol=1e-8)
    np.testing.assert_allclose(ref_w, w.reshape(-1), atol=1e-6)


def test_matches_simpleitk():
    sitk = pytest.importorskip(
        "SimpleITK", reason="SimpleITK (test extra) is needed to compare with ITK's STAPLE"
    )
    decisions = _raters(_truth(), seed=4)
    w, p, q = staple(decisions)
    itk = sitk.STAPLEImageFilter()
    itk.SetForegroundValue(1.0)
    out = itk.Execute([sitk.GetImageFromArray(d.astype(np.uint8)) for d in decisions])
    np.testing.assert_allclose(w, sitk.GetArrayFromImage(out), atol=1e-6)
    np.testing.assert_allclose(p, itk.GetSensitivity(), atol=1e-9)
    np.testing.assert_allclose(q, itk.GetSpecificity(), atol=1e-9)


def test_degenerate_inputs():
    empty = np.zeros((3, 4, 4), bool)
    w, p, q = staple(empty)
    assert not w.any() and np.isnan(p).all() and (q == 1).all()
    w, p, q = staple(~empty)
    assert (w == 1).all() and (p == 1).all() and np.isnan(q).all()
    one = np.zeros((1, 5, 5), bool)
    one[0, 1:3, 1:4] = True
    w, p, q = staple(one)
    np.testing.assert_array_equal(w, one[0].astype(np.float32))
    assert (p[0], q[0]) == (1.0, 1.0)


def test_bad_arguments_and_non_convergence():
    with pytest.raises(ValueError, match="R >= 1 raters"):
        staple(np.zeros((0, 3, 3), bool))
    with pytest.raises(ValueError, match="max_iter >= 1"):
        staple(np.zeros((2, 3, 3), bool), max_iter=0)
    with pytest.warns(DatamintWarning, match="did not converge in 1 iterations"):
        _, p, _ = staple(_raters(_truth((4, 16, 16))), max_iter=1)
    assert not math.isnan(p[0])


def test_rates_that_round_above_one_stay_valid():
    """Raters that all contain one mask: a rate rounds to 1 + 1 ulp without clipping, and the
    log of 1 - rate then warns (an error under the test settings)."""
    rng = np.random.default_rng(0)
    for _ in range(10):
        n = rng.integers(2, 5)
        shape = (rng.integers(1, 8), rng.integers(5, 40), rng.integers(5, 40))
        base = rng.random(shape) < rng.random()
        noise = [rng.random(shape) < 0.01 * rng.integers(0, 3) for _ in range(n)]
        _, p, q = staple(np.stack([base | extra for extra in noise]))
        assert np.all((p >= 0) & (p <= 1)) and np.all((q >= 0) & (q <= 1))
