"""``distbench node``: one node of a registered consensus protocol on stdin/stdout, speaking
Maelstrom's node protocol (docs/live.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import fail


@click.command()
@click.argument("protocol_name", metavar="PROTOCOL")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), envvar="DISTBENCH_DATA",
              help="Directory of the node's durable log, kept across restarts [env DISTBENCH_DATA; "
                   "default: a temporary one, removed at exit].")
@click.option("--seed", type=click.IntRange(min=0), default=1, envvar="DISTBENCH_SEED", show_default=True,
              help="Seed of the node's random stream [env DISTBENCH_SEED].")
@click.option("--options", metavar="JSON", envvar="DISTBENCH_OPTIONS",
              help='Protocol and replication options, e.g. \'{"replication": {"heartbeat": 0.05}}\' '
                   "(seconds) [env DISTBENCH_OPTIONS].")
@click.option("--observe", is_flag=True, envvar="DISTBENCH_OBSERVE",
              help="Also write the node's observations (elected, applied) to stderr for the checkers "
                   "[env DISTBENCH_OBSERVE].")
def node(protocol_name: str, data: Path | None, seed: int, options: str | None, observe: bool) -> None:
    """Run one node of a consensus PROTOCOL on stdin/stdout, speaking Maelstrom's node protocol
    and its lin-kv workload (as `distbench run --live` and Maelstrom run it)."""
    from harness.live.node_main import NodeError, run as run_node

    try:
        run_node(protocol_name, options, data, seed, observe)
    except NodeError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(130)
