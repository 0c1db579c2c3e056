"""Everything a renderer needs, computed once: tables, findings, safety, charts, provenance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import fmt
from .charts import Chart
from .explain import Explanation, explanations
from .load import CONTENDER, Results
from harness.catalog.metrics import FAMILIES
from harness.catalog.params import param_short
from harness.checkers.verdicts import VACUOUS
from .metrics import family_blurb, family_title
from .likeness import like_for_like
from .tables import SafetyRow, Table, bold_note, build_tables, findings, method_note, safety_rows


PREDICTION_BLURB = ("Each figure measured live on this machine beside what the simulator predicts for the "
                    "same config and seed, with the suite's cluster cost model (`distbench calibrate` "
                    "measures it on this machine): error = (predicted − measured) ÷ measured, means over seeds.")


@dataclass
class Document:
    res: Results
    tables: list[Table]          # headline metrics, one per family
    all_tables: list[Table]      # every metric, one per family
    charts: list[Chart]
    findings: list[str]
    safety: list[SafetyRow]
    method: str
    like: tuple[bool | None, list[str], dict[str, dict[str, str]]]
    bold: str = ""
    explained: list[Explanation] | None = None  # "Where the difference comes from"

    def point_text(self, point: tuple[str, ...]) -> str:
        """A parameter point for a heading: "cluster size = 3, message loss rate = 0.01"."""
        return ", ".join(f"{param_short(p.key)} = {v}" for p, v in zip(self.res.params, point)) or "all runs"

    def family_title(self, family: str) -> str:
        return family_title(family, self.res.kind)

    def family_blurb(self, family: str) -> str:
        return family_blurb(family, self.res.kind)

    @property
    def title(self) -> str:
        return f"{self.res.suite}: {' vs '.join(self.res.contenders)}"

    def partial(self) -> str:
        """A warning for the top of the report when runs are missing, else ""."""
        r = self.res
        if not r.missing and not r.manifest.get("interrupted"):
            return ""
        total = len(r.manifest.get("runs") or []) or len(r.runs)
        why = "the suite was interrupted" if r.manifest.get("interrupted") else "the directory is incomplete"
        if not r.missing:
            return f"Partial results: {why}, but every run listed in manifest.json has a row."
        shown = ", ".join(r.missing[:12]) + (f" and {len(r.missing) - 12} more" if len(r.missing) > 12 else "")
        return (f"Partial results: {len(r.missing)} of {total} runs are missing ({why}): {shown}. "
                "Cells below cover only the runs that finished; a contender may be compared on fewer seeds.")

    def sections(self) -> list[tuple[str, list[Chart], Table | None]]:
        """(family, its charts, its headline table) for every family with something to show.
        Renderers title a section with :meth:`family_title` (it depends on the suite's kind)."""
        out = []
        by_family = {t.family: t for t in self.tables}
        for fam in FAMILIES:
            charts = [c for c in self.charts if c.section == fam]
            table = by_family.get(fam)
            if charts or table:
                out.append((fam, charts, table))
        return out

    def summary_items(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the report header."""
        r = self.res
        n = len(r.runs)
        items = [("Kind", r.kind), ("Runs", str(n))]
        if r.compare != "protocol":
            items.append(("Compared", r.compare))
        items += [(r.noun.capitalize() + "s", ", ".join(r.contenders)), ("Reference", r.reference or "—")]
        for p in r.params:
            items.append((f"Swept: {p.label}", ", ".join(p.values)))
        seeds = r.manifest.get("seeds") or [fmt.num(s, 0) for s in r.seeds]
        items.append(("Seeds", ", ".join(str(s) for s in seeds)))
        if r.fixed:
            items.append(("Fixed", "; ".join(str(f) for f in r.fixed)))
        for key, label in (("source", "Suite file"), ("git_commit", "Commit"), ("finished", "Finished")):
            if r.manifest.get(key):
                items.append((label, str(r.manifest[key])))
        return items

    def safety_remarks(self) -> str:
        """What the checkers said about runs that passed, when it is one short remark shared by
        runs (e.g. "linearizability not checked"); per-run details go to :meth:`safety_details`."""
        runs = self.res.runs
        if "safety_detail" not in runs.columns:
            return ""
        ok = runs[runs["safety"].astype(str).str.lower() == "ok"]["safety_detail"]
        counts = ok[ok.map(lambda v: isinstance(v, str) and bool(v.strip()))].value_counts()
        if len(counts) > 3:
            return f"checker details for {int(counts.sum())} runs below"
        return "; ".join(f"{d} in {k} run{'s' if k != 1 else ''}" for d, k in counts.items())

    def unjudged(self) -> str:
        """The runs with no violation that are not a plain ok, in words for a banner: how many
        are unknown (a checker reached no verdict) and how many vacuous (a check had nothing to
        judge); empty when there are none."""
        rows = [r for r in self.safety if not r.violation]
        empty = sum(1 for r in rows if r.verdict.startswith(VACUOUS))
        n = len(self.res.runs)
        parts = []
        if len(rows) > empty:
            parts.append(f"Safety unknown for {len(rows) - empty} of {n} runs (the checker did not reach a verdict).")
        if empty:
            parts.append(f"Vacuous for {empty} of {n} runs (a check had nothing to judge: nothing committed, "
                         "no leader, no read or no multi-partition transaction).")
        return " ".join(parts)

    def safety_counts(self) -> tuple[list[str], list[list[str]]]:
        """A compact table: per contender, how many runs were ok, vacuous (ok with a check that
        had nothing to judge), unknown, violated or raised."""
        runs = self.res.runs
        verdict = runs["safety"].astype(str).str.lower()
        kinds = [("ok", verdict == "ok"), ("vacuous", verdict.str.startswith(VACUOUS)),
                 ("unknown", verdict.str.startswith("unknown")),
                 ("violation", verdict.str.startswith("violation")), ("error", verdict.str.startswith("error"))]
        kinds = [(k, m) for k, m in kinds if k in ("ok", "violation") or m.any()]
        rows = []
        for c in self.res.contenders:
            mine = runs[CONTENDER] == c
            rows.append([c, str(int(mine.sum())), *[str(int((mine & m).sum())) for _, m in kinds]])
        return [self.res.noun, "runs", *[k for k, _ in kinds]], rows

    def safety_details(self) -> tuple[list[str], list[list[str]]]:
        """Every run with a verdict other than ok or a checker remark: run, contender, seed,
        point, verdict and detail (folded away in the report)."""
        r = self.res
        header = ["run", r.noun, "seed", *map(_short, r.param_keys), "verdict", "detail"]
        out = []
        # Remarks shared by the passing runs ("linearizability not checked") are said in the banner.
        remarks_listed = bool(self.safety_remarks()) and not self.safety_remarks().startswith("checker details")
        for _, row in r.runs.iterrows():
            detail = row.get("safety_detail")
            detail = detail.strip() if isinstance(detail, str) else ""
            verdict = str(row["safety"]).strip()
            if verdict.lower() == "ok" and (not detail or remarks_listed):
                continue
            out.append([str(row["run_id"]), str(row[CONTENDER]), fmt.num(row["seed"], 0),
                        *[str(row[k]) for k in r.param_keys], verdict, detail])
        return header, out

    def predictions(self) -> tuple[list[str], list[list[str]]]:
        """A live run's measured figures beside the simulator's prediction (``live.predict``):
        per contender and point, the means over seeds and the prediction's error; no rows when
        nothing was predicted."""
        from harness.catalog.metrics import metric_for
        from harness.live.predict import PREDICTED

        r = self.res
        header = [r.noun, *map(_short, r.param_keys), "metric", "measured", "predicted", "error"]
        pairs = [(k, f"predicted_{k}") for k in PREDICTED if r.has_metric(f"predicted_{k}") and k in r.runs]
        out = []
        for (contender, *point), group in r.runs.groupby([CONTENDER, *r.param_keys], sort=False):
            for key, guess in pairs:
                measured, predicted = group[key].astype(float).mean(), group[guess].astype(float).mean()
                if measured != measured or predicted != predicted:  # NaN: not measured (no failover)
                    continue
                m = metric_for(key)
                places = fmt.decimals_for([measured * m.scale, predicted * m.scale])
                error = fmt.pct(100 * (predicted - measured) / measured) if measured else "—"
                out.append([str(contender), *map(str, point), m.axis_label, fmt.num(measured * m.scale, places),
                            fmt.num(predicted * m.scale, places), error])
        return header, out

    def like_text(self) -> str:
        ok, diffs, specific = self.like
        if ok is None:
            return ""
        r = self.res
        if r.compare not in ("protocol", "contender"):
            specific = _differing(specific, r.compare)
        own = "; ".join(f"{p}: " + ", ".join(f"{k} = {v}" for k, v in sorted(s.items()))
                        for p, s in specific.items())
        own = f" Protocol-specific settings — {own}." if own else ""
        what = {"protocol": "the protocol and its own settings",
                "contender": "the settings each contender names and the protocols' own settings"}.get(
            r.compare, f"{param_short(r.compare)} ({r.compare})"
            + (" and the protocol settings below" if own else ""))
        if ok:
            return (f"Like with like: at every parameter point and seed, the {r.noun}s ran with the "
                    "same resolved configuration (clients, network, cost model, faults); only "
                    f"{what} differed." + own)
        shown = ", ".join(diffs[:8]) + (" …" if len(diffs) > 8 else "")
        return ("Not like with like: at the same parameter point and seed, the resolved "
                f"configurations of the {r.noun}s also differ in: {shown}." + own)

    def provenance(self) -> list[tuple[str, str]]:
        m = self.res.manifest
        rows: list[tuple[str, str]] = []
        for key, label in (("suite", "Suite"), ("kind", "Kind"), ("source", "Suite file"),
                           ("distbench_version", "distbench version"), ("git_commit", "Git commit"),
                           ("python", "Python"), ("started", "Started"), ("finished", "Finished")):
            if m.get(key) not in (None, ""):
                rows.append((label, _s(m[key])))
        if m.get("seeds") is not None:
            rows.append(("Seeds", ", ".join(_s(s) for s in m["seeds"])))
        if m.get("swept") is not None:
            rows.append(("Swept", ", ".join(_s(s) for s in m["swept"]) or "—"))
        if m.get("compare"):
            rows.append(("Compared key", _s(m["compare"])))
        rows.append(("Reference", self.res.reference or "—"))
        pk = m.get("packages") or {}
        if pk:
            rows.append(("Packages", ", ".join(f"{k} {_s(v)}" for k, v in sorted(pk.items()))))
        elapsed = _elapsed(m.get("started"), m.get("finished"))
        if elapsed is not None:
            rows.append(("Elapsed (started → finished)", _human_s(elapsed)))
        if "wall_s" in self.res.runs.columns and self.res.runs["wall_s"].notna().any():
            rows.append(("Total run time (sum of each run's wall_s; parallel runs overlap)",
                         _human_s(float(self.res.runs["wall_s"].sum()))))
        rows.append(("Results directory", str(self.res.path)))
        return rows

    def run_rows(self) -> tuple[list[str], list[list[str]]]:
        r = self.res
        extra = [r.noun] if r.compare != "protocol" else []
        cols = ["run_id", "protocol", *extra, "seed", *r.param_keys]
        metrics = [k for k in ("throughput_ops_s", "latency_p99_ms", "abort_rate", "wall_s")
                   if k in r.runs.columns and r.runs[k].notna().any()]
        header = cols + metrics + ["safety"]
        rows = []
        for _, row in r.runs.iterrows():
            vals = [str(row["run_id"]), str(row["protocol"]), *[str(row[CONTENDER]) for _ in extra],
                    fmt.num(row["seed"], 0),
                    *[str(row[k]) for k in r.param_keys]]
            for k in metrics:
                v = row[k]
                if k == "abort_rate":
                    vals.append(fmt.num(v * 100, 2) + "%" if v == v else "—")
                else:
                    vals.append(fmt.num(v, fmt.decimals_for([v])))
            detail = row.get("safety_detail")
            vals.append(str(row["safety"]) + (f" ({detail})" if isinstance(detail, str) and detail.strip() else ""))
            rows.append(vals)
        return header, rows


def _differing(specific: dict[str, dict[str, str]], compare: str) -> dict[str, dict[str, str]]:
    """Each contender's protocol settings that differ between the contenders, but the compared key
    itself: contenders of one protocol share the rest, which says nothing about the comparison."""
    keys = {k for s in specific.values() for k in s
            if len({s2.get(k) for s2 in specific.values()}) > 1 and not compare.endswith("." + k)}
    return {c: {k: v for k, v in s.items() if k in keys} for c, s in specific.items()
            if any(k in keys for k in s)}


def _short(key: str) -> str:
    from harness.catalog.params import param_short
    return param_short(key)


def _s(v: Any) -> str:
    return "null" if v is None else str(v)


def _elapsed(started: Any, finished: Any) -> float | None:
    """Seconds between the manifest's ISO 8601 start and end times; None when unknown."""
    from datetime import datetime
    try:
        a = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(finished).replace("Z", "+00:00"))
        d = (b - a).total_seconds()
    except (TypeError, ValueError):
        return None
    return d if d >= 0 else None


def _human_s(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:,.1f} s"
    m, s = divmod(round(seconds), 60)
    if m < 60:
        return f"{m} min {s:02d} s ({seconds:,.0f} s)"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min ({seconds:,.0f} s)"


def build_document(res: Results, charts: list[Chart]) -> Document:
    return Document(res, build_tables(res), build_tables(res, headline_only=False), charts,
                    findings(res), safety_rows(res), method_note(res), like_for_like(res), bold_note(res),
                    explanations(res))
