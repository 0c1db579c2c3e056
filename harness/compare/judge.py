"""The regression gate: two results directories of the same suite, compared run by run.

Runs are matched on (matrix point, seed). Three tiers decide, in this order:

* **Safety.** A run that was ``ok`` and is now a violation, an error or ``unknown`` fails the
  gate, whatever its numbers.
* **Exact.** The simulation is deterministic, so a run whose deterministic output (every
  ``runs.csv`` column but ``wall_s``, and its rows of events, time series and latencies) is the
  same text is *identical*: no noise, no statistics needed. ``sim_events`` alone differing means
  the engine did different work for the same behaviour; it is reported, not judged.
* **Statistical.** Where runs diverged, each judged metric is compared paired by seed (common
  random numbers), and gets one of three verdicts against its practical threshold
  (:mod:`harness.compare.policy`): *worse* or *better* (significant after Holm's correction over
  every point and metric of the comparison, and beyond the threshold), *equivalent* (the
  (1 − 2α) interval of the difference lies inside ± the threshold: two one-sided tests), or
  *inconclusive* (neither), with about how many seeds would decide it.

Why these error rates: the gate fails a pull request on a single *worse*, so what must stay
small is the chance of even one false *worse* in the whole comparison (the family-wise rate,
which Holm's method bounds by α however the metrics are correlated), not the share of false ones
among many (the false discovery rate, Benjamini–Hochberg). The gate passes only when *every*
changed decided metric is shown not worse, an intersection–union test (Berger 1982), so each
such test at level α already bounds the chance of a false pass by α, uncorrected. (Watched
metrics fail the gate only when worse; they make no claim when inconclusive.) *Worse* means
significant against no change and an estimate beyond the threshold: the family-wise bound holds
for changes that are truly nil; a true change just under the threshold may be called worse.

Exit codes (:attr:`Comparison.exit_code`): 0 nothing worse and no decided metric that could be
worse beyond its threshold, 1 a regression or a new safety failure, 3 not comparable or
inconclusive (a decided metric that could still be worse beyond its threshold). Bad input (2) is a :class:`CompareError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.execution.cache import NOT_SIMULATED
from harness.catalog.metrics import HIGHER
from harness.compare.policy import Policy, direction
from harness.compare.provenance import Finding, blocking
from harness.compare.sides import (COST_COLUMNS, NOT_DETERMINISTIC, PER_RUN_FILES, CompareError,
                                   Side, flatten, load_side, restrict, run_configs)
from harness.compare.stats import (Paired, batch_means, geomean_delta_pct, holm, paired,
                                   paired_within, seeds_to_decide)

# Marks, as in asv and benchstat.
IDENTICAL, EQUIVALENT, BETTER, WORSE, NOT_COMPARABLE, NEW_FAILURE, INCONCLUSIVE, NOT_JUDGED = (
    "=", "~", "better", "worse", "x", "!", "?", "-")
EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT, EXIT_INCONCLUSIVE = 0, 1, 2, 3

# Settings that say how to run, report or judge a suite, not what is simulated; the seed is
# matched on, not compared.
_NOT_SIMULATED = (*NOT_SIMULATED, "seed")


@dataclass
class Pair:
    """One (matrix point, seed) on both sides."""

    point: str
    seed: int
    base_id: str | None
    new_id: str | None
    differs_in: list[str] = field(default_factory=list)   # config keys that make it incomparable
    changed: list[str] = field(default_factory=list)      # what of its output changed
    base_safety: str = ""
    new_safety: str = ""
    exact: bool = True  # its outputs can be compared as text (not when a side ran live)

    @property
    def matched(self) -> bool:
        return self.base_id is not None and self.new_id is not None

    @property
    def comparable(self) -> bool:
        return self.matched and not self.differs_in

    @property
    def identical(self) -> bool:
        return self.comparable and self.exact and not self.changed

    @property
    def new_failure(self) -> bool:
        return (self.matched and self.base_safety == "ok" and self.new_safety != "ok")


@dataclass
class MetricRow:
    """One judged metric at one matrix point."""

    point: str
    contender: str
    metric: str
    mark: str
    base_mean: float
    new_mean: float
    test: Paired | None = None
    why: str = ""
    margin: float = math.nan            # the threshold in the metric's unit at this point
    p_adjusted: float | None = None     # Holm-adjusted over the whole comparison
    interval: tuple[float, float] | None = None   # the (1 - 2 alpha) interval of new - base
    seeds_needed: int | None = None     # about how many seeds would decide an inconclusive row
    could_be_worse: bool = False        # inconclusive, and a regression beyond the margin is not ruled out
    decided: bool = True                # a metric the gate must show not worse (else only watched)

    @property
    def matters(self) -> bool:
        """An inconclusive verdict the gate cannot pass: it could hide a regression in a metric
        the gate must decide."""
        return self.mark == INCONCLUSIVE and self.could_be_worse and self.decided

    @property
    def open_watch(self) -> bool:
        """A watched metric that could be worse beyond its threshold: reported, not blocking."""
        return self.mark == INCONCLUSIVE and self.could_be_worse and not self.decided

    @property
    def delta_pct(self) -> float | None:
        if not (math.isfinite(self.base_mean) and math.isfinite(self.new_mean)) or self.base_mean == 0:
            return None
        return (self.new_mean - self.base_mean) / abs(self.base_mean) * 100.0

    @property
    def changed(self) -> bool:
        return self.mark not in (IDENTICAL, EQUIVALENT, NOT_JUDGED)


@dataclass
class Comparison:
    base: Side
    new: Side
    policy: Policy
    pairs: list[Pair]
    rows: list[MetricRow]
    geomeans: dict[str, dict[str, float | None]]      # contender -> metric -> Δ% geometric mean
    notes: list[str]
    alpha: float = 0.05       # the error rate spent at this look (all of policy.alpha at one look)
    provenance: list[Finding] = field(default_factory=list)   # what ran on each side (checked)

    @property
    def matched(self) -> list[Pair]:
        return [p for p in self.pairs if p.matched]

    @property
    def identical(self) -> list[Pair]:
        return [p for p in self.pairs if p.identical]

    @property
    def new_failures(self) -> list[Pair]:
        return [p for p in self.pairs if p.new_failure]

    @property
    def incomparable(self) -> list[Pair]:
        return [p for p in self.pairs if not p.comparable]

    @property
    def regressions(self) -> list[MetricRow]:
        return [r for r in self.rows if r.mark == WORSE]

    @property
    def undecided(self) -> list[MetricRow]:
        """Inconclusive rows that could hide a regression beyond their threshold."""
        return [r for r in self.rows if r.matters]

    @property
    def seeds_needed(self) -> int | None:
        """About how many seeds would decide every undecided row (None: unknown)."""
        needs = [r.seeds_needed for r in self.undecided]
        return None if not needs or None in needs else max(n for n in needs if n is not None)

    @property
    def exit_code(self) -> int:
        if self.new_failures or self.regressions:
            return EXIT_REGRESSION
        if self.policy.require_identical and len(self.identical) < len(self.pairs):
            return EXIT_REGRESSION
        if not self.matched or self.incomparable or self.undecided:
            return EXIT_INCONCLUSIVE
        if blocking(self.provenance):
            return EXIT_INCONCLUSIVE
        return EXIT_OK

    @property
    def verdict(self) -> str:
        code = self.exit_code
        if code == EXIT_REGRESSION:
            if self.new_failures:
                return "new safety failure"
            if self.regressions:
                return "regression"
            return "changed (identical runs required)"
        if code == EXIT_INCONCLUSIVE:
            if blocking(self.provenance) and self.matched and not self.incomparable:
                return blocking(self.provenance)[0].kind
            if not self.matched or self.incomparable:
                return "not comparable"
            need = self.seeds_needed
            return ("inconclusive: a regression beyond the threshold is not ruled out"
                    + (f" (about {need} seeds would decide)" if need else " (more seeds would decide)"))
        if len(self.identical) == len(self.pairs):
            return "all runs identical"
        if any(r.open_watch for r in self.rows):
            return ("no regression in the decided metrics (equivalent within their thresholds, or "
                    "better); some watched metrics are inconclusive")
        return "no regression: every changed metric is shown not worse beyond its threshold"

    def summary_line(self) -> str:
        n, same = len(self.pairs), len(self.identical)
        bits = [f"{same} of {n} runs identical"]
        if self.new_failures:
            bits.append(f"{len(self.new_failures)} new safety failure(s)")
        if self.regressions:
            bits.append(f"{len(self.regressions)} regression(s)")
        better = sum(1 for r in self.rows if r.mark == BETTER)
        if better:
            bits.append(f"{better} improvement(s)")
        equivalent = sum(1 for r in self.rows if r.mark == EQUIVALENT)
        if equivalent:
            bits.append(f"{equivalent} metric(s) equivalent within the threshold")
        undecided = len(self.undecided)
        if undecided:
            need = self.seeds_needed
            bits.append(f"{undecided} inconclusive and could be worse"
                        + (f" (about {need} seeds would decide)" if need else ""))
        watched = sum(1 for r in self.rows if r.open_watch)
        if watched:
            bits.append(f"{watched} watched metric(s) inconclusive, a regression not ruled out")
        other = sum(1 for r in self.rows if r.mark == INCONCLUSIVE and not r.could_be_worse)
        if other:
            bits.append(f"{other} inconclusive but not worse beyond the threshold")
        if self.incomparable:
            bits.append(f"{len(self.incomparable)} run(s) not comparable")
        return "; ".join(bits)


def point_label(params: dict[str, Any]) -> str:
    """``protocol=raft, network.loss=0.01``: a matrix point, stable across both sides."""
    return ", ".join(f"{k}={_show(v)}" for k, v in params.items()) or "(single point)"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def load_pair(base_dir: Path, new_dir: Path) -> tuple[Side, Side]:
    """Load both directories and check they can be paired; raises :class:`CompareError`."""
    base, new = load_side(base_dir, "BASE"), load_side(new_dir, "NEW")
    if base.suite != new.suite:
        raise CompareError(f"{new.path}: NEW is suite {new.suite!r} but BASE ({base.path}) is suite "
                           f"{base.suite!r}: compare two runs of the same suite")
    if base.seeds != new.seeds and set(new.seeds) < set(base.seeds) \
            and base.seeds[:len(new.seeds)] == new.seeds:
        base = restrict(base, len(new.seeds))   # a baseline run once with more seeds serves any fewer
    if base.seeds != new.seeds:
        raise CompareError(f"{new.path}: NEW ran seeds {_seeds(new.seeds)} but BASE ({base.path}) ran "
                           f"seeds {_seeds(base.seeds)}: pairing by seed needs the same seeds")
    return base, new


def _seeds(seeds: list[int]) -> str:
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(map(str, seeds)) or "none"


def compare(base: Side, new: Side, policy: Policy, alpha: float | None = None) -> Comparison:
    """Judge NEW against BASE. ``alpha`` is the error rate this look may spend (default: all of
    the policy's); a sequential comparison that adds seeds spends a share at each look."""
    alpha = policy.alpha if alpha is None else alpha
    notes: list[str] = []
    pairs = _pair(base, new, policy, notes)
    if _mode(base) != "simulated" or _mode(new) != "simulated":  # wall clock: never identical
        notes.append("live runs: judged by statistics only (no exact tier)")
        for p in pairs:
            p.exact = False
    else:
        _exact(base, new, pairs, notes)
    base_safety, new_safety = _safety(base), _safety(new)
    for p in pairs:
        if p.matched:
            p.base_safety = base_safety.get(p.base_id or "", "")
            p.new_safety = new_safety.get(p.new_id or "", "")
    rows = _statistical(base, new, pairs, policy, alpha, notes)
    return Comparison(base, new, policy, pairs, rows, _geomeans(rows), notes, alpha)


def _safety(side: Side) -> dict[str, str]:
    """run_id -> its safety verdict."""
    return dict(zip(side.runs["run_id"], side.runs["safety"].astype(str)))


def _pair(base: Side, new: Side, policy: Policy, notes: list[str]) -> list[Pair]:
    """Match runs on (matrix point, seed) and flag those whose resolved configs differ."""
    def index(side: Side) -> dict[tuple[str, int], dict[str, Any]]:
        out = {}
        for entry in run_configs(side).values():
            out[(point_label(entry.get("params") or {}), int(entry.get("seed", 0)))] = entry
        return out

    b, n = index(base), index(new)
    only_base: set[str] = set()
    only_new: set[str] = set()
    pairs = []
    for key in list(b) + [k for k in n if k not in b]:
        eb, en = b.get(key), n.get(key)
        pair = Pair(key[0], key[1], eb and str(eb["run_id"]), en and str(en["run_id"]))
        if eb and en:
            fb, fn = _simulated(eb.get("config")), _simulated(en.get("config"))
            for k in sorted(set(fb) | set(fn)):
                if any(k == i or k.startswith(i + ".") for i in policy.ignore):
                    continue
                if k not in fb:
                    only_new.add(k)
                elif k not in fn:
                    only_base.add(k)
                elif fb[k] != fn[k]:
                    pair.differs_in.append(k)
        pairs.append(pair)
    if only_new:
        notes.append("settings only in NEW (a newer distbench; not judged): " + ", ".join(sorted(only_new)))
    if only_base:
        notes.append("settings only in BASE (not judged): " + ", ".join(sorted(only_base)))
    differing = sorted({k for p in pairs for k in p.differs_in})
    if differing:
        flags = " ".join(f"--ignore {k}" for k in differing[:4])
        notes.append(f"runs whose resolved configs differ are not comparable (differ in: "
                     f"{', '.join(differing)}); to compare them anyway: {flags}")
    return pairs


def _mode(side: Side) -> str:
    return str(side.manifest.get("mode", "simulated"))


def _simulated(config: Any) -> dict[str, Any]:
    """The simulated settings as dotted keys. A list of mappings (``faults.schedule``,
    ``network.links``) is its length plus one key per entry's setting (``faults.schedule.0.at``),
    so a setting a newer distbench added to every entry is "only in NEW", not a difference."""
    flat = {"mode": "simulated", **flatten(config if isinstance(config, dict) else {})}
    out: dict[str, Any] = {}
    for k, v in flat.items():
        if k.split(".")[0] in _NOT_SIMULATED:
            continue
        if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            out[k] = len(v)
            for i, entry in enumerate(v):
                out.update(flatten(entry, f"{k}.{i}"))
        else:
            out[k] = v
    return out


def _exact(base: Side, new: Side, pairs: list[Pair], notes: list[str]) -> None:
    """Fill ``Pair.changed``: the deterministic parts of a run's output that differ."""
    bcols, ncols = base.columns["runs.csv"], new.columns["runs.csv"]
    skip = set(NOT_DETERMINISTIC) | {"run_id"}
    common = [c for c in bcols if c in ncols and c not in skip]
    extra = [c for c in ncols if c not in bcols and c not in skip]
    gone = [c for c in bcols if c not in ncols and c not in skip]
    if extra:
        notes.append("runs.csv columns only in NEW (not judged): " + ", ".join(extra))
    if gone:
        notes.append("runs.csv columns only in BASE (not judged): " + ", ".join(gone))
    brows = base.runs.set_index("run_id").to_dict("index")
    nrows = new.runs.set_index("run_id").to_dict("index")
    cost_only = 0
    for p in pairs:
        if not p.comparable:
            continue
        rb, rn = brows[p.base_id], nrows[p.new_id]
        changed = [c for c in common if rb[c] != rn[c]]
        cost = [c for c in changed if c in COST_COLUMNS]
        changed = [c for c in changed if c not in COST_COLUMNS]
        for name in PER_RUN_FILES:
            if _file_rows(base, name, p.base_id) != _file_rows(new, name, p.new_id, base.columns[name]):
                changed.append(name)
        p.changed = changed
        if cost and not changed:
            cost_only += 1
    if cost_only:
        notes.append(f"{cost_only} identical run(s) processed a different number of simulator events "
                     "(sim_events): the engine's work changed, the behaviour did not")


def _file_rows(side: Side, name: str, run_id: str | None, columns: list[str] | None = None
               ) -> list[tuple[str, ...]]:
    """A run's rows of one per-run file without run_id, restricted to ``columns`` (in that
    order) when given, so two sides with different run ids and column sets compare."""
    own = side.columns[name]
    wanted = [c for c in (columns or own) if c in own and c != "run_id"]
    at = [own.index(c) for c in wanted]
    return [tuple(row[i] for i in at) for row in side.files[name].get(run_id or "", [])]


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _statistical(base: Side, new: Side, pairs: list[Pair], policy: Policy, alpha: float,
                 notes: list[str]) -> list[MetricRow]:
    """Per point and judged metric: identical, or paired by seed and given a verdict."""
    brows = base.runs.set_index("run_id").to_dict("index")
    nrows = new.runs.set_index("run_id").to_dict("index")
    key = new.compare_key
    configs, base_configs = run_configs(new), run_configs(base)
    by_point: dict[str, list[Pair]] = {}
    for p in pairs:
        if p.comparable:
            by_point.setdefault(p.point, []).append(p)
    # A judged metric the base measured and NEW no longer writes is a value missing on NEW's side.
    metrics = [m for m in policy.thresholds if m in base.runs.columns]
    rows: list[MetricRow] = []
    for point, group in by_point.items():
        group.sort(key=lambda p: p.seed)
        params = (configs.get(group[0].new_id or "") or {}).get("params") or {}
        contender = f"{key} = {_show(params[key])}" if key in params else point
        for metric in metrics:
            texts = [(brows[p.base_id][metric], nrows[p.new_id].get(metric, "")) for p in group]
            b = np.array([_number(tb) for tb, _ in texts])
            n = np.array([_number(tn) for _, tn in texts])
            bm = float(np.nanmean(b)) if np.isfinite(b).any() else math.nan
            nm = float(np.nanmean(n)) if np.isfinite(n).any() else math.nan
            if all(tb == tn for tb, tn in texts):
                rows.append(MetricRow(point, contender, metric, IDENTICAL, bm, nm))
                continue
            if policy.within_run and metric in WITHIN_RUN:
                within = [(_within(base, base_configs, p.base_id, metric),
                           _within(new, configs, p.new_id, metric)) for p in group]
                test = paired_within(b, n, [None if None in w else w for w in within], True)  # type: ignore[misc]
            else:
                test = paired(b, n, guarded=True)
            row = MetricRow(point, contender, metric, INCONCLUSIVE, bm, nm, test,
                            decided=metric in policy.decide)
            if direction(metric) is None:
                row.mark, row.why = NOT_JUDGED, "no direction: not judged"
            elif np.isfinite(b).any() and not np.isfinite(n).any():
                # NEW stopped producing it: nothing shows it is not worse
                row.why, row.could_be_worse, row.test = "measured in BASE, missing in NEW", True, None
            elif np.isfinite(n).any() and not np.isfinite(b).any():
                row.mark, row.why = NOT_JUDGED, "new in NEW: nothing to compare with"
            rows.append(row)
    _verdicts([r for r in rows if r.mark == INCONCLUSIVE and r.test is not None], policy, alpha)
    if any(r.test is not None and r.test.p is None for r in rows if r.mark == INCONCLUSIVE):
        notes.append("some points changed but have a single seed: a paired test needs at least 2 "
                     "seeds (run the suite with more seeds to judge them)")
    return rows


WITHIN_RUN = ("throughput_ops_s",)
"""Metrics that are the time average of the same column of timeseries.csv over the measured
window, so batch means of that series estimate their spread within one run. Percentiles and
ratios are not averages of the series and get no within-run estimate. Nor does a run with
faults: batch means assume a stationary series, and a crash's dip would count as noise (on the
quickstart it made the interval five times wider than the spread between seeds)."""


def _within(side: Side, configs: dict[str, dict[str, Any]], run_id: str | None,
            metric: str) -> tuple[float, int] | None:
    """Batch-means variance of one run's ``metric`` over its measured window, or None."""
    columns = side.columns.get("timeseries.csv") or []
    if metric not in columns or "time_s" not in columns:
        return None
    config = (configs.get(run_id or "") or {}).get("config") or {}
    if any((config.get("faults") or {}).values()):
        return None
    try:
        start, end = float(config.get("warmup", 0.0)), float(config["duration"])
    except (KeyError, TypeError, ValueError):
        return None
    at, col = columns.index("time_s"), columns.index(metric)
    series = [_number(row[col]) for row in side.files["timeseries.csv"].get(run_id or "", [])
              if start - 1e-9 <= _number(row[at]) < end - 1e-9]
    return batch_means(series)


def _verdicts(rows: list[MetricRow], policy: Policy, alpha: float) -> None:
    """Worse, better, equivalent or inconclusive, for every row that needs statistics.

    The family is every such row of the comparison: Holm's adjustment over all of them keeps the
    chance of a single false *worse* at most ``alpha``. Equivalence is each row's own (1 - 2 alpha)
    interval inside its margin (TOST at ``alpha``)."""
    testable = [r for r in rows if r.test is not None and r.test.p is not None]
    for r, adjusted in zip(testable, holm([r.test.p for r in testable])):  # type: ignore[union-attr,misc]
        r.p_adjusted = adjusted
    for r in rows:
        test, threshold = r.test, policy.thresholds[r.metric]
        assert test is not None
        r.margin = threshold.margin(test.base_mean)
        worse_sign = -1.0 if direction(r.metric) == HIGHER else 1.0
        r.interval = test.interval(2 * alpha)
        if r.p_adjusted is None or r.interval is None:
            r.why, r.could_be_worse = test.why, True
            continue
        lo, hi = r.interval
        if r.p_adjusted < alpha and threshold.exceeded(test.diff, test.base_mean):
            r.mark = WORSE if test.diff * worse_sign > 0 else BETTER
            r.why = f"significant (Holm p = {_p(r.p_adjusted)}) and beyond {threshold.text()}"
        elif -r.margin < lo and hi < r.margin:
            r.mark = EQUIVALENT
            r.why = f"interval inside ±{threshold.text()}"
        else:
            worst = hi if worse_sign > 0 else -lo
            r.could_be_worse = worst >= r.margin
            r.seeds_needed = seeds_to_decide(test, r.margin, alpha, len(testable), worse_sign)
            r.why = ("could be worse beyond " if r.could_be_worse else "not worse beyond, could be better than ") \
                + threshold.text()


def _p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else "<0.001"


def _geomeans(rows: list[MetricRow]) -> dict[str, dict[str, float | None]]:
    """Per contender and metric: the geometric mean over points of new/base, as a % change."""
    grouped: dict[str, dict[str, list[MetricRow]]] = {}
    for r in rows:
        grouped.setdefault(r.contender, {}).setdefault(r.metric, []).append(r)
    return {c: {m: geomean_delta_pct([r.new_mean for r in rs], [r.base_mean for r in rs])
                if len(rs) > 1 else (rs[0].delta_pct if rs else None)
                for m, rs in ms.items()} for c, ms in grouped.items()}
