"""Optimistic concurrency control (``occ``): read, validate, write; backward (Kung-Robinson) or
Silo-style validation (:mod:`.validation`)."""

from __future__ import annotations

from harness.protocol import ProtocolSpec
from implementations.occ.node import OCC
from implementations.occ.options import OCCOptions

__all__ = ["SPEC"]

SPEC = ProtocolSpec("occ", "transactions", OCC, OCCOptions,
                    "optimistic concurrency control (read, validate, write); backward or Silo-style")
