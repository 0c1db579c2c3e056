"""``distbench node PROTOCOL``: one node of a registered consensus protocol on stdin/stdout, as
Maelstrom (or distbench's live mode) runs it. What a user can get wrong ends in one line."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness import protocol
from harness.live.host import LiveHost, serve


class NodeError(Exception):
    """A bad argument to ``distbench node``: the message is the one line to show."""


def settings(name: str, options: str | None) -> tuple[Any, Any, Any]:
    """The protocol's spec, its options and the replication options, from ``options``: JSON
    ``{"replication": {...}, "protocol": {...}}`` in seconds (distbench's live mode passes the
    suite's; absent, the defaults)."""
    try:
        spec = protocol.get(name)
    except protocol.UnknownProtocol as exc:
        raise NodeError(exc.args[0]) from None
    if spec.kind != "consensus":
        raise NodeError(f"protocol {name!r} is a {spec.kind} protocol; a node runs a consensus protocol "
                        "(lin-kv)")
    try:
        given = json.loads(options) if options else {}
        if not isinstance(given, dict):
            raise ValueError("expected a JSON object")
        return (spec, spec.options.model_validate(given.get("protocol") or {}),
                protocol.ReplicationOptions.model_validate(given.get("replication") or {}))
    except (ValueError, ValidationError) as exc:
        first = str(exc).strip().splitlines()
        raise NodeError(f"--options: {first[0] if first else exc}") from None


def run(name: str, options: str | None, data: Path | None, seed: int, observe: bool) -> None:
    """Serve until stdin closes; the durable log goes to ``data`` (default: a temporary
    directory removed at exit, so a restart would start empty)."""
    spec, opts, replication = settings(name, options)
    with tempfile.TemporaryDirectory(prefix="distbench-node-") as scratch:
        asyncio.run(_main(spec, opts, replication, data or Path(scratch), seed, observe))


async def _main(spec: Any, opts: Any, replication: Any, data: Path, seed: int, observe: bool) -> None:
    host = LiveHost(spec, opts, replication, data, seed, observe, sys.stdout.buffer,
                    asyncio.get_running_loop())
    try:
        await serve(host, sys.stdin)
    finally:
        host.close()
