"""Line coverage of a protocol under the swarm sweep, and the coverage-guided corpus."""

from __future__ import annotations

import pytest

from harness import build
from harness.testing import reach

pytestmark = pytest.mark.skipif(build.kind() != "pure", reason="a compiled module runs no Python lines")

SEEDS = range(1, 9)


def test_the_swarm_reaches_the_read_paths_that_default_options_never_take():
    (reads,) = reach.line_coverage(["raft"], SEEDS, [reach.ROOT / "implementations/raft/reads.py"])
    assert reads.path == "implementations/raft/reads.py"
    assert reads.percent > 80, reads.missed
    assert reads.reached <= reads.lines and reads.missed == sorted(reads.lines - reads.reached)


def test_a_guided_corpus_reaches_what_every_seed_reaches_with_fewer_seeds():
    files = reach.protocol_files("raft")
    seeds = range(1, 13)
    kept = reach.guided("raft", seeds, files)
    assert kept[0] == 1 and set(kept) <= set(seeds) and len(kept) < len(seeds)
    every = reach.line_coverage(["raft"], seeds, files)
    corpus = reach.line_coverage(["raft"], kept, files)
    assert [f.reached for f in corpus] == [f.reached for f in every]
