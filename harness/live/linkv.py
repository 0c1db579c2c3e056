"""Client requests and replies as Maelstrom's ``lin-kv`` workload speaks them.

distbench's key-value operations (:mod:`workloads.kv`) are ``read``/``write``/``cas`` with keys
and values as integers; a key never written reads as 0, which lin-kv says with error 20 (key does
not exist). Replies are ``read_ok``/``write_ok``/``cas_ok`` or an ``error`` with Maelstrom's code.
Two optional fields carry what lin-kv has no word for and a node may ignore: ``seq`` and ``ack``,
the client's sequence number of the operation (the same on every re-send) and its lowest
unanswered one, so a node can apply a re-sent command once (the Raft thesis' client sessions);
and ``leader`` on error 11, the node believed to lead.

Endpoint names: nodes are ``n0 .. n{N-1}`` (the order of ``node_ids``), clients ``c1, c2, ...``;
client ``cK`` is endpoint ``N - 1 + K`` in distbench's numbering, so that a command's id is the
same in the harness and in the node that applies it.
"""

from __future__ import annotations

from typing import Any

from harness.live.codec import CodecError
from workloads.kv import CAS, GET, OK, PUT, REDIRECT, Reply, Request

# Maelstrom's error codes: name and whether the operation definitely did not happen.
ERRORS: dict[int, tuple[str, bool]] = {
    0: ("timeout", False), 1: ("node-not-found", True), 10: ("not-supported", True),
    11: ("temporarily-unavailable", True), 12: ("malformed-request", True), 13: ("crash", False),
    14: ("abort", True), 20: ("key-does-not-exist", True), 21: ("key-already-exists", True),
    22: ("precondition-failed", True), 30: ("txn-conflict", True),
}
UNAVAILABLE, NOT_FOUND, MALFORMED, NO_KEY, PRECONDITION = 11, 1, 12, 20, 22
OPS = {"read": GET, "write": PUT, "cas": CAS}


def node_name(i: int) -> str:
    return f"n{i}"


def client_name(endpoint: int, nodes: int) -> str:
    return f"c{endpoint - nodes + 1}"


def client_endpoint(name: str, nodes: int) -> int | None:
    """The endpoint of client ``cK`` (None for a name of another shape)."""
    if name[:1] == "c" and name[1:].isdigit() and int(name[1:]) >= 1:
        return nodes - 1 + int(name[1:])
    return None


def request_body(request: Request) -> dict[str, Any]:
    op, key = request.op, request.key
    if op == GET:
        body: dict[str, Any] = {"type": "read", "key": key}
    elif op == PUT:
        body = {"type": "write", "key": key, "value": request.value}
    else:
        body = {"type": "cas", "key": key, "from": request.expected, "to": request.value}
    body["seq"], body["ack"] = request.seq, request.ack
    if request.value_size:
        body["value_size"] = request.value_size
    return body


def request_from(body: dict[str, Any], client: int) -> Request:
    """The request a lin-kv body from ``client`` asks for; a retry is recognised by ``seq``
    (without it every message is a new operation)."""
    op = OPS.get(body.get("type"))  # type: ignore[arg-type]
    if op is None:
        raise CodecError(f"not a lin-kv request: type {body.get('type')!r}")
    try:
        key = _int(body, "key")
        value = _int(body, "value") if op == PUT else _int(body, "to") if op == CAS else 0
        expected = _int(body, "from") if op == CAS else 0
        seq = _int(body, "seq") if "seq" in body else _int(body, "msg_id")
        ack = _int(body, "ack") if "ack" in body else 0
        size = _int(body, "value_size") if "value_size" in body else 0
    except KeyError as exc:
        raise CodecError(f"lin-kv {body['type']}: missing {exc.args[0]!r}") from None
    return Request(client, seq, op, key, value, expected, ack, size)


def _int(body: dict[str, Any], name: str) -> int:
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise CodecError(f"lin-kv {body.get('type')}: {name} must be an integer, got {value!r}")
    return value


def reply_body(reply: Reply, names: list[str]) -> dict[str, Any]:
    """A distbench reply as lin-kv (the caller adds ``in_reply_to``)."""
    request = reply.request
    if reply.status != OK:
        body: dict[str, Any] = {"type": "error", "code": UNAVAILABLE, "text": "not the leader"}
        if reply.leader is not None:
            body["leader"] = names[reply.leader]
        return body
    if request.op == GET:
        if not reply.value:
            return {"type": "error", "code": NO_KEY, "text": "key does not exist"}
        return {"type": "read_ok", "value": reply.value}
    if request.op == PUT:
        return {"type": "write_ok"}
    if reply.value:
        return {"type": "cas_ok"}
    return {"type": "error", "code": PRECONDITION, "text": "current value differs from 'from'"}


def reply_from(body: dict[str, Any], request: Request, names: list[str]) -> Reply:
    """A node's lin-kv answer to ``request`` as the reply a client understands. A read of a key
    that does not exist is OK with 0, a cas refused (22, or 20 when it expected a value) is OK
    and did not swap; error 11 is a redirect (to ``leader`` when given); any other error is
    retried like a redirect with no hint, so at worst the operation ends indeterminate."""
    kind = body.get("type")
    if kind in ("read_ok", "write_ok", "cas_ok"):
        if kind != {GET: "read_ok", PUT: "write_ok", CAS: "cas_ok"}[request.op]:
            raise CodecError(f"{kind} in reply to a {('read', 'write', 'cas')[request.op]}")
        if kind == "read_ok":
            value = body.get("value")
            if not isinstance(value, int) or isinstance(value, bool):
                raise CodecError(f"read_ok: value must be an integer, got {value!r}")
            return Reply(request, OK, value)
        return Reply(request, OK, True)
    if kind != "error":
        raise CodecError(f"not a lin-kv reply: type {kind!r}")
    code = body.get("code")
    if code == NO_KEY and request.op == GET:
        return Reply(request, OK, 0)
    if request.op == CAS and (code == PRECONDITION or (code == NO_KEY and request.expected)):
        return Reply(request, OK, False)
    leader = body.get("leader") if code == UNAVAILABLE else None
    return Reply(request, REDIRECT, None, names.index(leader) if leader in names else None)
