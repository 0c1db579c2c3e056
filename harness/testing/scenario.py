"""The commands of scenario scripts, over :class:`~harness.engine.scripted.ScriptedCluster`.

One driver for every registered protocol: ``cluster raft nodes=3`` builds the cluster through
the registry (``harness.protocol.get``), so a protocol is named, never imported. The network
commands are the same for all protocols; a kind adds its client's commands (``put`` and
``get`` for consensus; ``begin``, ``read``, ``write``, ``add``, ``commit`` for transactions).

What a command prints is what happened: each message delivered (``0->1 AppendEntries term=1
...``) and, indented under it, what the receiving node did in turn (``persisted``, the
messages it sent, ``applied``, ``reply``, ``leads``, ``observe``). Messages are shown by their
public fields (slots or dataclass fields, ``size`` aside); state only through what the runtime
sees: the observations, the armed timers and the state machine the driver handed each node.
The commands are listed in :data:`HELP` (README, "Testing a protocol").
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import ValidationError

from harness.units import format_duration, parse_duration
from harness.engine.scripted import Envelope, ScriptedCluster
from harness.protocol import Node, ReplicationOptions, get
from harness.testing.scripts import ScriptError, run_file
from harness.kinds.transactions.contract import (ADD, OP_NAMES as TXN_OPS, READ, REASONS, WRITE,
                                                 AbortRequest, CommitRequest, Inquiry, OpRequest, Store,
                                                 make_tid)
from workloads.kv import GET, OP_NAMES as KV_OPS, PUT, KVStateMachine, Request

HELP = """\
cluster PROTOCOL nodes=N [initial=V] [OPTION=VALUE ...]   build the cluster (options: the protocol's and replication's)
campaign N                 let 1s pass, then fire N's election timer
fire N TIMER               fire N's timer TIMER now, armed or not
advance DURATION           move the clock (150ms, 1s); fires nothing
deliver [FILTER]           deliver each pending message that matches, once, in send order
stabilize [FILTER]         deliver matching messages until none is pending
drop [FILTER]              lose the pending messages that match
duplicate [FILTER]         send the pending messages that match a second time
pending [FILTER]           list the pending messages
crash N / restart N        stop N (its pending messages are lost) / rebuild it from its durable records
isolate N [N ...] / heal   cut nodes off from everyone (messages to and from them are lost) / reconnect all
status [N ...]             each node: up, crashed or isolated; last applied index; armed timers; state
timers N                   node N's armed timers and when they are due
log N                      the commands node N applied, by index
put N NAME=KEY:VALUE ...   (consensus) client requests to node N, each named; client=C seq=S
get N NAME=KEY ...         (consensus) reads
resend N NAME ...          send named requests again (a client's retry)
begin T [client=C seq=S attempt=A ts=TS]          (transactions) name a transaction attempt
read N T KEY / write N T KEY VALUE / add N T KEY DELTA   its next operation, at node N; index= prior= epoch= ts= snapshot=
commit N T [on=P,P] [epochs=E,E] / inquire N T [on=P,P] / abort N T
FILTER: A->B, A->, ->B, type=Name[,Name], FIELD=VALUE, FIELD!=VALUE (as printed), n=K (the first K)
a command followed by 'quiet' prints only 'ok'
"""

_HIDDEN = {"size", "__weakref__", "__dict__"}
# fields most protocols leave at a default that means "not said": printed only when said
_UNSAID = {"Reply": {"index": 0}}
_STATE: dict[str, Callable[[int], Any]] = {"consensus": lambda _: KVStateMachine(), "transactions": Store}
_ENUMS = {"consensus": {"status": ("ok", "redirect"), "op": KV_OPS},
          "transactions": {"reason": REASONS, "kind": TXN_OPS}}
_TXN_OPS = {"read": READ, "write": WRITE, "add": ADD}


def node_factory(protocol: str, *, node_class: type | None = None, initial: int = 100,
                 states: dict[int, Any] | None = None,
                 **options: Any) -> Callable[[int, tuple[int, ...]], Node]:
    """``factory(node_id, nodes)`` building replicas of the registered ``protocol`` (or of
    ``node_class``, a variant of it) over a fresh state machine of its kind (a transaction
    store holds ``initial`` in every key), with ``options`` split between the replication
    options and the protocol's own. ``states[node_id]`` is each node's latest state machine."""
    spec = get(protocol)
    known = set(ReplicationOptions.model_fields) | set(spec.options.model_fields)
    for key in options:
        if key not in known:
            raise ScriptError(f"{protocol} has no option {key!r} (expected one of: {', '.join(sorted(known))})")
    try:
        replication = ReplicationOptions(**{k: v for k, v in options.items() if k in ReplicationOptions.model_fields})
        opts = spec.options(**{k: v for k, v in options.items() if k in spec.options.model_fields})
    except ValidationError as e:
        err = e.errors()[0]
        raise ScriptError(f"option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    make_state = _STATE[spec.kind]
    cls = node_class or spec.factory

    def build(i: int, nodes: tuple[int, ...]) -> Node:
        state = make_state(initial)
        if states is not None:
            states[i] = state
        return cls(i, nodes, replication, opts, state)

    return build


def scripted_cluster(protocol: str, nodes: int = 3, **kw: Any) -> ScriptedCluster:
    """A :class:`ScriptedCluster` of ``nodes`` replicas of ``protocol`` (see :func:`node_factory`)."""
    return ScriptedCluster(node_factory(protocol, **kw), nodes)


def run_scenario(path: str | Path, rewrite: bool | None = None) -> None:
    """Run the scenario script at ``path`` on a fresh :class:`Scenario` (see
    :func:`harness.testing.scripts.run_file` for the comparison and the rewrite mode)."""
    run_file(path, Scenario(), rewrite)


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ScriptError(f"{what}: expected an integer, got {text!r}") from None


def _ints(text: str, what: str) -> tuple[int, ...]:
    return tuple(_int(part, what) for part in text.split(",") if part)


def _fields(obj: Any) -> list[str]:
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj) if f.name not in _HIDDEN]
    names: list[str] = []
    for klass in reversed(type(obj).__mro__):
        # A compiled class (mypyc) keeps no __slots__; it lists its attributes, inherited ones too.
        own = klass.__dict__.get("__slots__") or klass.__dict__.get("__mypyc_attrs__") or ()
        names += [s for s in ((own,) if isinstance(own, str) else own) if s not in _HIDDEN and s not in names]
    return names


@dataclasses.dataclass
class _Txn:
    """A transaction attempt the script named: what its next operation and its commit carry."""

    client: int
    tid: int
    ts: int
    ops: int = 0  # operations sent so far: the next one's index
    snapshot: int = 0  # the attempt's timestamp, from the first reply that carried one
    parts: list[int] = dataclasses.field(default_factory=list)  # the nodes it ran at, in order


class Scenario:
    """Runs one script's commands (``scenario(command) -> printed lines``); one per script."""

    def __init__(self) -> None:
        self.c: ScriptedCluster | None = None
        self.kind = ""
        self.states: dict[int, Any] = {}
        self.names: dict[int, str] = {}  # id(request) -> its name in the script
        self.requests: dict[str, Any] = {}
        self.tids: dict[int, str] = {}  # transaction id -> its name in the script
        self.txns: dict[str, _Txn] = {}
        self.seqs: dict[int, int] = {}  # client -> its last sequence number

    # -- the command line ------------------------------------------------------------------------
    def __call__(self, command: str) -> list[str]:
        words = command.split()
        quiet = words[-1] == "quiet"
        if quiet:
            words.pop()
        name, args = words[0], words[1:]
        handler = getattr(self, "do_" + name.replace("-", "_"), None)
        if handler is None:
            raise ScriptError(f"unknown command {name!r}; the commands are:\n{HELP}")
        if name != "cluster" and self.c is None:
            raise ScriptError("no cluster yet: start the script with 'cluster PROTOCOL nodes=N'")
        try:
            inspect.signature(handler).bind(*args)
        except TypeError:
            usage = [line for line in HELP.splitlines() if line.split()[0] == name or f"/ {name} " in line]
            raise ScriptError(f"usage: {usage[0].split('  ')[0].strip() if usage else name}") from None
        out = handler(*args)
        return ["ok"] if quiet else out

    @property
    def cluster(self) -> ScriptedCluster:
        assert self.c is not None
        return self.c

    def _node(self, text: str) -> int:
        node = _int(text, "node")
        if node not in self.cluster.nodes:
            raise ScriptError(f"no node {node} (nodes are 0..{len(self.cluster.nodes) - 1})")
        return node

    @staticmethod
    def _split(args: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
        positional = [a for a in args if "=" not in a]
        return positional, dict(a.split("=", 1) for a in args if "=" in a)

    # -- rendering ---------------------------------------------------------------------------
    def show(self, value: Any, field: str | None = None) -> str:
        enum = _ENUMS.get(self.kind, {}).get(field or "")
        if enum is not None and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(enum):
            return enum[value]
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return self.tids.get(value, str(value))
        if isinstance(value, float):
            return "inf" if value == float("inf") else f"{value:.6g}"
        if isinstance(value, str):
            return value
        if id(value) in self.names:
            return self.names[id(value)]
        if isinstance(value, list):
            return "[" + ",".join(self.show(v) for v in value) + "]"
        if isinstance(value, tuple):
            return "(" + ",".join(self.show(v) for v in value) + ")"
        if isinstance(value, dict):
            return "{" + ",".join(f"{self.show(k)}:{self.show(v)}" for k, v in value.items()) + "}"
        fields = _fields(value)
        if fields:
            return f"{type(value).__name__}({self.message_fields(value)})"
        return repr(value)

    def message_fields(self, msg: Any) -> str:
        unsaid = _UNSAID.get(type(msg).__name__, {})
        return " ".join(f"{f}={self.show(getattr(msg, f), f)}" for f in _fields(msg)
                        if f not in unsaid or getattr(msg, f) != unsaid[f])

    def message(self, msg: Any) -> str:
        fields = self.message_fields(msg)
        return f"{type(msg).__name__} {fields}" if fields else type(msg).__name__

    def envelope(self, e: Envelope) -> str:
        return f"{e.src}->{e.dst} {self.message(e.msg)}"

    # -- one step: an input handled by one node, and what it did ---------------------------------
    def step(self, act: Callable[[], Any]) -> list[str]:
        c = self.cluster
        before = {id(e) for e in c.pending}
        replies, leaders, observed = len(c.obs.replies), len(c.obs.leaders), len(c.obs.observed)
        applied = {n: len(a) for n, a in c.obs.applied.items()}
        stable = {n: len(ctx.stable) for n, ctx in c.ctx.items()}
        act()
        out = []
        for n, ctx in c.ctx.items():
            if len(ctx.stable) > stable[n]:
                out.append(f"{n} persisted {len(ctx.stable) - stable[n]}")
        out += [self.envelope(e) for e in c.pending if id(e) not in before]
        for n, entries in c.obs.applied.items():
            out += [f"{n} applied {i} {self.show(cmd)}" for i, cmd in entries[applied.get(n, 0):]]
        out += [f"{n} reply {self.message(r)}" for n, _, r in c.obs.replies[replies:]]
        for _, _, r in c.obs.replies[replies:]:
            self._learn(r)
        out += [f"{n} leads term {t}" for t, n in c.obs.leaders[leaders:]]
        out += [f"{n} observe {event} {self.show(v)}" for n, event, v in c.obs.observed[observed:]]
        return out

    def _deliver(self, e: Envelope) -> list[str]:
        c = self.cluster
        lost = next((f"{n} is {why}" for n, why in ((e.src, "isolated"), (e.dst, "isolated"), (e.dst, "crashed"))
                     if n in (c.crashed if why == "crashed" else c.isolated)), None)
        effects = self.step(lambda: c.deliver(lambda x: x is e))  # a lost message is removed
        if lost:
            effects = [f"lost: {lost}"]
        return [self.envelope(e)] + ["  " + line for line in effects]

    def _matching(self, args: tuple[str, ...]) -> list[Envelope]:
        """The pending envelopes a filter selects, in send order."""
        tests: list[Callable[[Envelope], bool]] = []
        limit = None
        for arg in args:
            if "->" in arg:
                src, dst = arg.split("->", 1)
                if src not in ("", "*"):
                    s = self._node(src)
                    tests.append(lambda e, s=s: e.src == s)
                if dst not in ("", "*"):
                    d = self._node(dst)
                    tests.append(lambda e, d=d: e.dst == d)
            elif arg.startswith("n="):
                limit = _int(arg[2:], "n")
            elif arg.startswith("type="):
                types = set(arg[5:].split(","))
                tests.append(lambda e, types=types: type(e.msg).__name__ in types)
            elif "=" in arg:
                key, value = arg.split("=", 1)
                negate = key.endswith("!")
                key = key.rstrip("!")
                tests.append(lambda e, k=key, v=value, neg=negate:
                             hasattr(e.msg, k) and (self.show(getattr(e.msg, k), k) == v) != neg)
            else:
                raise ScriptError(f"not a message filter: {arg!r} (A->B, type=Name, FIELD=VALUE, n=K)")
        chosen = [e for e in self.cluster.pending if all(t(e) for t in tests)]
        return chosen if limit is None else chosen[:limit]

    # -- commands: the cluster ---------------------------------------------------------------------
    def do_cluster(self, protocol: str = "", *args: str) -> list[str]:
        if self.c is not None:
            raise ScriptError("the cluster is built once per script")
        if not protocol:
            raise ScriptError("expected 'cluster PROTOCOL nodes=N [OPTION=VALUE ...]'")
        positional, options = self._split(args)
        if positional:
            raise ScriptError(f"expected OPTION=VALUE, got {positional[0]!r}")
        nodes = _int(options.pop("nodes", "3"), "nodes")
        initial = _int(options.pop("initial", "100"), "initial")
        values = {k: yaml.safe_load(v) for k, v in options.items()}
        try:
            self.kind = get(protocol).kind
        except KeyError as e:
            raise ScriptError(str(e.args[0])) from None
        self.c = ScriptedCluster(node_factory(protocol, initial=initial, states=self.states, **values), nodes)
        return []

    def do_campaign(self, node: str) -> list[str]:
        n = self._node(node)
        self.cluster.now += 1.0
        return self.step(lambda: self.cluster.fire(n, "election"))

    def do_fire(self, node: str, timer: str) -> list[str]:
        n = self._node(node)
        return self.step(lambda: self.cluster.fire(n, timer))

    def do_advance(self, duration: str) -> list[str]:
        try:
            self.cluster.now += parse_duration(duration)
        except ValueError as e:
            raise ScriptError(f"advance: {e}") from None
        return []

    def do_deliver(self, *filter: str) -> list[str]:
        return [line for e in self._matching(filter) for line in self._deliver(e)]

    def do_stabilize(self, *filter: str) -> list[str]:
        out: list[str] = []
        for _ in range(1000):
            batch = self._matching(filter)
            if not batch:
                return out
            out += [line for e in batch for line in self._deliver(e)]
        raise ScriptError("messages still flowing after 1000 rounds")

    def do_drop(self, *filter: str) -> list[str]:
        chosen = self._matching(filter)
        self.cluster.drop(lambda e: any(e is x for x in chosen))
        return [f"dropped {self.envelope(e)}" for e in chosen]

    def do_duplicate(self, *filter: str) -> list[str]:
        chosen = self._matching(filter)
        self.cluster.pending += [Envelope(e.src, e.dst, e.msg) for e in chosen]
        return [f"duplicated {self.envelope(e)}" for e in chosen]

    def do_pending(self, *filter: str) -> list[str]:
        return [self.envelope(e) for e in self._matching(filter)] or ["none"]

    def do_crash(self, node: str) -> list[str]:
        self.cluster.crash(self._node(node))
        return []

    def do_restart(self, node: str) -> list[str]:
        n = self._node(node)
        return self.step(lambda: self.cluster.restart(n))

    def do_isolate(self, *nodes: str) -> list[str]:
        for node in nodes:
            self.cluster.isolate(self._node(node))
        return []

    def do_heal(self) -> list[str]:
        self.cluster.heal()
        return []

    def do_status(self, *nodes: str) -> list[str]:
        c = self.cluster
        out = []
        for n in [self._node(x) for x in nodes] or list(c.nodes):
            health = "crashed" if n in c.crashed else "isolated" if n in c.isolated else "up"
            applied = c.obs.applied.get(n)
            log = f" applied={applied[-1][0] if applied else 0}" if self.kind == "consensus" else ""
            timers = ",".join(sorted(c.ctx[n].timers))
            out.append(f"{n} {health}{log} timers={timers or 'none'} {self._state(n)}")
        return out

    def _state(self, n: int) -> str:
        state = self.states[n]
        if self.kind == "consensus":
            return "kv=" + self.show(dict(sorted(state.data.items())))
        return "store=" + self.show({k: f"{v}@{self.show(ver)}" for k, (v, ver) in sorted(state.data.items())})

    def do_timers(self, node: str) -> list[str]:
        c, n = self.cluster, self._node(node)
        return [f"{name} " + (f"in {format_duration(round(at - c.now, 9))}" if at >= c.now
                               else f"{format_duration(round(c.now - at, 9))} ago")
                for name, at in sorted(c.ctx[n].timers.items())] or ["none"]

    def do_log(self, node: str) -> list[str]:
        return [f"{i} {self.show(cmd)}" for i, cmd in self.cluster.obs.applied.get(self._node(node), [])] or ["empty"]

    # -- commands: consensus clients ----------------------------------------------------------------
    def _request(self, node: str, args: tuple[str, ...], op: int) -> list[str]:
        if self.kind != "consensus":
            raise ScriptError(f"put and get are commands of consensus protocols, not of {self.kind}")
        n = self._node(node)
        positional, options = self._split(args)
        client = _int(options.pop("client", "1"), "client")
        seq = options.pop("seq", None)
        if positional or not options:
            raise ScriptError("expected NAME=KEY:VALUE (put) or NAME=KEY (get), then client=C seq=S")
        out: list[str] = []
        for name, spec in options.items():
            key, _, value = spec.partition(":")
            s = _int(seq, "seq") if seq is not None else self.seqs.get(client, 0) + 1
            self.seqs[client] = max(self.seqs.get(client, 0), s)
            req = Request(client, s, op, _int(key, name), _int(value or "0", name), value_size=100,
                          ts=self.cluster.now)
            self.names[id(req)] = name
            self.requests[name] = req
            out += self.step(lambda r=req: self.cluster.request(n, r))
        return out

    def do_put(self, node: str, *args: str) -> list[str]:
        return self._request(node, args, PUT)

    def do_get(self, node: str, *args: str) -> list[str]:
        return self._request(node, args, GET)

    def do_resend(self, node: str, *names: str) -> list[str]:
        n = self._node(node)
        out: list[str] = []
        for name in names:
            if name not in self.requests:
                raise ScriptError(f"no request named {name!r}")
            out += self.step(lambda r=self.requests[name]: self.cluster.request(n, r))
        return out

    # -- commands: transaction clients ------------------------------------------------------------
    def do_begin(self, name: str, *args: str) -> list[str]:
        if self.kind != "transactions":
            raise ScriptError(f"transaction commands need a transaction protocol, not {self.kind}")
        _, options = self._split(args)
        client = _int(options.get("client", "1"), "client")
        seq = _int(options["seq"], "seq") if "seq" in options else self.seqs.get(client, 0) + 1
        self.seqs[client] = max(self.seqs.get(client, 0), seq)
        tid = make_tid(client, seq, _int(options.get("attempt", "1"), "attempt"))
        self.tids[tid] = name
        self.txns[name] = _Txn(client, tid, _int(options.get("ts", str(tid)), "ts"))
        return []

    def _learn(self, reply: Any) -> None:
        """As a client does: keep the timestamp the attempt's first reply carries."""
        t = self.txns.get(self.tids.get(getattr(reply, "tid", 0), ""))
        if t is not None and not t.snapshot:
            t.snapshot = getattr(reply, "snapshot", 0)

    def _txn(self, name: str) -> _Txn:
        if name not in self.txns:
            self.do_begin(name)
        return self.txns[name]

    def _op(self, op: str, node: str, name: str, key: str, arg: str = "0", *args: str) -> list[str]:
        n, t = self._node(node), self._txn(name)
        _, options = self._split(args)
        index = _int(options.get("index", str(t.ops)), "index")
        req = OpRequest(t.client, t.tid, _int(options.get("ts", str(t.ts)), "ts"), index,
                        _TXN_OPS[op], _int(key, "key"), _int(arg, op),
                        prior=_int(options.get("prior", "0"), "prior"), epoch=_int(options.get("epoch", "0"), "epoch"),
                        snapshot=_int(options.get("snapshot", str(t.snapshot)), "snapshot"))
        t.ops = max(t.ops, index + 1)
        if n not in t.parts:
            t.parts.append(n)
        return self.step(lambda: self.cluster.request(n, req))

    def do_read(self, node: str, name: str, key: str, *args: str) -> list[str]:
        return self._op("read", node, name, key, "0", *args)

    def do_write(self, node: str, name: str, key: str, value: str, *args: str) -> list[str]:
        return self._op("write", node, name, key, value, *args)

    def do_add(self, node: str, name: str, key: str, delta: str, *args: str) -> list[str]:
        return self._op("add", node, name, key, delta, *args)

    def _finish(self, node: str, name: str, args: tuple[str, ...], make: Callable[..., Any]) -> list[str]:
        n, t = self._node(node), self._txn(name)
        _, options = self._split(args)
        parts = _ints(options["on"], "on") if "on" in options else tuple(sorted(t.parts))
        req = make(t, parts, _ints(options.get("epochs", ""), "epochs"))
        return self.step(lambda: self.cluster.request(n, req))

    def do_commit(self, node: str, name: str, *args: str) -> list[str]:
        return self._finish(node, name, args, lambda t, parts, epochs: CommitRequest(t.client, t.tid, parts, epochs))

    def do_inquire(self, node: str, name: str, *args: str) -> list[str]:
        return self._finish(node, name, args, lambda t, parts, _: Inquiry(t.client, t.tid, parts))

    def do_abort(self, node: str, name: str) -> list[str]:
        return self._finish(node, name, (), lambda t, *_: AbortRequest(t.client, t.tid))
