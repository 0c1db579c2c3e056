"""``distbench calibrate`` (quick mode: the machinery, not the figures) writes a cost-model
fragment that a suite takes as its ``cluster`` keys, and never replaces a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.suite.cluster import Cluster
from harness.suite.loading import load_suite

DISTBENCH = str(Path(sys.executable).parent / "distbench")
KEYS = {"cpu_per_message", "cpu_per_send", "cpu_per_byte", "fsync", "relay"}
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="os.wait4 and live nodes")


def test_calibrate_writes_a_fragment_a_suite_accepts(tmp_path):
    out = tmp_path / "costs.yaml"
    done = subprocess.run([DISTBENCH, "calibrate", "--quick", "--out", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    fragment = yaml.safe_load(out.read_text())
    assert set(fragment) == {"cluster"} and set(fragment["cluster"]) == KEYS
    cluster = Cluster.model_validate(fragment["cluster"])
    assert cluster.fsync > 0  # an fsync always takes some time
    flags = done.stderr.strip().splitlines()[-1].split("SUITE ", 1)[1].split()
    overrides = tuple(flags[1::2])
    assert len(overrides) == len(KEYS)
    loaded = load_suite(None, overrides).base.cluster
    assert {k: getattr(loaded, k) for k in KEYS} == {k: getattr(cluster, k) for k in KEYS}


def test_calibrate_never_replaces_a_file(tmp_path):
    out = tmp_path / "costs.yaml"
    out.write_text("mine\n")
    done = subprocess.run([DISTBENCH, "calibrate", "--quick", "--out", str(out)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "already exists" in done.stderr
    assert out.read_text() == "mine\n"
