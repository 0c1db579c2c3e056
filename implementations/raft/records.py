"""Raft's stable records (``ctx.persist``), replayed in order by ``RaftNode.start``."""

from __future__ import annotations

__all__ = ["TermRecord", "AppendRecord"]


class TermRecord:
    """currentTerm / votedFor changed; persisted before any vote or reply that depends on it."""

    __slots__ = ("term", "voted_for")

    def __init__(self, term: int, voted_for: int | None):
        self.term = term
        self.voted_for = voted_for

    def __repr__(self) -> str:
        return f"TermRecord(term={self.term}, voted_for={self.voted_for})"


class AppendRecord:
    """The log becomes ``log[:first] + entries`` (``terms``, ``cmds``): an append that also
    truncates a conflicting suffix, so no separate truncate record is needed. Followers persist
    it before acknowledging."""

    __slots__ = ("first", "terms", "cmds")

    def __init__(self, first: int, terms: list, cmds: list):
        self.first = first
        self.terms = terms
        self.cmds = cmds

    def __repr__(self) -> str:
        return f"AppendRecord(first={self.first}, n={len(self.terms)})"
