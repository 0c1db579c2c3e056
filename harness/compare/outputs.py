"""What a comparison prints: GitHub-flavoured Markdown for a pull-request comment, JSON for tools,
JUnit XML for CI systems that display test results.

Markdown puts what changed first (new safety failures, regressions, improvements, runs that could
not be compared) and folds everything else in ``<details>``, so a comment on a quiet pull
request is three lines long.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from typing import Any

from harness.catalog.metrics import metric_for
from harness.compare import provenance
from harness.compare.judge import (BETTER, EQUIVALENT, IDENTICAL, INCONCLUSIVE, NEW_FAILURE,
                                  NOT_COMPARABLE, NOT_JUDGED, WORSE, Comparison, MetricRow)
from harness.compare.stats import PAIRED_METHOD

_MARK_TEXT = {IDENTICAL: "`=` identical", EQUIVALENT: "`~` equivalent", BETTER: "better",
              WORSE: "**worse**", NOT_COMPARABLE: "`x` not comparable",
              NEW_FAILURE: "`!` new safety failure", INCONCLUSIVE: "`?` inconclusive",
              NOT_JUDGED: "not judged"}
_HEAD = {0: "✅", 1: "❌", 3: "⚠️"}


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+.1f}%"


def _interval(row: MetricRow) -> str:
    t, iv = row.test, row.interval
    if t is None or iv is None:
        return "—"
    lo, hi = t.relative(iv[0]), t.relative(iv[1])
    if lo is None or hi is None:
        return f"[{_num(iv[0], 3)}, {_num(iv[1], 3)}]"
    return f"[{lo * 100:+.1f}%, {hi * 100:+.1f}%]"


def _p(row: MetricRow) -> str:
    if row.p_adjusted is None:
        return "—"
    return f"{row.p_adjusted:.3f}" if row.p_adjusted >= 0.001 else "<0.001"


def _verdict(row: MetricRow) -> str:
    why = f" ({row.why})" if row.why else ""
    seeds = f"; about {row.seeds_needed} seeds would decide" if row.matters and row.seeds_needed else ""
    return f"{_MARK_TEXT[row.mark]}{why}{seeds}"


def _metric_table(rows: list[MetricRow], alpha: float) -> list[str]:
    level = f"{(1 - 2 * alpha) * 100:.4g}%"
    out = [f"| point | metric | base | new | Δ | {level} CI of Δ | p (Holm) | n | verdict |",
           "|---|---|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        m = metric_for(r.metric)
        out.append(f"| {r.point} | {m.label} | {_num(r.base_mean)} | {_num(r.new_mean)} | "
                   f"{_pct(r.delta_pct)} | {_interval(r)} | {_p(r)} | {r.test.n if r.test else '—'} | "
                   f"{_verdict(r)} |")
    return out


def to_markdown(c: Comparison) -> str:
    code = c.exit_code
    lines = [f"### {_HEAD.get(code, '')} distbench compare `{c.new.suite}`: {c.verdict}", "",
             f"**{c.summary_line()}.**", "",
             f"BASE `{c.base.label()}` · NEW `{c.new.label()}`", "",
             *provenance.markdown(c.base.manifest, c.new.manifest, c.provenance)]
    failures = c.new_failures
    if failures:
        lines += ["#### `!` New safety failures", "", "| point | seed | base | new |", "|---|---:|---|---|"]
        lines += [f"| {p.point} | {p.seed} | {p.base_safety} | {p.new_safety} |" for p in failures]
        lines.append("")
    changed = [r for r in c.rows if r.changed]
    order = {WORSE: 0, INCONCLUSIVE: 1, BETTER: 2}
    if changed:
        ranked = sorted(changed, key=lambda r: (order.get(r.mark, 3), not r.matters))
        lines += ["#### Changes", ""] + _metric_table(ranked, c.alpha)
        lines.append("")
    bad = c.incomparable
    if bad:
        lines += ["#### `x` Not comparable", "", "| point | seed | why |", "|---|---:|---|"]
        for p in bad:
            why = ("only in BASE" if p.new_id is None else "only in NEW" if p.base_id is None
                   else "config differs in " + ", ".join(p.differs_in))
            lines.append(f"| {p.point} | {p.seed} | {why} |")
        lines.append("")
    lines += [f"- {note}" for note in c.notes]
    if c.notes:
        lines.append("")
    geo = _geomean_table(c)
    diverged = [p for p in c.pairs if p.comparable and not p.identical]
    details: list[str] = []
    if geo:
        details += ["**Geometric mean of new/base over points, per contender**", "", *geo, ""]
    if diverged:
        details += ["**Runs that diverged** (what of their deterministic output changed)", "",
                    "| point | seed | changed |", "|---|---:|---|"]
        details += [f"| {p.point} | {p.seed} | {_changed(p.changed)} |" for p in diverged]
        details.append("")
    same_points = sorted({p.point for p in c.pairs if p.identical} - {p.point for p in diverged})
    if same_points:
        details += [f"**Points whose every run is identical** ({len(same_points)}): "
                    + "; ".join(same_points), ""]
    unchanged = [r for r in c.rows if not r.changed and r.point not in same_points]
    if unchanged:
        details += ["**Every other judged metric at the points that diverged**", "",
                    *_metric_table(unchanged, c.alpha), ""]
    details += [_method(c)]
    lines += ["<details><summary>Details: every metric, every run, the method</summary>", "",
              *details, "", "</details>", ""]
    return "\n".join(lines)


def _changed(parts: list[str]) -> str:
    columns = [p for p in parts if not p.endswith(".csv")]
    files = [p for p in parts if p.endswith(".csv")]
    shown = ", ".join(columns) if len(columns) <= 4 else f"{len(columns)} runs.csv columns ({', '.join(columns[:3])}, …)"
    return ", ".join(filter(None, [shown, *files]))


def _geomean_table(c: Comparison) -> list[str]:
    metrics = list(dict.fromkeys(r.metric for r in c.rows))
    if not c.geomeans or not metrics:
        return []
    out = ["| contender | " + " | ".join(metric_for(m).label for m in metrics) + " |",
           "|---|" + "---:|" * len(metrics)]
    for contender, values in c.geomeans.items():
        out.append(f"| {contender} | " + " | ".join(_pct(values.get(m)) for m in metrics) + " |")
    return out


def _method(c: Comparison) -> str:
    thresholds = "; ".join(f"{metric_for(m).label} {t.text()}" for m, t in c.policy.thresholds.items())
    methods = "; ".join(sorted({r.test.method for r in c.rows if r.test is not None})) or PAIRED_METHOD
    spent = "" if c.alpha == c.policy.alpha else f" (this look spends α = {c.alpha:.3g} of {c.policy.alpha:g})"
    return (f"Method: runs matched on (matrix point, seed). Identical (`=`): every deterministic "
            f"column of runs.csv and the run's rows in events, timeseries and latencies are the same "
            f"text. Otherwise, per point and metric: {methods} (common random numbers), "
            f"α = {c.alpha:.3g}{spent}. Worse/better: significant after Holm's correction over every "
            f"point and metric (at most α chance of any false alarm in this comparison) and beyond the "
            f"threshold ({thresholds}). Equivalent (`~`): the {(1 - 2 * c.alpha) * 100:.4g}% interval of "
            f"Δ lies inside ± the threshold (two one-sided tests at α). Inconclusive (`?`): neither; it "
            f"fails the gate (exit 3) only for a decided metric ({', '.join(c.policy.decide)}) whose "
            f"interval reaches beyond the threshold on the worse side, and says about how many seeds "
            f"would decide it; the other metrics are watched: they fail the gate only when worse.")


def to_json(c: Comparison) -> dict[str, Any]:
    def num(x: float | None) -> float | None:
        return x if x is not None and math.isfinite(x) else None

    return {
        "suite": c.new.suite, "base": str(c.base.path), "new": str(c.new.path),
        "base_commit": c.base.manifest.get("git_commit"), "new_commit": c.new.manifest.get("git_commit"),
        "provenance": provenance.to_json(c.base.manifest, c.new.manifest, c.provenance),
        "verdict": c.verdict, "exit_code": c.exit_code, "summary": c.summary_line(),
        "runs": len(c.pairs), "identical": len(c.identical),
        "policy": {"alpha": c.policy.alpha, "ignore": list(c.policy.ignore),
                   "require_identical": c.policy.require_identical,
                   "thresholds": {m: {"relative": t.relative, "absolute": t.absolute}
                                  for m, t in c.policy.thresholds.items()}},
        "pairs": [{"point": p.point, "seed": p.seed, "base_run": p.base_id, "new_run": p.new_id,
                   "identical": p.identical, "comparable": p.comparable, "differs_in": p.differs_in,
                   "changed": p.changed, "base_safety": p.base_safety, "new_safety": p.new_safety,
                   "new_safety_failure": p.new_failure} for p in c.pairs],
        "metrics": [{"point": r.point, "contender": r.contender, "metric": r.metric, "mark": r.mark,
                     "base_mean": num(r.base_mean), "new_mean": num(r.new_mean),
                     "delta_pct": num(r.delta_pct), "n": r.test.n if r.test else None,
                     "p": r.test.p if r.test else None, "p_holm": r.p_adjusted,
                     "diff_interval": [num(r.interval[0]), num(r.interval[1])] if r.interval else None,
                     "interval_level": 1 - 2 * c.alpha, "margin": num(r.margin),
                     "could_be_worse": r.could_be_worse, "seeds_needed": r.seeds_needed,
                     "why": r.why} for r in c.rows],
        "alpha": c.alpha, "seeds_needed": c.seeds_needed,
        "geomean_delta_pct": {k: {m: num(v) for m, v in vs.items()} for k, vs in c.geomeans.items()},
        "notes": c.notes,
    }


def to_junit(c: Comparison) -> str:
    """One test case per (point, metric) and one per run's safety; regressions and new safety
    failures are failures, what could not be judged is skipped."""
    suite = ET.Element("testsuite", name=f"distbench compare {c.new.suite}")
    failures = skipped = 0
    for p in c.pairs:
        case = ET.SubElement(suite, "testcase", classname=f"{c.new.suite}.safety",
                             name=f"{p.point} seed={p.seed}")
        if p.new_failure:
            failures += 1
            ET.SubElement(case, "failure", message=f"safety {p.base_safety} -> {p.new_safety}")
        elif not p.comparable:
            skipped += 1
            why = "config differs in " + ", ".join(p.differs_in) if p.matched else "no matching run"
            ET.SubElement(case, "skipped", message=why)
    for r in c.rows:
        case = ET.SubElement(suite, "testcase", classname=f"{c.new.suite}.{r.metric}", name=r.point)
        text = f"{r.metric}: {_num(r.base_mean)} -> {_num(r.new_mean)} ({_pct(r.delta_pct)}, p={_p(r)})"
        if r.mark == WORSE:
            failures += 1
            ET.SubElement(case, "failure", message=f"regression: {text}")
        elif r.matters:
            skipped += 1
            seeds = f"; about {r.seeds_needed} seeds would decide" if r.seeds_needed else ""
            ET.SubElement(case, "skipped", message=f"inconclusive, could be worse: {text} ({r.why}{seeds})")
        else:
            ET.SubElement(case, "system-out").text = f"{_MARK_TEXT[r.mark]}: {text}"
    suite.set("tests", str(len(c.pairs) + len(c.rows)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_json(c: Comparison) -> str:
    return json.dumps(to_json(c), indent=2) + "\n"
