"""The live wire format: every message class of every registered protocol round-trips through
the codec (instances built from their constructors' type hints, nothing listed by hand), and
client operations map to Maelstrom's lin-kv and back."""

from __future__ import annotations

import ast
import inspect
import json
import sys
import types
import typing
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from harness import protocol
from harness.live import linkv
from harness.live.codec import Codec, CodecError, fields, rebuild_plan
from harness.message import Message
from workloads.kv import CAS, GET, OK, PUT, REDIRECT, Reply, Request

SAMPLES = {int: 7, float: 0.25, bool: True, str: "x", list: [1, [2, None]], tuple: (3, (4, "y")),
           dict: {5: (6,), "k": [7]}, set: {8, 9}, typing.Any: (1, None)}


def build(cls: type, codec: Codec, depth: int = 0) -> typing.Any:
    """An instance of ``cls`` from its constructor's type hints (a message-typed argument gets a
    message of that type; top-level sequences hold a client Request where the protocol knows
    one). A constructor that
    computes from its arguments' shapes (a batch's bytes, say) and rejects these is given empty
    containers: the decoder calls the constructor too, so its values must make sense to it."""
    try:
        obj = _construct(cls, codec, depth)
    except (TypeError, IndexError, KeyError, AttributeError):
        obj = _construct(cls, codec, depth, empty=True)
    for name in fields(cls):  # a base class with no constructor of its own sets none
        if not hasattr(obj, name):
            setattr(obj, name, SAMPLES[int])
    return obj


def _sample(tp: type, codec: Codec, depth: int) -> typing.Any:
    if tp in (list, tuple) and depth == 0 and Request in codec.classes.values():  # logs, batches
        return tp([*SAMPLES[tp], Request(9, 1, PUT, 2, 3)])
    return SAMPLES[tp]


def init_hints(cls: type) -> dict[str, typing.Any]:
    """The type hints of ``cls``'s constructor, read from its source: a compiled class keeps
    none at run time."""
    module = sys.modules[cls.__module__]  # its source beside it (a compiled module's too)
    source = Path(module.__file__).parent / (cls.__module__.rpartition(".")[2] + ".py")
    tree = ast.parse(source.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = [*item.args.args[1:], *item.args.kwonlyargs]
                    return {a.arg: eval(ast.unparse(a.annotation), vars(sys.modules[cls.__module__]))
                            for a in args if a.annotation is not None}
    return {}


def _construct(cls: type, codec: Codec, depth: int, empty: bool = False) -> typing.Any:
    hints = init_hints(cls)
    args = {}
    for name, param in inspect.signature(cls).parameters.items():
        hint = hints.get(name, typing.Any)
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        options = [h for h in typing.get_args(hint) if h is not type(None)] if union else [hint]
        tp = typing.get_origin(options[0]) or options[0]
        if isinstance(tp, type) and tp in codec.classes.values():
            args[name] = build(tp, codec, depth + 1)
        elif empty and tp in (list, tuple, dict, set):
            args[name] = tp()
        elif tp in SAMPLES:
            args[name] = _sample(tp, codec, depth)
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
# is collected must not depend on which modules a worker imported first. Live mode hosts
# consensus nodes; of the transaction protocols, those that compose no consensus protocol (2PC
# over replicated groups speaks Raft's Vote beside its own) are checked too.
INSTALLED = sorted(ep.name for ep in entry_points(group=protocol.ENTRY_POINTS) if ep.name != "2pc")


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


@pytest.mark.parametrize("name", INSTALLED)
def test_every_message_is_rebuilt_through_its_constructor(name):
    """The decoder calls each class, as the protocol does (a compiled class runs its __init__
    whatever happens): every constructor parameter without a default must be a field, and the
    fields it does not take are the ones __init__ derives (``size``)."""
    broken = []
    for cls in messages(name):
        try:
            passed, derived = rebuild_plan(cls)
        except CodecError as exc:
            broken.append(str(exc))
            continue
        assert set(passed) | set(derived) == set(fields(cls))
    assert not broken, f"{name}: " + "; ".join(broken)


def test_a_class_its_fields_cannot_rebuild_is_refused_by_name():
    class Timer:  # protocol state the codec may find, not a message
        __slots__ = ("deadline",)

        def __init__(self, low: float, high: float):
            self.deadline = low

    codec = Codec({"Timer": Timer})
    with pytest.raises(CodecError, match="Timer cannot be rebuilt from its fields: its constructor's "
                                         "parameter 'low' is not a field"):
        codec.message({"type": "Timer", "deadline": 1.0})


def test_a_value_its_constructor_rejects_is_a_codec_error():
    codec = Codec.of("multipaxos")
    with pytest.raises(CodecError, match="^Promise: "):
        codec.message({"type": "Promise", "size": 1, "ballot": 1, "start": 0, "chosen": 5, "accepted": []})


def test_a_protocol_knows_its_own_classes_only():
    raft, paxos = Codec.of("raft"), Codec.of("multipaxos")
    assert {"AppendEntries", "Vote", "Request", "Reply"} <= raft.classes.keys()
    assert "Prepare" not in raft.classes and "AcceptRecord" in paxos.classes
    assert Codec.of("2pl").classes["Vote"].__module__ != raft.classes["Vote"].__module__


def test_records_round_trip_as_one_line():
    codec = Codec.of("raft")
    record = ("append", 4, [2, 2], [Request(5, 1, PUT, 3, 99), None])
    line = codec.record(record)
    assert "\n" not in line and same(codec.unrecord(line), record)
    paxos = Codec.of("multipaxos")
    accept, promise = paxos.classes["AcceptRecord"], paxos.classes["PromiseRecord"]
    for record in (promise(4), accept(3, 4, (Request(5, 1, PUT, 3, 99),), 40, 2)):
        assert same(paxos.unrecord(paxos.record(record)), record)


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


class Positional(Message):
    """A message whose constructor takes its fields by position only, as the signature of a
    compiled class may say."""

    __slots__ = ("a", "b")

    def __init__(self, a: int, b: int = 0, /):
        self.a = a
        self.b = b
        self.size = 8


def test_a_constructor_that_takes_its_fields_by_position_only_is_called_so():
    codec = Codec({"Positional": Positional})
    back = codec.message(json.loads(json.dumps(codec.body(Positional(3, 4)))))
    assert (back.a, back.b) == (3, 4)
