"""When a signal occurred, from the log's own timestamps: first and last seen, a count per
minute and the peak minute.

Only a timestamp on the line that carries the error counts (`2026-12-03 18:23:48` or
`…T18:23:48` anywhere in it: stderr and csvlog prefixes, jsonlog and cloud logging fields,
PgBouncer, application logs; syslog's `Dec  3 18:23:48`, which has no year). Times are kept as
the log wrote them, to the second: no time zone is converted, so one log compares with itself.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)")
_SYSLOG = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d:\d\d:\d\d)"
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}


def stamp(line: str) -> str | None:
    """The line's first timestamp, as `YYYY-MM-DD HH:MM:SS` (`MM-DD HH:MM:SS` for syslog)."""
    m = _ISO.search(line)
    if m:
        return f"{m[1]} {m[2]}"
    s = _SYSLOG.search(line)
    if s:
        return f"{_MONTHS[s[1]]:02d}-{int(s[2]):02d} {s[3]}"
    return None


@dataclass(slots=True)
class Clock:
    """Collects the timestamps of one signal's occurrences while a text is scanned."""

    per_minute: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None
    untimed: int = 0

    def add(self, line: str) -> None:
        at = stamp(line)
        if at is None:
            self.untimed += 1
            return
        self.per_minute[at[:-3]] += 1
        if self.first is None or at < self.first:
            self.first = at
        if self.last is None or at > self.last:
            self.last = at

    def timeline(self) -> Timeline | None:
        if self.first is None or self.last is None:
            return None
        return Timeline(
            first_seen=self.first,
            last_seen=self.last,
            per_minute=tuple(sorted(self.per_minute.items())),
            untimed=self.untimed,
        )


@dataclass(frozen=True, slots=True)
class Timeline:
    """`per_minute`: (minute, occurrences) in time order; `untimed`: occurrences whose line
    had no timestamp (counted in the signal, not here)."""

    first_seen: str
    last_seen: str
    per_minute: tuple[tuple[str, int], ...]
    untimed: int = 0

    @property
    def peak(self) -> tuple[str, int]:
        """The minute with the most occurrences (the earliest of equals)."""
        return min(self.per_minute, key=lambda m: (-m[1], m[0]))

    @property
    def timed(self) -> int:
        return sum(n for _, n in self.per_minute)

    def summary(self) -> str:
        minute, n = self.peak
        span = (
            f"at {self.first_seen}"
            if self.first_seen == self.last_seen
            else f"from {self.first_seen} to {self.last_seen}"
        )
        return f"{span}, over {len(self.per_minute)} minute(s); peak {n}/min at {minute}" + (
            f"; {self.untimed} without a timestamp" if self.untimed else ""
        )

    def as_dict(self) -> dict[str, object]:
        minute, n = self.peak
        return {
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "per_minute": [{"minute": m, "count": c} for m, c in self.per_minute],
            "peak_minute": minute,
            "peak_count": n,
            "untimed": self.untimed,
        }
