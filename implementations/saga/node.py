"""The Saga partition node: a step applies its amount to the balance at once, where every other
transaction sees it; its compensation is the semantic inverse -- the opposite amount (a
transfer's is the reverse transfer) -- applied in reverse order when the transaction does not
commit. Confirming has nothing left to do."""

from __future__ import annotations

from mypy_extensions import mypyc_attr

from harness.contract import Context
from implementations.txn.stepwise import Step, StepwiseNode

__all__ = ["Saga"]


@mypyc_attr(allow_interpreted_subclasses=True)  # tests subclass it
class Saga(StepwiseNode):
    """Saga with backward recovery: steps applied at once, compensated on abort."""

    def take(self, ctx: Context | None, tid: int, step: Step) -> None:
        if step.delta:
            self.move(ctx, tid, step.key, step.delta)
            self.expose(tid, step.key)

    def confirm(self, ctx: Context | None, tid: int, step: Step) -> None:
        pass

    def undo(self, ctx: Context | None, tid: int, step: Step) -> None:
        self.move(ctx, tid, step.key, -step.delta)
