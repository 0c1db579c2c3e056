"""The ``faults`` section: fault rates (renewal processes) and an explicit schedule. Each fault
kind declares its rate section and its schedule actions in :mod:`harness.faults`; this module
only assembles them into the schema."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model, model_validator

from harness import faults as _faults
from harness.faults.kind import Target
from harness.faults.trigger import Trigger
from harness.suite.errors import Problem
from harness.suite.fields import Section
from harness.units import Duration, PositiveDuration, format_duration, show

ACTIONS = _faults.ACTIONS


class _Step(Section):
    """One step of a fault timeline; ``for`` undoes it automatically after that long."""

    at: Duration
    action: Literal[ACTIONS]
    target: Target = "any"
    for_: PositiveDuration | None = Field(None, alias="for")
    after: str | None = Field(
        None, description="Wait, from 'at' on, for the first message of this type a node sends "
                          "('Vote', or with fields: 'Vote granted=True'); the fault hits the "
                          "sender as the message leaves (or 'target', when one is named).")

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
    def _meaningful(self) -> _Step:
        action = _faults.ACTION[self.action]
        if self.for_ is not None and action.heals:
            raise Problem(("for",), f"expected no 'for' with action {self.action} (nothing to undo)",
                          format_duration(self.for_))
        if self.after is not None:
            try:
                Trigger.parse(self.after)
            except ValueError as exc:
                raise Problem(("after",), str(exc), self.after) from None
            if action.heals:
                raise Problem(("after",), f"expected no 'after' with action {self.action} (a heal waits for nothing)",
                              self.after)
        if self.for_ is None and action.needs_for:
            raise Problem(("for",), f"expected 'for' with action {self.action} (how long it lasts)")
        for key in _faults.STEP:
            if key in self.model_fields_set and key not in action.params:
                takers = [name for name, a in _faults.ACTION.items() if key in a.params]
                raise Problem((key,), f"expected {key} only with action {' or '.join(takers)}",
                              show(getattr(self, key)))
        return self


ScheduledFault = create_model("ScheduledFault", __base__=_Step, **_faults.STEP)  # type: ignore[call-overload]

class _Ending(Section):
    """``until``: the moment the nemesis heals every fault and injects no more, so that a run
    ends with a stretch in which the protocol must recover (as a Jepsen test heals its nemesis
    before its final reads). Scheduled steps belong before it."""

    until: PositiveDuration | None = None

    @model_validator(mode="after")
    def _steps_before_until(self) -> Any:
        until = self.until
        for i, step in enumerate(getattr(self, "schedule", ())):
            if until is not None and step.at >= until:
                raise Problem(("schedule", i, "at"), f"expected a time before faults.until "
                              f"({format_duration(until)}): no fault is injected after it",
                              format_duration(step.at))
        return self


Faults = create_model(  # type: ignore[call-overload]
    "Faults", __base__=_Ending, __doc__="The nemesis: fault rates (renewal processes) and an explicit schedule.",
    **{kind.name: (kind.rate | None, None) for kind in _faults.KINDS},
    schedule=(tuple[ScheduledFault, ...], ()))  # type: ignore[valid-type]


def written_step(step: dict[str, Any]) -> dict[str, Any]:
    """A resolved step (a resolved config lists every step key for every action, ``factor`` of a
    crash included) as a suite writes it: without the keys its action does not take, which the
    schema refuses, and without those left unset or at their default."""
    action = _faults.ACTION[step["action"]]
    return {key: value for key, value in step.items() if value is not None and (
        key not in _faults.STEP or (key in action.params and value != _faults.STEP[key][1]))}


def rate_targets(faults: Any) -> list[tuple[str, Any]]:
    """(section name, target) of the suite's fault rate sections that take a target."""
    return [(kind.name, section.target) for kind in _faults.KINDS
            if (section := getattr(faults, kind.name)) is not None and "target" in kind.rate.model_fields]
