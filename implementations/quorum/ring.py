"""The token ring: which nodes hold a key (consistent hashing, Karger et al. 1997, as Dynamo
uses it: DeCandia et al., SOSP 2007, section 4.2; Cassandra's ``TokenMetadata`` and
``SimpleStrategy``).

Each node owns ``vnodes`` tokens, points on a 64-bit ring derived from a hash of (node, i), so
the ring is the same on every node and in every run. A key hashes to a token; its **preference
list** is the distinct nodes met walking clockwise from there: the first N hold the key, the
ones after stand in for them under a sloppy quorum. Hashing is BLAKE2b rather than Cassandra's
Murmur3 or Dynamo's MD5: only an even, deterministic spread matters here.
"""

from __future__ import annotations

from bisect import bisect_right
from hashlib import blake2b

__all__ = ["TokenRing", "token"]


def token(label: str) -> int:
    """A point on the ring: the first 8 bytes of the label's BLAKE2b digest."""
    return int.from_bytes(blake2b(label.encode(), digest_size=8).digest(), "big")


class TokenRing:
    """The ring of ``nodes`` with ``vnodes`` tokens each; :meth:`preference` is cached per key."""

    __slots__ = ("tokens", "owners", "_lists")

    def __init__(self, nodes: tuple[int, ...], vnodes: int):
        points = sorted((token(f"node{node}/{i}"), node) for node in nodes for i in range(vnodes))
        self.tokens: list[int] = [t for t, _ in points]
        self.owners: list[int] = [node for _, node in points]
        self._lists: dict[int, list[int]] = {}

    def preference(self, key: int) -> list[int]:
        """Every node, in the order met clockwise from ``key``'s token (the first N are its
        replicas)."""
        found = self._lists.get(key)
        if found is not None:
            return found
        owners = self.owners
        start = bisect_right(self.tokens, token(f"key{key}"))
        seen: list[int] = []
        for i in range(len(owners)):
            node = owners[(start + i) % len(owners)]
            if node not in seen:
                seen.append(node)
        self._lists[key] = seen
        return seen
