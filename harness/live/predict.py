"""What the simulator predicts for a live run (``live.predict``): the same config and seed run
simulated, its ``cluster`` cost model standing for this machine (``distbench calibrate``
measures it), and the figures a live run measures set beside them as ``predicted_<metric>``."""

from __future__ import annotations

from typing import Any

from harness.kinds import KINDS

PREDICTED = ("throughput_ops_s", "latency_p50_ms", "latency_p99_ms", "failover_ms_mean")


def predicted(config: Any, seed: int) -> dict[str, Any]:
    """The ``predicted_<metric>`` columns of a live run of ``config`` with ``seed``."""
    world = KINDS[config.kind].world()(config.model_copy(update={"mode": "simulated"}), seed)
    row = world.run()
    return {f"predicted_{key}": row.get(key) for key in PREDICTED}
