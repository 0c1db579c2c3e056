"""Statistics across seeds: summaries with Student-t intervals, and tests of a difference.

Runs at the same seed share every random stream (arrivals, keys, fault plans: common random
numbers), so two settings compared at the same seeds are *paired*: the differences of paired runs
vary far less than the runs themselves, and a paired test sees a change that Welch's test on
independent samples would miss. :func:`paired` is the paired t-test and t-interval on those
differences (the standard analysis of common random numbers: Law & Kelton, *Simulation Modeling
and Analysis*, 5th ed., section 10.2, "paired-t confidence interval"). Welch's test remains for
samples that share no seeds.

Why not Wilcoxon's signed-rank test: its exact two-sided p-value can never fall below 2 / 2^n, so
with the 3 to 5 seeds a suite usually has it cannot reach p < 0.05 at all (n = 5 gives at best
0.0625). The paired t-test can, once n >= 2, and says so honestly through a wide interval when
the differences disagree.
"""

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
PAIRED_METHOD = "paired t-test on per-seed differences"


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


def welch_p(a, b) -> float | None:
    """Two-sided p-value of Welch's t-test on two independent samples; None if untestable
    (fewer than 2 values on a side). Two constant samples: 0 if they differ, else 1."""
    a, b = _clean(a), _clean(b)
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1), b.var(ddof=1)
    if va == 0 and vb == 0:
        return 0.0 if a.mean() != b.mean() else 1.0
    with warnings.catch_warnings():  # nearly identical samples: scipy warns, the verdict stands
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    if not math.isfinite(p):
        return 0.0 if a.mean() != b.mean() else 1.0
    return p


def significant(a, b) -> bool | None:
    """Whether the means of two samples differ at the 5% level (Welch); None if untestable."""
    p = welch_p(a, b)
    return None if p is None else bool(p < ALPHA)


MIN_SEEDS = 2
"""The fewest seeds with which the paired t-test (or Welch's) can reach p < ALPHA at all."""


def wilcoxon_min_seeds(alpha: float = ALPHA) -> int:
    """The fewest pairs with which Wilcoxon's exact two-sided signed-rank test can reach p < alpha:
    its smallest p-value is 2 / 2^n (every difference of one sign), so 6 at the 5% level."""
    n = 1
    while 2 / 2 ** n >= alpha:
        n += 1
    return n


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


@dataclass(frozen=True)
class Paired:
    """A paired comparison of ``new`` against ``base`` over the seeds both have.

    ``diff`` is the mean of the per-seed differences new − base; ``lo``/``hi`` its 95% t-interval
    and ``p`` the two-sided p-value (None when untestable: then ``why`` says why)."""

    n: int
    base_mean: float
    new_mean: float
    diff: float
    lo: float | None
    hi: float | None
    p: float | None
    why: str = ""

    @property
    def significant(self) -> bool | None:
        return None if self.p is None else self.p < ALPHA

    def relative(self, value: float | None) -> float | None:
        """``value`` (the difference or a bound of its interval) as a fraction of the base mean."""
        if value is None or self.base_mean == 0 or not math.isfinite(self.base_mean):
            return None
        return value / abs(self.base_mean)


def paired(base, new) -> Paired:
    """Paired t-test of ``new`` against ``base`` (aligned arrays: element i of each is seed i).

    Pairs with a missing value on either side are dropped. Differences that are all equal are
    decided without a test: all zero is "no change" (p = 1), a constant non-zero shift is certain
    (p = 0), as the simulation is deterministic per seed."""
    a, b = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = len(a)
    if n == 0:
        return Paired(0, math.nan, math.nan, math.nan, None, None, None, "no paired values")
    d = b - a
    diff = float(d.mean())
    base_mean, new_mean = float(a.mean()), float(b.mean())
    if n < 2:
        return Paired(n, base_mean, new_mean, diff, None, None, None,
                      "n = 1: a paired test needs at least 2 seeds")
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        p = 1.0 if diff == 0.0 else 0.0
        return Paired(n, base_mean, new_mean, diff, diff, diff, p)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n))
    t = diff / (sd / math.sqrt(n))
    p = float(2 * stats.t.sf(abs(t), n - 1))
    return Paired(n, base_mean, new_mean, diff, diff - half, diff + half, p)
