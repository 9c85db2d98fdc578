"""The alert cycle without a server: open, update, escalate, recover, reopen, forget."""

from __future__ import annotations

from dataclasses import replace

from bot.warnings.model import EntityKind, Level, Levels, ProbeFailure, Usage
from bot.warnings.record import AlertRecord, Status, from_state, to_state
from bot.warnings.rules import (
    Action,
    Policy,
    decide,
    decide_gone,
    decide_reachable,
    decide_unreachable,
    due,
)
from bot.warnings.trend import Sample

L = Levels(threshold=0.8, critical=0.95, margin=0.1)
P = Policy(reopen_seconds=900, refresh_seconds=300, unreachable_after=2)
T0 = 1_800_000_000.0


def role(current: int, limit: int = 20) -> Usage:
    return Usage(EntityKind.ROLE, "app", current, limit, idle=current, idle_in_transaction=0)


def run(
    currents: list[int], step_s: float = 60.0, prev: AlertRecord | None = None, start: float = T0
) -> list[tuple[Action, AlertRecord | None]]:
    """Feed a series through the rules as the watcher would (posting sets message_ts)."""
    out = []
    for i, current in enumerate(currents):
        now = start + i * step_s
        step = decide(
            prev,
            role(current),
            L,
            (Sample(now, current, current),),
            cluster="prod",
            channel="C1",
            now=now,
            policy=P,
        )
        record = step.record
        if step.action is Action.OPEN and record is not None:
            record = replace(record, message_ts="1.0")
        if record is not None:
            record = replace(record, version=record.version + 1)
        prev = None if step.action is Action.FORGET else record
        out.append((step.action, prev))
    return out


def actions(currents: list[int], **kw: object) -> list[Action]:
    return [a for a, _ in run(currents, **kw)]  # type: ignore[arg-type]


def test_climb_opens_once_escalates_and_recovers():
    got = actions([10, 15, 16, 17, 18, 19, 20, 18, 15, 13, 12])
    assert got == [
        Action.NONE,
        Action.NONE,
        Action.OPEN,
        Action.UPDATE,
        Action.UPDATE,
        Action.ESCALATE,
        Action.UPDATE,
        Action.UPDATE,
        Action.UPDATE,
        Action.RECOVER,
        Action.NONE,
    ]


def test_flapping_never_reopens_or_recovers():
    got = actions([16, 15, 16, 14, 17, 15, 14, 16])
    assert got[0] is Action.OPEN
    assert set(got[1:]) == {Action.UPDATE}


def test_crossing_again_soon_reopens_the_same_message():
    series = run([16, 12, 16])
    assert [a for a, _ in series] == [Action.OPEN, Action.RECOVER, Action.REOPEN]
    reopened = series[2][1]
    assert reopened is not None
    assert reopened.message_ts == "1.0"
    assert reopened.status is Status.WARNING
    assert reopened.recovered_at is None


def test_crossing_again_much_later_is_a_new_incident():
    got = actions([16, 12, 12, 16], step_s=1000)
    assert got == [Action.OPEN, Action.RECOVER, Action.FORGET, Action.OPEN]
    # ... and one that stays recovered past the window is forgotten, crossing or not.
    later = run([16, 12], step_s=60)
    prev = later[-1][1]
    assert prev is not None
    step = decide(prev, role(16), L, (), cluster="prod", channel="C1", now=T0 + 2000, policy=P)
    assert step.action is Action.OPEN
    assert step.record is not None
    assert step.record.message_ts is None
    assert step.record.version == prev.version  # overwrites the stored row


def test_a_post_that_did_not_go_out_is_posted_again():
    first = decide(None, role(17), L, (), cluster="prod", channel="C1", now=T0, policy=P)
    assert first.action is Action.OPEN
    assert first.record is not None
    again = decide(
        replace(first.record, version=1),
        role(17),
        L,
        (),
        cluster="prod",
        channel="C1",
        now=T0 + 60,
        policy=P,
    )
    assert again.action is Action.OPEN
    assert again.record is not None
    assert again.record.since == T0


def test_peak_and_since_are_kept():
    series = run([16, 19, 17])
    last = series[-1][1]
    assert last is not None
    assert (last.peak, last.current, last.since) == (19, 17, T0)


def test_entity_gone_recovers_then_is_forgotten():
    _, rec = run([18])[0]
    assert rec is not None
    step = decide_gone(rec, now=T0 + 60, policy=P)
    assert step.action is Action.RECOVER
    assert step.record is not None
    assert decide_gone(step.record, now=T0 + 120, policy=P).action is Action.NONE
    assert decide_gone(step.record, now=T0 + 60 + 901, policy=P).action is Action.FORGET


def test_unreachable_after_n_failures_once_then_recovered():
    def fail(reason: str, at: float) -> ProbeFailure:
        return ProbeFailure("prod", at, reason)

    s1 = decide_unreachable(None, fail("refused", T0), 1, channel="C1", now=T0, policy=P)
    assert s1.action is Action.NONE
    assert s1.record is None
    s2 = decide_unreachable(None, fail("refused", T0 + 60), 2, channel="C1", now=T0 + 60, policy=P)
    assert s2.action is Action.OPEN
    assert s2.record is not None
    posted = replace(s2.record, message_ts="9.0", version=1)
    s3 = decide_unreachable(
        posted, fail("refused", T0 + 120), 3, channel="C1", now=T0 + 120, policy=P
    )
    assert s3.action is Action.NONE
    s4 = decide_unreachable(
        posted, fail("timeout", T0 + 180), 4, channel="C1", now=T0 + 180, policy=P
    )
    assert s4.action is Action.UPDATE  # a new reason edits the same message
    back = decide_reachable(posted, now=T0 + 240, policy=P)
    assert back.action is Action.RECOVER
    assert back.record is not None
    assert back.record.status is Status.RECOVERED


def test_refresh_is_due_on_change_or_after_refresh_seconds():
    rec = AlertRecord(
        "prod",
        EntityKind.ROLE,
        "app",
        Status.WARNING,
        since=T0,
        updated_at=T0,
        fingerprint="abc",
        notified_at=T0,
    )
    assert not due(rec, "abc", now=T0 + 60, policy=P)
    assert due(rec, "abd", now=T0 + 60, policy=P)
    assert due(rec, "abc", now=T0 + 300, policy=P)


def test_record_round_trips_through_the_store_shape():
    rec = AlertRecord(
        "prod",
        EntityKind.DATABASE,
        "shop",
        Status.CRITICAL,
        since=T0,
        updated_at=T0 + 5,
        channel="C1",
        message_ts="1.2",
        version=3,
        limit=20,
        current=19,
        peak=20,
        samples=(Sample(T0, 18, 3), Sample(T0 + 60, 19, 4)),
        fingerprint="f",
        notified_at=T0 + 1,
        recovered_at=None,
        reason="",
    )
    assert from_state(to_state(rec)) == rec
    assert from_state(replace(to_state(rec), level="someone-elses")) is None
    assert rec.level is Level.CRITICAL


def test_the_peak_keeps_the_limit_it_was_measured_on():
    """5/5 is the peak; the limit raised to 7 afterwards must not turn it into 5/7."""
    from bot.warnings import render

    prev = None
    seen = []
    for now, usage in enumerate([role(4, 5), role(5, 5), role(5, 7), role(3, 7)]):
        step = decide(
            prev,
            usage,
            L,
            (Sample(T0 + now, usage.current, 0),),
            cluster="prod",
            channel="C1",
            now=T0 + now * 60,
            policy=P,
        )
        prev = replace(step.record, message_ts="1.0") if step.record else prev
        seen.append(step.action)
    assert seen[-1] is Action.RECOVER
    assert prev is not None and (prev.peak, prev.peak_limit, prev.limit) == (5, 5, 7)
    assert from_state(to_state(prev)) == prev  # stored with the record
    view = render.RecoveryView(
        cluster="prod",
        kind=EntityKind.ROLE,
        entity="app",
        since=prev.since,
        now=T0 + 600,
        peak=prev.peak,
        limit=prev.limit,
        usage=role(3, 7),
        peak_limit=prev.peak_limit,
    )
    for notice in (render.recovered(view), render.resolved(view)):
        assert "peak 5/5 (100%)" in notice.text
        assert "5/7" not in notice.text
