"""The comparison report: tables, charts, HTML and Markdown from a results directory."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.report import ReportError, write_report
from harness.report.load import load_results
from harness.report.palette import protocol_colors
from harness.compare.stats import geomean_delta_pct, significant, summarize
from report_fixtures import make_results

CONSENSUS_CHARTS = {"throughput", "latency_percentiles", "latency_cdf", "timeline", "failover", "cost"}
TXN_CHARTS = {"throughput", "latency_percentiles", "latency_cdf", "contention", "aborts_by_cause", "cost"}

CASES = {
    # name: (make_results kwargs, expected charts)
    "consensus-1seed-1param": (dict(kind="consensus", seeds=[1], params={"cluster.nodes": [3, 5]}),
                               CONSENSUS_CHARTS),
    "consensus-3seeds-2params": (dict(kind="consensus", seeds=[1, 2, 3],
                                      params={"cluster.nodes": [3, 5], "network.loss": [0.0, 0.02]},
                                      violation=True, extra_metric=True),
                                 # aborts from message loss; enough failovers for their CDF
                                 CONSENSUS_CHARTS | {"contention", "failover_cdf"}),
    "transactions-3seeds-2params": (dict(kind="transactions", seeds=[1, 2, 3],
                                         params={"workload.distribution.theta": [0.6, 0.99],
                                                 "workload.write_ratio": [0.2, 0.8]}),
                                    TXN_CHARTS),
    "transactions-1seed-1param": (dict(kind="transactions", seeds=[7],
                                       params={"workload.distribution.theta": [0.5, 0.8, 0.99]}),
                                  TXN_CHARTS),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def report(request, tmp_path_factory):
    kwargs, charts = CASES[request.param]
    results = make_results(tmp_path_factory.mktemp(request.param) / "results", **kwargs)
    paths = write_report(results)
    return request.param, results, paths, charts


# ---------------------------------------------------------------------------------------------
# HTML checks

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Checker(HTMLParser):
    """Collects URLs and checks that every non-void element is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action") and value is not None:
                self.urls.append((tag, name, value))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Checker:
    p = _Checker()
    p.feed(html)
    p.close()
    return p


def test_report_files_and_charts(report):
    name, results, paths, expected = report
    assert paths["html"] == results / "report.html" and paths["html"].is_file()
    assert paths["md"] == results / "report.md" and paths["md"].is_file()
    stems = {p.stem for p in paths["charts"]}
    assert stems == expected, name
    for stem in expected:
        png, svg = results / "charts" / f"{stem}.png", results / "charts" / f"{stem}.svg"
        assert png in paths["charts"] and svg in paths["charts"]
        with Image.open(png) as im:
            im.verify()
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] >= 600 and im.size[1] >= 300
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")


def test_html_is_self_contained_and_well_formed(report):
    name, results, paths, expected = report
    html = paths["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    p = _parse(html)
    assert not p.errors, p.errors[:3]
    assert not p.stack, f"unclosed: {p.stack}"
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    for tag, attr, url in p.urls:
        if attr == "href":
            assert url.startswith("#"), f"external link {url}"
        else:
            assert url.startswith("data:image/png;base64,"), f"{tag} {attr} loads {url[:60]}"
    assert "url(" not in html and "@import" not in html
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html)
    imgs = [u for t, a, u in p.urls if t == "img"]
    assert len(imgs) == len(expected)


def test_markdown_links_charts_and_has_tables(report):
    name, results, paths, expected = report
    md = paths["md"].read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert {Path(link).stem for link in links} == expected
    for link in links:
        assert not link.startswith(("/", "http")) and (results / link).is_file()
    assert re.search(r"^\| ---: \|", md, re.M) or re.search(r"^\| --- \| ---: \|", md, re.M)
    assert "**" in md  # best values marked


def test_report_content(report):
    name, results, paths, expected = report
    html = paths["html"].read_text(encoding="utf-8")
    md = paths["md"].read_text(encoding="utf-8")
    text = " ".join(_parse(html).text)
    multi_seed = "1seed" not in name
    for doc in (text, md):
        if multi_seed:
            assert "Student's t-interval" in doc and "paired t-test by seed" in doc
        else:
            assert "n=1, no CI" in doc
        assert "Key findings" in doc and "Configuration and provenance" in doc
        assert "3f2a9c1d0b7e" in doc  # the commit, from the manifest
    assert md.index("## Safety") < md.index("## Key findings") < md.index("## Throughput") \
        < md.index("## Configuration and provenance") < md.index("Resolved suite configuration")
    assert html.index('<section id="safety">') < html.index('<section id="findings">') \
        < html.index('<section id="throughput">') < html.index('<section id="configuration">')
    ref = "raft" if name.startswith("consensus") else "2pl"
    assert f"{ref} (ref)" in md and "(reference)" in text
    assert "geometric mean" in text
    if "violation" in json.dumps(CASES[name][0]):
        assert "SAFETY VIOLATION" in text and "SAFETY VIOLATION" in md
        assert html.index("SAFETY VIOLATION") < html.index('<section id="findings">')
        assert "lost write on key 17" in md and "[!CAUTION]" in md
        assert "⚠" in md.split("## Throughput", 1)[1]  # the affected cells are marked
        assert "gc pauses" in md  # unknown metric column -> "Other metrics"
    else:
        assert "all " in text and "passed their safety checks" in text


# ---------------------------------------------------------------------------------------------
# Statistics, palette, parameters

def test_t_interval_and_tests():
    s = summarize([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.n == 3
    assert s.half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    one = summarize([5.0])
    assert one.half is None and one.n == 1
    assert summarize([float("nan")]) is None
    assert significant([1.0, 1.1, 0.9], [5.0, 5.1, 4.9]) is True
    assert significant([1.0, 2.0, 3.0], [1.5, 2.5, 2.0]) is False
    assert significant([1.0], [2.0]) is None
    assert significant([2.0, 2.0], [2.0, 2.0]) is False
    assert geomean_delta_pct([2.0, 8.0], [1.0, 2.0]) == pytest.approx((math.sqrt(8) - 1) * 100)


def test_palette_is_stable_and_distinct():
    a = protocol_colors(["raft", "multipaxos"])
    b = protocol_colors(["multipaxos", "2pl", "raft", "epaxos"])
    assert a["raft"] == b["raft"] and a["multipaxos"] == b["multipaxos"]
    assert protocol_colors(["epaxos"])["epaxos"] == b["epaxos"]
    many = protocol_colors(["raft", "multipaxos", "2pl", "occ", "2pc", "x1", "x2", "x3"])
    assert len(set(many.values())) == len(many)


def test_duration_parameters_and_fixed_values(tmp_path):
    d = make_results(tmp_path / "r", seeds=[1], protocols=["raft"],
                     params={"replication.election_timeout": [0.3, 0.15]}, optional_files=False)
    res = load_results(d)
    p = res.params[0]
    assert p.values == ["150ms", "300ms"] and p.numbers == {"150ms": 150.0, "300ms": 300.0}
    assert p.label == "election timeout"
    fixed = {f.key: f.text for f in res.fixed}
    assert fixed["duration"] == "20s (warm-up 2s)"


@pytest.mark.parametrize("resolved", [False, True])
def test_rates_and_durations_as_written_or_resolved(tmp_path, resolved):
    """The runner writes swept columns as resolved numbers (8000.0 per second, 0.15 s); older
    results hold the strings as written ("8000/s", "150ms"). Both display with their unit and
    sort by their number, not as strings."""
    d = make_results(tmp_path / "r", seeds=[1], optional_files=False, resolved=resolved,
                     config={"workload.mode": "open", "workload.rate": "5000/s"},
                     params={"workload.rate": ["16000/s", "2000/s", "24k/s", "8000/s"],
                             "replication.election_timeout": ["300ms", "1s", "150ms"]})
    header = (d / "runs.csv").read_text().splitlines()[1]
    assert ("16000.0" in header) == resolved and ("16000/s" in header) != resolved
    res = load_results(d)
    rate, et = res.params
    assert rate.values == ["2k/s", "8k/s", "16k/s", "24k/s"] and rate.quantity == "rate"
    assert rate.numbers == {"2k/s": 2000.0, "8k/s": 8000.0, "16k/s": 16000.0, "24k/s": 24000.0}
    assert rate.label == "offered load"
    assert et.values == ["150ms", "300ms", "1s"] and et.numbers["1s"] == 1000.0
    assert set(res.runs["workload.rate"]) == set(rate.values)
    fixed = {f.key: f.text for f in res.fixed}
    assert fixed["workload.mode"] == "open loop (Poisson), 64 clients"  # the rate is swept


def test_knee_follows_numeric_load(tmp_path):
    """The latency-throughput curve joins the points in order of the numeric load, whatever the
    order of the rows or of the strings ("16000/s" < "2000/s" as text)."""
    from harness.report.figure import Ctx
    from harness.report.latency import knee_points, load_param
    d = make_results(tmp_path / "r", seeds=[1, 2], optional_files=False,
                     config={"workload.mode": "open", "workload.rate": "5000/s"},
                     params={"workload.rate": ["16000/s", "2000/s", "8000/s", "24000/s"]})
    lines = (d / "runs.csv").read_text().splitlines()
    (d / "runs.csv").write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    res = load_results(d)
    ctx = Ctx(res)
    lp = load_param(ctx)
    assert lp is not None and lp.key == "workload.rate"
    for proto in res.contenders:
        pts = knee_points(ctx.runs[ctx.runs["protocol"] == proto], lp, "latency_p99_ms")
        assert [p[0] for p in pts] == ["2k/s", "8k/s", "16k/s", "24k/s"]
        thr = [p[1] for p in pts]
        assert thr == sorted(thr)  # below saturation, more offered load, more throughput


def test_fixed_line_names_what_matters(tmp_path):
    from harness.report.fixed import describe
    base = {"cluster": {"nodes": 5}, "duration": 10.0, "warmup": 1.0,
            "network": {"latency": {"dist": "normal", "mean": 0.0005, "std": 0.0001}, "loss": 0.0,
                        "links": [{"from": 0, "to": "*", "loss": 0.05}, {"from": 1, "to": 2, "latency": 0.01}]},
            "replication": {"election_timeout": 0.15},
            "workload": {"clients": 32, "mode": "closed", "rate": None, "keys": 1000, "read_ratio": 0.5,
                         "cas_ratio": 0.0, "timeout": 0.1, "retries": 10,
                         "distribution": {"type": "uniform", "theta": 0.99, "hot_fraction": 0.2,
                                          "hot_probability": 0.8}},
            "faults": {"crash": {"mtbf": 10.0, "mttr": 2.0, "dist": "exponential", "target": "any"},
                       "partition": None, "slow": None,
                       "schedule": [{"at": 2.0, "action": "crash", "target": "leader", "for": 0.5},
                                    {"at": 3.0, "action": "crash", "target": "leader", "for": 0.5},
                                    {"at": 5.0, "action": "isolate", "target": "leader", "for": 0.5}]}}
    text = "; ".join(map(str, describe(base, ["protocol"], "consensus")))
    assert "θ" not in text and "hot" not in text and "keys = uniform over 1,000 keys" in text
    assert "cluster size = 5 nodes" in text
    assert "load = closed loop, 32 clients" in text
    assert "client timeout = 100ms (10 retries)" in text
    assert "message loss = 0 (overridden per link" in text and "per-link overrides = 2 entries (latency)" in text
    assert ("faults = random crashes of any node (every ~10s, down ~2s); crash leader for 500ms at 2s, 3s; "
            "isolate leader for 500ms at 5s") in text
    assert "election timeout = 150ms" in text and "duration = 10s (warm-up 1s)" in text

    base["workload"]["distribution"]["type"] = "hotspot"
    text = "; ".join(map(str, describe(base, ["protocol"], "consensus")))
    assert "θ" not in text and "hotspot (80% of operations on 20% of the keys) over 1,000 keys" in text
    base["workload"]["distribution"]["type"] = "zipfian"
    base["workload"].update(mode="open", rate=8000.0)
    text = "; ".join(map(str, describe(base, ["protocol", "cluster.nodes", "faults"], "consensus")))
    assert "zipfian θ = 0.99" in text and "hot" not in text
    assert "load = open loop, Poisson 8k/s from 32 clients" in text
    assert "cluster size" not in text and "faults" not in text  # swept: shown as swept, not fixed

    # The whole report: header and chart subtitles (as written in the suite file, too).
    d = make_results(tmp_path / "r", seeds=[1], params={"cluster.nodes": [3, 5]}, optional_files=False,
                     config={"workload.distribution": {"type": "uniform", "theta": 0.99}})
    md = write_report(d, formats="md")["md"].read_text()
    head = md.split("## Safety")[0]
    assert "θ" not in head and "keys = uniform over 10,000 keys" in head
    assert "client timeout = 200ms (10 retries)" in head and "load = closed loop, 64 clients" in head
    assert "faults = crash leader for 3s at 8s; isolate node 2 for 2s at 14s" in head


# ---------------------------------------------------------------------------------------------
# Significance: best marks, findings, CIs

def _doc(results: Path):
    from harness.report.document import build_document
    return build_document(load_results(results), charts=[])


def test_best_only_when_significant_or_distinct(tmp_path):
    """Bold (best) and "best" in the findings only for a significant difference from the
    runner-up (or, with one run, a difference at the displayed precision)."""
    from harness.catalog.metrics import metric_for
    from harness.report.tables import metric_rows
    d = make_results(tmp_path / "r", seeds=[1, 2, 3], params={"cluster.nodes": [3, 5, 7]}, optional_files=False)
    runs = d / "runs.csv"
    df = pd.read_csv(runs)
    # Noisy throughput whose means differ by ~10% without being significant; p99 identical at
    # the displayed precision ("104 ± 0" both) while the means differ by 0.1%.
    rng = np.random.default_rng(7)
    for proto, shift in (("raft", 1.0), ("multipaxos", 1.1)):
        m = df["protocol"] == proto
        df.loc[m, "throughput_ops_s"] = 10000 * shift * rng.choice([0.5, 1.0, 1.6], size=m.sum(), replace=True)
        df.loc[m, "latency_p99_ms"] = 104.0 + (0.1 if proto == "multipaxos" else 0.0)
    df.to_csv(runs, index=False)
    res = load_results(d)
    for key in ("throughput_ops_s", "latency_p99_ms"):
        rows = metric_rows(res, metric_for(key))
        assert all(r.winner is None and not any(c.best for c in r.cells.values()) for r in rows), key
    doc = _doc(d)
    thr = next(f for f in doc.findings if f.startswith("**Throughput**"))
    assert "best" not in thr.split(" Against")[0] and "no significant difference at any of the 3 points" in thr
    p99 = next(f for f in doc.findings if f.startswith("**p99 latency**"))
    assert "best" not in p99.split(" Against")[0]

    # A clear, significant difference is still called.
    df["messages_per_op"] = df["protocol"].map({"raft": 4.0, "multipaxos": 5.0}) + rng.normal(0, 0.01, len(df))
    df.to_csv(runs, index=False)
    msgs = next(f for f in _doc(d).findings if f.startswith("**Messages per op**"))
    assert "best: **raft** at 3 of 3 points (paired t-test by seed p < 0.05)" in msgs

    # One seed: a tie at the displayed precision is no win; a visible difference is (untested).
    d1 = make_results(tmp_path / "one", seeds=[1], params={"cluster.nodes": [3, 5]}, optional_files=False)
    df = pd.read_csv(d1 / "runs.csv")
    df["latency_p99_ms"] = df["protocol"].map({"raft": 104.01, "multipaxos": 104.02})
    df.to_csv(d1 / "runs.csv", index=False)
    rows = metric_rows(load_results(d1), metric_for("latency_p99_ms"))
    assert all(r.winner is None and r.verdict == "tie" for r in rows)
    thr = next(f for f in _doc(d1).findings if f.startswith("**Throughput**"))
    assert "best (single runs, not tested)" in thr


def test_two_seeds_say_the_interval_is_very_wide(tmp_path):
    d = make_results(tmp_path / "r", seeds=[1, 2], params={"cluster.nodes": [3, 5]}, optional_files=False)
    doc = _doc(d)
    assert "1 degree of freedom" in doc.method
    assert all("1 degree of freedom" in " ".join(t.notes) for t in doc.tables)


def test_timeout_sets_the_tail(tmp_path):
    """Under message loss p99 ≈ the client timeout: cells are marked, the note and the finding say
    it is the retry timer."""
    d = make_results(tmp_path / "r", seeds=[1, 2, 3], params={"network.loss": [0.0, 0.01]},
                     optional_files=False, config={"workload.timeout": "100ms"})
    doc = _doc(d)
    lat = next(t for t in doc.tables if t.family == "Latency")
    marked = {(r.metric.key, r.point) for r in lat.rows for c in r.cells.values() if c and "†" in c.marks}
    assert ("latency_p99_ms", ("0.01",)) in marked and ("latency_p99_ms", ("0",)) not in marked
    assert any("client timeout (100ms)" in n for n in lat.notes)
    p99 = next(f for f in doc.findings if f.startswith("**p99 latency**"))
    assert "multiple of the client timeout (100ms)" in p99 and "1 of 2 points" in p99


def test_abort_rate_defined_and_titled_by_kind(tmp_path):
    d = make_results(tmp_path / "c", seeds=[1, 2], params={"network.loss": [0.0, 0.02]}, optional_files=False)
    md = write_report(d, formats="md")["md"].read_text()
    assert "## Client retries and aborts" in md and "## Contention" not in md
    assert "timed out ÷ attempts sent in the measurement window" in md
    assert "failed (timed out or were rejected)" not in md
    section = md.split("## Client retries and aborts")[1].split("## ")[0]
    assert re.search(r"\| \d+\.\d+ ± \d+\.\d+% \|", section)  # a percentage, with its sign
    assert " pp" in section  # differences of percentages in percentage points
    assert "## Cost and leader load" in md and "Cost per operation" not in md
    assert "Elapsed (started → finished) | 1 min 12 s" in md and "Wall time of all runs" not in md
    t = make_results(tmp_path / "t", "transactions", seeds=[1], optional_files=False,
                     params={"workload.distribution.theta": [0.5, 0.99]})
    md = write_report(t, formats="md")["md"].read_text()
    assert "## Contention" in md and "aborted transaction attempts ÷ attempts" in md


def test_failover_is_described_as_measured(report):
    name, results, paths, expected = report
    if not name.startswith("consensus"):
        return
    md = paths["md"].read_text()
    assert "until a new leader serves requests" not in md
    assert "until a newer leader was elected" in md
    findings = md.split("## Key findings")[1].split("## ")[0]
    fo = findings.index("**Mean failover time")
    assert findings.index("**Time unavailable") > fo  # the outage is shown next to the failover


# ---------------------------------------------------------------------------------------------
# Timeline: leader column, fault windows, failover labels; log axes say so

def test_leader_column_is_sampled_at_bucket_end():
    from harness.report.failures import leader_spans
    rts = pd.DataFrame({"time_s": [0.0, 0.1, 0.2, 0.3, 0.4], "leader": [None, "4", "4", None, "3"]})
    ev = pd.DataFrame({"time_s": [0.15, 0.35, 0.5], "node": ["4", "4", "3"],
                       "kind": ["leader", "crash", "leader"], "detail": ["term 1", "", "term 2"],
                       "duration_ms": [None, 500.0, None]})
    spans = leader_spans(rts, ev, 0.1)
    # Row 0.1 says who led at 0.2: node 4, elected at 0.15 (not from 0.1); it crashed at 0.35 and
    # node 3 was elected at 0.5 (the sample of row 0.4).
    assert spans == [(0.0, 0.15, None), (0.15, 0.35, "4"), (0.35, 0.5, None)]


def test_fault_windows_every_kind():
    from harness.report.failures import fault_windows
    ev = pd.DataFrame([
        (1.0, "0", "crash", "", 500.0), (1.5, "0", "restart", "", None),
        (2.0, "1", "isolate", "1 | 0,2", None), (2.7, "-", "heal", "", None),
        (3.0, "-", "partition", "0,1 | 2,3,4", 400.0), (3.4, "-", "heal", "", None),
        (4.0, "2", "slow", "x10", None), (4.9, "2", "restore", "", None),
        (5.0, "-", "crash", "skipped: no leader to target", None),
        (6.0, "3", "crash", "", None),
    ], columns=["time_s", "node", "kind", "detail", "duration_ms"])
    w = fault_windows(ev, 8.0)
    assert [(k, a, b) for k, a, b, _n in w] == [("crash", 1.0, 1.5), ("isolate", 2.0, 2.7),
                                                ("partition", 3.0, 3.4), ("slow", 4.0, 4.9),
                                                ("crash", 6.0, 8.0)]


def test_failover_labels_never_overlap_or_leave_the_axis():
    from harness.report.failures import _label_width_in, layout_labels
    per_in = 8.0 / 3.4  # 8 s over a 3.4-inch panel
    xs = [0.05, 1.1, 2.15, 3.1, 4.2, 5.12, 6.1, 7.95, 7.97]
    items = [(x, _label_width_in("165 ms")) for x in xs]
    placed, levels = layout_labels(items, per_in, 0.0, 8.0)
    assert len(placed) == len(xs) and levels >= 2 and all(lv is not None for _x, lv in placed)
    half = _label_width_in("165 ms") * per_in / 2
    for k, (x, level) in enumerate(placed):
        assert 0.0 <= x - half and x + half <= 8.0
        for x2, l2 in placed[:k]:
            assert l2 != level or abs(x - x2) >= 2 * half
    # Far too many to label: a bounded number of levels, the rest left unlabelled.
    placed, levels = layout_labels([(0.1 * k, 0.4) for k in range(60)], per_in, 0.0, 8.0)
    assert levels == 4 and any(lv is None for _x, lv in placed)


def _capture(monkeypatch, figs: dict, *modules) -> dict:
    """Keep every figure the report draws, by chart name, to inspect its axes."""
    for module in modules:
        real = module.render

        def grab(fig, chart, out_dir, _real=real):
            figs[chart.name] = fig
            return _real(fig, chart, out_dir)
        monkeypatch.setattr(module, "render", grab)
    return figs


def test_charts_label_log_axes_and_draw_the_timeline(tmp_path, monkeypatch):
    import harness.report.charts as charts
    import harness.report.failures as failures
    import harness.report.latency as latency
    figs = _capture(monkeypatch, {}, charts, failures, latency)
    d = make_results(tmp_path / "r", seeds=[1, 2], params={"network.loss": [0.0, 0.02]},
                     config={"workload.timeout": "100ms"})
    write_report(d, formats="md")
    fig = figs["latency_percentiles"]
    for ax in fig.axes:
        if ax.get_ylabel():
            assert (ax.get_yscale() == "log") == ("log scale" in ax.get_ylabel()), ax.get_ylabel()
    assert any(ax.get_yscale() == "log" for ax in fig.axes)
    tl = figs["timeline"]
    lanes = [ax for ax in tl.axes if ax.get_xlabel() == "simulated time (s)"]
    assert len(lanes) == 2  # the leader/failover lane, one per protocol
    assert "leader" in [t.get_text() for t in lanes[0].get_yticklabels()]
    labels = [t.get_text() for ax in lanes for t in ax.texts]
    assert any(s.endswith(" ms") for s in labels) and any(s.startswith("n") for s in labels)
    spans = [p for ax in tl.axes for p in ax.patches]
    assert spans  # fault windows shaded
    for ax in tl.axes:
        if ax.get_yscale() == "log":
            assert "log scale" in ax.get_ylabel() or not ax.get_ylabel()


# ---------------------------------------------------------------------------------------------
# Errors: one line, naming the file, never a traceback

def _base(tmp_path: Path) -> Path:
    return make_results(tmp_path / "r", seeds=[1], params={"cluster.nodes": [3]})


def _raises(results: Path, *fragments: str) -> str:
    with pytest.raises(ReportError) as info:
        write_report(results)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_missing_directory(tmp_path):
    _raises(tmp_path / "nope", "nope", "no such results directory")


def test_missing_runs_csv(tmp_path):
    d = _base(tmp_path)
    (d / "runs.csv").unlink()
    _raises(d, "runs.csv", "not found")


def test_malformed_runs_csv(tmp_path):
    d = _base(tmp_path)
    with open(d / "runs.csv", "a") as f:
        f.write('x,y,"unterminated\n1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30\n')
    _raises(d, "runs.csv", "malformed CSV")


def test_empty_and_header_only_runs_csv(tmp_path):
    d = _base(tmp_path)
    header = (d / "runs.csv").read_text().splitlines()[0]
    (d / "runs.csv").write_text(header + "\n")
    _raises(d, "runs.csv", "no runs")
    (d / "runs.csv").write_text("")
    _raises(d, "runs.csv", "empty")


def test_runs_csv_missing_column(tmp_path):
    d = _base(tmp_path)
    text = (d / "runs.csv").read_text().replace(",protocol,", ",proto,", 1)
    (d / "runs.csv").write_text(text)
    _raises(d, "runs.csv", "missing column 'protocol'")


def test_non_numeric_metric(tmp_path):
    d = _base(tmp_path)
    lines = (d / "runs.csv").read_text().splitlines()
    cols = lines[0].split(",")
    i = cols.index("latency_p99_ms")
    row = lines[1].split(",")
    row[i] = "fast"
    lines[1] = ",".join(row)
    (d / "runs.csv").write_text("\n".join(lines) + "\n")
    _raises(d, "runs.csv", "latency_p99_ms", "'fast'")


@pytest.mark.parametrize("content,fragment", [("{not json", "not valid JSON"),
                                              ("[1, 2]", "expected a JSON object"),
                                              ('{"swept": "protocol"}', "'swept'")])
def test_bad_manifest(tmp_path, content, fragment):
    d = _base(tmp_path)
    (d / "manifest.json").write_text(content)
    _raises(d, "manifest.json", fragment)


def test_bad_optional_files(tmp_path):
    d = _base(tmp_path)
    (d / "events.csv").write_text("run_id,when,kind\nr1,1.0,crash\n")
    _raises(d, "events.csv", "missing column 'time_s'")
    (d / "events.csv").unlink()
    (d / "latencies.csv").write_text("run_id,latency_ms,count\nr1,1.5,many\n")
    _raises(d, "latencies.csv", "'count'", "'many'")


def test_unknown_format(tmp_path):
    with pytest.raises(ReportError, match="unknown report format 'pdf'"):
        write_report(_base(tmp_path), formats=("html", "pdf"))


def test_optional_files_missing_and_determinism(tmp_path):
    """Only runs.csv and manifest.json: a smaller report that says what it skipped. Writing it
    twice gives byte-identical files."""
    d = make_results(tmp_path / "r", seeds=[1, 2], params={"workload.clients": [16, 64, 256]},
                     optional_files=False)
    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    p1 = write_report(d, out1, formats="md,html")
    p2 = write_report(d, out2, formats=["markdown"])
    assert set(p2) == {"md", "summary", "charts"}
    stems = {p.stem for p in p1["charts"]}
    # clients swept: the latency-throughput (knee) chart; failover times from runs.csv alone
    assert stems == {"throughput", "latency_percentiles", "latency_throughput", "failover", "cost"}
    md = p1["md"].read_text()
    assert "Not found: events.csv, timeseries.csv, latencies.csv" in md
    assert md == p2["md"].read_text()
    for f in p1["charts"]:
        assert f.read_bytes() == (out2 / "charts" / f.name).read_bytes(), f.name
    assert not (d / "report.html").exists()  # written to --out, not next to the results


def test_single_protocol_and_no_sweep(tmp_path):
    """Nothing to compare against: tables without deltas, no findings, still a report."""
    from harness.report.document import build_document
    from harness.report.html import render_html
    from harness.report.markdown import render_markdown
    d = make_results(tmp_path / "r", protocols=["raft"], seeds=[1, 2], params={}, optional_files=False)
    res = load_results(d)
    assert res.reference is None and res.params == []
    doc = build_document(res, charts=[])
    assert doc.findings == []
    md = render_markdown(doc, d / "report.md")
    assert "Only one protocol ran" in md and "| Throughput (ops/s) |" in md
    assert not _parse(render_html(doc)).errors


def test_categorical_sweeps_keep_matrix_order_and_wrap_long_labels():
    """A swept section (e.g. ``faults``) is a category: its values keep the order runs.csv lists
    them in (the matrix order), and long labels wrap instead of overlapping."""
    import matplotlib.pyplot as plt

    from harness.report.figure import category_ticks
    from harness.report.load import canonical_param

    raw = ["none", "{crash: {mtbf: 500ms, target: coordinator}}", "none", "{schedule: [{at: 2s}]}"]
    param, _ = canonical_param("faults", raw, [{}, {"crash": {}}, {"schedule": []}])
    assert param.values == ["none", "{crash: {mtbf: 500ms, target: coordinator}}", "{schedule: [{at: 2s}]}"]
    fig, ax = plt.subplots()
    category_ticks(ax, param.values)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert all(max(len(line) for line in label.split("\n")) <= 22 for label in labels)
    plt.close(fig)


def test_where_the_difference_comes_from(tmp_path):
    """Only where the contenders differ significantly and by at least 3% in throughput or
    latency, the report sets side by side what each committed operation cost them: messages
    by type (whatever types each contender reports) and the repair columns."""
    from harness.report.markdown import render_markdown
    from harness.catalog.params import param_short
    d = make_results(tmp_path / "r", seeds=[1, 2, 3], params={"network.loss": [0.0, 0.01]},
                     optional_files=False)
    df = pd.read_csv(d / "runs.csv")
    raft, lossy = df["protocol"] == "raft", df["network.loss"] > 0
    df["throughput_ops_s"] = np.where(raft & lossy, 4000.0, 5000.0) + df["seed"]
    df["latency_p50_ms"], df["latency_p99_ms"] = 1.0, 2.0
    df["messages_per_op_by_type"] = np.where(raft, "AppendEntries=4.18 AppendReply=4.17",
                                             "Accept=4 Accepted=3.96 Catchup=0.037")
    df["retransmissions_per_op"], df["repairs_per_op"] = 0.0, 0.05
    df["loss_blocked_share"] = np.where(raft & lossy, 0.139, 0.0)
    df.to_csv(d / "runs.csv", index=False)
    doc = _doc(d)
    (e,) = doc.explained  # the lossy point only: without loss the two agree
    assert doc.point_text(e.point) == f"{param_short('network.loss')} = {e.point[0]}"
    assert "throughput" in e.differences[0] and "25.0% above lowest" in e.differences[0]
    assert e.header == ["per committed operation", *doc.res.contenders]
    rows = {r[0]: dict(zip(doc.res.contenders, r[1:])) for r in e.rows}
    assert rows["AppendEntries messages"] == {"raft": "4.18", "multipaxos": "—"}
    assert rows["Catchup messages"] == {"raft": "—", "multipaxos": "0.0370"}
    assert rows["Follower time blocked behind a lost message"] == {"raft": "13.9 %", "multipaxos": "0.0 %"}
    md = render_markdown(doc, d / "report.md")
    assert md.count("## Where the difference comes from") == 1 and "| AppendEntries messages |" in md

    df["throughput_ops_s"] = 5000.0 + df["seed"]  # they agree everywhere: nothing to explain
    df.to_csv(d / "runs.csv", index=False)
    assert not _doc(d).explained
    assert "Where the difference" not in render_markdown(_doc(d), d / "report.md")


def test_leaderless_stretches_inside_one_bucket_show_in_the_leader_lane():
    """Node 4 steps down at 0.23 and is re-elected at 0.24: both samples (0.2, 0.3) show node 4,
    but the bucket's leaderless_ms shows the 10 ms without a leader, placed at the step-down."""
    from harness.report.failures import leader_spans
    rts = pd.DataFrame({"time_s": [0.0, 0.1, 0.2, 0.3], "leader": ["4", "4", "4", "4"],
                        "leaderless_ms": [50.0, 0.0, 10.0, 0.0]})
    ev = pd.DataFrame({"time_s": [0.05, 0.23, 0.24], "node": ["4", "4", "4"],
                       "kind": ["leader", "stepped-down", "leader"],
                       "detail": ["term 1", "term 1", "term 2"], "duration_ms": [None, None, None]})
    spans = leader_spans(rts, ev, 0.1)
    assert [(round(a, 6), round(b, 6), n) for a, b, n in spans] == [
        (0.0, 0.05, None), (0.05, 0.23, "4"), (0.23, 0.24, None), (0.24, 0.4, "4")]
    # from the samples alone the stretch is invisible
    assert leader_spans(rts.drop(columns="leaderless_ms"), ev, 0.1) == [(0.05, 0.4, "4")]


def test_leaderless_ms_counts_every_stretch_without_a_leader():
    from harness.kinds.consensus.metrics import ConsensusMetrics
    m = ConsensusMetrics(warmup=0.0, bucket=0.1, gap=1.0, replicas=3)
    m.leader(0, 1, 0.05)
    m.observe(0, "stepped_down", 1, 0.23)
    m.leader(1, 2, 0.24)
    m.finish(0.4)
    assert [round(s[5], 6) for s in m.series] == [50.0, 0.0, 10.0, 0.0]
    assert [s[4] for s in m.series] == [0, 0, 1, 1]  # the leader sampled at each bucket's end


# ---------------------------------------------------------------------------------------------
# What a report shows depends on the suite's kind; every label has its unit

CONSENSUS_WORDS = re.compile(r"leader|failover|retransmi|gap repair|follower|election", re.I)


def test_transaction_report_has_no_consensus_leftovers(tmp_path, monkeypatch):
    """A transaction suite under a coordinator crash: the availability section, its timeline and
    the tables speak of commit gaps, never of leaders, failovers or replication (whose columns
    older transaction results carry as zeros)."""
    import harness.report.failures as failures
    figs = _capture(monkeypatch, {}, failures)
    d = make_results(tmp_path / "r", "transactions", seeds=[1, 2], faults=True,
                     params={"workload.distribution.theta": [0.6, 0.99]})
    paths = write_report(d)
    md = paths["md"].read_text()
    text = " ".join(_parse(paths["html"].read_text()).text)
    for doc in (md.split("## Configuration and provenance")[0], text.split("Configuration and provenance")[0]):
        assert "Availability" in doc and "Time unavailable" in doc and "commit gaps" in doc
        assert not CONSENSUS_WORDS.search(doc), CONSENSUS_WORDS.search(doc)
    summary = pd.read_csv(paths["summary"])
    assert "unavailable_ms_mean" in summary.columns
    assert not [c for c in summary.columns if CONSENSUS_WORDS.search(c) or c.startswith(("repairs", "loss_blocked"))]
    handles = [t.get_text() for leg in figs["timeline"].legends for t in leg.get_texts()]
    assert "crash" in handles and not any(CONSENSUS_WORDS.search(h) for h in handles)


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_aborts_by_cause_is_a_grid_with_a_column_per_contender(tmp_path, monkeypatch):
    """Many panels wrap into rows of at most four instead of one tall strip; whole rows of
    contenders, so that each column keeps one contender."""
    import harness.report.charts as charts
    figs = _capture(monkeypatch, {}, charts)
    params = {"workload.distribution.theta": [0.6, 0.99], "workload.write_ratio": [0.1, 0.3, 0.5, 0.7, 0.9]}
    one = make_results(tmp_path / "one", "transactions", protocols=["2pc"], seeds=[1], params=params)
    size = write_report(one, formats="md") and figs["aborts_by_cause"].get_size_inches()
    columns = {round(ax.get_position().x0, 3) for ax in _visible(figs["aborts_by_cause"])}
    assert len(_visible(figs["aborts_by_cause"])) == 5 and len(columns) == 4
    assert size[1] < size[0]  # wider than tall, not a 960×4542 strip

    two = make_results(tmp_path / "two", "transactions", protocols=["2pl", "occ"], seeds=[1], params=params)
    write_report(two, formats="md")
    by_column: dict[float, set[str]] = {}
    for ax in _visible(figs["aborts_by_cause"]):
        by_column.setdefault(round(ax.get_position().x0, 3), set()).add(ax.get_title().split("\n")[0])
    assert len(by_column) == 4 and all(len(names) == 1 for names in by_column.values())


def test_timeline_keeps_every_line_inside_its_panel_and_titles_apart(tmp_path, monkeypatch):
    """Panels of a row share their y axis: its top fits the highest contender, not the first one
    drawn; long contender names wrap instead of running into the next panel's title."""
    import harness.report.failures as failures
    figs = _capture(monkeypatch, {}, failures)
    names = ["2pl-" + "long-contender-name-" * 3, "occ-" + "long-contender-name-" * 3]
    d = make_results(tmp_path / "r", "transactions", protocols=names, seeds=[1], faults=True,
                     params={"workload.distribution.theta": [0.99]})
    df = pd.read_csv(d / "timeseries.csv")  # the second contender peaks far above the first
    df.loc[df["run_id"].str.contains("occ"), "throughput_ops_s"] *= 3
    df.to_csv(d / "timeseries.csv", index=False)
    write_report(d, formats="md")
    fig = figs["timeline"]
    for ax in _visible(fig):
        for line in ax.lines:
            y = np.asarray(line.get_ydata(), dtype=float)
            if line.get_transform() == ax.transData and np.isfinite(y).any():
                assert np.nanmax(y) <= ax.get_ylim()[1]
    fig.draw_without_rendering()
    boxes = [ax.title.get_window_extent() for ax in _visible(fig) if ax.get_title()]
    assert len(boxes) == 2 and boxes[0].x1 < boxes[1].x0
    assert all(0 <= b.x0 and b.x1 <= fig.bbox.x1 for b in boxes)


def test_failover_cdf_uses_the_contenders_colours(tmp_path, monkeypatch):
    """One colour per contender, as in every other chart; the swept settings differ by line style."""
    import harness.report.failover_cdf as failover_cdf
    from matplotlib.colors import to_hex
    figs = _capture(monkeypatch, {}, failover_cdf)
    d = make_results(tmp_path / "r", seeds=[1, 2, 3], params={"cluster.nodes": [3, 5], "network.loss": [0.0, 0.02]})
    write_report(d, formats="md")
    (ax,) = figs["failover_cdf"].axes
    palette = protocol_colors(["raft", "multipaxos"])
    legend = ax.get_legend()
    entries = [(t.get_text(), to_hex(h.get_color())) for t, h in zip(legend.get_texts(), legend.get_lines())]
    assert len(entries) == 8  # two contenders × four settings
    for label, color in entries:
        assert color == palette[label.split(",")[0]], label
    assert {to_hex(line.get_color()) for line in ax.lines} == set(palette.values())
    styles = {(to_hex(line.get_color()), str(line.get_linestyle())) for line in ax.lines}
    assert len(styles) == 8  # a setting is told apart by its line style


UNIT = re.compile(r"\(([^()]+)\)\s*$")


def _numeric(ticks) -> bool:
    texts = [t.get_text().replace("−", "-").replace(",", "") for t in ticks if t.get_text()]
    try:
        return bool(texts) and all(float(t.rstrip("k")) is not None for t in texts)
    except ValueError:
        return False


def _has_unit(label: str) -> bool:
    """"p99 latency (ms, log scale)", "cluster size (nodes)": a unit in the closing parentheses
    (a count names what it counts, a ratio says fraction), not just a scale note."""
    m = UNIT.search(label)
    return bool(m) and m.group(1).split(",")[0].strip() not in ("", "log scale", "logit scale")


@pytest.mark.parametrize("kind,params", [
    ("consensus", {"cluster.nodes": [3, 5], "network.loss": [0.0, 0.02]}),
    ("consensus", {"workload.clients": [8, 64]}),
    ("transactions", {"workload.distribution.theta": [0.6, 0.99], "workload.write_ratio": [0.2, 0.8]}),
    ("transactions", {"workload.multi_partition": [0.1, 0.5], "faults": ["none", "crash"]}),
])
def test_every_numeric_axis_label_has_a_unit(tmp_path, monkeypatch, kind, params):
    """The rule: an axis whose ticks are plain numbers says its unit in the parentheses that end
    its label; an axis of names (faults, protocols) or of values that carry their unit ("150ms",
    "10%") is exempt. Tables say the unit of every metric and of every parameter header."""
    import harness.report.charts as charts
    import harness.report.failover_cdf as failover_cdf
    import harness.report.failures as failures
    import harness.report.latency as latency
    figs = _capture(monkeypatch, {}, charts, failures, latency, failover_cdf)
    d = make_results(tmp_path / "r", kind, seeds=[1, 2, 3], params=params, faults=True)
    write_report(d, formats="md")
    checked = 0
    for name, fig in figs.items():
        for ax in _visible(fig):
            for label, ticks in ((ax.get_xlabel(), ax.get_xticklabels()), (ax.get_ylabel(), ax.get_yticklabels())):
                if label and _numeric(ticks):
                    checked += 1
                    assert _has_unit(label), f"{name}: {label!r}"
    assert checked >= 10
    doc = _doc(d)
    for t in doc.all_tables:
        assert all(m.unit for m in t.metrics), [m.key for m in t.metrics if not m.unit]
        for p, head in zip(t.params, t.param_headers()):
            assert not p.numeric or p.quantity or _has_unit(head), head


def test_every_known_metric_has_a_unit_and_a_kind_that_exists():
    from harness.report.load import KINDS
    from harness.catalog.metrics import METRICS
    assert [m.key for m in METRICS if not m.unit] == []
    assert {m.kind for m in METRICS} <= {None, *KINDS}


CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_suite_compares_what_it_sweeps(path):
    """A suite that runs one protocol and sweeps its settings compares those settings: its
    report has contenders, not "only one protocol ran"."""
    from harness.suite.loading import load_suite
    suite = load_suite(path)
    assert len(suite.matrix[suite.compare]) >= 2, f"{path.name}: compare is {suite.compare!r}"
    # Found: the transaction suites had one seed, so every comparison of them was "?" (exit 3).
    # The gate's error rates were measured at 10 seeds (tests/test_bench_gate.py).
    # (A live suite is a demonstration of a few wall-clock seconds on this machine, not a gate.)
    assert suite.base.seeds >= 10 or suite.base.mode == "live", \
        f"{path.name}: {suite.base.seeds} seeds cannot be gated"


def test_2pc_faults_report_compares_its_participants(tmp_path):
    """configs/2pc-faults.yaml, trimmed to one point and one seed: 2PC over 2PL participants
    against 2PC over OCC participants, named by the setting, coloured as those protocols."""
    from click.testing import CliRunner

    from harness.cli import main
    from harness.report.figure import Ctx
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", str(CONFIGS / "2pc-faults.yaml"), "--out", str(out), "--seeds", "1", "-q", "--jobs", "1",
        "--set", "duration=0.5s", "--set", "warmup=0.1s", "--set", "matrix.faults={none: {}}",
        "--set", "matrix.workload.multi_partition=[0.5]"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert md.startswith("# 2pc-faults: participants = 2pl vs participants = occ")
    assert "Only one" not in md and "only one" not in md
    assert "- **Contenders:** participants = 2pl, participants = occ" in md
    assert "only participants (protocols.2pc.participants) differed." in md
    colors = Ctx(load_results(out)).colors
    assert list(colors.values()) == [protocol_colors(["2pl"])["2pl"], protocol_colors(["occ"])["occ"]]
