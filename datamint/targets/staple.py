"""STAPLE: a consensus of binary raters with each rater's sensitivity and specificity.

Simultaneous Truth And Performance Level Estimation (Warfield, Zou & Wells 2004, *IEEE
Transactions on Medical Imaging* 23(7):903-921), binary case with a global prior, run as
ITK's ``STAPLEImageFilter`` runs it:

- start from W = the mean vote of the raters at each voxel; the prior ``g`` of a voxel
  being foreground is the mean of W over all voxels (all decisions / (raters x voxels)),
  kept fixed;
- M-step: rater j's sensitivity ``p_j = Σ_i W_i D_ij / Σ_i W_i`` and specificity
  ``q_j = Σ_i (1 - W_i)(1 - D_ij) / Σ_i (1 - W_i)``;
- E-step: ``W_i = g a_i / (g a_i + (1 - g) b_i)`` with ``a_i = Π_j p_j^D_ij (1 - p_j)^(1 - D_ij)``
  and ``b_i = Π_j q_j^(1 - D_ij) (1 - q_j)^D_ij``;
- stop when no ``p_j`` or ``q_j`` moved by more than ``tol`` in one iteration.

W depends on a voxel only through its column of decisions, so the iterations run over the
distinct decision patterns (at most ``2**R``) weighted by their voxel counts: the cost of an
iteration does not grow with the image.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from datamint.exceptions import DatamintWarning

__all__ = ["StapleEstimate", "staple"]

_BINCOUNT_MAX_RATERS = 16  # up to 2**16 patterns counted with bincount, else np.unique


class StapleEstimate(NamedTuple):
    """What :func:`staple` returns (a 3-tuple).

    Attributes:
        probabilities: float32, the decisions' spatial shape: posterior probability
            ``W`` that each voxel is truly foreground. Threshold at 0.5 for the STAPLE
            segmentation.
        sensitivity: float64 ``(R,)``: each rater's estimated true-positive rate ``p``;
            ``nan`` when the estimated truth has no foreground (nobody marked anything).
        specificity: float64 ``(R,)``: each rater's estimated true-negative rate ``q``;
            ``nan`` when the estimated truth has no background (everyone marked everything).
    """

    probabilities: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray


def _patterns(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct columns of ``flat`` (R, N) bool.

    Returns:
        ``(patterns (R, K) bool, counts (K,), inverse (N,))``: column i of ``flat`` is
        ``patterns[:, inverse[i]]``.
    """
    n_raters = flat.shape[0]
    if n_raters <= _BINCOUNT_MAX_RATERS:
        codes = np.zeros(flat.shape[1], dtype=np.int32)
        for j in range(n_raters):
            codes |= flat[j].astype(np.int32) << j
        all_counts = np.bincount(codes, minlength=1 << n_raters)
        present = np.flatnonzero(all_counts)
        patterns = ((present[None, :] >> np.arange(n_raters)[:, None]) & 1).astype(bool)
        lookup = np.zeros(1 << n_raters, dtype=np.int64)
        lookup[present] = np.arange(present.size)
        return patterns, all_counts[present], lookup[codes]
    patterns, inverse, counts = np.unique(flat, axis=1, return_inverse=True, return_counts=True)
    return patterns, counts, inverse.reshape(-1)


def _posterior(
    patterns: np.ndarray, p: np.ndarray, q: np.ndarray, log_prior_odds: float, prior: float
) -> np.ndarray:
    """E-step: W per pattern, from log-likelihoods (exact zeros and ones kept).

    Where both likelihoods are 0 (a rater with p = 1 says no while one with q = 1 says
    yes), the ratio is undefined and W falls back to the prior.
    """
    col = (slice(None), None)
    with np.errstate(divide="ignore"):
        log_a = np.where(patterns, np.log(p)[col], np.log1p(-p)[col]).sum(axis=0)
        log_b = np.where(patterns, np.log1p(-q)[col], np.log(q)[col]).sum(axis=0)
    with np.errstate(invalid="ignore"):
        w = expit(log_prior_odds + log_a - log_b)
    return np.where(np.isnan(w), prior, w)


def staple(decisions: np.ndarray, max_iter: int = 1000, tol: float = 1e-7) -> StapleEstimate:
    """Estimate the true segmentation and each rater's performance with STAPLE.

    Binary STAPLE with a global prior (Warfield, Zou & Wells 2004), iterated as ITK's
    ``STAPLEImageFilter`` (module docstring); the two agree to about 1e-6.

    Args:
        decisions: ``(R, ...)``: R raters' binary masks of one spatial shape (any dtype,
            non-zero is foreground), e.g. bool ``(R, D, H, W)``.
        max_iter: Most EM iterations; a :class:`DatamintWarning` is issued when it is
            reached before convergence.
        tol: Convergence: stop once no sensitivity or specificity changes by more than
            this in one iteration (1e-7 matches ITK's squared-change bound of 1e-14).

    Returns:
        ``(probabilities, sensitivity, specificity)``, a :class:`StapleEstimate`. Nobody
        marking anything gives probabilities 0, sensitivity ``nan``, specificity 1;
        everybody marking everything gives probabilities 1, sensitivity 1, specificity
        ``nan``.

    Raises:
        ValueError: If ``decisions`` has no rater axis or no rater, ``max_iter < 1`` or
            ``tol <= 0``.
    """
    d = np.asarray(decisions)
    if d.ndim < 1 or d.shape[0] == 0:
        raise ValueError(f"decisions must be (R, ...) with R >= 1 raters, got shape {d.shape}")
    if max_iter < 1 or not tol > 0:
        raise ValueError(f"need max_iter >= 1 and tol > 0, got {max_iter} and {tol}")
    n_raters, spatial = d.shape[0], d.shape[1:]
    flat = (d != 0).reshape(n_raters, -1)
    n_voxels = flat.shape[1]
    total = int(flat.sum())
    if n_voxels == 0 or total == 0:
        return StapleEstimate(
            np.zeros(spatial, np.float32), np.full(n_raters, np.nan), np.ones(n_raters)
        )
    if total == n_raters * n_voxels:
        return StapleEstimate(
            np.ones(spatial, np.float32), np.ones(n_raters), np.full(n_raters, np.nan)
        )
    patterns, counts, inverse = _patterns(flat)
    decided = patterns.astype(np.float64)  # (R, K)
    weight = counts.astype(np.float64)  # (K,)
    w = decided.mean(axis=0)  # initial W: the mean vote
    prior = float(weight @ w) / n_voxels
    log_prior_odds = math.log(prior) - math.log1p(-prior)
    p = q = np.full(n_raters, np.nan)
    for _ in range(max_iter):
        fg, bg = w * weight, (1.0 - w) * weight
        # clipped: a rate can round to just above 1
        new_p = np.clip((decided @ fg) / fg.sum(), 0.0, 1.0)
        new_q = np.clip(((1.0 - decided) @ bg) / bg.sum(), 0.0, 1.0)
        done = bool(
            np.all(np.abs(new_p - p) <= tol) and np.all(np.abs(new_q - q) <= tol)
        )  # nan (first pass) compares False
        p, q = new_p, new_q
        w = _posterior(patterns, p, q, log_prior_odds, prior)
        if done:
            break
    else:
        warnings.warn(
            f"STAPLE did not converge in {max_iter} iterations (tol={tol}); "
            "the last estimate is returned",
            DatamintWarning,
            stacklevel=2,
        )
    return StapleEstimate(w[inverse].reshape(spatial).astype(np.float32), p, q)
