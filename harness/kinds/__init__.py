"""The kinds of run a suite may be (``kind:``), each a package of its own: what its nodes report
(its node contract), its world (state machine, clients, checkers), and what it measures beyond
the kind-neutral :class:`~harness.metrics.Metrics`. The engine knows no kind; the runner and
the suite schema read :data:`KINDS`.

Adding a kind is one package here and one entry in :data:`KINDS`.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of run. ``roles``: the fault targets its world provides besides node ids and
    ``any`` (who holds one changes during a run). ``world_at`` (``module:Class``) is imported on
    first use, so that reading :data:`KINDS` (the suite schema does) loads no simulator."""

    name: str
    description: str
    roles: tuple[str, ...]
    world_at: str

    def world(self) -> type:
        """The :class:`~harness.engine.world.World` subclass that runs this kind."""
        return pkgutil.resolve_name(self.world_at)


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("consensus", "a replicated key-value store: replicas of one protocol, KV clients",
         ("leader", "follower"), "harness.kinds.consensus.world:ConsensusWorld"),
    Kind("transactions", "a partitioned transactional store: partitions, transaction clients",
         ("coordinator", "participant"), "harness.kinds.transactions.world:TransactionWorld"),
)}
