"""Time to limit, direction and leaks from synthetic samples: pure, the clock is the data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.warnings.trend import Sample, slope, trend

T0 = 1_800_000_000.0


def climb(values: list[int], idle: list[int] | None = None, step_s: float = 60.0) -> list[Sample]:
    idle = idle if idle is not None else [0] * len(values)
    return [
        Sample(at=T0 + i * step_s, current=v, idle=i_)
        for i, (v, i_) in enumerate(zip(values, idle, strict=True))
    ]


def test_steady_climb_gives_time_to_limit():
    # One more session a minute, 14 of 20 now: full in six minutes.
    t = trend(climb([10, 11, 12, 13, 14]), limit=20)
    assert t.per_minute == pytest.approx(1.0)
    assert t.seconds_to_limit == pytest.approx(6 * 60)
    assert t.direction == "rising"
    assert t.span_s == 240


def test_twelve_minutes_at_half_a_session_a_minute():
    samples = [Sample(at=T0 + i * 30, current=10 + i // 2, idle=0) for i in range(10)]
    t = trend(samples, limit=20)
    assert t.per_minute == pytest.approx(1.0)
    # 14 now, 6 to go at 1/min.
    assert t.seconds_to_limit == pytest.approx(6 * 60)


def test_a_one_off_burst_barely_moves_the_slope():
    # A deploy opens 8 sessions for one probe; least squares would triple the slope.
    values = [10, 10, 11, 11, 19, 12, 12, 13, 13, 14]
    t = trend(climb(values), limit=40)
    assert t.per_minute == pytest.approx(0.5, abs=0.1)


def test_at_or_over_the_limit_is_zero_seconds_away():
    assert trend(climb([17, 18, 19, 20]), limit=20).seconds_to_limit == 0
    assert trend(climb([19, 20, 21, 22]), limit=20).seconds_to_limit == 0


def test_flat_and_falling_have_no_estimate():
    flat = trend(climb([15, 15, 16, 15, 15, 16]), limit=20)
    assert flat.direction == "steady"
    assert flat.seconds_to_limit is None
    falling = trend(climb([18, 16, 14, 12]), limit=20)
    assert falling.direction == "falling"
    assert falling.per_minute == pytest.approx(-2.0)
    assert falling.seconds_to_limit is None


def test_too_few_samples_say_nothing():
    t = trend(climb([10, 15]), limit=20)
    assert t.per_minute is None
    assert t.seconds_to_limit is None
    assert t.direction == "unknown"
    assert not t.leak


def test_same_instant_samples_have_no_slope():
    assert slope([(T0, 1.0), (T0, 5.0)]) is None
    assert trend([Sample(T0, 1, 0)] * 4, limit=10).per_minute is None


def test_steady_climb_of_idle_sessions_is_a_leak():
    t = trend(climb([10, 11, 12, 13, 14, 15], idle=[4, 5, 6, 7, 8, 9]), limit=20)
    assert t.leak
    assert t.idle_rise == 5


def test_growth_of_active_sessions_is_not_a_leak():
    t = trend(climb([10, 11, 12, 13, 14, 15], idle=[4, 4, 5, 4, 4, 4]), limit=20)
    assert not t.leak


def test_idle_that_jumps_around_is_not_a_steady_climb():
    t = trend(climb([10, 12, 14, 16, 18, 20], idle=[0, 9, 1, 8, 2, 10]), limit=40)
    assert not t.leak


@given(st.lists(st.integers(0, 500), min_size=3, max_size=30), st.integers(1, 500))
def test_estimate_is_never_negative_and_only_when_rising(values, limit):
    t = trend(climb(values), limit)
    if t.seconds_to_limit is not None:
        assert t.seconds_to_limit >= 0
        assert t.per_minute is not None
        assert t.per_minute > 0


def test_a_turn_shows_at_once():
    # Ten minutes up, then three down: the window as a whole still climbs, the role does not.
    t = trend(climb([5, 6, 7, 8, 9, 10, 9, 8, 7]), limit=10)
    assert t.direction == "falling"
    assert t.seconds_to_limit is None
    assert t.per_minute == pytest.approx(-1.0)
    # A pause in a climb is not a turn.
    assert trend(climb([5, 6, 7, 8, 8, 8, 9]), limit=10).direction == "rising"


def test_no_rate_and_no_leak_from_samples_seconds_apart():
    """Three probes in 19 s (a restart, a manual check) give no rate and no leak call."""
    from bot.warnings.render import trend_phrase

    quick = climb([3, 7, 11], idle=[0, 4, 8], step_s=9.5)
    t = trend(quick, limit=30)
    assert (t.per_minute, t.seconds_to_limit, t.leak) == (None, None, False)
    assert trend_phrase(t) == "not enough samples yet (a rate needs 3 probes over at least 1 min)"
    # A steady idle climb, but over 90 s: a rate, and still no leak call (it needs 3 min).
    short = climb([3, 5, 7, 9], idle=[0, 2, 4, 6], step_s=30)
    t = trend(short, limit=30)
    assert t.per_minute == pytest.approx(4.0)
    assert not t.leak
    assert trend_phrase(t) == "rising, +4/min over the last 1 min"
    assert trend(climb([3, 5, 7, 9], idle=[0, 2, 4, 6], step_s=60), limit=30).leak
