"""Durations written as `90s`, `15m`, `2h`, `1d` (also `100ms`, `1w`, `1y`, and plain seconds)."""

from __future__ import annotations

import re

_UNITS_S = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
DURATION_PATTERN = r"^\s*((\d+(\.\d+)?)(ms|s|m|h|d|w|y)\s*)+$"
# What to tell someone whose duration did not parse.
DURATION_HINT = "write durations like 90s, 15m, 2h or 1d"


def parse_duration(value: object) -> float:
    """Seconds in a duration such as `90s`, `1h30m` or a bare number of seconds.

    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration {value!r} is negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    text = value.strip().replace(" ", "")
    if not text or _PART.sub("", text):
        raise ValueError(f"'{value}' is not a duration")  # callers add the hint
    return sum(float(n) * _UNITS_S[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Short human form of a number of seconds, e.g. `2h05m`."""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{sec:02d}s" if sec else f"{minutes}m"
