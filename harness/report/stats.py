"""Summary statistics across seeds: mean, Student-t 95% confidence interval, Welch's t-test."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
CI_METHOD = "Student's t-interval"
TEST_METHOD = "Welch's t-test"


@dataclass(frozen=True)
class Summary:
    mean: float
    half: float | None   # CI half-width; None when n < 2
    n: int
    std: float | None

    @property
    def lo(self) -> float:
        return self.mean - (self.half or 0.0)

    @property
    def hi(self) -> float:
        return self.mean + (self.half or 0.0)


def _clean(values) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a[np.isfinite(a)]


def summarize(values) -> Summary | None:
    """Mean and 95% t-interval half-width of the finite values; None when there are none."""
    a = _clean(values)
    n = len(a)
    if n == 0:
        return None
    mean = float(a.mean())
    if n < 2:
        return Summary(mean, None, n, None)
    std = float(a.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * std / math.sqrt(n))
    return Summary(mean, half, n, std)


def t_interval(values) -> tuple[float, float]:
    """(low, high) of the 95% t-interval, for seaborn's ``errorbar=`` callable."""
    s = summarize(values)
    if s is None:
        return (math.nan, math.nan)
    return (s.lo, s.hi)


def significant(a, b) -> bool | None:
    """Whether the means of two samples differ at the 5% level (Welch); None if untestable."""
    a, b = _clean(a), _clean(b)
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1), b.var(ddof=1)
    if va == 0 and vb == 0:
        return bool(a.mean() != b.mean())
    with warnings.catch_warnings():  # nearly identical samples: scipy warns, the verdict stands
        warnings.simplefilter("ignore", RuntimeWarning)
        p = stats.ttest_ind(a, b, equal_var=False).pvalue
    if not math.isfinite(p):
        return bool(a.mean() != b.mean())
    return bool(p < ALPHA)


def delta_pct(value: float, reference: float) -> float | None:
    if reference == 0 or not math.isfinite(reference) or not math.isfinite(value):
        return None
    return (value - reference) / abs(reference) * 100.0


def geomean_delta_pct(values: list[float], references: list[float]) -> float | None:
    """Geometric mean of value/reference ratios, as a percent change; None when undefined."""
    ratios = [v / r for v, r in zip(values, references)
              if math.isfinite(v) and math.isfinite(r) and v > 0 and r > 0]
    if len(ratios) < 2 or len(ratios) != len(values):
        return None
    return (math.exp(sum(math.log(x) for x in ratios) / len(ratios)) - 1.0) * 100.0
