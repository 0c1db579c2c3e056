"""`compare --md-limit`: a report too long for a pull-request comment is cut so that it fits and
stays valid Markdown, keeping the verdict and the tables that come first."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare.cut import cut_markdown
from report_fixtures import make_results

# 4 x 6 points x 2 protocols x 3 seeds: every run diverges, so the report lists every run and
# every metric and is longer than GitHub's 65,536-character comment limit.
PARAMS = {"cluster.nodes": [3, 5, 7, 9], "network.loss": [0.0, 0.01, 0.02, 0.03, 0.05, 0.1]}


@pytest.fixture(scope="module")
def long_report(tmp_path_factory):
    """The full Markdown (from the step summary) and the cut one (from --md) of one comparison."""
    root = tmp_path_factory.mktemp("cut")
    base = make_results(root / "base", params=PARAMS)
    new = make_results(root / "new", params=PARAMS, config={"cluster.cpu_per_message": "30us"})
    summary = root / "summary.md"
    res = CliRunner().invoke(main, ["compare", str(base), str(new), "--ignore", "cluster.cpu_per_message",
                                    "--md", str(root / "cut.md"), "--md-limit", "60000", "-q",
                                    "--md-pointer", "the full report is in the `distbench-gate` artifact"],
                             env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code in (0, 1, 3), res.output      # a verdict, whichever: not bad input
    return summary.read_text().rstrip("\n") + "\n", (root / "cut.md").read_text()


def _tables(text: str) -> list[list[str]]:
    tables, current = [], []
    for line in text.split("\n"):
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_a_report_over_the_limit_is_cut_under_it_with_a_pointer(long_report):
    full, cut = long_report
    assert len(full) > 65_536
    assert len(cut) <= 60_000
    assert cut.rstrip().endswith(f"_… cut at 60,000 of {len(full):,} characters; "
                                 "the full report is in the `distbench-gate` artifact._")


def test_the_cut_keeps_the_verdict_and_the_first_tables_whole(long_report):
    full, cut = long_report
    assert cut.split("\n")[:5] == full.split("\n")[:5]        # title, summary line, sides
    assert "#### Changes" in cut and full.split("<details>")[0] in cut
    kept = cut.split("\n\n_… and ")[0]
    assert full.startswith(kept)


def test_the_cut_is_valid_markdown(long_report):
    _, cut = long_report
    assert cut.count("<details>") == cut.count("</details>") == 1
    assert cut.index("<details>") < cut.index("</details>")
    for table in _tables(cut):
        assert re.fullmatch(r"\|(---:?\|)+", table[1])
        cells = table[0].count("|")
        assert all(row.count("|") == cells and row.endswith("|") for row in table), table[-1]
    more = re.search(r"_… and ([\d,]+) more rows\._", cut)
    assert more and int(more.group(1).replace(",", "")) > 0


def test_a_report_that_fits_is_left_alone(long_report):
    full, _ = long_report
    assert cut_markdown(full, len(full)) == full


def test_an_open_fence_or_details_is_never_left_open():
    text = "# title\n\n<details><summary>more</summary>\n\n```\ncode\n\nstill code\n```\n\n" + "x" * 500 + "\n\n</details>\n"
    cut = cut_markdown(text, 200, "see the log")
    assert cut == ("# title\n\n<details><summary>more</summary>\n\n```\ncode\n\nstill code\n```\n\n</details>\n\n"
                   f"_… cut at 200 of {len(text)} characters; see the log._\n")


def test_a_limit_too_small_for_a_comment_is_refused_in_one_line(tmp_path):
    res = CliRunner().invoke(main, ["compare", str(tmp_path), str(tmp_path), "--md-limit", "10"])
    assert res.exit_code == 2
    assert "--md-limit" in res.output and "10 is not in the range x>=1000" in res.output
