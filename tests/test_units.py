"""Unit parsing: each family's spellings, bare numbers, and the messages for bad input."""

import pytest
from pydantic import BaseModel, ValidationError

from harness.units import (Bandwidth, Duration, PositiveDuration, Probability, Rate, Size,
                           format_duration, parse_bandwidth, parse_duration, parse_probability,
                           parse_rate, parse_size)


@pytest.mark.parametrize("text, seconds", [
    ("250ns", 250e-9), ("500us", 500e-6), ("500µs", 500e-6), ("500μs", 500e-6), ("1.5ms", 1.5e-3),
    ("20s", 20.0), ("2m", 120.0), ("2min", 120.0), ("1h", 3600.0), (" 2 ms ", 2e-3),
    ("5", 5.0), (5, 5.0), (0.25, 0.25), ("1e-3", 1e-3), (".5s", 0.5), ("-1s", -1.0),
])
def test_duration(text, seconds):
    assert parse_duration(text) == seconds  # exact: scales are applied in rational arithmetic


@pytest.mark.parametrize("bad", ["", "ms", "5 parsecs", "1.2.3s", "5sec", "1e", True, None, [1],
                                 float("inf"), float("nan")])
def test_duration_rejects(bad):
    with pytest.raises(ValueError, match=r"^expected a duration such as .*, got "):
        parse_duration(bad)


@pytest.mark.parametrize("text, per_second", [
    ("2000/s", 2000.0), ("2k/s", 2000.0), ("2K/s", 2000.0), ("120/min", 2.0), ("120/m", 2.0),
    ("7200/h", 2.0), ("1/ms", 1000.0), ("1M/s", 1e6), ("2000 ops/s", 2000.0), ("2k", 2000.0),
    (150, 150.0), ("150", 150.0),
])
def test_rate(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("bad", ["2000/fortnight", "fast", "2x/s", "/s", False])
def test_rate_rejects(bad):
    with pytest.raises(ValueError, match="expected a rate such as 2000/s"):
        parse_rate(bad)


@pytest.mark.parametrize("text, size", [
    ("64B", 64), ("4KB", 4000), ("4kB", 4000), ("4KiB", 4096), ("1MB", 10**6), ("1MiB", 2**20),
    ("1GB", 10**9), ("1.5KB", 1500), (64, 64), ("64", 64), (64.0, 64),
])
def test_size(text, size):
    assert parse_size(text) == size
    assert isinstance(parse_size(text), int)


def test_size_rejects():
    with pytest.raises(ValueError, match=r"expected a size such as 64B.*, got '4kb'"):
        parse_size("4kb")  # lower-case b is bits
    with pytest.raises(ValueError, match="expected a whole number of bytes, got '1.5B'"):
        parse_size("1.5B")
    with pytest.raises(ValueError, match="whole number of bytes"):
        parse_size(64.5)


@pytest.mark.parametrize("text, bytes_per_second", [
    ("1Gbps", 125e6), ("100Mbit/s", 12.5e6), ("125MB/s", 125e6), ("1 Gbps", 125e6),
    ("8kbps", 1000.0), ("1KiB/s", 1024.0), ("10MBps", 10e6), (1000, 1000.0),
])
def test_bandwidth(text, bytes_per_second):
    assert parse_bandwidth(text) == pytest.approx(bytes_per_second)


@pytest.mark.parametrize("bad", ["1Gb", "1G", "fast", "10MB"])
def test_bandwidth_rejects(bad):
    with pytest.raises(ValueError, match="expected a bandwidth such as 1Gbps"):
        parse_bandwidth(bad)


def test_probability():
    assert parse_probability("1%") == 0.01
    assert parse_probability(0.5) == 0.5
    with pytest.raises(ValueError, match="expected a probability"):
        parse_probability("often")


def test_format_duration_round_trips():
    for text in ("150ms", "250us", "3ns", "1.5s", "0s"):
        assert format_duration(parse_duration(text)) == text


class Knobs(BaseModel):
    timeout: Duration = 0.0
    interval: PositiveDuration = 1.0
    rate: Rate = 1.0
    size: Size = 0
    bandwidth: Bandwidth = 1.0
    loss: Probability = 0.0


def test_annotated_types_parse_and_serialize_as_numbers():
    knobs = Knobs(timeout="200ms", interval=2, rate="2k/s", size="4KiB", bandwidth="1Gbps", loss="1%")
    assert knobs.model_dump() == {"timeout": 0.2, "interval": 2.0, "rate": 2000.0, "size": 4096,
                                  "bandwidth": 125e6, "loss": 0.01}
    assert Knobs.model_validate_json(knobs.model_dump_json()) == knobs


@pytest.mark.parametrize("field, value, message", [
    ("timeout", "-5ms", "expected a duration >= 0, got '-5ms'"),
    ("interval", 0, "expected a duration > 0, got 0"),
    ("rate", "-5/s", "expected a rate > 0, got '-5/s'"),
    ("loss", 1.5, "expected a probability >= 0 and <= 1, got 1.5"),
    ("size", "-1B", "expected a size >= 0, got '-1B'"),
    ("bandwidth", "10 parsecs", "expected a bandwidth such as"),
])
def test_annotated_types_enforce_bounds(field, value, message):
    with pytest.raises(ValidationError) as info:
        Knobs(**{field: value})
    assert message in info.value.errors()[0]["msg"]
