"""Which change points in a metric's history matter, and which way.

A change point (:mod:`harness.compare.changepoints`) says only that the series moved. It counts
as *worse* or *better* when it moved the metric's way (:func:`harness.compare.policy.direction`)
by more than the gate's practical threshold for that metric. A drift is a staircase: each step
can stay below the threshold that a pull request's gate applies, so a step is measured from the
segment before the run of steps in the same direction that ends with it, not only from the
segment just before it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.compare.changepoints import ALPHA, MIN_SIZE, change_points
from harness.catalog.metrics import HIGHER, LOWER
from harness.compare.policy import DEFAULT_THRESHOLDS, Threshold, direction

WORSE, BETTER, SMALL, CHANGED = "worse", "better", "below threshold", "changed"
# A metric the gate does not judge is held to the gate's throughput threshold.
FALLBACK_THRESHOLD = DEFAULT_THRESHOLDS["throughput_ops_s"]
# A change is news while the newest segment holds at most this many entries: with segments of at
# least three entries, a nightly check reports a step on three nights, from the third after it.
WITHIN = 5


@dataclass(frozen=True)
class Shift:
    """A change point of one series: its segment starts at ``start`` (an index into the series);
    the run of same-direction steps it ends began at ``since`` (``start`` for a lone step).
    ``before`` is the mean of the segment before that run, ``after`` the new segment's mean."""

    start: int
    since: int
    steps: int
    before: float
    after: float
    verdict: str

    @property
    def relative(self) -> float:
        return (self.after - self.before) / abs(self.before) if self.before else float("inf")


def threshold_for(metric: str, thresholds: Mapping[str, Threshold] = DEFAULT_THRESHOLDS) -> Threshold:
    return thresholds.get(metric, FALLBACK_THRESHOLD)


def shifts(values: Sequence[float], metric: str, threshold: Threshold, alpha: float = ALPHA,
           min_size: int = MIN_SIZE) -> list[Shift]:
    """Every change point of ``values`` (a metric's series, oldest first) with its verdict."""
    starts = change_points(values, alpha=alpha, min_size=min_size)
    bounds = [0, *starts, len(values)]
    means = [float(np.mean(values[a:b])) for a, b in zip(bounds, bounds[1:])]
    better = direction(metric)
    out: list[Shift] = []
    first = 0   # segment where the current run of same-direction steps began
    for seg in range(1, len(means)):
        step = np.sign(means[seg] - means[seg - 1])
        if seg > 1 and step != np.sign(means[seg - 1] - means[seg - 2]):
            first = seg - 1
        before, after = means[first], means[seg]
        diff = after - before
        if not threshold.exceeded(diff, before):
            verdict = SMALL
        elif better is None:
            verdict = CHANGED
        else:
            verdict = WORSE if (diff < 0 and better == HIGHER) or (diff > 0 and better == LOWER) else BETTER
        out.append(Shift(bounds[seg], bounds[first + 1], seg - first, before, after, verdict))
    return out


__all__ = ["BETTER", "CHANGED", "FALLBACK_THRESHOLD", "SMALL", "WITHIN", "WORSE", "Shift", "shifts",
           "threshold_for"]
