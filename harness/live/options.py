"""The ``live:`` section of a suite: what a ``mode: live`` run needs beyond the simulated one."""

from __future__ import annotations

import shutil

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, field_validator

from harness.units import PositiveDuration, show

EXTERNAL = "external"  # protocol: external -- a program of the user's as the nodes (live mode only)


class LiveOptions(BaseModel):
    """``command``: the node binary and its arguments for ``protocol: external`` (it speaks
    Maelstrom's lin-kv on stdin/stdout); ``init_timeout``: how long a node may take to answer
    ``init`` before the run is abandoned; ``predict``: also run the same config simulated, with
    the suite's ``cluster`` cost model, and record its figures beside the measured ones;
    ``budget``: the wall-clock time the suite's live runs may take together (a suite whose matrix
    needs more is refused before it starts, :mod:`harness.live.budget`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    command: tuple[StrictStr, ...] | None = None
    init_timeout: PositiveDuration = "10s"
    predict: StrictBool = False
    budget: PositiveDuration = "10min"

    @field_validator("command")
    @classmethod
    def _runnable(cls, command: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if command is None:
            return None
        if not command or not command[0]:
            raise ValueError("expected a non-empty list: the program, then its arguments")
        if shutil.which(command[0]) is None:
            raise ValueError(f"expected an executable program, got {show(command[0])} (not found, "
                             "or not executable)")
        return command
