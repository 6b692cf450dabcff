"""The formats the kit and the practice agent share, as Go's time package has them (the
cases follow Go's own time tests: parseDurationTests, parseDurationErrorTests and
durationTests in time_test.go)."""

from __future__ import annotations

import pytest

from nomadlab.contract import HOUR, MINUTE, SECOND, format_duration, parse_duration

MS, US = 1_000_000, 1_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("5s", 5 * SECOND),
        ("-5s", -5 * SECOND),
        ("+5s", 5 * SECOND),
        ("-0", 0),
        ("5.6s", 5 * SECOND + 600 * MS),
        ("5.s", 5 * SECOND),
        (".5s", SECOND // 2),
        ("100.00100s", 100 * SECOND + MS),
        ("11us", 11 * US),
        ("12µs", 12 * US),  # micro sign
        ("12μs", 12 * US),  # Greek mu
        ("3h30m", 3 * HOUR + 30 * MINUTE),
        ("10.5s4m", 4 * MINUTE + 10 * SECOND + 500 * MS),
        ("-2m3.4s", -(2 * MINUTE + 3 * SECOND + 400 * MS)),
        ("1h2m3s4ms5us6ns", HOUR + 2 * MINUTE + 3 * SECOND + 4 * MS + 5 * US + 6),
        ("0.3333333333333333333h", 20 * MINUTE),
        ("9223372036854775807ns", 2**63 - 1),
        ("9223372036s854ms775us807ns", 2**63 - 1),
        ("-9223372036854775808ns", -(2**63)),
    ],
)
def test_a_go_duration_parses_to_its_nanoseconds(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", 'time: invalid duration ""'),
        ("3", 'time: missing unit in duration "3"'),
        ("-", 'time: invalid duration "-"'),
        ("s", 'time: invalid duration "s"'),
        (".", 'time: invalid duration "."'),
        ("-.", 'time: invalid duration "-."'),
        ("+.s", 'time: invalid duration "+.s"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("٥s", 'time: invalid duration "٥s"'),  # a digit, but not an ASCII one
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
        ("-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'),
    ],
)
def test_what_go_refuses_is_refused_with_gos_words(text: str, error: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_duration(text)
    assert str(refused.value) == error


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1100, "1.1µs"),
        (2_200_000, "2.2ms"),
        (3300 * MS, "3.3s"),
        (4 * MINUTE + 5 * SECOND, "4m5s"),
        (4 * MINUTE + 5001 * MS, "4m5.001s"),
        (5 * HOUR + 6 * MINUTE + 7001 * MS, "5h6m7.001s"),
        (8 * MINUTE + 1, "8m0.000000001s"),
        (2**63 - 1, "2562047h47m16.854775807s"),
        (-(2**63), "-2562047h47m16.854775808s"),
        (1.213 * SECOND, "1.213s"),  # seconds as a float, rounded to the nanosecond
    ],
)
def test_a_duration_prints_as_go_prints_it(ns: float, text: str) -> None:
    assert format_duration(ns) == text
