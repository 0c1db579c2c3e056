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
GUARDED_METHOD = ("paired t-test on per-seed differences, their spread at least the unpaired "
                  "var(base) + var(new)")
WITHIN_METHOD = "paired t-test, spread pooled with batch means of each run's time series"


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

    ``diff`` is the mean of the per-seed differences new − base, ``se`` its standard error with
    ``df`` degrees of freedom; ``lo``/``hi`` its 95% t-interval and ``p`` the two-sided p-value of
    "no difference" (None when untestable: then ``why`` says why). ``sd`` is the standard deviation
    of one seed's difference, which says how many seeds a decision needs."""

    n: int
    base_mean: float
    new_mean: float
    diff: float
    lo: float | None
    hi: float | None
    p: float | None
    why: str = ""
    se: float | None = None
    df: float | None = None
    method: str = PAIRED_METHOD

    @property
    def significant(self) -> bool | None:
        return None if self.p is None else self.p < ALPHA

    @property
    def sd(self) -> float | None:
        return None if self.se is None else self.se * math.sqrt(self.n)

    def relative(self, value: float | None) -> float | None:
        """``value`` (the difference or a bound of its interval) as a fraction of the base mean."""
        if value is None or self.base_mean == 0 or not math.isfinite(self.base_mean):
            return None
        return value / abs(self.base_mean)

    def interval(self, alpha: float) -> tuple[float, float] | None:
        """The two-sided (1 − alpha) t-interval of the difference; None when untestable. An
        equivalence test (TOST) at level a holds exactly when the (1 − 2a) interval lies inside
        the margin (Schuirmann 1987)."""
        if self.se is None or self.df is None:
            return None
        if self.se == 0.0:
            return (self.diff, self.diff)
        half = float(stats.t.ppf(1 - alpha / 2, self.df) * self.se)
        return (self.diff - half, self.diff + half)



def _from_se(n: int, base_mean: float, new_mean: float, diff: float, se: float, df: float,
             method: str) -> Paired:
    if se == 0.0:
        return Paired(n, base_mean, new_mean, diff, diff, diff, 1.0 if diff == 0.0 else 0.0,
                      se=0.0, df=df, method=method)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se)
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return Paired(n, base_mean, new_mean, diff, diff - half, diff + half, p, se=se, df=df,
                  method=method)


def paired(base, new, guarded: bool = False) -> Paired:
    """Paired t-test of ``new`` against ``base`` (aligned arrays: element i of each is seed i).

    Pairs with a missing value on either side are dropped. Differences that are all equal are
    decided without a test: all zero is "no change" (p = 1), a constant non-zero shift is certain
    (p = 0), as the simulation is deterministic per seed.

    ``guarded``: the spread of a seed's difference is taken as the larger of the paired estimate
    and the unpaired one (var(base) + var(new)). Pairing narrows the interval only as far as the
    two sides really share their randomness; once a code change has made every run diverge they
    share little, and a handful of differences that agree by chance (a failover metric that is a
    coin flip per seed: which node wins the election) would otherwise look certain. Measured on
    the quickstart: without the guard 2 of 15 behaviour-neutral changes were called worse at
    five seeds, Holm's correction notwithstanding."""
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
    variance = float(d.var(ddof=1))
    if guarded:
        variance = max(variance, float(a.var(ddof=1) + b.var(ddof=1)))
    return _from_se(n, base_mean, new_mean, diff, math.sqrt(variance / n), n - 1,
                    GUARDED_METHOD if guarded else PAIRED_METHOD)


BATCHES = 10
"""Batches per run for batch means, at most: Law & Kelton (section 9.5.3) find 10 to 30 batches
a sound compromise between the bias of short batches and the few degrees of freedom of long
ones."""
MIN_BATCH = 5
"""Buckets per batch, at least: a batch of the time series' 0.1 s buckets should be long against
an election timeout or a client's timeout, the series' memory."""


def batch_means(series, batches: int = BATCHES, min_batch: int = MIN_BATCH) -> tuple[float, int] | None:
    """The variance of a run's time average, from its own time series: the series is cut into
    equal batches (up to ``batches``, each of at least ``min_batch`` values, the last values
    that do not fill a batch left out) whose means are nearly independent when the batches are
    long against the series' memory, so var(batch means) / batches estimates the variance of
    the run's mean, with batches - 1 degrees of freedom (the method of non-overlapping batch
    means). None when fewer than 3 batches fit."""
    a = _clean(series)
    count = min(batches, len(a) // min_batch)
    if count < 3:
        return None
    size = len(a) // count
    means = a[: size * count].reshape(count, size).mean(axis=1)
    return float(means.var(ddof=1)) / count, count - 1


def paired_within(base, new, within: list[tuple[tuple[float, int], tuple[float, int]] | None],
                  guarded: bool = False) -> Paired:
    """The paired t-test with the spread of each seed's difference estimated twice, and pooled
    when the two agree: between seeds (the spread of the differences, n - 1 degrees of freedom)
    and within each run (batch means of both runs' time series: var(new) + var(base)). Pooling
    two estimates of one variance adds their degrees of freedom. They estimate the same variance
    only if nothing a seed sets lasts the whole run (which partition holds the hot keys, which
    node leads): then the spread between seeds is larger than batch means can see, and pooling
    would narrow the interval falsely (a review measured 35% false alarms that way). So the
    within-run estimate is used only when an F test finds the between-seed spread no larger
    than it (at the 75% quantile: erring towards not pooling), and never with a single seed,
    whose spread between seeds is unknown. Otherwise, and when a run has no usable series, it
    is :func:`paired`."""
    plain = paired(base, new, guarded)
    a, b = np.asarray(base, dtype=float), np.asarray(new, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    parts = [w for w, k in zip(within, keep) if k]
    if plain.p is None or plain.sd is None or len(parts) != plain.n or any(w is None for w in parts):
        return plain
    variances = [wb[0] + wn[0] for wb, wn in parts]  # type: ignore[index]
    v_within = float(np.mean(variances))
    # Satterthwaite's degrees of freedom of that average of 2n variance estimates.
    terms = sum(w[0] ** 2 / w[1] for pair in parts for w in pair)  # type: ignore[union-attr]
    df_within = (sum(w[0] for pair in parts for w in pair) ** 2 / terms  # type: ignore[union-attr]
                 if terms > 0 else 0.0)
    df_between = plain.n - 1
    v_between = plain.sd ** 2
    if v_within <= 0.0 or df_within <= 0.0 \
            or v_between / v_within > stats.f.ppf(0.75, df_between, df_within):
        return plain
    df = df_between + df_within
    pooled = (df_between * v_between + df_within * v_within) / df
    return _from_se(plain.n, plain.base_mean, plain.new_mean, plain.diff,
                    math.sqrt(pooled / plain.n), df, WITHIN_METHOD)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979): reject every hypothesis whose adjusted p-value is
    below alpha and the probability of even one false rejection among all of them stays at most
    alpha, whatever their dependence. Monotone in the raw p-values; never above 1."""
    m = len(pvalues)
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda k: pvalues[k])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def seeds_to_decide(test: Paired, margin: float, alpha: float, family: int, worse_sign: float,
                    limit: int = 500) -> int | None:
    """About how many seeds would decide a comparison that could still be worse beyond its
    margin, were the observed difference and its spread per seed to stay as they are: enough
    for the interval's bound on the worse side (``worse_sign`` is +1 when higher is worse, -1
    when lower is) to come inside the margin when the difference is on the good side of it, else
    enough for the difference to be significant at the strictest level Holm may ask of it
    (alpha / family). None when the spread is unknown or more than ``limit`` seeds are needed."""
    sd = test.sd
    if sd is None or not math.isfinite(sd) or sd == 0.0 or not math.isfinite(test.diff):
        return None
    toward_worse = worse_sign * test.diff
    if toward_worse < margin:
        level, need = 1 - alpha, margin - toward_worse
    else:
        level, need = 1 - alpha / (2 * max(family, 1)), toward_worse
    per_seed_df = max(test.df or 1, 1) / max(test.n - 1, 1)   # batch means give more df per seed
    n = max(test.n + 1, 2)
    while n <= limit:
        if stats.t.ppf(level, max(per_seed_df * (n - 1), 1)) * sd / math.sqrt(n) < need:
            return n
        n = n + 1 if n < 50 else int(n * 1.1)
    return None
