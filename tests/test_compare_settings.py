"""Comparing any setting: ``compare:``, ``contenders:`` bundles, labelled matrix values, paired
statistics, summary.csv, the per-point CLI summary, partial results and chart options."""

from __future__ import annotations

import json
import math
import re
import struct

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from harness.cli import main
from harness.compare.stats import paired, significant, wilcoxon_min_seeds
from harness.report import ChartOptions, write_report
from harness.report.figure import Ctx
from harness.report.load import load_results
from harness.suite.errors import ConfigError
from harness.suite.loading import load_suite
from report_fixtures import make_results

PREVOTE = """
name: pv
duration: 1.2s
warmup: 0.2s
seeds: 3
compare: protocols.raft.prevote
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 50}
faults:
  schedule: [{at: 0.3s, action: isolate, target: follower, for: 0.5s}]
matrix:
  protocols.raft.prevote: [false, true]
"""

BUNDLES = """
name: bundles
duration: 0.8s
warmup: 0.2s
seeds: 2
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 50}
contenders:
  raft+prevote: {protocol: raft, protocols.raft.prevote: true}
  multipaxos: {protocol: multipaxos}
report: {reference: multipaxos}
matrix:
  faults:
    none: {}
    leader-crash: {schedule: [{at: 0.4s, crash: leader, for: 0.2s}]}
"""


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def error(path, *overrides) -> str:
    with pytest.raises(ConfigError) as exc:
        load_suite(path, overrides)
    return str(exc.value)


# -- suites ----------------------------------------------------------------------------------------

def test_compare_names_the_contenders_and_reference(make_suite):
    suite = make_suite(PREVOTE)
    assert (suite.compare, suite.reference) == ("protocols.raft.prevote", "false")
    assert make_suite(PREVOTE + "report: {reference: true}\n").reference == "true"
    assert make_suite(PREVOTE + "report: {reference: 'true'}\n").reference == "true"
    assert make_suite(PREVOTE.replace("compare: protocols.raft.prevote\n", "")).compare == "protocol"


def test_contenders_are_swept_first_as_labelled_bundles(make_suite):
    suite = make_suite(BUNDLES)
    assert suite.compare == "contender" and suite.reference == "multipaxos"
    assert suite.swept == ["contender", "faults"]
    specs = suite.runs()
    assert [(s.params["contender"], s.params["protocol"], s.params["faults"]) for s in specs[::2]] == [
        ("raft+prevote", "raft", "none"), ("raft+prevote", "raft", "leader-crash"),
        ("multipaxos", "multipaxos", "none"), ("multipaxos", "multipaxos", "leader-crash")]
    assert specs[0].config.options_for("raft").prevote is True
    assert specs[2].config.faults.schedule[0].action == "crash" and not specs[0].config.faults.schedule
    assert specs[0].labelled == ("faults", "contender") or set(specs[0].labelled) == {"faults", "contender"}
    # The matrix may choose a subset and order of the labels.
    subset = make_suite(BUNDLES.replace("matrix:\n", "matrix:\n  contender: [multipaxos]\n"))
    assert subset.swept == ["contender", "faults"] and {s.params["contender"] for s in subset.runs()} == {"multipaxos"}
    d = suite.to_dict()
    assert d["compare"] == "contender" and d["contenders"]["multipaxos"] == {"protocol": "multipaxos"}
    assert d["matrix"]["faults"]["none"] == {} and d["matrix"]["contender"] == ["raft+prevote", "multipaxos"]


@pytest.mark.parametrize("text, message", [
    (PREVOTE.replace("compare: protocols.raft.prevote", "compare: cluster.nodes"),
     "compare: expected a key the matrix sweeps (protocols.raft.prevote), got 'cluster.nodes'"),
    (PREVOTE.replace("compare: protocols.raft.prevote", "compare: [protocol]"),
     "compare: expected a key the matrix sweeps (protocols.raft.prevote), got [protocol]"),
    (PREVOTE + "report: {reference: maybe}\n",
     "report.reference: expected a value of the compared key protocols.raft.prevote (false, true), got 'maybe'"),
    (BUNDLES.replace("report: {reference: multipaxos}", "report: {reference: paxos}"),
     "report.reference: expected a value of the compared key contender (raft+prevote, multipaxos), got 'paxos'"),
    (BUNDLES.replace("  multipaxos: {protocol: multipaxos}", "  multipaxos: [multipaxos]"),
     "contenders.multipaxos: expected a mapping of dotted keys to values (e.g. protocol: raft), got [multipaxos]"),
    (BUNDLES.replace("  multipaxos: {protocol: multipaxos}", "  multipaxos: {protocol: paxoss}"),
     "contenders.multipaxos.protocol: 'paxoss': expected a registered consensus protocol ("),
    (BUNDLES.replace("  multipaxos: {protocol: multipaxos}", "  multipaxos: {protocol: multipaxos, faults: {}}"),
     "contenders.multipaxos.faults: is also swept by matrix.faults; set it in every contender or sweep it, not both"),
    (BUNDLES.replace("  multipaxos: {protocol: multipaxos}", "  multipaxos: {protocol: multipaxos, protocols.raft.prevote: true}"),
     "contenders.multipaxos.protocols.raft.prevote: sets an option of raft, but this contender runs multipaxos: "
     "it would do nothing"),
    (BUNDLES.replace("  multipaxos: {protocol: multipaxos}", "  multipaxos: {seeds: 3}"),
     "contenders.multipaxos.seeds: cannot differ between contenders: it is fixed for the whole suite"),
    (BUNDLES.replace("contenders:", "contenders: 3\nx:").replace("report: {reference: multipaxos}\n", ""),
     "contenders: expected a mapping of labels to settings"),
    (BUNDLES.replace("matrix:\n", "matrix:\n  contender: [raft]\n"),
     "matrix.contender: expected distinct contender labels (raft+prevote, multipaxos), got 'raft'"),
    (PREVOTE.replace("matrix:\n", "matrix:\n  contender: [a]\n"),
     "matrix.contender: sweeps the labels of contenders:, which the suite does not define"),
    (BUNDLES.replace("    none: {}", "    'no fault': {}"),
     "matrix.faults: expected distinct labels of letters, digits and -_.+=, got 'no fault'"),
    (BUNDLES.replace("{at: 0.4s, crash: leader, for: 0.2s}", "{at: 0.4s, crash: leader, for: -1s}"),
     "matrix.faults.leader-crash: {schedule: [{at: 0.4s, crash: leader, for: -1s}]}: schedule.0.for: "
     "expected a duration > 0, got '-1s'"),
])
def test_bad_compare_contenders_and_reference_are_one_line_errors(suite_file, text, message):
    path = suite_file(text)
    got = error(path)
    assert "\n" not in got
    assert got.startswith(f"{path}: {message}"), got


# -- end to end --------------------------------------------------------------------------------------

def test_compare_on_a_setting_end_to_end(suite_file, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", str(suite_file(PREVOTE)), "--out", str(out), "--jobs", "2")
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns[:6]) == ["suite", "kind", "run_id", "protocol", "seed", "protocols.raft.prevote"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["compare"], manifest["reference"], manifest["contenders"]) == (
        "protocols.raft.prevote", "false", None)
    # The CLI summary: one row per point (not per run), mean ± CI over the seeds.
    lines = [line.split("\r")[-1].strip() for line in result.output.splitlines()]  # past the progress bar
    head = next(i for i, line in enumerate(lines) if line.startswith("prevote"))
    assert lines[head].split()[:3] == ["prevote", "n", "ops/s"]
    assert [line.split()[:2] for line in lines[head + 1:head + 3]] == [["false", "3"], ["true", "3"]]
    assert "±" in lines[head + 1] and lines[head + 3].startswith("(mean ± 95% CI")

    md = (out / "report.md").read_text()
    assert md.startswith("# pv: prevote = false vs prevote = true")
    assert "| metric | prevote = false (ref) | prevote = true |" in md
    assert "paired t-test by seed" in md and "common random numbers" in md
    thr = next(line for line in md.splitlines() if line.startswith("| Throughput (ops/s) |"))
    assert "%" in thr.split("|")[3]  # a Δ against the reference
    finding = next(line for line in md.splitlines() if line.startswith("- **Throughput**"))
    assert "Against prevote = false: **prevote = true** +" in finding and "(significant)" in finding

    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["protocols.raft.prevote"]) == [False, True] and list(summary["n"]) == [3, 3]
    false, true = (runs[runs["protocols.raft.prevote"] == v].sort_values("seed") for v in (False, True))
    assert summary["throughput_ops_s_mean"][1] == pytest.approx(true["throughput_ops_s"].mean())
    p = stats.ttest_rel(true["throughput_ops_s"], false["throughput_ops_s"]).pvalue
    assert summary["throughput_ops_s_p"][1] == pytest.approx(p, rel=1e-6) and p < 0.05
    assert math.isnan(summary["throughput_ops_s_p"][0])

    # Charts: one colour per contender, as in the palette's order.
    res = load_results(out)
    ctx = Ctx(res)
    assert res.contenders == ["prevote = false", "prevote = true"]
    assert ctx.colors == {"prevote = false": "#0173b2", "prevote = true": "#de8f05"}


def test_bundles_and_labelled_sections_end_to_end(suite_file, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", str(suite_file(BUNDLES)), "--out", str(out), "--jobs", "2", "-q")
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns[:7]) == ["suite", "kind", "run_id", "protocol", "seed", "contender", "faults"]
    assert list(runs["contender"].unique()) == ["raft+prevote", "multipaxos"]
    assert list(runs["faults"].unique()) == ["none", "leader-crash"]
    assert list(runs["protocol"].unique()) == ["raft", "multipaxos"]
    md = (out / "report.md").read_text()
    assert md.startswith("# bundles: raft+prevote vs multipaxos")
    assert "| faults | raft+prevote | multipaxos (ref) |" in md
    assert "| leader-crash |" in md and not re.search(r"\bnan\b", md.split("## Configuration")[0])
    res = load_results(out)
    assert res.params[0].key == "faults" and res.params[0].values == ["none", "leader-crash"]
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary[["faults", "contender"]].itertuples(index=False, name=None)) == [
        ("none", "raft+prevote"), ("none", "multipaxos"), ("leader-crash", "raft+prevote"),
        ("leader-crash", "multipaxos")]


def test_labelled_sections_title_the_panels(tmp_path):
    d = make_results(tmp_path / "r", params={"workload.clients": [2, 4], "faults": ["none", "leader-crash"]})
    res = load_results(d)
    assert Ctx(res).facets == ["faults = none", "faults = leader-crash"]


def test_unlabelled_sections_get_short_panel_titles_in_a_grid(tmp_path):
    faults = [f"{{schedule: [{{at: {i}s, crash: leader, for: 0.2s}}]}}" for i in range(1, 7)]
    d = make_results(tmp_path / "r", seeds=(1,), params={"workload.clients": [2, 4], "faults": faults})
    res = load_results(d)
    ctx = Ctx(res)
    assert all(len(f) <= len("faults = ") + 32 for f in ctx.facets) and ctx.facets[0].endswith("…")
    from harness.report.figure import panel_grid
    from harness.catalog.metrics import metric_for
    cells, nrows, ncols = panel_grid(ctx, [metric_for("throughput_ops_s")])
    assert (nrows, ncols) == (2, 4) and len(cells) == 6


# -- statistics ----------------------------------------------------------------------------------------

def test_paired_sees_what_welch_misses():
    rng = np.random.default_rng(3)
    base = 1000 + rng.normal(0, 200, 5)               # seeds differ a lot ...
    new = base * 1.02 + rng.normal(0, 1, 5)           # ... the change at each seed is small and steady
    assert significant(base, new) is False
    assert paired(base, new).significant is True
    assert wilcoxon_min_seeds() == 6


def test_summary_csv_matches_runs_csv_by_hand(tmp_path):
    d = make_results(tmp_path / "r")
    runs = pd.read_csv(d / "runs.csv")
    # A small steady change on top of a large seed-to-seed spread: paired, it is significant.
    raft = runs["protocol"] == "raft"
    for proto, factor in (("raft", 1.0), ("multipaxos", 1.03)):
        m = runs["protocol"] == proto
        runs.loc[m, "throughput_ops_s"] = runs.loc[m, "seed"].map({1: 1000.0, 2: 1500.0, 3: 800.0}) * factor \
            + runs.loc[m, "seed"] * (0.5 if proto == "multipaxos" else 0.0)
    runs.to_csv(d / "runs.csv", index=False)
    paths = write_report(d, formats="md")
    summary = pd.read_csv(paths["summary"])
    assert list(summary.columns[:3]) == ["cluster.nodes", "protocol", "n"]
    assert len(summary) == 6 and list(summary["n"]) == [3] * 6
    row = summary[(summary["cluster.nodes"] == 5) & (summary["protocol"] == "multipaxos")].iloc[0]
    ref = runs[raft & (runs["cluster.nodes"] == 5)].sort_values("seed")
    new = runs[~raft & (runs["cluster.nodes"] == 5)].sort_values("seed")
    x = new["throughput_ops_s"].to_numpy()
    mean, half = x.mean(), stats.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
    assert row["throughput_ops_s_mean"] == pytest.approx(mean)
    assert (row["throughput_ops_s_ci_lo"], row["throughput_ops_s_ci_hi"]) == (
        pytest.approx(mean - half), pytest.approx(mean + half))
    base = ref["throughput_ops_s"].mean()
    assert row["throughput_ops_s_delta_pct"] == pytest.approx((mean - base) / base * 100)
    p = stats.ttest_rel(x, ref["throughput_ops_s"].to_numpy()).pvalue
    assert row["throughput_ops_s_p"] == pytest.approx(p, rel=1e-6) and p < 0.05
    assert stats.ttest_ind(x, ref["throughput_ops_s"], equal_var=False).pvalue > 0.05  # Welch would miss it
    a = runs[~raft & (runs["cluster.nodes"] == 5)]["abort_rate"].mean()
    b = runs[raft & (runs["cluster.nodes"] == 5)]["abort_rate"].mean()
    assert row["abort_rate_delta_pp"] == pytest.approx((a - b) * 100, abs=1e-6)
    assert "abort_rate_delta_pct" not in summary.columns
    ref_row = summary[(summary["cluster.nodes"] == 5) & (summary["protocol"] == "raft")].iloc[0]
    assert math.isnan(ref_row["throughput_ops_s_delta_pct"]) and math.isnan(ref_row["throughput_ops_s_p"])
    md = paths["md"].read_text()
    thr = next(line for line in md.splitlines() if line.startswith("| 5 |") and "%" in line)
    assert "~" not in thr  # significant, paired


# -- reports people can use ----------------------------------------------------------------------------

def test_partial_directory_says_which_runs_are_missing(tmp_path):
    d = make_results(tmp_path / "r")
    runs = pd.read_csv(d / "runs.csv")
    missing = list(runs["run_id"][-2:])
    runs.iloc[:-2].to_csv(d / "runs.csv", index=False)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["interrupted"] = True
    (d / "manifest.json").write_text(json.dumps(manifest))
    paths = write_report(d)
    md = paths["md"].read_text().splitlines()
    warning = md[4]
    assert warning.startswith("> [!WARNING]") and "2 of 18 runs are missing (the suite was interrupted)" in md[5]
    assert all(rid in md[5] for rid in missing)
    assert "2 of 18 runs are missing" in paths["html"].read_text()


def test_safety_box_is_a_compact_table_with_details_folded(tmp_path):
    d = make_results(tmp_path / "r", "transactions", violation=True)
    runs = pd.read_csv(d / "runs.csv")
    runs["safety_detail"] = [f"serializability: {100 + i} txns checked" for i in range(len(runs))]
    runs.to_csv(d / "runs.csv", index=False)
    md = write_report(d, formats="md")["md"].read_text()
    safety = md.split("## Safety")[1].split("## Key findings")[0]
    assert "| protocol | runs | ok | unknown | violation |" in safety
    before, folded = safety.split("<details>")
    assert "| **violation: linearizability (lost write on key 17)** |" in before  # in view
    assert before.count("txns checked") == 1 and len(before.strip().splitlines()) <= 12
    assert folded.count("txns checked") == len(runs) - 1


def _png_size(path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_chart_options_set_size_fonts_and_drop_the_subtitle(tmp_path):
    d = make_results(tmp_path / "r", optional_files=False)
    default = write_report(d, tmp_path / "a", formats="md")
    sized = write_report(d, tmp_path / "b", formats="md",
                         charts=ChartOptions(subtitle=False, figsize=(6, 4), font_scale=1.3))
    a = next(p for p in default["charts"] if p.name == "throughput.png")
    b = next(p for p in sized["charts"] if p.name == "throughput.png")
    assert _png_size(b) == (900, 600) and _png_size(a) != (900, 600)
    svg = b.with_suffix(".svg").read_text()
    assert 'width="432pt" height="288pt"' in svg


def test_chart_options_on_the_command_line(tmp_path):
    d = make_results(tmp_path / "r", optional_files=False)
    ok = invoke("report", str(d), "--format", "md", "--no-subtitle", "--figsize", "5x3.5", "--font-scale", "1.2")
    assert ok.exit_code == 0 and "summary: " in ok.output
    assert _png_size(d / "charts" / "throughput.png") == (750, 525)
    for args, message in ((("--figsize", "big"), "--figsize: expected WIDTHxHEIGHT in inches"),
                          (("--figsize", "0x3"), "--figsize: expected WIDTHxHEIGHT in inches"),
                          (("--font-scale", "huge"), "--font-scale: expected a number from 0.5 to 3")):
        bad = invoke("report", str(d), *args)
        assert bad.exit_code == 2 and bad.output.count("\n") == 1 and message in bad.output, bad.output


def test_an_unlabelled_empty_section_reads_none(suite_file, tmp_path):
    text = """
    name: sections
    duration: 0.6s
    warmup: 0.1s
    cluster: {nodes: 3}
    workload: {type: kv, clients: 2, keys: 20}
    matrix:
      faults:
        - {}
        - {schedule: [{at: 0.3s, crash: leader, for: 0.1s}]}
    """
    out = tmp_path / "out"
    assert invoke("run", str(suite_file(text)), "--out", str(out), "--jobs", "1", "-q").exit_code == 0
    assert list(pd.read_csv(out / "runs.csv", keep_default_na=False)["faults"]) == [
        "none", "{schedule: [{at: 0.3s, crash: leader, for: 0.1s}]}"]
    md = (out / "report.md").read_text()
    assert "| none |" in md and not re.search(r"\bnan\b", md.split("## Configuration")[0])


def test_a_manifest_comparing_an_unknown_key_is_a_one_line_error(tmp_path):
    from harness.report import ReportError
    d = make_results(tmp_path / "r")
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["compare"] = "replication.batch_size"
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReportError, match="field 'compare' names 'replication.batch_size', which is neither"):
        write_report(d)


def test_contender_colours():
    from harness.report.palette import contender_colors, protocol_colors
    bundles = contender_colors(["raft+prevote", "raft", "multipaxos"], "contender")
    builtin = protocol_colors(["raft", "multipaxos"])
    assert bundles["raft"] == builtin["raft"] and bundles["multipaxos"] == builtin["multipaxos"]
    assert len(set(bundles.values())) == 3
    many = contender_colors([f"batch = {2 ** i}" for i in range(12)], "replication.batch_size")
    assert len(set(list(many.values())[:10])) == 10


def test_cli_summary_is_one_row_per_point_with_values_as_written():
    from harness.report.console import run_table as _summary
    rows = [{"protocol": p, "workload.rate": rate, "seed": s, "throughput_ops_s": rate * (0.9 + 0.01 * s),
             "latency_p50_ms": 1.0, "latency_p99_ms": 2.0, "abort_rate": 0.0,
             "safety": "ok" if (p, s) != ("multipaxos", 2) else "violation: lost write"}
            for p in ("raft", "multipaxos") for rate in (2000.0, 500.0) for s in (1, 2, 3)]
    lines = _summary(rows, ["protocol", "workload.rate"]).splitlines()
    assert lines[0].split()[:4] == ["protocol", "offered", "load", "n"]
    assert [line.split()[:3] for line in lines[1:5]] == [
        ["raft", "2k/s", "3"], ["raft", "500/s", "3"], ["multipaxos", "2k/s", "3"], ["multipaxos", "500/s", "3"]]
    assert "1,840 ± " in lines[1] and lines[1].endswith("ok")
    assert lines[3].endswith("2/3 ok; violation: lost write") and len(lines) == 6


def test_validate_names_the_contenders_and_the_reference(tmp_path):
    """`validate` says what a suite compares, so a misplaced `compare:` shows before any run."""
    (tmp_path / "pv.yaml").write_text(PREVOTE)
    (tmp_path / "b.yaml").write_text(BUNDLES)
    out = CliRunner().invoke(main, ["validate", str(tmp_path / "pv.yaml")]).output
    assert "contenders: the values of protocols.raft.prevote, each compared with false" in out
    out = CliRunner().invoke(main, ["validate", str(tmp_path / "b.yaml")]).output
    assert "contenders: the values of contender, each compared with multipaxos" in out
