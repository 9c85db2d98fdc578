"""Sessions that hold slots doing nothing: long idle, idle in transaction, and what is hidden."""

from __future__ import annotations

from bot.triage import ActionKind, Severity, triage
from bot.triage.model import Finding, Report
from tests.factories import repo_playbooks, session, sessions, snapshot


def run(snap) -> Report:  # type: ignore[no-untyped-def]
    return triage([], snap, cluster="prod", playbooks=repo_playbooks())


def only(report: Report, code: str) -> Finding:
    (f,) = [f for f in report.findings if f.code == code]
    return f


def test_idle_in_transaction_with_timeout_off() -> None:
    stuck = session(
        state="idle in transaction",
        age_s=47 * 60,
        xact_age_s=50 * 60,
        query="UPDATE orders SET paid = true WHERE id = 7",
    )
    report = run(snapshot([stuck, *sessions(3, state="active")]))
    f = only(report, "idle_in_transaction")
    assert f.severity is Severity.WARNING  # nothing is full
    assert f.role == "app_user"
    text = " ".join(f.evidence)
    assert f"pid {stuck.pid}" in text
    assert "47 min" in text
    assert "transaction open 50 min" in text
    assert "UPDATE orders" in text
    assert "idle_in_transaction_session_timeout is 0 (off)" in text
    kinds = [a.kind for a in f.actions]
    assert kinds == [ActionKind.TERMINATE, ActionKind.SET_ROLE_IDLE_TX_TIMEOUT]
    assert f.actions[0].params["pids"] == [stuck.pid]
    assert f.actions[0].params["state"] == "idle in transaction"
    assert f.actions[1].params == {"role": "app_user", "timeout": "5min"}


def test_idle_in_transaction_with_timeout_set_offers_no_timeout_action() -> None:
    snap = snapshot(
        [session(state="idle in transaction", age_s=300)],
        idle_in_transaction_session_timeout_ms=600_000,
    )
    f = only(run(snap), "idle_in_transaction")
    assert [a.kind for a in f.actions] == [ActionKind.TERMINATE]
    assert any("is 10 min on the server" in e for e in f.evidence)


def test_short_idle_in_transaction_is_not_reported() -> None:
    report = run(snapshot([session(state="idle in transaction", age_s=20)]))
    assert report.findings == ()


def test_many_long_idle_sessions_without_a_full_limit_are_a_warning() -> None:
    report = run(snapshot(sessions(6, age_s=3600, application="report", client="10.9.9.9")))
    f = only(report, "idle_sessions")
    assert f.severity is Severity.WARNING
    assert "a probable leak" in f.title
    assert any("All 6 come from" in e and '"report"' in e for e in f.evidence)


def test_few_long_idle_sessions_are_fine_when_nothing_is_full() -> None:
    report = run(snapshot(sessions(4, age_s=3600)))
    assert report.findings == ()


def test_long_idle_sessions_from_many_clients_are_not_called_a_leak() -> None:
    spread = [session(age_s=3600, client=f"10.0.0.{i}") for i in range(6)]
    f = only(run(snapshot(spread)), "idle_sessions")
    assert "leak" not in f.title
    assert any("1 of the 6 come from" in e for e in f.evidence)


def test_recently_idle_sessions_do_not_count() -> None:
    report = run(snapshot(sessions(20, age_s=30), role_limits={"app_user": 40}))
    assert [f.code for f in report.findings] == []


def test_cut_list_gives_a_lower_bound() -> None:
    snap = snapshot(sessions(30, age_s=3600), role_limits={"app_user": 30}, oldest_listed=10)
    report = run(snap)
    f = only(report, "idle_sessions")
    assert "30 idle sessions of role app_user, at least 10 for more than 10 min" in f.title
    assert any("only the 10 oldest" in e for e in f.evidence)
    assert "at least 10" in report.headline


def test_idle_sessions_of_a_full_role_are_critical_even_when_few() -> None:
    snap = snapshot(
        sessions(2, age_s=900) + sessions(8, state="active"), role_limits={"app_user": 10}
    )
    f = only(run(snap), "idle_sessions")
    assert f.severity is Severity.CRITICAL
    assert f.actions[0].params["min_age_s"] == 600


def test_hidden_sessions_are_not_counted_as_idle_or_active() -> None:
    hidden = sessions(12, state=None, age_s=None)
    visible = sessions(8, state="active")
    snap = snapshot(
        hidden + visible,
        role_limits={"app_user": 20},
        blind_spots=["12 session(s) of other roles are hidden from pgconn_mon."],
    )
    report = run(snap)
    f = only(report, "role_limit")
    assert any("The state of 12 of 20 session(s) is hidden" in e for e in f.evidence)
    assert any(e.startswith("By state: 8 active.") for e in f.evidence)
    assert not any("idle" in e for e in f.evidence if e.startswith("By state"))
    assert "12 session(s) of other roles are hidden from pgconn_mon." in report.notes


def test_idle_session_timeout_unavailable_before_14() -> None:
    snap = snapshot(sessions(6, age_s=3600), version=130012)
    f = only(run(snap), "idle_sessions")
    assert any("does not exist before PostgreSQL 14" in e for e in f.evidence)
    assert f.playbook is not None
    assert not any("idle_session_timeout" in s.statement for s in f.playbook.sql)


def test_leak_is_the_cause_named_for_a_full_server() -> None:
    snap = snapshot(
        sessions(12, role="worker", age_s=7200, application="celery", client="10.1.1.1")
        + sessions(4, role="web", state="active"),
        max_connections=20,
        oldest_listed=50,
    )
    report = run(snap)
    assert report.findings[0].code == "reserved_slots"
    assert report.headline.startswith("Only reserved slots are left")
    assert "12 sessions idle for more than 10 min" in report.headline
    assert '"celery"' in report.headline
