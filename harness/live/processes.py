"""A node of a live run: one child process, its pipes, and the faults the nemesis applies to it.

The nemesis sees it as it sees a simulated node host (``alive``, ``incarnation``, ``crash``,
``restart``, ``pause``, ``resume``): a crash is SIGKILL (its log file keeps only what it
fsynced), a restart spawns the command again on the same data directory, a pause is
SIGSTOP/SIGCONT. Pipes only, no sockets; the child's stdin, stdout and stderr are non-blocking
on the harness's side, and what a stopped child does not read waits in a buffer here.

No child outlives the harness: the world kills and reaps every child when a run ends, however
it ends; on Linux a child is also killed by the kernel when the harness dies
(``PR_SET_PDEATHSIG``), and ``distbench node`` exits when its stdin closes.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
from collections import deque
from typing import Any

PR_SET_PDEATHSIG = 1
INF = float("inf")


class LiveError(Exception):
    """A live run that cannot go on (a command that cannot start, a node that never answers
    ``init``): the message is one line."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the harness died before the line above
        os._exit(1)


class NodeProcess:
    """Node ``node_id`` of a live run (named ``names[node_id]``), running ``command``. Its
    ``world`` hears every stdout line (``node_line(node, incarnation, bytes)``), every stderr
    line (``node_log(node, text)``; the last few are kept for errors), each restart
    (``node_restarted(node)``)
    and tells the time (``now()``)."""

    def __init__(self, node_id: int, names: list[str], command: list[str], env: dict[str, str],
                 selector: selectors.BaseSelector, world: Any):
        self.node_id, self.name, self.names = node_id, names[node_id], names
        self.command, self.env, self.selector, self.world = command, env, selector, world
        self.alive = False
        self.incarnation = -1
        self.ends: list[float] = []
        self.slow = 1.0  # read by the slow fault kind only, which a live suite refuses
        self.initialised = False
        self.tail: deque[str] = deque(maxlen=5)
        self.proc: subprocess.Popen | None = None
        self._out = bytearray()
        self._partial = {1: bytearray(), 2: bytearray()}

    # -- life --------------------------------------------------------------------------------
    def busy_at(self, t: float) -> float:
        """CPU seconds used up to ``t``, as a simulated host says: not modelled for a real process
        (its CPU is the machine's), so 0; a live row leaves the leader's CPU utilization out."""
        return 0.0

    def spawn(self) -> None:
        try:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=self.env, bufsize=0,
                                         preexec_fn=_die_with_parent)
        except OSError as exc:
            raise LiveError(f"cannot run {self.command[0]!r} for node {self.name}: "
                            f"{exc.strerror or exc}") from None
        self.alive, self.initialised = True, False
        self.incarnation += 1
        self.ends.append(INF)
        self._partial = {1: bytearray(), 2: bytearray()}
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(stream.fileno(), False)
        self.selector.register(self.proc.stdout, selectors.EVENT_READ, (self, 1))
        self.selector.register(self.proc.stderr, selectors.EVENT_READ, (self, 2))
        self.write({"src": "harness", "dest": self.name,
                    "body": {"type": "init", "msg_id": 0, "node_id": self.name, "node_ids": self.names}})

    def crash(self) -> None:
        if self.alive:
            self.ends[self.incarnation] = self.world.now()
            self._end(signal.SIGKILL)

    def restart(self) -> None:
        if not self.alive:
            self.world.node_restarted(self.node_id)
            self.spawn()

    def pause(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGCONT)

    def settle(self, t: float) -> None:
        """(Nothing is held back here: a node's outputs were seen when they were written.)"""

    def close(self) -> None:
        """Kill and reap the child (at the end of a run, or when the harness fails)."""
        if self.proc is not None and self.proc.poll() is None:
            self._end(signal.SIGKILL)
        elif self.alive:
            self._end(None)

    def _end(self, sig: int | None) -> None:
        """Kill (``sig``) and reap the child, then read what it wrote before it died."""
        proc = self.proc
        self.alive = False
        if sig is not None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
        proc.wait()
        for fd in (1, 2):
            stream = proc.stdout if fd == 1 else proc.stderr
            self.readable(fd, draining=True)
            self.selector.unregister(stream)
            stream.close()
        self._watch_out(False)
        self._out.clear()
        try:
            proc.stdin.close()
        except OSError:
            pass  # a broken pipe: the child is gone

    # -- pipes -------------------------------------------------------------------------------
    def write(self, envelope: Any) -> None:
        """Queue one message for the child's stdin (dropped if it is dead, as on a wire)."""
        if not self.alive:
            return
        line = envelope if isinstance(envelope, bytes) else json.dumps(envelope, separators=(",", ":")).encode() + b"\n"
        waiting = bool(self._out)
        self._out += line
        if not waiting:
            self.writable()

    def writable(self) -> None:
        """Write what the pipe takes now; wait for it to drain for the rest."""
        try:
            n = os.write(self.proc.stdin.fileno(), self._out)
        except BlockingIOError:
            n = 0
        except OSError:  # the child died: the harness hears of it when its stdout closes
            self._out.clear()
            n = 0
        del self._out[:n]
        self._watch_out(bool(self._out))

    def _watch_out(self, on: bool) -> None:
        try:
            self.selector.get_key(self.proc.stdin)
            registered = True
        except KeyError:
            registered = False
        if on and not registered:
            self.selector.register(self.proc.stdin, selectors.EVENT_WRITE, (self, 0))
        elif not on and registered:
            self.selector.unregister(self.proc.stdin)

    def readable(self, fd: int, draining: bool = False) -> None:
        """Read what the child wrote on stdout (``fd`` 1) or stderr (2), line by line."""
        stream = self.proc.stdout if fd == 1 else self.proc.stderr
        buf = self._partial[fd]
        while True:
            try:
                chunk = os.read(stream.fileno(), 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                if not draining and self.alive and fd == 1:
                    self.selector.unregister(stream)
                    self._died()
                    return
                break
            buf += chunk
            if not draining:
                break
        *lines, rest = bytes(buf).split(b"\n")
        buf[:] = rest
        for line in lines:
            if fd == 1:
                self.world.node_line(self.node_id, self.incarnation, line)
            else:
                text = line.decode(errors="replace")
                self.tail.append(text)
                self.world.node_log(self.node_id, text)

    def _died(self) -> None:
        """The child closed its stdout on its own (it exited or crashed): it is down until the
        nemesis restarts it, as after a crash."""
        self.tail.append(f"(exited with status {self.proc.wait()})")
        self.ends[self.incarnation] = self.world.now()
        self.alive = False
        self.readable(2, draining=True)
        self._watch_out(False)
        self.selector.unregister(self.proc.stderr)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
        self._out.clear()
