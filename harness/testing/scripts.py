"""Scenario scripts: a text file of commands, each followed by the output it must print.

The format is the data-driven one of etcd-io/raft's ``testdata/*.txt``::

    # a comment
    campaign 0
    ----
    0->1 RequestVote term=1 ...

A block is a command line, a ``----`` line, and the expected output up to the next blank line.
The commands are run in order, each on the state the previous ones left, and each command's
output is compared as text with its block: a mismatch fails with the file, the line and a diff.
With ``DISTBENCH_REWRITE=1`` in the environment the blocks are rewritten with what the commands
printed instead, so an intended change of behaviour is reviewed as a diff of the scripts.

The format knows nothing of the commands: :func:`run_file` hands each one to a ``handler``
(``harness.testing.scenario.Scenario`` runs the protocol ones).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SEPARATOR = "----"
REWRITE = "DISTBENCH_REWRITE"


class ScriptError(Exception):
    """A script that cannot be run as written (``file:line: what is wrong``)."""


class ScriptMismatch(AssertionError):
    """A command printed something other than its expected block."""


@dataclass
class Block:
    line: int  # 1-based line of the command in its file
    command: str
    expected: list[str]
    end: int  # index of the first line after the block


def parse(path: Path, lines: list[str]) -> list[Block]:
    """The blocks of a script; comments and blank lines between blocks are skipped."""
    blocks, i = [], 0
    while i < len(lines):
        text = lines[i].strip()
        if not text or text.startswith("#"):
            i += 1
            continue
        if i + 1 >= len(lines) or lines[i + 1].strip() != SEPARATOR:
            raise ScriptError(f"{path}:{i + 1}: expected a {SEPARATOR!r} line after the command {text!r}")
        end = i + 2
        while end < len(lines) and lines[end].strip():
            end += 1
        blocks.append(Block(i + 1, text, [line.rstrip() for line in lines[i + 2:end]], end))
        i = end
    return blocks


def run_file(path: str | Path, handler: Callable[[str], list[str]], rewrite: bool | None = None) -> None:
    """Run the script at ``path``, each command through ``handler`` (which returns the lines it
    printed). Raise :class:`ScriptMismatch` at the first command whose output differs, or, in
    rewrite mode (``DISTBENCH_REWRITE=1`` unless ``rewrite`` says), write the outputs back."""
    path = Path(path)
    if rewrite is None:
        rewrite = os.environ.get(REWRITE, "") not in ("", "0")
    lines = path.read_text().splitlines()
    out: list[str] = []
    done = 0
    for block in parse(path, lines):
        try:
            got = handler(block.command) or ["ok"]
        except ScriptError as e:
            raise ScriptError(f"{path}:{block.line}: {block.command}: {e}") from None
        except Exception as e:  # the protocol's own failure: say where the script was
            e.add_note(f"while running {path}:{block.line}: {block.command}")
            raise
        if rewrite:
            out += lines[done:block.line + 1] + got
            done = block.end
        elif got != block.expected:
            diff = difflib.unified_diff(block.expected, got, "expected", "got", lineterm="")
            raise ScriptMismatch(f"{path}:{block.line}: {block.command}\n" + "\n".join(diff))
    if rewrite:
        text = "\n".join(out + lines[done:]) + "\n"
        if text != path.read_text():
            path.write_text(text)
