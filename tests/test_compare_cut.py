"""`compare --comment` and `--md-limit`: a report too long for a pull-request comment is cut so
that it fits and stays valid Markdown, keeping the verdict and the tables that come first, while
`--md` keeps the full report that the cut points to."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare.cut import cut_markdown
from report_fixtures import LONG_IGNORE, make_long_pair

POINTER = "the full report is gate.md in the `distbench-gate` artifact"


def _compare(report, *args: str):
    return CliRunner().invoke(main, ["compare", str(report.base), str(report.new), *LONG_IGNORE, *args])


@pytest.fixture(scope="module")
def long_report(tmp_path_factory):
    """One comparison written as CI writes it: the full Markdown (from the step summary and from
    --md) and the comment (from --comment, cut to --md-limit)."""
    root = tmp_path_factory.mktemp("cut")
    base, new = make_long_pair(root)
    summary = root / "summary.md"
    res = CliRunner().invoke(main, ["compare", str(base), str(new), *LONG_IGNORE,
                                    "--md", str(root / "gate.md"), "--comment", str(root / "comment.md"),
                                    "--md-limit", "60000", "-q", "--md-pointer", POINTER],
                             env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code in (0, 1, 3), res.output      # a verdict, whichever: not bad input
    return SimpleNamespace(root=root, base=base, new=new, code=res.exit_code,
                           full=summary.read_text().rstrip("\n") + "\n",
                           md=(root / "gate.md").read_text(), comment=(root / "comment.md").read_text())


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
    full, cut = long_report.full, long_report.comment
    assert len(full) > 65_536
    assert len(cut) <= 60_000
    assert cut.rstrip().endswith(f"_… cut at 60,000 of {len(full):,} characters; {POINTER}._")


def test_the_md_file_the_pointer_names_holds_the_full_report(long_report):
    assert long_report.md == long_report.full


def test_without_md_limit_the_comment_fits_a_github_comment_and_points_to_the_md_file(long_report):
    """--comment alone cuts to 60,000 characters; the default pointer names the --md file; the
    printed Markdown is not cut."""
    md, comment = long_report.root / "default.md", long_report.root / "default-comment.md"
    res = _compare(long_report, "--md", str(md), "--comment", str(comment))
    assert res.exit_code == long_report.code
    assert res.stdout.rstrip("\n") + "\n" == md.read_text() == long_report.full
    cut = comment.read_text()
    assert len(cut) <= 60_000
    assert cut.rstrip().endswith(f"characters; the full report is in {md}._")


def test_md_limit_without_a_comment_cuts_only_what_is_printed(long_report):
    md = long_report.root / "printed.md"
    res = _compare(long_report, "--md", str(md), "--md-limit", "20000")
    assert res.exit_code == long_report.code
    assert len(res.stdout) <= 20_000 + 1                      # echo adds a newline
    assert res.stdout.rstrip().endswith(f"characters; the full report is in {md}._")
    assert md.read_text() == long_report.full


@pytest.mark.parametrize("command", ["compare", "gate"])
def test_a_comment_that_would_overwrite_the_full_report_is_refused_in_one_line(long_report, command):
    """Refused before any work (gate would run both sides first)."""
    md = long_report.root / "same.md"
    sides = [str(long_report.base), str(long_report.new)] if command == "compare" else [
        str(long_report.root / "suite.yaml"), "--base", "HEAD"]
    res = CliRunner().invoke(main, [command, *sides, "--md", str(md), "--comment", str(md)])
    assert res.exit_code == 2 and not md.exists()
    assert res.output.strip() == (f"distbench: error: --comment {md}: the same file as --md, which gets "
                                  "the full report; name another file")


def test_the_cut_keeps_the_verdict_and_the_first_tables_whole(long_report):
    full, cut = long_report.full, long_report.comment
    assert cut.split("\n")[:5] == full.split("\n")[:5]        # title, summary line, sides
    assert "#### Changes" in cut and full.split("<details>")[0] in cut
    kept = cut.split("\n\n_… and ")[0]
    assert full.startswith(kept)


def test_the_cut_is_valid_markdown(long_report):
    cut = long_report.comment
    assert cut.count("<details>") == cut.count("</details>") == 1
    assert cut.index("<details>") < cut.index("</details>")
    for table in _tables(cut):
        assert re.fullmatch(r"\|(---:?\|)+", table[1])
        cells = table[0].count("|")
        assert all(row.count("|") == cells and row.endswith("|") for row in table), table[-1]
    more = re.search(r"_… and ([\d,]+) more rows\._", cut)
    assert more and int(more.group(1).replace(",", "")) > 0


def test_a_report_that_fits_is_left_alone(long_report):
    full = long_report.full
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
