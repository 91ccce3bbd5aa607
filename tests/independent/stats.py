"""Wilson score interval and the pooled two-proportion test, from the textbook formulas (numpy/scipy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

Z95 = float(norm.ppf(0.975))


def ratio(numerator, denominator) -> pd.Series:
    """numerator / denominator, missing where the denominator is 0 or missing."""
    num = pd.Series(numerator, dtype="float64")
    den = pd.Series(denominator, dtype="float64")
    return (num / den).where(den.fillna(0) != 0)


def wilson(successes, trials, z: float = Z95) -> tuple[pd.Series, pd.Series]:
    """95% Wilson score interval (low, high); missing when there are no trials."""
    k = pd.Series(successes, dtype="float64")
    n = pd.Series(trials, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    ok = n.fillna(0) > 0
    return (centre - half).clip(lower=0).where(ok), (centre + half).clip(upper=1).where(ok)


def two_proportion(k1: float, n1: float, k2: float, n2: float) -> str:
    """'significant' / 'not_significant' at 95%, or 'too_few' when an expected count under the pooled rate is < 5."""
    if not n1 or not n2:
        return "too_few"
    pooled = (k1 + k2) / (n1 + n2)
    if min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)) < 5:
        return "too_few"
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return "significant" if abs(k1 / n1 - k2 / n2) / se >= Z95 else "not_significant"
