"""What a live run's manifest adds: that it is live, and the machine it ran on (its numbers are
this machine's, in wall-clock time, not a pure function of config and seed)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": f"{platform.system()} {platform.release()}"}


def live_manifest(specs: list[Any]) -> dict[str, Any]:
    """``mode: live`` and ``machine`` for a suite with live runs; nothing for a simulated one."""
    if not any(spec.config.mode == "live" for spec in specs):
        return {}
    mixed = any(spec.config.mode != "live" for spec in specs)
    return {"mode": "mixed" if mixed else "live", "machine": machine()}
