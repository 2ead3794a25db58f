"""Summary statistics: means with 95% confidence intervals (Student's t, no SciPy needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence

# two-sided 95% quantiles of Student's t for 1..30 degrees of freedom
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (1.96 beyond 120)."""
    if df < 1:
        raise ValueError(f"degrees of freedom df={df} must be >= 1")
    if df <= 30:
        return _T975[df - 1]
    # interpolate in 1/df between 30 (2.042), 60 (2.000), 120 (1.980) and infinity (1.960)
    for lo, hi, q_lo, q_hi in ((30, 60, 2.042, 2.000), (60, 120, 2.000, 1.980)):
        if df <= hi:
            w = (1 / df - 1 / hi) / (1 / lo - 1 / hi)
            return q_hi + w * (q_lo - q_hi)
    return 1.960 + (1.980 - 1.960) * 120 / df


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% confidence interval (half-width NaN for fewer than 2)."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci95 needs at least one value")
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t_quantile_975(n - 1) * math.sqrt(var / n)
