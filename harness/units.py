"""Human-friendly quantities in suites: ``500us``, ``2k/s``, ``4KiB``, ``1Gbps``.

Suites are written for people; everything past validation works in plain numbers (seconds, per
second, bytes, bytes per second), so nothing downstream ever handles a unit. The ``parse_*``
functions are the single place where units are understood; the annotated types (``Duration``,
``Rate``, ``Size``, ``Bandwidth``, ``Probability``) put them behind pydantic fields, accepting
strings or numbers and serializing as the plain number. Each carries its :class:`Quantity`, so
whether a config key is a duration, a rate or a size is read from its type, never from its name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, Callable

import yaml
from pydantic import BeforeValidator

__all__ = [
    "BANDWIDTH", "Bandwidth", "DURATION", "Duration", "PositiveDuration", "Probability", "Quantity",
    "RATE", "Rate", "SIZE", "Size", "format_duration", "human_duration", "human_rate", "human_size",
    "parse_bandwidth", "parse_duration", "parse_probability", "parse_rate", "parse_size", "show",
]

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*(.*?)\s*$")

# Exact scales, so that "1.5ms" is the float nearest to 0.0015 rather than 1.5 * 1e-3.
_SECONDS = {"ns": Fraction(1, 10**9), "us": Fraction(1, 10**6), "µs": Fraction(1, 10**6),
            "μs": Fraction(1, 10**6), "ms": Fraction(1, 1000), "s": 1, "m": 60, "min": 60,
            "h": 3600}
_COUNT_PREFIX = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}
_BYTES = {"B": 1, "KB": 10**3, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_RATE = re.compile(r"^([kKMG]?)\s*(?:ops?)?\s*(?:/\s*(\w+))?$")
_BANDWIDTH = re.compile(r"^([kKMGT]i?)?(bps|bit/s|bits/s|b/s|Bps|B/s)$")
_BW_PREFIX = {None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
              "ki": 2**10, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def show(value: Any, limit: int = 80) -> str:
    """Render a user-supplied value for a one-line error message: strings quoted, the rest as
    YAML flow, cut to ``limit`` characters."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True,
                                  sort_keys=False)
            text = text.removesuffix("\n").removesuffix("\n...").strip()
        except yaml.YAMLError:
            text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _split(value: Any, expected: str) -> tuple[Fraction, str]:
    """(exact number, unit text) of a quantity; a bare number has the empty unit."""
    if isinstance(value, str):
        match = _QUANTITY.match(value)
        if match:
            return Fraction(match.group(1)), match.group(2)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return Fraction(value), ""
    raise ValueError(f"expected {expected}, got {show(value)}")


_DURATION = "a duration such as 250ns, 500us, 1.5ms, 20s, 2m or 1h (bare numbers are seconds)"


def parse_duration(value: str | float) -> float:
    """``500us``, ``1.5ms``, ``20s``, ``2m``, ``1h``, ``250ns`` (or ``µs``) -> seconds."""
    number, unit = _split(value, _DURATION)
    scale = _SECONDS.get(unit or "s")
    if scale is None:
        raise ValueError(f"expected {_DURATION}, got {show(value)}")
    return float(number * scale)


_RATE_TEXT = "a rate such as 2000/s, 2k/s or 120/min (bare numbers are per second)"


def parse_rate(value: str | float) -> float:
    """``2000/s``, ``2k/s``, ``120/min`` -> events per second."""
    number, unit = _split(value, _RATE_TEXT)
    match = _RATE.match(unit)
    per = _SECONDS.get(match.group(2) or "s") if match else None
    if per is None:
        raise ValueError(f"expected {_RATE_TEXT}, got {show(value)}")
    return float(number * _COUNT_PREFIX[match.group(1)] / per)


_SIZE_TEXT = "a size such as 64B, 4KB, 4KiB or 1MB (bare numbers are bytes)"


def parse_size(value: str | int) -> int:
    """``64B``, ``4KB`` (1000), ``4KiB`` (1024), ``1MB`` -> a whole number of bytes."""
    number, unit = _split(value, _SIZE_TEXT)
    scale = _BYTES.get(unit or "B")
    if scale is None:
        raise ValueError(f"expected {_SIZE_TEXT}, got {show(value)}")
    size = number * scale
    if size.denominator != 1:
        raise ValueError(f"expected a whole number of bytes, got {show(value)}")
    return int(size)


_BANDWIDTH_TEXT = ("a bandwidth such as 1Gbps, 100Mbit/s or 125MB/s "
                   "(b is bits, B is bytes; bare numbers are bytes/s)")


def parse_bandwidth(value: str | float) -> float:
    """``1Gbps``, ``100Mbit/s``, ``125MB/s`` -> bytes per second."""
    number, unit = _split(value, _BANDWIDTH_TEXT)
    if not unit:
        return float(number)
    match = _BANDWIDTH.match(unit)
    if not match:
        raise ValueError(f"expected {_BANDWIDTH_TEXT}, got {show(value)}")
    prefix, base = match.groups()
    return float(number * _BW_PREFIX[prefix] / (8 if base[0] == "b" else 1))


_PROBABILITY_TEXT = "a probability such as 0.01 or 1%"


def parse_probability(value: str | float) -> float:
    """``0.01`` or ``1%`` -> a fraction (range checks are the caller's: see ``Probability``)."""
    number, unit = _split(value, _PROBABILITY_TEXT)
    if unit not in ("", "%"):
        raise ValueError(f"expected {_PROBABILITY_TEXT}, got {show(value)}")
    return float(number / 100 if unit == "%" else number)


def format_duration(seconds: float) -> str:
    """The inverse of :func:`parse_duration` for messages: 0.15 -> ``150ms``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:g}{unit}"
    return f"{seconds / 1e-9:g}ns" if seconds else "0s"


def human_duration(seconds: float) -> str:
    """For reports: 0.0005 -> "500µs", 0.151 -> "151ms", 4.0 -> "4s"."""
    s = abs(seconds)
    if s == 0:
        return "0s"
    for limit, div, unit in ((1e-6, 1e-9, "ns"), (1e-3, 1e-6, "µs"), (1.0, 1e-3, "ms")):
        if s < limit:
            return f"{seconds / div:.4g}{unit}"
    return f"{seconds:.4g}s"


def human_rate(per_second: float) -> str:
    """8000.0 -> "8k/s", 2500 -> "2.5k/s", 120 -> "120/s", 2e6 -> "2M/s"."""
    a = abs(per_second)
    if a >= 1e6:
        return f"{per_second / 1e6:.4g}M/s"
    if a >= 1e3:
        return f"{per_second / 1e3:.4g}k/s"
    return f"{per_second:.4g}/s"


def human_size(size: float) -> str:
    """Bytes, in binary units when exact: 64 -> "64B", 4096 -> "4KiB", 1500 -> "1.5kB"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(size) >= scale and size % scale == 0:
            return f"{size / scale:g}{unit}"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(size) >= scale:
            return f"{size / scale:.4g}{unit}"
    return f"{size:g}B"


@dataclass(frozen=True)
class Quantity:
    """What a number in a suite measures, carried in the annotation of each type with a unit:
    how a user writes it (``parse``) and how a report shows it (``show``, with its unit)."""

    name: str
    parse: Callable[[Any], float]
    show: Callable[[float], str]

    def read(self, value: Any) -> float | None:
        """A value from a resolved config (a number) or as written ("150ms"), else None."""
        if value is None or isinstance(value, bool):
            return None
        try:
            number = self.parse(value) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None


DURATION = Quantity("duration", parse_duration, human_duration)
RATE = Quantity("rate", parse_rate, human_rate)
SIZE = Quantity("size", parse_size, human_size)
BANDWIDTH = Quantity("bandwidth", parse_bandwidth, lambda rate: human_size(rate) + "/s")


def _checked(parse: Callable[[Any], float], what: str, *, ge: float | None = None,
             gt: float | None = None, le: float | None = None) -> BeforeValidator:
    """A pydantic validator: parse with units, then enforce the bounds with a readable message."""
    bounds = " and ".join(text for text in (
        f">= {ge:g}" if ge is not None else "", f"> {gt:g}" if gt is not None else "",
        f"<= {le:g}" if le is not None else "") if text)

    def validate(value: Any) -> float:
        number = parse(value)
        if ((ge is not None and number < ge) or (gt is not None and number <= gt)
                or (le is not None and number > le)):
            raise ValueError(f"expected {what} {bounds}, got {show(value)}")
        return number

    return BeforeValidator(validate)


Duration = Annotated[float, _checked(parse_duration, "a duration", ge=0), DURATION]
"""Seconds, ``>= 0``; written ``500us``, ``1.5ms``, ``20s`` or a bare number of seconds."""
PositiveDuration = Annotated[float, _checked(parse_duration, "a duration", gt=0), DURATION]
"""Seconds, ``> 0``."""
SignedDuration = Annotated[float, _checked(parse_duration, "a duration"), DURATION]
"""Seconds, of either sign (an offset: ``-50ms`` is behind)."""
Rate = Annotated[float, _checked(parse_rate, "a rate", gt=0), RATE]
"""Events per second, ``> 0``; written ``2000/s``, ``2k/s``, ``120/min`` or a bare number."""
Size = Annotated[int, _checked(parse_size, "a size", ge=0), SIZE]
"""Bytes, ``>= 0``; written ``64B``, ``4KB``, ``4KiB`` or a bare number."""
Bandwidth = Annotated[float, _checked(parse_bandwidth, "a bandwidth", gt=0), BANDWIDTH]
"""Bytes per second, ``> 0``; written ``1Gbps``, ``100Mbit/s``, ``125MB/s`` or a bare number."""
Probability = Annotated[float, _checked(parse_probability, "a probability", ge=0, le=1)]
"""A fraction in [0, 1]; written ``0.01`` or ``1%``."""
