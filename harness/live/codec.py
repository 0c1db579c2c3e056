"""JSON for protocol messages and durable records, derived from the classes themselves.

A live node speaks Maelstrom's node protocol: newline-delimited JSON envelopes ``{"src",
"dest", "body"}`` whose body has a ``type`` (and optionally ``msg_id``, ``in_reply_to``). A
protocol message becomes a body named by its class (``{"type": "AppendEntries", "term": 3,
...}``) holding its public fields -- its ``__slots__`` (``__mypyc_attrs__`` in the compiled
build) -- so no protocol writes or registers any encoding. Values inside are JSON, except for
what JSON cannot say, which is tagged: a tuple ``{"~t": [...]}``, a dict ``{"~d": [[k, v],
...]}`` (keys need not be strings), a set ``{"~s": [...]}``; a plain JSON object is always a
nested object of a known class, named by its ``type``. Durable records use the same encoding.

A decoded object is built by calling its class, as the protocol does, so that a compiled
(mypyc) class, which always runs its ``__init__``, is rebuilt too. One rule makes that possible:
a class's constructor parameters that are its fields take their values as sent (and store them
unchanged); a parameter that is not a field must have a default; a field that is not a parameter
(``size``, which ``__init__`` derives) is set to its value as sent once the object is built. A
class that breaks the rule (protocol state the codec finds but no message carries) is refused,
by name, when a body names it.

Which classes a protocol may send is found from the protocol itself: the slotted classes of the
modules its factory's module reaches through its globals, within its own top-level package and
:mod:`workloads` (so ``raft`` knows ``AppendEntries`` and the client ``Request``, and 2PC's
``Prepare`` is never mistaken for Multi-Paxos's). Client requests and replies at the top of an
envelope speak Maelstrom's ``lin-kv`` instead (:mod:`harness.live.linkv`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from types import ModuleType
from typing import Any

from harness import protocol

RESERVED = ("type", "msg_id", "in_reply_to")


class CodecError(ValueError):
    """A body or value the codec cannot encode or decode (the message says which and why)."""


def fields(cls: type) -> tuple[str, ...]:
    """A class's public fields, inherited ones first: its ``__slots__`` (or, compiled, the
    attributes mypyc lists)."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        own = klass.__dict__.get("__slots__") or klass.__dict__.get("__mypyc_attrs__") or ()
        for name in (own,) if isinstance(own, str) else own:
            if not name.startswith("__") and name not in names:
                names.append(name)
    return tuple(names)


def rebuild_plan(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """How the codec rebuilds ``cls``: the fields passed to its constructor by name, and the
    fields set once it is built. Raises :class:`CodecError` (naming the parameter) for a class
    whose constructor needs something that is not one of its fields."""
    names = fields(cls)
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError) as exc:
        raise CodecError(f"{cls.__name__}: its constructor's parameters cannot be read ({exc})") from None
    passed = []
    skipped = False  # a positional-only parameter left to its default: none may follow it
    for param in params:
        if param.name in names and param.kind is param.POSITIONAL_ONLY and skipped:
            raise CodecError(f"{cls.__name__} cannot be rebuilt from its fields: its constructor's "
                             f"positional parameter {param.name!r} follows one that is not a field")
        if param.name in names and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD,
                                                  param.KEYWORD_ONLY):
            passed.append(param.name)
        elif param.default is param.empty and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise CodecError(f"{cls.__name__} cannot be rebuilt from its fields: its constructor's "
                             f"parameter {param.name!r} is not a field and has no default")
        else:
            skipped = skipped or param.kind is param.POSITIONAL_ONLY
    return tuple(passed), tuple(name for name in names if name not in passed)


def _positional(cls: type) -> int:
    """How many of its constructor's parameters must be passed by position (a compiled class's
    signature may mark them so)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return 0
    return sum(1 for param in params if param.kind is param.POSITIONAL_ONLY)


def _closure(module: ModuleType) -> list[ModuleType]:
    """``module`` and the modules its globals reach (modules, and the modules classes and
    functions were defined in), within its own top-level package and :mod:`workloads`."""
    roots = {module.__name__.split(".")[0], "workloads"}
    seen: dict[str, ModuleType] = {}
    todo = [module]
    while todo:
        mod = todo.pop()
        if mod.__name__ in seen:
            continue
        seen[mod.__name__] = mod
        for value in list(vars(mod).values()):
            name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
            if isinstance(name, str) and name.split(".")[0] in roots and name in sys.modules:
                todo.append(sys.modules[name])
    return list(seen.values())


def classes_of(name: str) -> dict[str, type]:
    """The slotted classes protocol ``name`` may put on the wire or on disk, by class name."""
    spec = protocol.get(name)
    # The modules of the node class and of its bases outside distbench's harness: a variant
    # registered in a test or a notebook speaks its base protocol's messages. (A factory that is
    # a function: its own module's.)
    bases = getattr(spec.factory, "__mro__", (spec.factory,))
    starts = {klass.__module__ for klass in bases
              if klass.__module__.split(".")[0] not in ("builtins", "harness", "mypy_extensions")}
    found: dict[str, type] = {}
    modules = {mod.__name__: mod for start in sorted(starts)
               for mod in _closure(importlib.import_module(start))}
    for mod in modules.values():
        for value in vars(mod).values():
            if isinstance(value, type) and value.__module__ == mod.__name__ and fields(value):
                other = found.setdefault(value.__name__, value)
                if other is not value:
                    raise CodecError(f"protocol {name!r}: two classes named {value.__name__} "
                                     f"({other.__module__} and {value.__module__}): a message type "
                                     "must name one class")
    return found


class Codec:
    """Encodes and decodes the messages and records of one protocol."""

    def __init__(self, classes: dict[str, type]):
        self.classes = classes
        self._fields = {cls: fields(cls) for cls in classes.values()}
        self._plans: dict[type, tuple[tuple[str, ...], tuple[str, ...]] | CodecError] = {}
        self._positional = {klass: _positional(klass) for klass in classes.values()}
        for klass in classes.values():
            try:
                self._plans[klass] = rebuild_plan(klass)
            except CodecError as exc:
                self._plans[klass] = exc

    @classmethod
    def of(cls, name: str) -> Codec:
        return cls(classes_of(name))

    # -- bodies ------------------------------------------------------------------------------
    def body(self, msg: Any) -> dict[str, Any]:
        """A message as an envelope body: its class name as ``type``, then its fields."""
        out: dict[str, Any] = {"type": type(msg).__name__}
        for name in self._known(type(msg)):
            if name in RESERVED:
                raise CodecError(f"{type(msg).__name__}.{name}: a field may not be named "
                                 f"{', '.join(RESERVED)} (Maelstrom reserves them)")
            out[name] = self.value(getattr(msg, name))
        return out

    def message(self, body: dict[str, Any]) -> Any:
        """The object a body (or a nested object) encodes."""
        kind = body.get("type")
        cls = self.classes.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise CodecError(f"unknown message type {kind!r}")
        plan = self._plans[cls]
        if isinstance(plan, CodecError):
            raise plan
        passed, derived = plan
        for name in self._fields[cls]:
            if name not in body:
                raise CodecError(f"{kind}: missing field {name!r}")
        values = {name: self.unvalue(body[name]) for name in self._fields[cls]}
        try:  # a value of the wrong type: a compiled class says so here, a pure one maybe later
            k = self._positional[cls]
            obj = cls(*[values[name] for name in passed[:k]], **{name: values[name] for name in passed[k:]})
            for name in derived:
                setattr(obj, name, values[name])
        except (TypeError, ValueError, AttributeError) as exc:
            raise CodecError(f"{kind}: {exc}") from None
        return obj

    def _known(self, cls: type) -> tuple[str, ...]:
        names = self._fields.get(cls)
        if names is None or self.classes.get(cls.__name__) is not cls:
            raise CodecError(f"{cls.__module__}.{cls.__name__} is not a class of this protocol")
        return names

    # -- values ------------------------------------------------------------------------------
    def value(self, x: Any) -> Any:
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.value(v) for v in x]
        if isinstance(x, tuple):
            return {"~t": [self.value(v) for v in x]}
        if isinstance(x, dict):
            return {"~d": [[self.value(k), self.value(v)] for k, v in x.items()]}
        if isinstance(x, (set, frozenset)):
            return {"~s": [self.value(v) for v in x]}
        return self.body(x)

    def unvalue(self, x: Any) -> Any:
        if isinstance(x, list):
            return [self.unvalue(v) for v in x]
        if not isinstance(x, dict):
            return x
        if "~t" in x:
            return tuple(self.unvalue(v) for v in x["~t"])
        if "~d" in x:
            return {self.unvalue(k): self.unvalue(v) for k, v in x["~d"]}
        if "~s" in x:
            return {self.unvalue(v) for v in x["~s"]}
        return self.message(x)

    # -- records on disk -----------------------------------------------------------------------
    def record(self, record: Any) -> str:
        """One durable record as one line of JSON."""
        return json.dumps(self.value(record), separators=(",", ":"))

    def unrecord(self, line: str) -> Any:
        return self.unvalue(json.loads(line))
