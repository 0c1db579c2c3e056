"""Live mode end to end: real node processes in real time. Runs are short (2-3 s) and the
assertions are about verdicts and the presence of outputs, never about timing."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.suite.errors import ConfigError
from harness.suite.loading import load_suite

DATA = Path(__file__).parent / "data"
DISTBENCH = str(Path(sys.executable).parent / "distbench")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="live mode tests use /proc")


def suite(tmp_path: Path, **changes) -> Path:
    data = {"name": "live-test", "kind": "consensus", "mode": "live", "duration": "2s", "warmup": "0.2s",
            "cluster": {"nodes": 3}, "network": {"latency": {"dist": "normal", "mean": "1ms", "std": "200us"}},
            "workload": {"type": "kv", "clients": 4, "keys": 5, "timeout": "300ms"}}
    data.update(changes)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(tmp_path: Path, path: Path) -> tuple[subprocess.CompletedProcess, list[dict], dict]:
    out = tmp_path / "out"
    done = subprocess.run([DISTBENCH, "run", str(path), "--out", str(out), "-q", "--no-report"],
                          capture_output=True, text=True, timeout=120)
    rows = list(csv.DictReader((out / "runs.csv").open())) if (out / "runs.csv").exists() else []
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    return done, rows, manifest


def test_raft_and_multipaxos_run_live_through_a_leader_crash(tmp_path):
    path = suite(tmp_path, matrix={"protocol": ["raft", "multipaxos"]},
                 faults={"schedule": [{"at": "0.8s", "action": "crash", "target": "leader", "for": "0.6s"}]})
    done, rows, manifest = run(tmp_path, path)
    assert done.returncode == 0, done.stderr
    assert [r["safety"] for r in rows] == ["ok", "ok"]
    for row in rows:
        assert float(row["ops_committed"]) > 0
        assert row["failover_ms_mean"] not in ("", "nan")  # the crash was seen and a leader re-elected
        assert "leader_cpu_utilization" not in row and "sim_events" not in row  # the simulator's only
        assert row["malformed_messages"] == row["misaddressed_messages"] == "0"
    assert "AppendEntries=" in rows[0]["messages_per_op_by_type"]
    assert "Accept=" in rows[1]["messages_per_op_by_type"]
    assert manifest["mode"] == "live"
    assert {"cpu", "cores", "python", "kernel"} <= manifest["machine"].keys()
    events = (tmp_path / "out" / "events.csv").read_text()
    assert ",crash," in events and ",restart," in events


def test_a_live_run_with_predict_has_the_simulators_figures_beside_its_own(tmp_path):
    path = suite(tmp_path, live={"predict": True}, cluster={"nodes": 3, "cpu_per_message": "15us"},
                 faults={"schedule": [{"at": "0.8s", "action": "crash", "target": "leader", "for": "0.6s"}]})
    out = tmp_path / "out"
    done = subprocess.run([DISTBENCH, "run", str(path), "--out", str(out), "-q"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [row] = list(csv.DictReader((out / "runs.csv").open()))
    for key in ("throughput_ops_s", "latency_p50_ms", "latency_p99_ms", "failover_ms_mean"):
        assert float(row[f"predicted_{key}"]) > 0, key  # the simulated run committed and failed over
    report = (out / "report.md").read_text()
    section = report.split("## Measured and predicted", 1)[1].split("## All metrics", 1)[0]
    assert section.count("| raft |") == 4


def test_a_node_that_acknowledges_before_replicating_is_not_linearizable(tmp_path):
    path = suite(tmp_path, protocol="external",
                 live={"command": [sys.executable, str(DATA / "live_broken_node.py")]},
                 workload={"type": "kv", "clients": 6, "keys": 3, "timeout": "300ms"},
                 faults={"schedule": [{"at": "0.5s", "action": "isolate", "target": 0, "for": "1s"}]})
    done, rows, _ = run(tmp_path, path)
    assert done.returncode == 1
    assert rows[0]["safety"].startswith("violation") and "lineariz" in rows[0]["safety"].lower()
    # its junk is counted, and the run went on
    assert rows[0]["malformed_messages"] == "3" and rows[0]["misaddressed_messages"] == "3"
    assert "r0000-s1 (external): its nodes wrote 3 malformed line(s) and 3 message(s) to unknown " \
        "nodes" in done.stderr
    assert "failover_ms_mean" not in rows[0]  # nothing observed from an external node


def test_distbench_node_as_an_external_command_passes(tmp_path):
    path = suite(tmp_path, protocol="external", live={"command": [DISTBENCH, "node", "raft"]},
                 faults={"schedule": [{"at": "0.8s", "action": "crash", "target": "leader", "for": "0.5s"}]})
    done, rows, _ = run(tmp_path, path)
    assert done.returncode == 0, done.stderr
    assert rows[0]["safety"] == "ok" and float(rows[0]["ops_committed"]) > 0
    assert rows[0]["safety_detail"].startswith("linearizability only")


def test_a_node_that_never_answers_init_ends_the_run_in_one_line(tmp_path):
    path = suite(tmp_path, protocol="external", live={"command": [sys.executable, "-c", "import time; time.sleep(60)"],
                                                      "init_timeout": "1s"})
    done, rows, _ = run(tmp_path, path)
    assert done.returncode == 1
    assert "did not answer init within 1s" in rows[0]["safety"]
    assert [line for line in done.stderr.splitlines() if "SAFETY" in line] == \
        [f"distbench: SAFETY r0000-s1 (external): {rows[0]['safety']}"]


@pytest.mark.parametrize("changes, message", [
    ({"protocol": "external", "live": {"command": ["./no-such-node"]}},
     "live.command: expected an executable program, got './no-such-node'"),
    ({"protocol": "external", "live": {"command": [str(DATA / "live_broken_node.py")]}},  # not executable
     "live.command: expected an executable program, got"),
    ({"duration": "60s", "seeds": 20}, "live.budget: 20 live runs take about 21 min (duration, node "
                                        "start-up), more than the budget of 10 min"),
    ({"duration": "2s", "seeds": 3, "live": {"budget": "5s"}}, "live.budget: 3 live runs take about 15 s"),
    ({"protocol": "external"}, "live.command: expected the node program and its arguments"),
    ({"protocol": "external", "mode": "simulated", "live": {"command": ["true"]}}, "protocol: expected a registered"),
    ({"faults": {"schedule": [{"at": "1s", "action": "slow", "target": 0}]}}, "faults: expected no slow faults"),
    ({"protocol": "external", "live": {"command": ["true"], "predict": True}},
     "live.predict: expected false with protocol: external"),
])
def test_bad_live_suites_are_refused_in_one_line(tmp_path, changes, message):
    with pytest.raises(ConfigError) as info:
        load_suite(suite(tmp_path, **changes))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_live_suite_over_its_budget_writes_nothing(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([DISTBENCH, "run", str(suite(tmp_path, seeds=2, live={"budget": "3s"})), "--out",
                           str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "live.budget" in done.stderr
    assert not out.exists()


def test_a_simulated_suite_records_no_live_settings(tmp_path):
    spec = load_suite(suite(tmp_path, mode="simulated")).runs()[0]
    assert "mode" not in spec.config.to_dict() and "live" not in spec.config.to_dict()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_killing_the_harness_leaves_no_node_process(tmp_path):
    path = suite(tmp_path, duration="60s")
    harness = subprocess.Popen([DISTBENCH, "run", str(path), "--out", str(tmp_path / "out"), "-q", "--no-report"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        nodes: list[int] = []
        while len(nodes) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
            nodes = _children(harness.pid)
        assert len(nodes) == 3, "the live run never started its nodes"
    finally:
        harness.send_signal(signal.SIGKILL)
        harness.wait()
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in nodes) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in nodes if _running(pid)], "node processes outlived the harness"


def test_a_node_restarts_from_what_it_made_durable(tmp_path):
    """distbench node on its own: a single-node Raft acknowledges a write only once it is on disk,
    is killed, and a new process on the same directory reads the value back."""
    def node() -> subprocess.Popen:
        return subprocess.Popen([DISTBENCH, "node", "raft", "--data", str(tmp_path)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def ask(proc: subprocess.Popen, body: dict) -> dict:
        proc.stdin.write(json.dumps({"src": "c1", "dest": "n0", "body": body}) + "\n")
        return json.loads(proc.stdout.readline())["body"]

    init = {"type": "init", "msg_id": 1, "node_id": "n0", "node_ids": ["n0"]}
    first = node()
    assert ask(first, init)["type"] == "init_ok"
    for msg_id in range(2, 200):  # until it has elected itself
        reply = ask(first, {"type": "write", "key": 7, "value": 42, "msg_id": msg_id, "seq": 1})
        if reply["type"] == "write_ok":
            break
        time.sleep(0.05)
    assert reply["type"] == "write_ok"
    first.kill()
    first.wait()
    second = node()
    try:
        assert ask(second, init)["type"] == "init_ok"
        for msg_id in range(2, 200):
            reply = ask(second, {"type": "read", "key": 7, "msg_id": msg_id})
            if reply["type"] == "read_ok":
                break
            time.sleep(0.05)
        assert reply == {"type": "read_ok", "value": 42, "in_reply_to": msg_id, "msg_id": reply["msg_id"]}
    finally:
        second.kill()
        second.wait()


def test_compare_keeps_live_and_simulated_runs_apart(tmp_path):
    """A live run against a simulated one is not comparable unless asked (--ignore mode), and
    live runs never count as identical, even with the same numbers."""
    sim, live = tmp_path / "sim", tmp_path / "live"
    subprocess.run([DISTBENCH, "run", str(suite(tmp_path, mode="simulated", seeds=2, duration="1s")),
                    "--out", str(sim), "-q", "--no-report"], check=True, capture_output=True, timeout=120)
    shutil.copytree(sim, live)
    manifest = json.loads((live / "manifest.json").read_text())
    manifest["mode"] = "live"
    for entry in manifest["runs"]:
        entry["config"].update(mode="live", live={"command": None, "init_timeout": 10.0})
    (live / "manifest.json").write_text(json.dumps(manifest))

    def compare(*extra: str) -> dict:
        subprocess.run([DISTBENCH, "compare", str(sim), str(live), "-q", "--json", str(tmp_path / "c.json"),
                        "--allow-same-code", *extra], capture_output=True, timeout=120)
        return json.loads((tmp_path / "c.json").read_text())

    refused = compare()
    assert refused["exit_code"] == 3 and all(p["differs_in"] == ["mode"] for p in refused["pairs"])
    asked = compare("--ignore", "mode")
    assert asked["identical"] == 0 and all(p["comparable"] for p in asked["pairs"])


@pytest.mark.parametrize("args, message", [
    (["node", "nosuch"], "no protocol named 'nosuch'"),
    (["node", "2pc"], "protocol '2pc' is a transactions protocol"),
    (["node", "raft", "--options", "{\"replication\": {\"heartbeat\": \"x\"}}"], "--options:"),
])
def test_distbench_node_refuses_bad_arguments_in_one_line(args, message):
    done = subprocess.run([DISTBENCH, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
