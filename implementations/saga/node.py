"""The Saga partition node: a step applies its amount to the balance at once, where every other
transaction sees it; its compensation is the semantic inverse -- the opposite amount (a
transfer's is the reverse transfer) -- applied in reverse order when the transaction does not
commit. Confirming has nothing left to do.

Recovery (``protocols.saga.recovery``): *backward* undoes a transaction whose step timed out (the
client aborts the attempt and retries it as a new one); *forward* retries the remaining steps
instead -- the client re-sends the step that timed out, which the partition answers from its
log if it already ran -- and a commit whose answer was lost is completed, not undone, when the
client inquires. Compensation stays the backstop: a home that hears nothing of a transaction
for ``idle_timeout`` undoes it."""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from harness.contract import Context
from implementations.txn.stepwise import Step, StepwiseNode

__all__ = ["Saga"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class Saga(StepwiseNode):
    """Saga: steps applied at once, compensated on abort; with forward recovery a timed-out step
    is re-sent and an unanswered commit completed rather than compensated."""

    def resends_operations(self) -> bool:
        return bool(self.options.recovery == "forward")

    def take(self, ctx: Context | None, tid: int, step: Step) -> None:
        if step.delta:
            self.move(ctx, tid, step.key, step.delta)
            self.expose(tid, step.key)

    def confirm(self, ctx: Context | None, tid: int, step: Step) -> None:
        pass

    def undo(self, ctx: Context | None, tid: int, step: Step) -> None:
        self.move(ctx, tid, step.key, -step.delta)
