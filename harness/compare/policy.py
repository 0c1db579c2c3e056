"""What the gate judges: which metrics, which way is better, and how big a change must be to count.

A change counts only if it is statistically significant *and* larger than a practical threshold
(asv's and benchstat's rule): a 0.3% throughput drop that a paired test finds "significant" is not
a regression anyone should block a pull request for. A threshold is relative to the baseline's
mean, with an absolute floor for metrics that are often zero (an abort rate going from 0 to
0.0001 is not a 100x regression).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

from harness.catalog.metrics import METRICS, metric_for


@dataclass(frozen=True)
class Threshold:
    relative: float          # fraction of the baseline's mean
    absolute: float = 0.0    # in the metric's own unit (runs.csv)

    def exceeded(self, diff: float, base_mean: float) -> bool:
        size = abs(diff)
        return size > self.absolute and size > self.relative * abs(base_mean)

    def margin(self, base_mean: float) -> float:
        """The threshold in the metric's unit: a change counts only beyond this size."""
        return max(self.absolute, self.relative * abs(base_mean)) if math.isfinite(base_mean) \
            else self.absolute

    def text(self) -> str:
        rel = f"{self.relative * 100:g}%"
        return rel + (f" and > {self.absolute:g}" if self.absolute else "")


# The metrics the gate judges by default, with their practical thresholds (declared in the catalog).
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    m.key: Threshold(m.threshold, m.floor) for m in METRICS if m.threshold is not None}

# The metrics a passing gate must show equivalent (or better) at every point that changed: the
# steady-state performance a pull request is gated for. The others are *watched*: a significant
# change beyond the threshold still fails the gate, but an inconclusive one is reported, not
# blocking.
DEFAULT_DECIDE: tuple[str, ...] = tuple(m.key for m in METRICS if m.decides)


def direction(metric: str) -> str | None:
    """HIGHER or LOWER is better; None for a metric without a direction (never a regression)."""
    return metric_for(metric).better


@dataclass(frozen=True)
class Policy:
    """The gate's settings: thresholds per judged metric, the significance level, the config keys
    whose differences do not make runs incomparable, and whether any difference fails."""

    thresholds: Mapping[str, Threshold]
    alpha: float = 0.05
    ignore: tuple[str, ...] = ()
    require_identical: bool = False
    within_run: bool = True   # pool batch means of the time series into the spread, where sound
    decide: tuple[str, ...] = DEFAULT_DECIDE   # judged metrics that must be shown not worse

    def with_overrides(self, thresholds: Mapping[str, Threshold | None] | None = None,
                       ignore: tuple[str, ...] = (), alpha: float | None = None,
                       require_identical: bool | None = None) -> Policy:
        """This policy with ``thresholds`` replaced (None: stop judging that metric) and the rest
        overridden where given."""
        merged = {k: t for k, t in {**self.thresholds, **(thresholds or {})}.items() if t is not None}
        return replace(self, thresholds=merged, ignore=tuple(dict.fromkeys((*self.ignore, *ignore))),
                       alpha=self.alpha if alpha is None else alpha,
                       require_identical=self.require_identical if require_identical is None
                       else require_identical)


DEFAULT_POLICY = Policy(DEFAULT_THRESHOLDS)

_PCT = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*%\s*")


def parse_threshold(value: Any) -> Threshold:
    """``"5%"`` (relative), a fraction such as ``0.05``, or ``{relative: 5%, absolute: 2.0}``.
    Raises ValueError with what was expected."""
    expected = "expected a percentage such as 5%, a fraction such as 0.05, or {relative: 5%, absolute: N}"
    if isinstance(value, Mapping):
        unknown = set(value) - {"relative", "absolute"}
        if unknown or "relative" not in value:
            raise ValueError(f"{expected}, got {dict(value)!r}")
        rel = parse_threshold(value["relative"]).relative
        absolute = value.get("absolute", 0.0)
        if isinstance(absolute, bool) or not isinstance(absolute, (int, float)) or absolute < 0 \
                or not math.isfinite(absolute):
            raise ValueError(f"expected absolute to be a number >= 0, got {absolute!r}")
        return Threshold(rel, float(absolute))
    if isinstance(value, str):
        match = _PCT.fullmatch(value)
        if match:
            return Threshold(float(match.group(1)) / 100.0)
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{expected}, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 10 \
            or not math.isfinite(value):
        raise ValueError(f"{expected}, got {value!r}")
    return Threshold(float(value))


__all__ = ["DEFAULT_DECIDE", "DEFAULT_POLICY", "DEFAULT_THRESHOLDS", "Policy", "Threshold",
           "direction", "parse_threshold"]
