"""The ``cluster``, ``network`` and ``replication`` sections: machines and their cost model,
links and their latency laws, and the replication knobs both consensus protocols share."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, ConfigDict, Field, Strict, StrictBool, model_validator

from harness import protocol as _protocol
from harness.suite.errors import Problem
from harness.suite.fields import NodeSelector, PosInt, Section
from harness.units import Bandwidth, Duration, PositiveDuration, Probability, format_duration


class Cluster(Section):
    """The machines and their cost model (see ``harness.engine.node``); ``relay``: the time a
    message between nodes spends in a process relaying it (a live run's harness), on top of the
    network's latency (see ``harness.engine.network``)."""

    nodes: Annotated[int, Strict(), Field(ge=1, le=99)] = 3
    partitions: PosInt = 1
    cpu_per_message: Duration = "20us"
    cpu_per_send: Duration = "10us"
    cpu_per_byte: Duration = "2ns"
    cpu_dist: Literal["constant", "exponential"] = "constant"
    fsync: Duration = "200us"
    relay: Duration = "0s"
    group_commit: StrictBool = True
    queue: Literal["fifo", "peer_first"] = "fifo"


class ConstantLatency(Section):
    dist: Literal["constant"] = "constant"
    value: Duration


class UniformLatency(Section):
    dist: Literal["uniform"] = "uniform"
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.high < self.low:
            raise Problem(("high",), f"expected a duration >= low ({format_duration(self.low)})",
                          format_duration(self.high))
        return self


class NormalLatency(Section):
    """Normal, truncated at 0."""

    dist: Literal["normal"] = "normal"
    mean: Duration = "500us"
    std: Duration = "100us"


class ExponentialLatency(Section):
    dist: Literal["exponential"] = "exponential"
    mean: PositiveDuration


class LogNormalLatency(Section):
    dist: Literal["lognormal"] = "lognormal"
    median: PositiveDuration
    sigma: Annotated[float, Strict(), Field(ge=0.0)]


class ParetoLatency(Section):
    """Pareto with minimum ``scale``: a heavy tail."""

    dist: Literal["pareto"] = "pareto"
    scale: PositiveDuration
    shape: Annotated[float, Strict(), Field(gt=0.0)]


LATENCIES = (ConstantLatency, UniformLatency, NormalLatency, ExponentialLatency, LogNormalLatency,
             ParetoLatency)


def _latency_shorthand(value: Any) -> Any:
    """``latency: 1ms`` means constant; a mapping without ``dist`` is normal (the default law)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"dist": "constant", "value": value}
    return {"dist": "normal", **value} if isinstance(value, dict) and "dist" not in value else value


Latency = Annotated[Union[LATENCIES], Field(discriminator="dist"), BeforeValidator(_latency_shorthand)]


class LinkOverride(Section):
    """Settings for the links ``from`` -> ``to`` (node ids or ``*``); later overrides win."""

    src: NodeSelector = Field("*", alias="from")
    dst: NodeSelector = Field("*", alias="to")
    latency: Latency | None = None
    loss: Probability | None = None
    duplicate: Probability | None = None
    bandwidth: Bandwidth | None = None


class Network(Section):
    """Links: latency laws, loss, and the transport (see ``harness.engine.network``)."""

    transport: Literal["stream", "datagram"] = "stream"
    rto: PositiveDuration = "200ms"
    latency: Latency = NormalLatency()
    loss: Probability = 0.0
    duplicate: Probability = 0.0
    bandwidth: Bandwidth | None = None
    links: tuple[LinkOverride, ...] = ()


class Replication(_protocol.ReplicationOptions):
    """``ReplicationOptions`` written with units. Subclassing keeps the two field lists in step."""

    model_config = ConfigDict(validate_default=True)

    batch_size: PosInt = 64
    batch_delay: Duration = 0.0
    pipeline: PosInt = 8
    election_timeout: PositiveDuration = "150ms"
    election_timeout_max: PositiveDuration | None = None
    heartbeat: PositiveDuration = "50ms"
    retransmit: PositiveDuration | None = None
    reorder_wait: Duration = "1ms"

    @model_validator(mode="after")
    def _heartbeat_first(self) -> Replication:
        if self.heartbeat >= self.election_timeout:
            raise Problem(("heartbeat",), "expected a duration < election_timeout "
                          f"({format_duration(self.election_timeout)})", format_duration(self.heartbeat))
        top = self.election_timeout_max
        if top is not None and top < self.election_timeout:
            raise Problem(("election_timeout_max",), "expected a duration >= election_timeout "
                          f"({format_duration(self.election_timeout)})", format_duration(top))
        return self
