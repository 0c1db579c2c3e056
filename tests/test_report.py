"""The comparison report: tables, charts, HTML and Markdown from a results directory."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from harness.report import ReportError, write_report
from harness.report.load import load_results
from harness.report.palette import protocol_colors
from harness.report.stats import geomean_delta_pct, significant, summarize
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
                                 CONSENSUS_CHARTS),
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
            assert "Student's t-interval" in doc and "Welch's t-test" in doc
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
    assert ("duration", "20s") in res.fixed  # "20s" in the suite file, kept as written


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
    assert set(p2) == {"md", "charts"}
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
