"""A full role whose sessions are young: the ages shown, the relief that fits, and why.

Also: idleness is claimed only with the ages it rests on, and the replicas behind a pool size
are estimated from distinct client hosts, with arithmetic that holds, or said to be unknown.
"""

from __future__ import annotations

from bot.triage import triage
from bot.triage.model import ActionKind, Finding, Report
from tests.factories import repo_playbooks, sessions, snapshot


def run(snap) -> Report:  # type: ignore[no-untyped-def]
    return triage([], snap, cluster="prod", playbooks=repo_playbooks())


def role_finding(report: Report) -> Finding:
    return next(f for f in report.findings if f.code == "role_limit")


def playbook_text(f: Finding) -> str:
    assert f.playbook is not None
    return " ".join(f.playbook.now + f.playbook.prevent)


def young_full_role(**kw: object):  # type: ignore[no-untyped-def]
    rows = sessions(4, age_s=3, client="10.0.0.1") + sessions(4, age_s=9, client="10.0.0.2")
    return snapshot(rows, role_limits={"app_user": 8}, **kw)


def test_young_idle_sessions_show_their_ages_and_are_not_called_idle_for_nothing() -> None:
    report = run(young_full_role())
    f = role_finding(report)
    assert "doing nothing" not in report.headline
    assert "idle 3 s to 9 s" in report.headline
    assert any(
        "Its idle sessions, oldest first: 9 s, 9 s, 9 s, 9 s, 3 s, 3 s, 3 s, 3 s; 0 idle for "
        "more than 10 min (triage.idle_seconds)." in e
        for e in f.evidence
    )


def test_old_idle_sessions_are_called_idle_for_nothing_with_their_ages() -> None:
    report = run(snapshot(sessions(8, age_s=1800), role_limits={"app_user": 8}))
    assert "8 sessions idle for more than 10 min (oldest 30 min)" in report.headline
    mixed = sessions(4, age_s=1800, client="10.0.0.1") + sessions(4, age_s=1200, client="b")
    report = run(snapshot(mixed + sessions(9, state="active", role="x"), role_limits={"x": 9}))
    assert "(idle 20 min to 30 min)" not in report.headline  # the role x is busy, not idle
    busy = run(snapshot(sessions(8, age_s=1800, application=""), role_limits={"app_user": 9}))
    assert "oldest 30 min" in busy.headline


def test_the_server_has_room_so_raising_the_limit_is_proposed_and_explained() -> None:
    f = role_finding(run(young_full_role()))
    assert [a.kind for a in f.actions] == [ActionKind.SET_ROLE_CONN_LIMIT]
    assert any(e.startswith("Why raise the limit: app_user is refused") for e in f.evidence)


def test_the_server_is_full_so_the_oldest_idle_sessions_are_offered() -> None:
    rows = sessions(4, age_s=3, client="10.0.0.1") + sessions(4, age_s=9, client="10.0.0.2")
    rows += sessions(8, role="other", state="active")
    snap = snapshot(rows, role_limits={"app_user": 8}, max_connections=20)
    f = role_finding(run(snap))
    [terminate] = [a for a in f.actions if a.kind is ActionKind.TERMINATE]
    assert not [a for a in f.actions if a.kind is ActionKind.SET_ROLE_CONN_LIMIT]
    # A quarter of the limit, the oldest first: the 2 sessions idle 9 s (or more by then).
    assert terminate.params == {"role": "app_user", "state": "idle", "min_age_s": 9}
    assert "2 oldest idle sessions" in terminate.title
    assert any(e.startswith("Why end sessions: app_user is refused") for e in f.evidence)


def test_replicas_are_estimated_from_client_hosts_with_arithmetic_that_holds() -> None:
    f = role_finding(run(young_full_role()))
    line = next(e for e in f.evidence if "client hosts" in e)
    assert "2 client hosts (an estimate of the application's replicas" in line
    assert "(2 × 4 = 8 ≤ 8)" in line
    text = playbook_text(f)
    assert "4 replicas" not in text
    assert "2 client hosts" in text and "2 × 4 = 8 ≤ 8" in text


def test_replicas_are_unknown_when_clients_are_hidden() -> None:
    rows = sessions(4, age_s=3) + sessions(4, state=None)
    f = role_finding(run(snapshot(rows, role_limits={"app_user": 8})))
    assert any("How many replicas share this limit is unknown" in e for e in f.evidence)
    assert "the number of replicas is unknown here" in playbook_text(f)


def test_a_full_database_shows_idle_ages_and_why_it_proposes_a_raise() -> None:
    rows = sessions(6, database="shop", age_s=4) + sessions(2, database="other")
    f = next(
        f
        for f in run(snapshot(rows, database_limits={"shop": 6})).findings
        if f.code == "database_limit"
    )
    assert any("Its idle sessions, oldest first: 4 s, 4 s" in e for e in f.evidence)
    assert any(e.startswith("Why raise the limit: database shop refuses") for e in f.evidence)
    full = snapshot(rows, database_limits={"shop": 6}, max_connections=12)
    g = next(f for f in run(full).findings if f.code == "database_limit")
    assert not [a for a in g.actions if a.kind is ActionKind.SET_DATABASE_CONN_LIMIT]
    assert any(
        e.startswith("Why no raise: the server has no free ordinary slot") for e in g.evidence
    )
