"""Cutting a comparison's Markdown to a size limit: a GitHub comment holds at most 65,536
characters, and a large suite's report is longer.

The report already puts what matters first (the verdict, new safety failures, regressions), so
the cut keeps a prefix: whole blocks, then the header and as many rows of the table it stops in
as fit; it closes any ``<details>`` left open and ends with a line saying where the full report
is. It works on the finished text, so it holds whatever the tables look like.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_POINTER = "the full report is in the JSON output (--json) and, on GitHub Actions, in the job summary"
COMMENT_LIMIT = 60_000
"""The default size of a comment: GitHub's 65,536 characters, less room for a marker line."""


def default_pointer(md: Path | None) -> str:
    """Where the full report is when the user did not say: the ``--md`` file, which always
    holds all of it, else the JSON output and the job summary."""
    return f"the full report is in {md}" if md is not None else DEFAULT_POINTER


def cut_markdown(text: str, limit: int, pointer: str = DEFAULT_POINTER) -> str:
    """TEXT if it fits in LIMIT characters, else a prefix of it cut at a block or table-row
    boundary, with open ``<details>`` closed and a last line naming LIMIT, the full length and
    POINTER. The first block (the title) is always kept."""
    if len(text) <= limit:
        return text
    note = f"_… cut at {limit:,} of {len(text):,} characters; {pointer}._"
    kept: list[str] = []
    depth = 0

    def fits(extra: list[str], depth_after: int) -> bool:
        return len(_join([*kept, *extra], depth_after, note)) <= limit

    for block in _blocks(text):
        depth_after = depth + _details_depth(block)
        if not kept or fits([block], depth_after):
            kept.append(block)
            depth = depth_after
            continue
        lines = block.split("\n")
        if len(lines) > 2 and all(line.startswith("|") for line in lines):
            rows = 2
            while rows < len(lines) and fits(["\n".join(lines[:rows + 1]), _more(len(lines) - rows - 1)], depth):
                rows += 1
            if rows > 2:
                kept += ["\n".join(lines[:rows]), _more(len(lines) - rows)]
        break
    return _join(kept, depth, note)


def _blocks(text: str) -> list[str]:
    """The blank-line-separated blocks of TEXT; a fenced code block is never split."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _details_depth(block: str) -> int:
    """How many ``<details>`` BLOCK opens minus how many it closes."""
    lowered = block.lower()
    return lowered.count("<details") - lowered.count("</details>")


def _more(rows: int) -> str:
    return f"_… and {rows:,} more row{'s' if rows != 1 else ''}._"


def _join(blocks: list[str], depth: int, note: str) -> str:
    return "\n\n".join([*blocks, *["</details>"] * max(depth, 0), note]) + "\n"
