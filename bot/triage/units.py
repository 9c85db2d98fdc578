"""Durations worded for people and for PostgreSQL."""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """`42 s`, `12 min`, `2 h 5 min`, `3 d 4 h`: short enough for evidence lines."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def pg_interval(seconds: int) -> str:
    """An interval literal that reads well and that PostgreSQL accepts: `10 minutes`."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
    return f"{seconds} seconds"


def setting_duration_ms(ms: int) -> str:
    """A timeout setting as shown to people: 0 means the timeout is off."""
    return "0 (off)" if ms == 0 else human_duration(ms / 1000) if ms >= 1000 else f"{ms} ms"
