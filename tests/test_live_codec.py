"""The live wire format: every message class of every registered protocol round-trips through
the codec (instances built from their constructors' type hints, nothing listed by hand), and
client operations map to Maelstrom's lin-kv and back."""

from __future__ import annotations

import inspect
import json
import typing
from importlib.metadata import entry_points

import pytest

from harness import protocol
from harness.live import linkv
from harness import build
from harness.live.codec import COMPILED_REFUSAL, Codec, CodecError, fields
from harness.message import Message
from workloads.kv import CAS, GET, OK, PUT, REDIRECT, Reply, Request

SAMPLES = {int: 7, float: 0.25, bool: True, str: "x", list: [1, [2, None]], tuple: (3, (4, "y")),
           dict: {5: (6,), "k": [7]}, set: {8, 9}, typing.Any: (1, None)}


pytestmark = pytest.mark.skipif(build.kind() == "compiled", reason=COMPILED_REFUSAL)


def build(cls: type, codec: Codec, depth: int = 0) -> typing.Any:
    """An instance of ``cls`` from its constructor's type hints (a message-typed argument gets a
    message of that type; top-level sequences hold a client Request too). A constructor that
    computes from its arguments' shapes (a batch's bytes, say) and rejects these gets the same
    values assigned to its fields instead: the codec sees each field's value, not its meaning."""
    try:
        return _construct(cls, codec, depth)
    except (TypeError, IndexError, KeyError, AttributeError):
        obj = cls.__new__(cls)
        values = [*SAMPLES.values(), None, Request(9, 1, PUT, 2, 3)]
        for i, name in enumerate(fields(cls)):
            setattr(obj, name, values[i % len(values)])
        return obj


def _construct(cls: type, codec: Codec, depth: int) -> typing.Any:
    module = inspect.getmodule(cls)
    hints = typing.get_type_hints(cls.__init__, vars(module))
    args = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self":
            continue
        hint = hints.get(name, typing.Any)
        options = [h for h in typing.get_args(hint) if h is not type(None)] or [hint]
        tp = typing.get_origin(options[0]) or options[0]
        if isinstance(tp, type) and tp in codec.classes.values():
            args[name] = build(tp, codec, depth + 1)
        elif tp in SAMPLES:
            args[name] = SAMPLES[tp]
            if tp in (list, tuple) and depth == 0:  # logs, batches: commands inside
                args[name] = tp([*args[name], Request(9, 1, PUT, 2, 3)])
        else:
            raise AssertionError(f"{cls.__name__}.{name}: no sample for {hint!r}")
    return cls(**args)


def same(a: typing.Any, b: typing.Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if fields(type(a)):
        return all(same(getattr(a, f), getattr(b, f)) for f in fields(type(a)))
    return a == b


def messages(name: str) -> list[type]:
    return [cls for cls in Codec.of(name).classes.values() if issubclass(cls, Message)]


# The installed protocols (entry points), not those other test modules register in-process: what
# is collected must not depend on which modules a worker imported first.
INSTALLED = sorted(ep.name for ep in entry_points(group=protocol.ENTRY_POINTS))


@pytest.mark.parametrize("name", INSTALLED)
def test_every_message_of_every_protocol_round_trips(name):
    codec = Codec.of(name)
    classes = messages(name)
    assert len(classes) > 2, f"{name}: found only {classes}"
    if protocol.get(name).kind == "consensus":
        assert {Request, Reply} <= set(classes)
    failed = []
    for cls in classes:
        msg = build(cls, codec)
        try:
            back = codec.message(json.loads(json.dumps(codec.body(msg))))
        except (CodecError, TypeError, ValueError) as exc:
            failed.append(f"{cls.__name__}: {exc}")
            continue
        if not same(msg, back):
            failed.append(f"{cls.__name__}: {codec.body(msg)} came back different")
    assert not failed, f"{name}: the codec cannot handle " + "; ".join(failed)


def test_a_protocol_knows_its_own_classes_only():
    raft, paxos = Codec.of("raft"), Codec.of("multipaxos")
    assert {"AppendEntries", "Vote", "Request", "Reply"} <= raft.classes.keys()
    assert "Prepare" not in raft.classes and "AcceptRecord" in paxos.classes
    assert Codec.of("2pc").classes["Vote"].__module__ != raft.classes["Vote"].__module__


def test_records_round_trip_as_one_line():
    codec = Codec.of("raft")
    record = ("append", 4, [2, 2], [Request(5, 1, PUT, 3, 99), None])
    line = codec.record(record)
    assert "\n" not in line and same(codec.unrecord(line), record)


def test_unknown_types_and_foreign_classes_are_refused():
    codec = Codec.of("raft")
    with pytest.raises(CodecError, match="unknown message type 'Nope'"):
        codec.message({"type": "Nope"})
    with pytest.raises(CodecError, match="missing field"):
        codec.message({"type": "Vote", "term": 1})
    with pytest.raises(CodecError, match="not a class of this protocol"):
        codec.body(Codec.of("multipaxos").classes["Prepare"](1, 2))


@pytest.mark.parametrize("op, body", [
    (GET, {"type": "read", "key": 3}),
    (PUT, {"type": "write", "key": 3, "value": 11}),
    (CAS, {"type": "cas", "key": 3, "from": 10, "to": 11}),
])
def test_client_requests_are_lin_kv(op, body):
    request = Request(7, 2, op, 3, 11 if op != GET else 0, 10 if op == CAS else 0, ack=1)
    sent = linkv.request_body(request)
    assert {k: v for k, v in sent.items() if k not in ("seq", "ack")} == body
    back = linkv.request_from({**sent, "msg_id": 40}, 7)
    assert (back.client, back.seq, back.op, back.key, back.value, back.expected, back.ack, back.uid) == \
        (7, 2, op, 3, request.value, request.expected, 1, request.uid)
    plain = linkv.request_from({**body, "msg_id": 40}, 7)  # a Maelstrom client: msg_id is the seq
    assert plain.seq == 40 and plain.ack == 0


def test_replies_map_to_lin_kv_and_back():
    names = ["n0", "n1", "n2"]
    get, put, cas = (Request(5, 1, GET, 1), Request(5, 2, PUT, 1, 9), Request(5, 3, CAS, 1, 9, 4))
    cases = [
        (Reply(get, OK, 9), {"type": "read_ok", "value": 9}, (OK, 9)),
        (Reply(get, OK, 0), {"type": "error", "code": 20}, (OK, 0)),
        (Reply(put, OK, True), {"type": "write_ok"}, (OK, True)),
        (Reply(cas, OK, True), {"type": "cas_ok"}, (OK, True)),
        (Reply(cas, OK, False), {"type": "error", "code": 22}, (OK, False)),
        (Reply(put, REDIRECT, None, 2), {"type": "error", "code": 11, "leader": "n2"}, (REDIRECT, None)),
    ]
    for reply, expected, (status, value) in cases:
        body = linkv.reply_body(reply, names)
        assert expected.items() <= body.items()
        back = linkv.reply_from(body, reply.request, names)
        assert (back.request, back.status, back.value, back.leader) == (reply.request, status, value, reply.leader)
    crash = linkv.reply_from({"type": "error", "code": 13}, put, names)
    assert (crash.status, crash.leader) == (REDIRECT, None)  # indefinite: retried, never taken for done
    with pytest.raises(CodecError, match="write_ok in reply to a read"):
        linkv.reply_from({"type": "write_ok"}, get, names)


def test_client_names():
    assert [linkv.client_name(e, 3) for e in (3, 4)] == ["c1", "c2"]
    assert [linkv.client_endpoint(c, 3) for c in ("c1", "c2", "n1", "cx")] == [3, 4, None, None]
