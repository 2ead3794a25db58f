"""Aggregates over runs x tasks with stratified-bootstrap confidence intervals (rliable's methods).

Agarwal et al. (2021), "Deep Reinforcement Learning at the Edge of the Statistical Precipice",
recommend reporting, for scores ``[R runs, T tasks]``:

* the mean and the interquartile mean (IQM: the mean of the middle 50% of all ``R x T`` scores,
  25% cut at each end as ``scipy.stats.trim_mean`` cuts);
* 95% confidence intervals from a *stratified* bootstrap: every replicate resamples the runs
  with replacement, independently for each task, and the interval is the 2.5th to 97.5th
  percentile of the replicates' statistic;
* the probability of improvement ``P(X > Y)``: for each task the probability that a run of X
  scores above a run of Y (ties count one half; the Mann-Whitney U statistic over runs),
  averaged over tasks.

Written here with numpy, as the paper defines them, rather than taken from the ``rliable``
package, whose dependencies (``arch``, ``scipy``, ``seaborn``) metarl does not otherwise need.
Scores where lower is better (errors) are compared as they are: ``P(X > Y)`` is then the
probability that X is *worse*.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

REPLICATES = 2000


class Estimate(NamedTuple):
    """A statistic and its 95% stratified-bootstrap confidence interval."""

    value: float
    low: float
    high: float


def iqm(scores: np.ndarray, axis: tuple[int, ...] | None = None) -> np.ndarray:
    """Interquartile mean of all ``scores`` (``axis=None``), or of each ``scores[i]`` (any other
    ``axis``, as ``np.mean(x, axis=(1, 2))`` for bootstrap replicates): the mean after cutting
    ``int(0.25 * n)`` values from each end, as ``scipy.stats.trim_mean(x, 0.25)`` does."""
    a = np.asarray(scores, dtype=float)
    flat = np.sort(a.reshape(1, -1) if axis is None else a.reshape(a.shape[0], -1), axis=-1)
    cut = int(0.25 * flat.shape[-1])
    out = flat[:, cut:flat.shape[-1] - cut].mean(axis=-1)
    return out[0] if axis is None else out


def _resample(scores: np.ndarray, rng: np.random.Generator, replicates: int) -> np.ndarray:
    """``[replicates, R, T]``: runs resampled with replacement, independently per task."""
    runs, tasks = scores.shape
    index = rng.integers(0, runs, size=(replicates, runs, tasks))
    return scores[index, np.arange(tasks)]


def _interval(value: float, samples: np.ndarray) -> Estimate:
    low, high = np.percentile(samples, [2.5, 97.5])
    return Estimate(float(value), float(low), float(high))


def aggregate(scores: np.ndarray, statistic: str = "mean", seed: int = 0,
              replicates: int = REPLICATES) -> Estimate:
    """The ``mean`` or ``iqm`` of scores ``[R runs, T tasks]``, with its 95% CI."""
    fn: Callable[..., np.ndarray] = {"mean": np.mean, "iqm": iqm}[statistic]
    scores = np.asarray(scores, dtype=float)
    boot = _resample(scores, np.random.default_rng(seed), replicates)
    return _interval(float(fn(scores)), fn(boot, axis=(1, 2)))


def probability_of_improvement(x: np.ndarray, y: np.ndarray, seed: int = 0,
                               replicates: int = REPLICATES) -> Estimate:
    """``P(X > Y)`` of scores ``x [R_x, T]`` and ``y [R_y, T]`` on the same tasks, with its CI
    (the runs of X and of Y resampled independently, per task)."""
    def p(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # a [..., Ra, T], b [..., Rb, T]
        greater = (a[..., :, None, :] > b[..., None, :, :]).mean(axis=(-3, -2))
        ties = (a[..., :, None, :] == b[..., None, :, :]).mean(axis=(-3, -2))
        return (greater + 0.5 * ties).mean(axis=-1)

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    return _interval(float(p(x, y)), p(_resample(x, rng, replicates),
                                      _resample(y, rng, replicates)))


def difference(x: np.ndarray, y: np.ndarray, paired: bool, seed: int = 0,
               replicates: int = REPLICATES) -> Estimate:
    """Mean of X minus mean of Y over runs x tasks, with its CI. ``paired``: the same runs
    (training seeds) of the same tasks, resampled together, which removes what the runs share."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    if paired:
        if x.shape != y.shape:
            raise ValueError(f"paired scores need the same runs and tasks: {x.shape} and {y.shape}")
        return aggregate(x - y, "mean", seed, replicates)
    boot = _resample(x, rng, replicates).mean(axis=(1, 2)) - \
        _resample(y, rng, replicates).mean(axis=(1, 2))
    return _interval(float(x.mean() - y.mean()), boot)
