"""The sans-I/O contract between a protocol and whatever runs it.

A protocol node never touches sockets, clocks, threads or random numbers of its own: it reacts to
inputs (``start``, ``on_message``, ``on_timer``, ``on_request``) and acts only through the
:class:`Context` it is handed. The simulator (``harness.engine.node.NodeHost``) and the scripted test
network (``harness.engine.scripted.ScriptedCluster``) are two such contexts; a real network runtime would
be a third.

A protocol becomes selectable from a suite (``protocol: <name>``) through a :class:`ProtocolSpec`
published in the ``distbench.protocols`` entry-point group of its package's metadata: the
built-ins are found that way, and so is a protocol shipped as its own pip package, with no
change to distbench. Registration never imports the protocols from here (they import this
module). :func:`register` adds one in-process, for a test or a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Callable, Mapping

from pydantic import BaseModel, ConfigDict

from harness.contract import Context, Node  # noqa: F401  (the contract; its own module, see there)
from harness.message import Message  # noqa: F401  (part of the contract; its own module, see there)


class Options(BaseModel):
    """Base for a protocol's own options (the ``protocols.<name>:`` section of a suite)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplicationOptions(BaseModel):
    """Knobs every replication protocol honours identically, so comparisons are like with like."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = 64
    batch_delay: float = 0.0
    pipeline: int = 8
    election_timeout: float = 0.150
    election_timeout_max: float | None = None  # None: 2 x election_timeout
    heartbeat: float = 0.050
    retransmit: float | None = None  # None: the heartbeat interval
    reorder_wait: float = 0.001  # a missing earlier replication message is asked for after this

    @property
    def election_range(self) -> tuple[float, float]:
        """The interval a randomised election timeout is drawn from."""
        return self.election_timeout, self.election_timeout_max or 2 * self.election_timeout


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered protocol: how to build a replica and which options it accepts."""

    name: str
    kind: str  # "consensus" or "transactions"
    factory: Callable[..., Node]
    options: type[Options] = Options
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    # consensus: no node ever reports leading (``became_leader``), so the run has no leadership
    # columns rather than a leader never elected (harness.kinds.consensus)
    leaderless: bool = False
    # transactions: the workload types it can run (empty: every one); Saga and TCC undo a step by
    # moving its amount back, which only the bank's operations define
    workloads: tuple[str, ...] = ()
    # consensus: the messages only a leader sends, each with the attribute holding the term (or
    # ballot) it leads, e.g. ``{AppendEntries: "term"}``. A node that sends one in a term it never
    # reported leading (``became_leader``) violates election safety, so leadership is not taken on
    # the protocol's word alone. Name only messages no follower sends: a follower that answers a
    # client after committing (ZooKeeper's ZAB) makes no leadership claim.
    leader_only: Mapping[type, str] = field(default_factory=dict)


ENTRY_POINTS = "distbench.protocols"
_REGISTRY: dict[str, ProtocolSpec] = {}
_BROKEN: dict[str, str] = {}  # entry point name -> why it could not be loaded
_IN_PROCESS: set[str] = set()  # names given to register()
_loaded = False


class UnknownProtocol(KeyError):
    """No protocol of that name, or its package failed to load (the message says which)."""


def register(name: str, *, kind: str, options: type[Options] = Options,
             description: str = "", aliases: tuple[str, ...] = (),
             leaderless: bool = False, leader_only: Mapping[type, str] | None = None
             ) -> Callable[[type], type]:
    """Class decorator: make ``cls`` available to suites in this process as ``protocol: <name>``
    (or an alias). A package makes a protocol available everywhere with an entry point instead.

    ``cls(node_id, nodes, replication, options, state_machine)`` must build a :class:`Node`.
    """

    def wrap(cls: type) -> type:
        _REGISTRY[name] = ProtocolSpec(name, kind, cls, options,
                                       description or (cls.__doc__ or "").strip().split("\n")[0], aliases,
                                       leaderless, leader_only=dict(leader_only or {}))
        _IN_PROCESS.add(name)
        return cls

    return wrap


def _load_entry_points() -> None:
    """Every installed package's ``distbench.protocols`` entry points, each naming a
    :class:`ProtocolSpec`. One that cannot be loaded is remembered with the reason, not fatal:
    ``distbench list`` shows it, and a suite naming it is refused with that reason. So is a
    name several packages claim: which one a suite ran must never depend on installation order."""
    global _loaded
    _loaded = True
    claimed: dict[str, list[str]] = {}  # name -> the packages that provide it
    for ep in entry_points(group=ENTRY_POINTS):
        packages = claimed.setdefault(ep.name, [])
        packages.append(ep.dist.name if ep.dist is not None else "?")
        if len(packages) > 1:
            _BROKEN[ep.name] = f"provided by more than one package: {', '.join(sorted(packages))}"
            if ep.name not in _IN_PROCESS:
                _REGISTRY.pop(ep.name, None)
            continue
        try:
            spec = ep.load()
        except Exception as e:  # a third-party package's bug must not take the others down
            _BROKEN[ep.name] = f"{ep.value}: {type(e).__name__}: {_one_line(e)}"
            continue
        if not isinstance(spec, ProtocolSpec) or spec.name != ep.name:
            _BROKEN[ep.name] = f"{ep.value} is not the ProtocolSpec named {ep.name!r}"
            continue
        _REGISTRY.setdefault(spec.name, spec)  # an in-process registration of that name wins


def _one_line(error: Exception) -> str:
    """An error's first line, marked when there was more: a refusal or a listing is one line."""
    text = str(error).strip()
    first = text.split("\n", 1)[0]
    return first + (" ..." if first != text else "")


def registry() -> dict[str, ProtocolSpec]:
    """All protocols: the installed packages' entry points and those registered in-process."""
    if not _loaded:
        _load_entry_points()
    return _REGISTRY


def broken() -> dict[str, str]:
    """Entry points that could not be loaded, with the reason."""
    registry()
    return dict(_BROKEN)


def get(name: str) -> ProtocolSpec:
    specs = registry()
    if name in specs:
        return specs[name]
    if name in _BROKEN:
        raise UnknownProtocol(f"protocol {name!r} could not be loaded: {_BROKEN[name]}")
    raise UnknownProtocol(f"no protocol named {name!r}")
