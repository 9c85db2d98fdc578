"""What the paste showed, with and without live data to check it against."""

from __future__ import annotations

import re

from bot.render.text import render_text
from bot.signals import scan
from bot.signals.model import SignalKind
from bot.triage import Severity, triage
from bot.triage.model import Finding, Report
from tests.factories import repo_playbooks, sessions, signal, snapshot

ROLE_FATAL = 'FATAL:  too many connections for role "app_user"'


def run(signals, snap=None, **kwargs) -> Report:  # type: ignore[no-untyped-def]
    kwargs.setdefault("cluster", "prod" if snap is not None else None)
    return triage(signals, snap, playbooks=repo_playbooks(), **kwargs)


def only(report: Report, code: str) -> Finding:
    (f,) = [f for f in report.findings if f.code == code]
    return f


def test_signal_confirmed_by_live_data_adds_its_evidence() -> None:
    sig = signal(
        "role_limit",
        role="app_user",
        count=3,
        first_line=12,
        source="stderr",
        sqlstate="53300",
        excerpt=ROLE_FATAL,
    )
    report = run([sig], snapshot(sessions(20, state="active"), role_limits={"app_user": 20}))
    f = only(report, "role_limit")
    assert f.severity is Severity.CRITICAL
    assert any("3× (line 12, stderr, SQLSTATE 53300)" in e for e in f.evidence)
    assert report.signals == (sig,)


def test_repeated_signals_are_folded() -> None:
    a = signal("role_limit", role="app_user", count=2, first_line=40)
    b = signal("role_limit", role="app_user", count=5, first_line=7)
    report = run([a, b])
    f = only(report, "role_limit")
    assert any("7× (line 7" in e for e in f.evidence)


def test_contradicted_signal_says_the_incident_may_have_passed() -> None:
    snap = snapshot(sessions(3, state="active"), role_limits={"app_user": 20})
    report = run([signal("role_limit", role="app_user")], snap)
    f = only(report, "not_confirmed")
    assert f.severity is Severity.WARNING
    assert (f.current, f.limit) == (3, 20)
    assert "3/20" in report.headline
    assert "may have passed" in report.headline
    assert any("3/20" in e for e in f.evidence)
    assert f.playbook is not None
    assert "3/20" in " ".join(f.playbook.now)


def test_role_without_limit_now() -> None:
    snap = snapshot(sessions(4, role="svc", state="active"))
    report = run([signal("role_limit", role="svc")], snap)
    f = only(report, "not_confirmed")
    assert "but it has no CONNECTION LIMIT and holds 4 connection(s) now" in " ".join(f.evidence)
    assert "lifted" in " ".join(f.evidence)
    assert f.limit is None


def test_superuser_role_is_not_limited() -> None:
    snap = snapshot(sessions(2, role="admin", state="active"), superusers=["admin"])
    f = only(run([signal("role_limit", role="admin")], snap), "not_confirmed")
    assert "role admin is a superuser" in f.title


def test_unnamed_role_signal_with_no_full_role() -> None:
    snap = snapshot(sessions(2, state="active"), role_limits={"app_user": 20})
    f = only(run([signal("role_limit")], snap), "not_confirmed")
    assert "no role or database is near its CONNECTION LIMIT" in f.title


def test_unnamed_role_signal_attaches_to_a_full_role() -> None:
    snap = snapshot(sessions(20, state="active"), role_limits={"app_user": 20})
    report = run([signal("role_limit", count=4)], snap)
    assert [f.code for f in report.findings] == ["role_limit"]
    assert any("4×" in e for e in report.findings[0].evidence)


def test_contradicted_server_signal_shows_current_usage() -> None:
    snap = snapshot(sessions(40, state="active"))
    report = run([signal("max_connections", sqlstate="53300")], snap)
    f = only(report, "not_confirmed")
    assert (f.current, f.limit) == (40, 96)  # 97 ordinary slots, one held by pgconn
    assert "the server out of connections, but it is at 40/96 now" in report.headline


def test_server_signal_attaches_to_live_server_finding() -> None:
    snap = snapshot(sessions(16, state="active"), max_connections=20)
    report = run([signal("reserved_slots", count=9)], snap)
    assert [f.code for f in report.findings] == ["reserved_slots"]
    assert any("9×" in e for e in report.findings[0].evidence)


def test_no_live_data_gives_playbook_with_placeholders() -> None:
    report = run(
        [signal("role_limit", role="app_user", count=3)],
        notes=["cluster prod is unreachable: connection refused"],
    )
    f = only(report, "role_limit")
    assert not report.live
    assert f.severity is Severity.CRITICAL
    assert "app_user" in report.headline
    assert "no live data" in report.headline
    assert f.playbook is not None
    sql = " ".join(s.statement for s in f.playbook.sql)
    assert "usename = 'app_user'" in sql
    assert not re.search(r"<[a-z ]+>", sql)  # no placeholder reaches SQL
    assert any("<new role limit>" in w for w in f.playbook.withheld)
    assert report.notes[0] == "cluster prod is unreachable: connection refused"
    assert any("withheld" in n for n in report.notes)


def test_no_live_data_without_role_name_keeps_explicit_placeholder() -> None:
    report = run([signal("role_limit")])
    f = only(report, "role_limit")
    assert f.playbook is not None
    assert "<role>" in f.playbook.title
    assert not any("usename" in s.statement for s in f.playbook.sql)


def test_pooler_limit_with_database_headroom_says_the_database_is_fine() -> None:
    snap = snapshot(sessions(4, state="active"), role_limits={"app_user": 20})
    sig = signal(
        "pooler_client_limit",
        role="app_user",
        detail="max_client_conn",
        source="pgbouncer",
        sqlstate="08P01",
    )
    report = run([sig], snap)
    f = only(report, "pooler_client_limit")
    assert "max_client_conn" in f.title
    assert "headroom" in report.headline
    text = " ".join(f.evidence)
    assert "Server slots for ordinary roles: 4 of 96 used (4%), 92 free" in text
    assert "Role app_user, CONNECTION LIMIT 20: 4 of 20 used (20%), 16 free" in text
    assert "not in PostgreSQL" in text


def test_pooler_wait_timeout_when_postgres_is_full_too() -> None:
    snap = snapshot(sessions(16, state="active"), max_connections=20)
    report = run([signal("pooler_wait_timeout", detail="query_wait_timeout")], snap)
    f = only(report, "pooler_wait_timeout")
    assert any("this timeout is its consequence" in e for e in f.evidence)
    assert "consequence" in f.title
    assert report.findings[0].code == "reserved_slots"  # the limit ranks before the pooler


def test_app_pool_timeout_beside_a_refusing_role_is_its_consequence() -> None:
    # The server has room, but the application's role is refused: the pool timeout follows
    # from that refusal; "the database is fine" would contradict the finding above it.
    snap = snapshot(sessions(10, state="idle", age_s=5), role_limits={"app_user": 10})
    report = run([signal("app_pool_timeout", detail="SQLAlchemy QueuePool")], snap)
    f = only(report, "app_pool_timeout")
    text = " ".join(f.evidence)
    assert "the database is fine" not in text
    assert "refusing new connections right now (Role app_user is at its connection limit" in text
    assert report.findings[0].code == "role_limit"
    assert "headroom" not in report.headline


def test_app_pool_timeout_detail_and_headroom() -> None:
    snap = snapshot(sessions(5, state="active"))
    detail = "HikariCP total=10 active=10 waiting=42"
    report = run([signal("app_pool_timeout", detail=detail, source="hikaricp")], snap)
    f = only(report, "app_pool_timeout")
    assert detail in f.title
    assert "the application, not in PostgreSQL" in " ".join(f.evidence)
    assert f.playbook is not None
    assert detail in " ".join(f.playbook.now)


def test_server_not_ready_is_not_capacity() -> None:
    report = run([signal("server_not_ready", sqlstate="57P03", detail="starting up")])
    f = only(report, "server_not_ready")
    assert f.severity is Severity.CRITICAL
    assert "not a capacity problem" in report.headline
    assert "starting up" in report.headline
    assert f.playbook is not None
    assert "NOT a capacity problem" in " ".join(f.playbook.now)


def test_server_not_ready_with_live_snapshot_has_passed() -> None:
    report = run([signal("server_not_ready", sqlstate="57P03")], snapshot())
    f = only(report, "server_not_ready")
    assert f.severity is Severity.INFO
    assert any("accepts connections now" in e for e in f.evidence)


def test_single_occurrence_reads_once() -> None:
    f = only(run([signal("database_limit", database="shop")]), "database_limit")
    assert any("The paste shows this once (line 1" in e for e in f.evidence)


def test_walsender_limit_shows_the_setting() -> None:
    report = run([signal("walsender_limit")], snapshot(max_wal_senders=4))
    f = only(report, "walsender_limit")
    assert any("max_wal_senders is 4" in e for e in f.evidence)


def test_every_signal_kind_gives_a_finding_with_a_playbook_without_live_data() -> None:
    for kind in SignalKind:
        report = run([signal(kind, role="app_user", database="appdb")])
        assert report.findings, kind
        assert report.findings[0].playbook is not None, kind
        assert not [n for n in report.notes if "failed to render" in n], kind


def test_focus_role_drops_other_roles_signals() -> None:
    report = run([signal("role_limit", role="a"), signal("role_limit", role="b")], focus_role="a")
    assert [f.role for f in report.findings] == ["a"]
    assert any("1 signal(s) about other roles" in n for n in report.notes)
    assert len(report.signals) == 2


def test_empty_input() -> None:
    report = run([])
    assert report.findings == ()
    assert "no live data" in report.headline


def test_pgconns_own_refused_login_is_not_added_to_the_paste_count() -> None:
    pasted = signal("role_limit", role="app_user", count=1, source="stdin", excerpt="FATAL: x")
    own = signal("role_limit", role="app_user", count=1, source="pgconn-connect", excerpt="x")
    report = run([pasted, own])
    f = only(report, "role_limit")
    assert "1× in the paste" in report.headline
    assert "2×" not in report.headline + " ".join(f.evidence)
    assert any(
        "shows this once" in e and "pgconn's own connection was refused the same way" in e
        for e in f.evidence
    )
    # Only pgconn's own refusal: said so, with no count "in the paste".
    alone = run([own])
    assert "pgconn's own login was refused" in alone.headline
    assert "in the paste" not in alone.headline


def test_a_pasted_role_that_does_not_exist_here_says_so() -> None:
    snap = snapshot(sessions(3, state="active"), role_limits={"app_user": 20})
    report = run([signal("role_limit", role="ghost")], snap)
    f = only(report, "not_confirmed")
    assert "role ghost does not exist on prod" in f.title
    assert "wrong cluster?" in report.headline
    assert not any("has no CONNECTION LIMIT" in e for e in f.evidence)
    assert "holds 0 connection" not in report.headline + f.title


def test_the_headline_is_the_widest_refusal_and_the_paste_is_answered_first() -> None:
    # A pasted database refusal beside an unrelated full role: the database heads the report.
    snap = snapshot(
        sessions(10, role="batch", database="etl", state="active")
        + sessions(5, role="app_user", database="analytics", state="active"),
        role_limits={"batch": 10},
        database_limits={"analytics": 5},
    )
    report = run([signal("database_limit", database="analytics")], snap)
    assert [f.code for f in report.findings[:2]] == ["database_limit", "role_limit"]
    assert report.headline.startswith("Database analytics is at its connection limit")
    # The server refusing everyone comes before both.
    full = snapshot(
        sessions(10, role="batch", state="active")
        + sessions(5, role="app_user", database="analytics", state="active")
        + sessions(2, role="other", state="active"),
        role_limits={"batch": 10},
        database_limits={"analytics": 5},
        max_connections=21,
    )
    report = run([signal("database_limit", database="analytics")], full)
    assert report.findings[0].code == "reserved_slots"
    # Two full roles: the pasted one first.
    two = snapshot(
        sessions(10, role="a_role", state="active") + sessions(10, role="b_role", state="active"),
        role_limits={"a_role": 10, "b_role": 10},
    )
    report = run([signal("role_limit", role="b_role")], two)
    assert report.findings[0].role == "b_role"


def test_a_pooler_other_than_pgbouncer_is_named_and_gets_its_own_advice() -> None:

    (sig,) = scan("FATAL:  Max client connections reached (EMAXCONNCLIENT)\n")
    assert sig.pooler == "supavisor"
    report = run([sig])
    (f,) = report.findings
    assert f.title.startswith("Supavisor refused new clients")
    text = render_text(report)
    assert "pool_size" in text
    assert "PgBouncer's admin console" not in text and "PgBouncer refused" not in text


def test_a_pgbouncer_refusal_keeps_pgbouncers_advice() -> None:

    (sig,) = scan("FATAL: no more connections allowed (max_client_conn)\n")
    report = run([sig])
    (f,) = report.findings
    assert f.title.startswith("PgBouncer refused new clients")
    assert "PgBouncer's admin console" in " ".join(render_text(report).split())
