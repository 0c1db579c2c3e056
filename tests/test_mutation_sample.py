"""A small sample of protocol mutants that the oracle must kill (tools/mutate.py runs them all).

Each mutant is named by its file, a piece of the line it changes, the change and which of the
lines holding that piece (0: the first), so that edits elsewhere in the file do not move it. Each breaks safety: the swarm sweep must say so, through a
checker's verdict, not only through a scenario script's expected output.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import build

pytestmark = pytest.mark.skipif(build.kind() != "pure", reason="a mutant replaces a Python module: pure build only")

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "mutate.py"
_spec = importlib.util.spec_from_file_location("distbench_mutate", TOOL)
mutate = sys.modules["distbench_mutate"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutate)

SAMPLE = [
    # a voter grants its vote to a candidate it has not voted for: two leaders in one term
    ("implementations/raft/node.py", "self.voted_for == src) and self._log_ok(m)", "== -> !=", 0),
    # a follower drops the entries it was sent and keeps their indexes: logs disagree
    ("implementations/raft/node.py", "terms.extend(ets)", "delete call terms.extend()", 0),
    # a new leader ignores what the acceptors that promised had accepted: a slot chosen twice
    ("implementations/multipaxos/node.py", "c.merge(m.start, m.chosen, m.accepted)", "delete call c.merge()", 0),
]


def _find(file: str, snippet: str, what: str, nth: int):
    source = (ROOT / file).read_text("utf-8").splitlines()
    found = [m for m in mutate.mutants(file) if m.what == what and snippet in source[m.line - 1]]
    assert len(found) > nth, f"{file}: no mutant {what!r} on a line with {snippet!r}: the file " \
                             f"changed, pick anew with `python tools/mutate.py --list {file}`"
    return found[nth]


@pytest.mark.parametrize("file, snippet, what, nth", SAMPLE)
def test_the_swarm_sweep_kills_a_safety_mutant(file, snippet, what, nth):
    mutant = _find(file, snippet, what, nth)
    done = subprocess.run([sys.executable, str(TOOL), "--run-one", file, str(mutant.index), "--seeds", "20"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["verdict"] == "killed" and "violation" in verdict["why"], verdict


def test_the_unmutated_protocol_survives_the_same_oracle():
    done = subprocess.run([sys.executable, str(TOOL), "--run-one", "implementations/raft/node.py", "-1",
                           "--seeds", "8"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"failing": []}


def test_the_mutants_of_a_file_are_numbered_in_a_fixed_order_with_every_operator():
    found = mutate.mutants("implementations/raft/leader.py")
    assert found == mutate.mutants("implementations/raft/leader.py")
    kinds = {m.what.split()[0] if m.what.startswith(("negate", "delete")) else m.what for m in found}
    for expected in ("<= -> >", "negate", "delete", "min -> max", "and -> or", "0 -> 1"):
        assert any(k.startswith(expected) for k in kinds), expected
