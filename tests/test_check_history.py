"""``distbench check`` on histories brought from outside and ``distbench export`` of a run's:
the verdicts of Porcupine and Knossos on real recorded histories, generated valid and broken
histories, the smallest window, the timeline, every bad input and the exit codes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.checkers import external, formats
from harness.checkers.linearizability import check_linearizability
from harness.checkers.window import sub_history
from harness.cli import main
from harness.history import GET, History
from register_histories import memstress, stale_read

DATA = Path(__file__).parent / "data" / "histories"
VALID = ["porcupine-etcd_002.log", "porcupine-etcd_005.log", "porcupine-etcd_007.log",
         "porcupine-etcd_080.log",
         "knossos-good-cas-register-bug.edn", "knossos-good-memstress3-30.edn",
         "knossos-good-memstress3-55.edn", "knossos-good-mongodb-v0-ack-rollback-10.edn"]
INVALID = ["porcupine-etcd_000.log", "porcupine-etcd_001.log", "porcupine-etcd_003.log",
           "knossos-bad-cas-failure.edn", "knossos-bad-immediate-failure.edn",
           "knossos-bad-rethink-fail-minimal.edn", "knossos-bad-rethink-fail-smaller.edn"]


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_data_holds_every_recorded_history():
    assert sorted(VALID + INVALID) == sorted(p.name for p in DATA.iterdir() if p.suffix != ".md")


@pytest.mark.parametrize("name", VALID + INVALID)
def test_same_verdict_as_porcupine_and_knossos(name):
    r = cli("check", str(DATA / name), "--model", "cas-register")
    assert r.exit_code == (0 if name in VALID else 1), r.output
    assert r.output.startswith("valid" if name in VALID else "invalid")


def test_the_window_is_small_and_cannot_be_linearized_on_its_own(tmp_path):
    imported = external.load(DATA / "porcupine-etcd_000.log", "auto", "cas-register")
    verdict = external.check(imported, None)
    h, window = imported.history, verdict.window
    assert verdict.minimal and len(window) == 7  # of 85
    assert check_linearizability(sub_history(h, window)).status == "violation"
    # 1-minimal: without the stale read, or without the write that overwrote its value, the
    # rest can be linearized
    for dropped in (window[-1], window[-2]):
        rest = [i for i in window if i != dropped]
        assert check_linearizability(sub_history(h, rest)).status == "ok"
    r = cli("check", str(DATA / "porcupine-etcd_000.log"), "--model", "cas-register")
    assert "line 74, process 0: write 1 ok" in r.output
    assert "line 85, process 11: read -> 2 ok" in r.output


def test_html_timeline_marks_the_window(tmp_path):
    out = tmp_path / "timeline.html"
    r = cli("check", str(DATA / "knossos-bad-rethink-fail-smaller.edn"), "--model",
            "cas-register", "--html", str(out))
    assert r.exit_code == 1 and f"timeline: {out}" in r.output
    page = out.read_text()
    shown = [line for line in r.output.splitlines() if line.startswith("  ")]
    assert len(re.findall(r'class="op bad[^"]*" style="left', page)) == len(shown) > 0
    assert page.count('class="lane"') >= 2 and "<script" not in page and "http" not in page
    # never replaces a file
    again = cli("check", str(DATA / "knossos-bad-rethink-fail-smaller.edn"), "--model",
                "cas-register", "--html", str(out))
    assert again.exit_code == 2 and page == out.read_text()


@pytest.mark.parametrize("seed", range(5))
def test_generated_repeated_values_valid_and_broken(tmp_path, seed):
    """A memstress history is valid; the same with one read made stale is caught, and its
    window holds that read."""
    h = memstress(150, processes=6, info=0.1, seed=seed)
    broken = stale_read(h)
    for history, code in ((h, 0), (broken, 1)):
        path = tmp_path / f"h{code}.csv"
        buf = io.StringIO()
        formats.write_distbench(history, buf)
        path.write_text(buf.getvalue())
        r = cli("check", str(path), "--model", "cas-register")
        assert r.exit_code == code, r.output
    assert "read -> 1000000000 ok" in r.output


def test_unknown_within_the_time_limit(tmp_path):
    h = memstress(100, processes=32, info=0.1, seed=1)  # millions of search steps
    text = io.StringIO()
    formats.write_distbench(h, text)
    (tmp_path / "h.csv").write_text(text.getvalue())
    r = cli("check", str(tmp_path / "h.csv"), "--model", "cas-register", "--time-limit", "1ms")
    assert r.exit_code == 3 and r.output.startswith("unknown: time limit of 0.001 s"), r.output


BAD = {
    "truncated": ('{:process 0, :type :invoke, :f :write, :value 1}\n'
                  '{:process 0, :type :ok, :f :write,', "register", "line 2: truncated"),
    "completion without invocation": (
        '{:process 0, :type :invoke, :f :read, :value nil}\n'
        '{:process 0, :type :ok, :f :read, :value nil}\n'
        '{:process 1, :type :ok, :f :write, :value 3}\n', "register",
        "line 3: :ok of process 1 completes no invocation"),
    "unknown f": ('{:process 0, :type :invoke, :f :cas, :value [1 2]}\n', "register",
                  "line 1: :f :cas is not an operation of the register model (expected :read, "
                  ":write)"),
    "process reuses its id": (
        '[{:process 4, :type :invoke, :f :write, :value 1}\n'
        ' {:process 4, :type :info, :f :write, :value 1}\n'
        ' {:process 5, :type :invoke, :f :write, :value 2}\n'
        ' {:process 5, :type :invoke, :f :read, :value nil}]\n', "register",
        "line 4: process 5 invokes again while its call from line 3 is still open"),
    "not edn": ("hello, world\n", "register", "line 1: not EDN"),
    "not edn inside a map": ('{:process 0, :type :invoke, :f :read, :value #{1 2}\n ]}',
                             "register", "line 1: not EDN"),
    "bad type": ('{:process 0, :type :start, :f :read}\n', "register",
                 "line 1: :type must be :invoke or :ok or :fail or :info, got :start"),
    "cas value": ('{:process 0, :type :invoke, :f :cas, :value 3}\n', "cas-register",
                  "line 1: the :value of a :cas must be [expected new], got 3"),
    "kv without key": ('{:process 0, :type :invoke, :f :write, :value 3}\n', "kv",
                       "line 1: the kv model needs a :key or a :value [key value]"),
    "porcupine log line": ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
                           "INFO  jepsen.util - x :ok\n", "register", "line 2: expected"),
    "empty": ("\n", "register", "empty: no operations"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_naming_the_line(tmp_path, case):
    text, model, message = BAD[case]
    path = tmp_path / "history.edn"
    path.write_text(text)
    r = CliRunner().invoke(main, ["check", str(path), "--model", model])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"distbench: error: {path}: "), r.output
    assert message in lines[0], lines[0]


def test_nemesis_events_skipped_and_keys_read_both_ways(tmp_path):
    path = tmp_path / "h.edn"
    path.write_text('{:process :nemesis, :type :info, :f :start, :value nil}\n'
                    '{:process 0, :type :invoke, :f :put, :key "a", :value "x"}\n'
                    '{:process 0, :type :ok, :f :put, :key "a", :value "x"}\n'
                    '{:process 1, :type :invoke, :f :read, :value ["a" nil]}\n'
                    '{:process 1, :type :ok, :f :read, :value ["a" nil]}\n')
    r = cli("check", str(path), "--model", "kv")
    assert r.exit_code == 1 and r.output.splitlines()[1:] == [
        '  line 2, process 0: write "x" ok', "  line 4, process 1: read -> nil ok"]


TINY = """
name: tiny
protocol: raft
duration: 1s
warmup: 0.2s
seeds: 1
cluster: {nodes: 3}
workload: {type: kv, clients: 4, keys: 5, read_ratio: 0.5, cas_ratio: 0.2}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    top = tmp_path_factory.mktemp("export")
    (top / "tiny.yaml").write_text(TINY)
    r = cli("run", str(top / "tiny.yaml"), "--out", str(top / "res"), "--no-report", "-q",
            "--jobs", "1")
    assert r.exit_code == 0, r.output
    return top / "res"


@pytest.mark.parametrize("fmt", ["jepsen-edn", "distbench"])
def test_export_then_check_gives_the_run_verdict(results, tmp_path, fmt):
    out = tmp_path / f"run.{'edn' if fmt == 'jepsen-edn' else 'csv'}"
    r = cli("export", str(results), "--format", fmt, "--out", str(out))
    assert r.exit_code == 0, r.output
    r = cli("check", str(out), "--model", "kv")
    assert r.exit_code == 0 and r.output.startswith("valid"), r.output  # as runs.csv: safety ok
    history = external.load(out, "auto", "kv").history
    assert len(history) > 100 and history.count(1) > 100


def test_export_then_check_catches_a_broken_history(tmp_path):
    """The same round trip on a history with a stale read: both sides find it."""
    h = History()
    w = h.invoke(0, 1, 7, 42, 0, 0.0)
    h.ok(w, 1.0, 1)
    r1 = h.invoke(1, GET, 7, 0, 0, 1.5)
    h.ok(r1, 2.0, 42)
    w2 = h.invoke(0, 1, 7, 43, 0, 2.5)
    h.ok(w2, 3.0, 1)
    r2 = h.invoke(1, GET, 7, 0, 0, 3.5)
    h.ok(r2, 4.0, 42)  # stale: 43 was written before the read began
    assert check_linearizability(h).status == "violation"
    out = tmp_path / "h.edn"
    out.write_text(external.write(h, "jepsen-edn"))
    r = cli("check", str(out), "--model", "kv")
    assert r.exit_code == 1, r.output
    assert r.output.splitlines()[1:] == ["  line 1, process 0: write 42 ok",
                                         "  line 5, process 0: write 43 ok",
                                         "  line 7, process 1: read -> 42 ok"]


def test_export_names_the_run_and_refuses_other_code(results, tmp_path):
    r = CliRunner().invoke(main, ["export", str(results), "r9999-s1"])
    assert r.exit_code == 2 and "no run 'r9999-s1'" in r.output
    runs = (results / "runs.csv").read_text()
    header, row = runs.splitlines()[:2]
    col = header.split(",").index("ops_committed")
    cells = row.split(",")
    cells[col] = str(int(cells[col]) + 1)
    forged = tmp_path / "res"
    forged.mkdir()
    for f in results.iterdir():
        (forged / f.name).write_text(f.read_text())
    (forged / "runs.csv").write_text("\n".join([header, ",".join(cells)]) + "\n")
    r = CliRunner().invoke(main, ["export", str(forged)])
    assert r.exit_code == 2 and "not the code that ran it" in r.output, r.output
    assert r.output.count("\n") == 1


def test_export_replays_a_run_with_a_fault_schedule(tmp_path):
    """A run's recorded config lists every step key for every action (a crash's ``factor``); the
    replay used to be refused by the schema with a traceback."""
    (tmp_path / "faulty.yaml").write_text(TINY + "faults: {schedule: [{at: 0.5s, crash: leader, for: 0.2s}]}\n")
    r = cli("run", str(tmp_path / "faulty.yaml"), "--out", str(tmp_path / "res"), "--no-report", "-q",
            "--jobs", "1")
    assert r.exit_code == 0, r.output
    r = cli("export", str(tmp_path / "res"), "--out", str(tmp_path / "run.edn"))
    assert r.exit_code == 0, r.output
    assert external.load(tmp_path / "run.edn", "auto", "kv").history.count(1) > 100
