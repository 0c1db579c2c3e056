"""The base class of protocol messages, re-exported by :mod:`harness.protocol`. It has a module
of its own so that the compiled build can compile it (README, "Performance"): the messages of a
compiled protocol must derive from a compiled base, and users' interpreted messages may too."""

from __future__ import annotations

from typing import ClassVar

from mypy_extensions import mypyc_attr


@mypyc_attr(allow_interpreted_subclasses=True)
class Message:
    """Base for protocol messages. Subclasses use ``__slots__`` and set ``size`` (bytes on the
    wire) on each instance, in ``__init__``: the compiled build reads it from the instance, so a
    class attribute would not be seen there."""

    __slots__ = ("size",)
    HEADER: ClassVar[int] = 24
    size: int
