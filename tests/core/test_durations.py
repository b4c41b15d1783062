from __future__ import annotations

import pytest

from turnout.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1s", 1.0),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("2", 2.0),
        (3, 3.0),
    ],
)
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 minutes", "-1s", "1d", "s", True, -2])
def test_parse_rejects_with_a_hint(bad):
    with pytest.raises(ValueError) as info:
        parse_duration(bad)
    assert "duration" in str(info.value) or "negative" in str(info.value)


def test_format_round_trips():
    for seconds in (0.25, 1.0, 90.0, 300.0, 3600.0, 1.5):
        assert parse_duration(format_duration(seconds)) == seconds
