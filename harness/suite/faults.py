"""The ``faults`` section: fault rates (renewal processes) and an explicit schedule."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, model_validator

from harness.suite.errors import Problem
from harness.suite.fields import Factor, Role, Section, Target
from harness.units import Duration, PositiveDuration, format_duration, show


class CrashFaults(Section):
    """Random crashes: one every ``mtbf``, each repaired after ``mttr``."""

    mtbf: PositiveDuration
    mttr: PositiveDuration
    dist: Literal["exponential", "constant"] = "exponential"
    target: Role = "any"
    jitter: Duration = 0.0  # each time between crashes lengthened by a uniform draw in [0, jitter)


class PartitionFaults(Section):
    mtbf: PositiveDuration
    duration: PositiveDuration
    kind: Literal["random", "isolate-leader", "majority-minority"] = "random"
    one_way: StrictBool = False


class SlowFaults(Section):
    mtbf: PositiveDuration
    duration: PositiveDuration
    factor: Factor = 10.0
    target: Role = "any"


ACTIONS = ("crash", "restart", "isolate", "partition", "heal", "slow", "restore")


class ScheduledFault(Section):
    """One step of a fault timeline; ``for`` undoes it automatically after that long."""

    at: Duration
    action: Literal[ACTIONS]
    target: Target = "any"
    for_: PositiveDuration | None = Field(None, alias="for")
    factor: Factor = 10.0
    one_way: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``{at: 8s, crash: leader}`` means ``{at: 8s, action: crash, target: leader}``."""
        if isinstance(data, dict) and "action" not in data:
            named = [key for key in data if key in ACTIONS]
            if len(named) == 1:
                rest = {k: v for k, v in data.items() if k != named[0]}
                target = data[named[0]]
                return {**rest, "action": named[0], **({"target": target} if target is not None else {})}
        return data

    @model_validator(mode="after")
    def _meaningful(self) -> ScheduledFault:
        if self.for_ is not None and self.action in ("restart", "heal", "restore"):
            raise Problem(("for",), f"expected no 'for' with action {self.action} (nothing to undo)",
                          format_duration(self.for_))
        if "factor" in self.model_fields_set and self.action != "slow":
            raise Problem(("factor",), "expected factor only with action slow", show(self.factor))
        if "one_way" in self.model_fields_set and self.action not in ("isolate", "partition"):
            raise Problem(("one_way",), "expected one_way only with action isolate or partition",
                          show(self.one_way))
        return self


class Faults(Section):
    """The nemesis: fault rates (renewal processes) and an explicit schedule."""

    crash: CrashFaults | None = None
    partition: PartitionFaults | None = None
    slow: SlowFaults | None = None
    schedule: tuple[ScheduledFault, ...] = ()
