"""How a mistake in a suite is told: one line naming the file, the dotted key and what was
expected (:class:`ConfigError`), never a traceback or a pydantic dump. Validators raise
:class:`Problem`; :func:`problem_from` turns pydantic's own errors into one; :func:`did_you_mean`
ends every error about an unknown name."""

from __future__ import annotations

import difflib
from types import UnionType
from typing import Annotated, Any, Literal, Sequence, Union, get_args, get_origin

from pydantic import BaseModel

from harness.units import show


class ConfigError(Exception):
    """A mistake in a suite, as one line: ``<file>: <dotted.key>: <what was expected>, got <value>``."""

    def __init__(self, source: str, path: str, message: str):
        self.source, self.path, self.message = source, path, message
        super().__init__(": ".join(part for part in (source, path, message) if part))


class Problem(ValueError):
    """One validation failure in the user's terms: where (key path), what was expected, what was
    found. Raised by cross-field checks with ``at`` relative to the model raising it."""

    def __init__(self, at: tuple[str | int, ...], expected: str, got: str | None = None,
                 hint: str = ""):
        super().__init__(expected)
        self.at, self.expected, self.got, self.hint = at, expected, got, hint

    def text(self, with_got: bool = True) -> str:
        got = f", got {self.got}" if with_got and self.got is not None else ""
        return f"{self.expected}{got}{self.hint}"


def did_you_mean(word: str, choices: Sequence[str], list_all: bool = True) -> str:
    """A hint naming the closest choice, else (``list_all``) listing them all: the one way every
    error about an unknown name ends, in suites and on the command line."""
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of: {', '.join(choices)}" if choices and list_all else ""


# -- translating pydantic's errors ---------------------------------------------------------------

_EXPECTED = {
    "int_type": "expected an integer", "int_parsing": "expected an integer",
    "int_from_float": "expected an integer", "float_type": "expected a number",
    "float_parsing": "expected a number", "bool_type": "expected true or false",
    "bool_parsing": "expected true or false", "string_type": "expected a string",
    "dict_type": "expected a mapping", "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping", "list_type": "expected a list",
    "tuple_type": "expected a list",
}
_ABSENT = object()
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def problem_from(error: dict[str, Any], model: type[BaseModel], data: Any) -> Problem:
    """One pydantic error (from validating ``data`` as ``model``) as a :class:`Problem` whose
    ``at`` is the key path as the user wrote it."""
    loc, kind, ctx = error["loc"], error["type"], error.get("ctx") or {}
    path = _user_path(model, data, loc)
    cause = ctx.get("error")
    if isinstance(cause, Problem):
        return Problem(path + cause.at, cause.expected, cause.got, cause.hint)
    if kind == "extra_forbidden":
        return Problem(path, "unknown key", hint=did_you_mean(str(loc[-1]), _keys_at(model, loc)))
    if kind == "missing":
        return Problem(path, "required key missing")
    if kind == "union_tag_invalid":
        return Problem(path + (ctx["discriminator"].strip("'"),), f"expected {ctx['expected_tags']}",
                       show(ctx["tag"]))
    if cause is not None:  # our own validators say "expected ..., got ..."
        expected, sep, got = str(cause).rpartition(", got ")
        return Problem(path, expected, got) if sep else Problem(path, str(cause))
    if kind in _BOUNDS:
        (limit,) = ctx.values()
        noun = "an integer" if isinstance(limit, int) else "a number"
        expected = f"expected {noun} {_BOUNDS[kind]} {limit:g}"
    else:
        expected = _EXPECTED.get(kind) or "expected " + error["msg"].removeprefix("Input should be ")
    return Problem(path, expected, show(error["input"]))


def _user_path(model: type[BaseModel], data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The part of pydantic's ``loc`` the user can see in the suite: union tags are dropped, and
    so are keys below a scalar that a validator expanded (``latency: 1ms`` -> constant.value)."""
    path: list[str | int] = []
    tp, node = model, data
    for part in loc:
        tp, is_tag = _step(tp, part)
        if is_tag:
            continue
        if isinstance(node, dict):
            node = node.get(part, _ABSENT)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif node is not _ABSENT:  # below a scalar: report at the scalar
            break
        path.append(part)
    return tuple(path)


def _keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys valid where the unknown key ``loc[-1]`` was found."""
    tp: Any = model
    for part in loc[:-1]:
        tp, _ = _step(tp, part)
    tp = _unwrap(tp)
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return []
    return [f.alias or n for n, f in tp.model_fields.items()]


def _step(tp: Any, part: str | int) -> tuple[Any, bool]:
    """Follow one ``loc`` part through the types: (the type found there, whether the part was a
    union tag, which pydantic puts in ``loc`` but the user never writes as a key)."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = next((f for n, f in tp.model_fields.items() if part in (n, f.alias)), None)
        if field is not None:
            return field.annotation, False
        return (tp, True) if _tagged(tp, part) else (None, False)  # one-member tagged union
    if get_origin(tp) in (Union, UnionType):
        member = next((m for m in map(_unwrap, get_args(tp)) if _tagged(m, part)), None)
        return member, member is not None
    if get_origin(tp) in (list, tuple, dict):
        return get_args(tp)[-1 if get_origin(tp) is dict else 0], False
    return None, False


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``None`` alternatives off a type."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0] if len(rest) == 1 else Union[tuple(rest)]
        else:
            return tp


def _tagged(member: Any, tag: Any) -> bool:
    """Whether ``member`` is the model of a tagged union that the discriminator value ``tag`` selects."""
    return isinstance(member, type) and issubclass(member, BaseModel) and any(
        get_origin(f.annotation) is Literal and tag in get_args(f.annotation)
        for f in member.model_fields.values())
