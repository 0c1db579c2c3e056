"""``distbench calibrate``: this machine's costs, measured on the live host, as the simulator's
cost model (``cluster.cpu_per_message``, ``cpu_per_send``, ``cpu_per_byte``, ``fsync``,
``relay``).

A ``distbench node`` process (the live host, as a live run starts it) is fed a known load on
its stdin and its CPU time is read from the kernel when it exits (``os.wait4``: user + system,
microsecond resolution). Each load is run beside an idle node (``init`` only) and the idle
node's CPU (Python's start-up) is subtracted:

- *receive*: N messages written at once, which the host reads, parses and drops (no
  ``msg_id``, so no answer), small and large: their difference per byte is ``cpu_per_byte``;
- *answer*: N messages written at once, which the host answers (an error reply each): what it
  costs beyond the small receive, less the reply's bytes, is ``cpu_per_send``;
- *one at a time*: N messages each written once the previous one was answered, so the host
  wakes up for each as in a live run: what one costs, less its answer and bytes, is
  ``cpu_per_message`` (a wake-up, the pipe read, the line, JSON, dispatch);
- ``relay``: the same one-at-a-time exchange timed on the wall clock, each answer parsed as the
  harness parses a node's line: a round trip less the node's CPU for it is what a message spends
  relayed by the harness of a live run (two pipe hops, two wake-ups, its JSON), which the
  simulator adds to every message between nodes when it predicts a live run;
- ``fsync``: a short line appended and ``os.fsync``-ed, timed on the wall clock, in the
  directory where live nodes keep their durable logs (the system's temporary directory).

So ``cpu_per_message`` is the host's cost of taking one message in (pipe, line, JSON, dispatch),
not a protocol's own handling of it, which the cost model has no term for (docs/fidelity.md).
Each figure is the median of ``repetitions``; the spread is their minimum and maximum.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.live.machine import machine
from harness.units import format_duration

QUIET_OPTIONS = {"replication": {"election_timeout": 3600.0, "heartbeat": 1800.0}}  # no timer fires
NODES = ["n0", "n1", "n2"]
LARGE = 2000  # bytes of padding in a large message


@dataclass(frozen=True)
class Settings:
    messages: int = 20000
    repetitions: int = 5
    fsyncs: int = 200


QUICK = Settings(messages=300, repetitions=1, fsyncs=5)  # for tests: the shape, not the figures


@dataclass(frozen=True)
class Figure:
    median: float
    low: float
    high: float


def _line(envelope: dict) -> bytes:
    return json.dumps(envelope, separators=(",", ":")).encode() + b"\n"


def _message(i: int, pad: int, answered: bool) -> bytes:
    body: dict = {"type": "calibrate", "pad": "x" * pad}
    if answered:
        body["msg_id"] = i + 1
    return _line({"src": "c1", "dest": "n0", "body": body})


def node_cpu(lines: list[bytes], one_at_a_time: bool = False) -> tuple[float, float]:
    """CPU seconds (user + system) of one ``distbench node raft`` process fed ``init``, then
    ``lines`` (all at once, or each after the answer to the one before), until its stdin closes;
    and the wall-clock seconds from the first of ``lines`` to the last answer (one at a time)."""
    wall = 0.0
    init = _line({"src": "c0", "dest": "n0", "body": {"type": "init", "msg_id": 0, "node_id": "n0",
                                                     "node_ids": NODES}})
    with tempfile.TemporaryDirectory(prefix="distbench-calibrate-") as data:
        env = {**os.environ, "DISTBENCH_DATA": data, "DISTBENCH_OPTIONS": json.dumps(QUIET_OPTIONS)}
        env.pop("DISTBENCH_OBSERVE", None)
        proc = subprocess.Popen([sys.executable, "-m", "harness", "node", "raft"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE if one_at_a_time else subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, bufsize=0)
        assert proc.stdin is not None
        try:
            if one_at_a_time:
                assert proc.stdout is not None
                proc.stdin.write(init)
                proc.stdout.readline()  # init_ok
                start = time.perf_counter()
                for line in lines:
                    proc.stdin.write(line)
                    answer = proc.stdout.readline()
                    if not answer:
                        break
                    json.loads(answer)  # as the harness parses what a node writes
                wall = time.perf_counter() - start
                proc.stdout.close()
            else:
                proc.stdin.write(init + b"".join(lines))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"distbench node exited with status {proc.returncode} while calibrating")
    return usage.ru_utime + usage.ru_stime, wall


def _reply_size() -> int:
    return len(_line({"src": "n0", "dest": "c1", "body": {"type": "error", "code": 10,
                                                         "text": "calibrate is not supported",
                                                         "in_reply_to": 1, "msg_id": 1}}))


def cpu_costs(n: int) -> dict[str, float]:
    """One repetition: cpu_per_message, cpu_per_send, cpu_per_byte and relay in seconds."""
    small, large = [_message(i, 0, False) for i in range(n)], [_message(i, LARGE, False) for i in range(n)]
    answered = [_message(i, 0, True) for i in range(n)]
    idle = node_cpu([])[0]
    per_small = (node_cpu(small)[0] - idle) / n
    per_large = (node_cpu(large)[0] - idle) / n
    per_answered = (node_cpu(answered)[0] - idle) / n
    cpu_alone, wall_alone = node_cpu(answered, one_at_a_time=True)
    per_alone = (cpu_alone - idle) / n
    size_in, size_large, size_out = len(answered[0]), len(large[0]), _reply_size()
    per_byte = max(0.0, (per_large - per_small) / (size_large - len(small[0])))
    per_send = max(0.0, per_answered - per_small - per_byte * size_out)
    return {"cpu_per_message": max(0.0, per_alone - per_send - per_byte * (size_in + size_out)),
            "cpu_per_send": per_send, "cpu_per_byte": per_byte,
            "relay": max(0.0, wall_alone / n - per_alone)}


def fsync_times(count: int, where: Path) -> list[float]:
    """Wall-clock seconds of ``count`` append + ``os.fsync`` of a short line in ``where``."""
    out = []
    with tempfile.NamedTemporaryFile("w", dir=where, prefix="distbench-calibrate-") as f:
        for i in range(count):
            f.write(f'{{"record": {i}, "calibrating": "the durable log of a live node"}}\n')
            f.flush()
            start = time.perf_counter()
            os.fsync(f.fileno())
            out.append(time.perf_counter() - start)
    return out


def calibrate(settings: Settings = Settings()) -> dict[str, Figure]:
    """Every cost-model figure, measured on this machine."""
    reps = [cpu_costs(settings.messages) for _ in range(settings.repetitions)]
    figures = {key: _figure([r[key] for r in reps]) for key in reps[0]}
    syncs = [statistics.median(fsync_times(max(1, settings.fsyncs // settings.repetitions),
                                           Path(tempfile.gettempdir())))
             for _ in range(settings.repetitions)]
    figures["fsync"] = _figure(syncs)
    return figures


def _figure(values: list[float]) -> Figure:
    return Figure(statistics.median(values), min(values), max(values))


def _show(seconds: float) -> str:
    """A duration the suite schema reads back, to three significant figures."""
    return format_duration(float(f"{seconds:.3g}"))


def fragment(figures: dict[str, Figure], settings: Settings) -> str:
    """The cost-model fragment: a suite's ``cluster`` keys, with the spread and machine as comments."""
    m = machine()
    lines = ["# distbench calibrate: this machine's live-host costs, for the simulator's cost model",
             f"# machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['kernel']}",
             f"# median of {settings.repetitions} repetitions ({settings.messages} messages each); "
             "after # the spread (min .. max)",
             "cluster:"]
    for key, fig in figures.items():
        lines.append(f"  {key}: {_show(fig.median)}   # {_show(fig.low)} .. {_show(fig.high)}")
    return "\n".join(lines) + "\n"


def set_flags(figures: dict[str, Figure]) -> str:
    """The same figures as ``distbench run`` options."""
    return " ".join(f"--set cluster.{key}={_show(fig.median)}" for key, fig in figures.items())
