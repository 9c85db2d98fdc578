"""Where an entity is heading, from its recent samples: the slope, the time left before its
limit, and whether idle sessions are piling up (a leak). Pure; the caller passes the clock.

The slope is Theil-Sen's (the median of the slopes between every pair of samples): a one-off
burst, such as a deploy opening its pool, moves it far less than it would a least-squares fit,
and with at most a few dozen samples the pairs cost nothing. Over the whole window it is slow to
see a turn, though: a role that climbed for ten minutes and has been falling for three would
still read "rising". So the last few samples get their own slope, and when the two disagree in
sign, the recent one is the trend.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

# A rate needs at least this many samples spread over at least this long: two probes a few
# seconds apart (a restart, a manual check) say nothing about where an entity is heading.
MIN_SAMPLES = 3
MIN_SPAN_S = 60.0
RECENT = 4  # samples in the short window that catches a turn
# A leak is called out only for a climb of idle sessions that is steady (most steps up or flat),
# sizeable, that makes up most of the entity's growth, and that lasted long enough.
LEAK_MIN_SAMPLES = 4
LEAK_MIN_SPAN_S = 180.0
LEAK_MIN_RISE = 3
LEAK_STEADY_SHARE = 0.75
LEAK_SHARE_OF_GROWTH = 0.7


@dataclass(frozen=True, slots=True)
class Sample:
    """One probe's numbers for one entity at `at` (epoch seconds)."""

    at: float
    current: int
    idle: int


@dataclass(frozen=True, slots=True)
class Trend:
    """`per_minute` is None until there are enough samples. `seconds_to_limit` is set only
    while the entity is rising and below its limit (0 once at it)."""

    per_minute: float | None
    seconds_to_limit: float | None
    span_s: float
    idle_rise: int
    leak: bool

    @property
    def direction(self) -> str:
        if self.per_minute is None:
            return "unknown"
        if abs(self.per_minute) * self.span_s / 60 < 1:  # less than one session over the window
            return "steady"
        return "rising" if self.per_minute > 0 else "falling"


NO_TREND = Trend(per_minute=None, seconds_to_limit=None, span_s=0.0, idle_rise=0, leak=False)


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Theil-Sen slope of (x, y) points, per unit of x; None without two distinct x."""
    pairs = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    return median(pairs) if pairs else None


def trend(samples: Sequence[Sample], limit: int) -> Trend:
    """The trend over `samples` (oldest first) for an entity limited to `limit` sessions."""
    if len(samples) < MIN_SAMPLES:
        return NO_TREND
    span = samples[-1].at - samples[0].at
    if span < MIN_SPAN_S:
        return NO_TREND
    points = [(s.at, float(s.current)) for s in samples]
    per_s = slope(points)
    if per_s is None or span <= 0:
        return NO_TREND
    recent = slope(points[-RECENT:]) if len(points) > RECENT else None
    recent_span = samples[-1].at - samples[-RECENT].at if len(points) > RECENT else 0.0
    if recent is not None and recent * per_s < 0 and recent_span >= MIN_SPAN_S:
        per_s, span = recent, samples[-1].at - samples[-RECENT].at
    latest = samples[-1].current
    rising = per_s * span >= 1
    to_limit: float | None = None
    if rising and limit > 0:
        to_limit = max(limit - latest, 0) / per_s
    idle_rise = samples[-1].idle - samples[0].idle
    return Trend(
        per_minute=per_s * 60,
        seconds_to_limit=to_limit,
        span_s=span,
        idle_rise=idle_rise,
        leak=_leaking(samples, idle_rise),
    )


def _leaking(samples: Sequence[Sample], idle_rise: int) -> bool:
    if len(samples) < LEAK_MIN_SAMPLES or idle_rise < LEAK_MIN_RISE:
        return False
    if samples[-1].at - samples[0].at < LEAK_MIN_SPAN_S:
        return False
    steps = [b.idle - a.idle for a, b in itertools.pairwise(samples)]
    steady = sum(1 for d in steps if d >= 0) >= math.ceil(LEAK_STEADY_SHARE * len(steps))
    growth = samples[-1].current - samples[0].current
    return steady and idle_rise >= LEAK_SHARE_OF_GROWTH * max(growth, 1)
