"""Every relative link and ``#anchor`` in the manual (README.md, CHANGELOG.md, docs/*.md) resolves.

Pages are parsed with markdown-it (so a link shown inside a code block is not a link), and heading
anchors are made by mdit-py-plugins' anchors plugin, whose slugs follow GitHub's rules: lower case,
punctuation dropped, spaces to hyphens, ``-1``, ``-2`` ... for repeated headings. Links with a
scheme (``https:``, ``mailto:``) are not fetched.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin

ROOT = Path(__file__).resolve().parent.parent
MANUAL = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)

_md = MarkdownIt("commonmark").enable("table").use(anchors_plugin, min_level=1, max_level=6)


@cache
def _parse(path: Path) -> tuple:
    return tuple(_md.parse(path.read_text(encoding="utf-8")))


def _anchors(path: Path) -> set[str]:
    return {t.attrGet("id") for t in _parse(path) if t.type == "heading_open"}


def _links(path: Path):
    """(line, target) of every link and image in the page."""
    for block in _parse(path):
        for token in block.children or ():
            target = token.attrGet("href") if token.type == "link_open" else (
                token.attrGet("src") if token.type == "image" else None)
            if target is not None:
                yield block.map[0] + 1, str(target)


def broken_links(pages: list[Path], root: Path) -> list[str]:
    """One line per link that does not resolve: ``page:line: target: why`` (page relative to root)."""
    broken = []
    for page in pages:
        for line, target in _links(page):
            if SCHEME.match(target):
                continue
            path, _, fragment = target.partition("#")
            dest = (page.parent / unquote(path)).resolve() if path else page
            where = f"{page.relative_to(root)}:{line}: {target}"
            if not dest.exists():
                broken.append(f"{where}: no such file or directory")
            elif fragment and dest.suffix == ".md" and unquote(fragment) not in _anchors(dest):
                broken.append(f"{where}: no heading with anchor #{fragment} in {dest.name}")
    return broken


def test_the_manual_has_no_broken_link():
    broken = broken_links(MANUAL, ROOT)
    assert not broken, "\n".join(broken)


def test_a_missing_page_or_anchor_is_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "other.md").write_text("# Comparing two commits: the regression gate\n\n## Transactions (`kind: transactions`)\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Notes\n\n## Notes\n\n"
        "[fine](../other.md#comparing-two-commits-the-regression-gate) "
        "[fine](../other.md#transactions-kind-transactions) [fine](#notes-1) [fine](../other.md) "
        "[external](https://example.com/nowhere.md)\n\n"
        "| a | b |\n|---|---|\n| [gone](missing.md) | [bad anchor](#nowhere) |\n\n"
        "[bad anchor](../other.md#Comparing-Two-Commits)\n\n"
        "```\n[inside a code block](not-a-link.md)\n```\n")
    assert broken_links([page], tmp_path) == [
        "docs/page.md:9: missing.md: no such file or directory",
        "docs/page.md:9: #nowhere: no heading with anchor #nowhere in page.md",
        "docs/page.md:11: ../other.md#Comparing-Two-Commits: no heading with anchor #Comparing-Two-Commits in other.md",
    ]
