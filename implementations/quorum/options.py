"""The quorum store's options (a pydantic model, so it stays interpreted in the compiled build):
the replication factor N, the read and write consistency levels R and W (Cassandra's names), and
the repair mechanisms. What N, R and W can be depends on the run (the cluster, the workload), so
beside the option checks of its own the model answers :meth:`QuorumOptions.run_problem`."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from harness.protocol import Options
from harness.suite.errors import Problem
from harness.units import PositiveDuration

__all__ = ["QuorumOptions", "LEVELS", "level_count"]

LEVELS = ("one", "quorum", "all")
Level = Union[Literal["one", "quorum", "all"], int]


def level_count(level: str | int, n: int) -> int:
    """How many of the ``n`` replicas a consistency level waits for (Cassandra's
    ``ConsistencyLevel.blockFor``: ``quorum`` is a majority of the replication factor)."""
    if level == "one":
        return 1
    if level == "quorum":
        return n // 2 + 1
    if level == "all":
        return n
    return int(level)


class QuorumOptions(Options):
    """The ``protocols.quorum:`` section of a suite."""

    replication_factor: int = Field(
        3, ge=1,
        description="N: how many nodes hold each key, the first N distinct nodes clockwise from "
                    "the key's token on the ring (Dynamo's preference list).")
    read_consistency: Level = Field(
        "quorum",
        description="R: how many replicas answer before a read does: one, quorum (N // 2 + 1), "
                    "all, or a number. A read asks all N replicas and waits for the first R.")
    write_consistency: Level = Field(
        "quorum",
        description="W: how many replicas acknowledge a write (after their fsync) before the "
                    "client is told it succeeded: one, quorum, all, or a number.")
    timestamps: Literal["client", "coordinator"] = Field(
        "client",
        description="Whose clock stamps a write for last-write-wins: 'client', the client's "
                    "when it issued the write, the same on every retry (what Cassandra's drivers "
                    "do by default); 'coordinator', the clock of the node that receives it "
                    "(Cassandra without a client timestamp), so that clock faults reorder "
                    "writes and a retried or late-delivered write takes effect again, later. "
                    "Only 'client' keeps the regular promise of R + W > N.")
    read_repair: Literal["blocking", "none"] = Field(
        "blocking",
        description="'blocking' (Cassandra 4's default): when the R answers of a read disagree, "
                    "the coordinator writes the newest version to the stale ones and answers "
                    "only once they acknowledge it; 'none': it answers with the newest at once.")
    hinted_handoff: bool = Field(
        False,
        description="A replica that has not acknowledged a write within replica_timeout is "
                    "owed a hint, replayed to it every replica_timeout until it acknowledges "
                    "(Cassandra's hinted handoff; hints do not count toward W).")
    sloppy_quorum: bool = Field(
        False,
        description="A write or read short of W or R answers after replica_timeout is also sent "
                    "to the next nodes on the ring past the N replicas, and their answers count "
                    "(Dynamo's sloppy quorum). Such a fallback keeps the write and, with "
                    "hinted_handoff, hands it to the replica it stood in for. Promises only "
                    "eventual consistency, even with R + W > N.")
    replica_timeout: PositiveDuration = Field(
        0.1,
        description="How long a coordinator waits for replicas before it falls back (sloppy "
                    "quorum) or records hints; it forgets the request after three times as long "
                    "(the client has retried by then).")
    vnodes: int = Field(
        16, ge=1, le=256,
        description="Tokens per node on the ring (Cassandra's num_tokens): more spread the keys "
                    "more evenly.")

    @field_validator("read_consistency", "write_consistency", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        """A level is a name of LEVELS or a positive integer (never a bool)."""
        if isinstance(value, bool) or not (value in LEVELS or isinstance(value, int) and value >= 1):
            raise ValueError(f"expected one of {', '.join(LEVELS)} or an integer >= 1, got {value!r}")
        return value

    @model_validator(mode="after")
    def _within_n(self) -> QuorumOptions:
        """R and W count replicas: neither can exceed N."""
        n = self.replication_factor
        for key in ("read_consistency", "write_consistency"):
            if level_count(getattr(self, key), n) > n:
                raise Problem((key,), f"expected at most replication_factor ({n}) replicas",
                              repr(getattr(self, key)))
        return self

    @property
    def r(self) -> int:
        return level_count(self.read_consistency, self.replication_factor)

    @property
    def w(self) -> int:
        return level_count(self.write_consistency, self.replication_factor)

    def run_problem(self, cfg: Any) -> tuple[tuple[Any, ...], str, str] | None:
        """What this run cannot do with these options: (the suite key, what was expected, what
        was given), or None. N must fit the cluster; a quorum store has no compare-and-set."""
        nodes = cfg.cluster.nodes
        if self.replication_factor > nodes:
            return (("protocols", cfg.protocol, "replication_factor"),
                    f"expected at most cluster.nodes ({nodes})", str(self.replication_factor))
        if cfg.workload.cas_ratio > 0:
            return (("workload", "cas_ratio"),
                    f"expected 0 with protocol {cfg.protocol} (a quorum store has no compare-and-set; "
                    "Cassandra needs Paxos for it)", f"{cfg.workload.cas_ratio:g}")
        return None
