"""The two messages between the primary and its backups."""

from __future__ import annotations

from typing import Any

from harness.protocol import Message


class Replicate(Message):
    """Primary to backup: the log entries from index ``first`` on (none: a heartbeat), and how
    far the log is committed."""

    __slots__ = ("first", "commands", "commit")

    def __init__(self, first: int, commands: tuple[Any, ...], commit: int):
        self.first = first
        self.commands = commands
        self.commit = commit
        self.size = Message.HEADER + sum(c.size for c in commands)


class Ack(Message):
    """Backup to primary: my log holds ``length`` entries, all of them on my disk."""

    __slots__ = ("length",)

    def __init__(self, length: int):
        self.length = length
        self.size = Message.HEADER
