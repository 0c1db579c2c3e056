"""The ``workload`` section: one model per workload type, each saying which suite kind it drives."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BeforeValidator, Field, Strict, model_validator

from harness.suite.errors import Problem
from harness.suite.fields import NonNegInt, PosInt, Section
from harness.units import Duration, PositiveDuration, Probability, Rate, Size, format_duration, show


class KeyDistribution(Section):
    """Which keys operations touch (YCSB's request distributions)."""

    type: Literal["uniform", "zipfian", "hotspot", "latest"] = "uniform"
    theta: Annotated[float, Strict(), Field(ge=0.0, lt=5.0)] = 0.99
    hot_fraction: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.2
    hot_probability: Probability = 0.8


def _check_pacing(w: Any) -> None:
    """Closed loop paces with think time, open loop with a rate; neither takes the other's knob."""
    if w.mode == "open" and w.rate is None:
        raise Problem(("rate",), "required in open mode: the total rate of all clients, such as 2000/s")
    if w.mode == "closed" and w.rate is not None:
        raise Problem(("rate",), "expected no rate in closed mode (use mode: open)", f"{w.rate:g}/s")
    if w.mode == "open" and w.think_time:
        raise Problem(("think_time",), "expected no think_time in open mode", format_duration(w.think_time))


class KVWorkload(Section):
    """Clients issuing get/put/cas on a replicated key-value store."""

    kind: ClassVar[str] = "consensus"

    type: Literal["kv"] = "kv"
    clients: PosInt = 16
    mode: Literal["closed", "open"] = "closed"
    rate: Rate | None = None
    think_time: Duration = 0.0
    keys: PosInt = 1000
    distribution: Annotated[KeyDistribution, BeforeValidator(
        lambda v: {"type": v} if isinstance(v, str) else v)] = KeyDistribution()
    read_ratio: Probability = 0.5
    cas_ratio: Probability = 0.0
    value_size: Size = 64
    timeout: PositiveDuration = "200ms"
    retries: NonNegInt = 10
    routing: Literal["leader", "any"] = "leader"

    @model_validator(mode="after")
    def _consistent(self) -> KVWorkload:
        _check_pacing(self)
        if self.read_ratio + self.cas_ratio > 1:
            raise Problem(("cas_ratio",), "expected read_ratio + cas_ratio <= 1",
                          f"{self.read_ratio:g} + {self.cas_ratio:g}")
        return self


class _TxnWorkload(Section):
    """What every transaction workload shares: clients, pacing, placement, timeouts, retries."""

    kind: ClassVar[str] = "transactions"

    clients: PosInt = Field(16, description="Transaction clients.")
    mode: Literal["closed", "open"] = Field(
        "closed", description="closed: each client runs one transaction at a time; open: Poisson "
                              "arrivals at `rate`, latency counted from the intended start.")
    rate: Rate | None = Field(None, description="Open loop: the total arrival rate of all clients.")
    think_time: Duration = Field(0.0, description="Closed loop: pause between transactions.")
    distribution: Annotated[KeyDistribution, BeforeValidator(
        lambda v: {"type": v} if isinstance(v, str) else v)] = Field(
        KeyDistribution(), description="Which keys transactions touch (YCSB distributions).")
    multi_partition: Probability = Field(
        0.0, description="Fraction of transactions spanning several partitions (key k lives on "
                         "partition k % cluster.partitions); the rest stay on one.")
    partitions_per_txn: Annotated[int, Strict(), Field(ge=2)] = Field(
        2, description="Partitions a multi-partition transaction touches (at most cluster.partitions).")
    timeout: PositiveDuration = Field(
        "100ms", description="How long a client waits for an answer: while executing, the attempt "
                             "is then aborted (reason timeout) and retried; while committing, the "
                             "client asks the coordinator for the outcome instead.")
    retries: Annotated[int, Strict(), Field(ge=0, le=4000)] = Field(
        100, description="Retries of an aborted transaction before it is given up (ops_failed).")
    backoff_base: Duration = Field(
        "1ms", description="Back-off after an abort: min(base * 2^n, cap), n = the transaction's "
                           "earlier aborts (base after the first abort, 2 * base after the second) ...")
    backoff_cap: Duration = Field("50ms", description="... capped at this (>= backoff_base) ...")
    backoff_jitter: Probability = Field(
        0.5, description="... plus a uniform random extra of up to this fraction of it.")

    @model_validator(mode="after")
    def _paced(self) -> _TxnWorkload:
        _check_pacing(self)
        if self.backoff_cap < self.backoff_base:
            raise Problem(("backoff_cap",), "expected a duration >= backoff_base "
                          f"({format_duration(self.backoff_base)})", format_duration(self.backoff_cap))
        return self


class YCSBWorkload(_TxnWorkload):
    """YCSB-style multi-key read/read-modify-write transactions on a partitioned store."""

    type: Literal["ycsb"] = "ycsb"
    keys: PosInt = Field(10_000, description="Keyspace size.")
    ops: PosInt = Field(8, description="Operations per transaction, on distinct keys.")
    read_ratio: Probability = Field(
        0.5, description="Per operation: probability of a read (else a read-modify-write).")
    read_only_ratio: Probability = Field(
        0.0, description="Per transaction: fraction of transactions made only of reads.")
    value_size: Size = Field(64, description="Bytes per value, for message sizes.")

    @model_validator(mode="after")
    def _fits(self) -> YCSBWorkload:
        if self.ops > self.keys:
            raise Problem(("ops",), f"expected at most keys ({self.keys}) operations", show(self.ops))
        return self


class BankWorkload(_TxnWorkload):
    """SmallBank-like transfers between accounts; the total balance is an invariant."""

    type: Literal["bank"] = "bank"
    accounts: Annotated[int, Strict(), Field(ge=2)] = Field(1000, description="Number of accounts.")
    initial_balance: NonNegInt = Field(100, description="Every account's opening balance.")
    amount_max: PosInt = Field(10, description="Transfers move 1..amount_max.")
    balance_ratio: Probability = Field(
        0.15, description="Fraction of read-only balance checks (read two accounts).")
    amalgamate_ratio: Probability = Field(
        0.1, description="Fraction of amalgamations (move all of one account into another); the "
                         "rest are transfers.")
    writecheck_ratio: Probability = Field(
        0.0, description="Fraction of SmallBank WriteChecks: a check drawn on one account, "
                         "honoured when it and a second account together cover it, paid into a "
                         "third (where snapshot isolation's write skew costs money).")

    @model_validator(mode="after")
    def _mix(self) -> BankWorkload:
        if self.balance_ratio + self.amalgamate_ratio > 1:
            raise Problem(("amalgamate_ratio",), "expected balance_ratio + amalgamate_ratio <= 1",
                          f"{self.balance_ratio:g} + {self.amalgamate_ratio:g}")
        mix = self.balance_ratio + self.amalgamate_ratio + self.writecheck_ratio
        if mix > 1:
            raise Problem(("writecheck_ratio",),
                          "expected balance_ratio + amalgamate_ratio + writecheck_ratio <= 1",
                          f"{mix:g}")
        if self.partitions_per_txn > 2:
            raise Problem(("partitions_per_txn",), "expected 2 with the bank workload (every bank "
                          "transaction touches two accounts, so at most two partitions: more would "
                          "run as 2)", show(self.partitions_per_txn))
        return self


WORKLOADS = (KVWorkload, YCSBWorkload, BankWorkload)
"""Workload models, discriminated on ``type``; each says which suite ``kind`` it drives."""

Workload = Annotated[Union[WORKLOADS], Field(discriminator="type"), BeforeValidator(
    lambda v: {"type": "kv", **v} if isinstance(v, dict) and "type" not in v else v)]
