"""Limits read from a live snapshot: roles, databases, the server's slots."""

from __future__ import annotations

from bot.triage import ActionKind, FindingCode, Severity, triage
from bot.triage.model import Report
from tests.factories import repo_playbooks, sessions, snapshot


def run(snap, signals=(), **kwargs) -> Report:  # type: ignore[no-untyped-def]
    return triage(signals, snap, cluster="prod", playbooks=repo_playbooks(), **kwargs)


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def test_role_at_limit_with_leak_names_the_leak_in_headline_and_evidence() -> None:
    leaked = sessions(17, age_s=1800, application="checkout", client="10.0.3.4")
    busy = sessions(3, state="active", age_s=2, application="api", client="10.0.3.7")
    report = run(snapshot(leaked + busy, role_limits={"app_user": 20}, oldest_listed=50))

    top = report.findings[0]
    assert (top.code, top.severity, top.role) == ("role_limit", Severity.CRITICAL, "app_user")
    assert (top.current, top.limit) == (20, 20)
    assert any("20 of its 20" in e for e in top.evidence)
    assert any("3 active" in e and "17 idle" in e for e in top.evidence)
    for part in ("app_user", "20/20", "17 sessions idle", '"checkout"', "10.0.3.4", "leak"):
        assert part in report.headline
    assert report.headline.endswith(".")
    assert ". " not in report.headline  # one sentence

    leak = next(f for f in report.findings if f.code == "idle_sessions")
    assert leak.severity is Severity.CRITICAL  # it fills a full limit
    (terminate,) = leak.actions
    assert terminate.kind is ActionKind.TERMINATE
    assert terminate.params["pids"] == sorted(s.pid for s in leaked)
    assert terminate.params["min_age_s"] == 600
    assert terminate.params["state"] == "idle"


def test_role_near_limit_is_a_warning_with_busy_cause() -> None:
    report = run(snapshot(sessions(17, state="active", age_s=5), role_limits={"app_user": 20}))
    (f,) = report.findings
    assert (f.code, f.severity, f.current, f.limit) == ("role_limit", Severity.WARNING, 17, 20)
    assert "near" in f.title
    assert "17 of 17 sessions active" in report.headline


def test_role_with_room_has_no_finding() -> None:
    report = run(snapshot(sessions(10, state="active"), role_limits={"app_user": 20}))
    assert report.findings == ()
    assert report.headline.startswith("Nothing is near a connection limit on prod")
    # 10 sessions of 100 - 3 reserved - 1 held by pgconn's own session.
    assert "10 of 96 server slots used (10%), 86 free" in report.headline


def test_superuser_role_limit_does_not_apply() -> None:
    snap = snapshot(
        sessions(5, role="postgres", state="active"),
        role_limits={"postgres": 5},
        superusers=["postgres"],
    )
    assert "role_limit" not in codes(run(snap))


def test_raised_limit_is_capped_by_free_server_slots() -> None:
    # 20 sessions + pgconn in 27 ordinary slots: 6 free, at most half of them given away.
    snap = snapshot(sessions(20, state="active"), role_limits={"app_user": 20}, max_connections=30)
    (f,) = run(snap).findings
    (action,) = f.actions
    assert action.kind is ActionKind.SET_ROLE_CONN_LIMIT
    assert action.params == {"role": "app_user", "limit": 23, "current_limit": 20}
    assert f.playbook is not None
    assert any("CONNECTION LIMIT 23" in s.statement for s in f.playbook.sql)


def test_no_raise_offered_when_server_has_no_room() -> None:
    snap = snapshot(sessions(26, state="active"), role_limits={"app_user": 26}, max_connections=30)
    role = next(f for f in run(snap).findings if f.code == "role_limit")
    assert not [a for a in role.actions if a.kind is ActionKind.SET_ROLE_CONN_LIMIT]
    assert any("would only move the refusals" in e for e in role.evidence)
    assert role.playbook is not None
    assert not any("CONNECTION LIMIT" in s.statement for s in role.playbook.sql)
    assert role.playbook.withheld


def test_database_at_limit() -> None:
    snap = snapshot(
        sessions(30, database="shop", state="active") + sessions(5, database="other"),
        database_limits={"shop": 30},
    )
    report = run(snap)
    f = report.findings[0]
    assert (f.code, f.database, f.current, f.limit) == ("database_limit", "shop", 30, 30)
    assert any(a.kind is ActionKind.SET_DATABASE_CONN_LIMIT for a in f.actions)
    assert report.headline.startswith("Database shop is at its connection limit (30/30)")


def test_only_reserved_slots_left() -> None:
    # 16 sessions + pgconn = 17 = 20 - 3 superuser_reserved_connections: pgconn holds the
    # 17th ordinary slot, so 16 are usable by others and all 16 are used.
    report = run(snapshot(sessions(16, state="active"), max_connections=20))
    (f,) = report.findings
    assert (f.code, f.severity, f.current, f.limit) == ("reserved_slots", Severity.CRITICAL, 16, 16)
    assert any("max_connections 20 = 17 taken" in e for e in f.evidence)
    assert any("16 of 16 used (100%), 0 free" in e for e in f.evidence)


def test_reserved_connections_count_on_pg16() -> None:
    snap = snapshot(sessions(21, state="active"), max_connections=30, reserved_connections=5)
    (f,) = run(snap).findings
    assert f.code == "reserved_slots"
    assert f.limit == 21  # 30 - 3 - 5, less the slot pgconn's own session holds
    assert any("- 5 reserved_connections" in e for e in f.evidence)


def test_every_slot_taken_is_max_connections() -> None:
    # 19 + pgconn = 20: every slot taken; 17 ordinary ones, so pgconn sits in a reserved one.
    (f,) = run(snapshot(sessions(19, state="active"), max_connections=20)).findings
    assert (f.code, f.current, f.limit) == ("max_connections", 17, 17)
    assert f.headroom is not None and (f.headroom.over, f.headroom.own_reserved) == (2, 1)


def test_near_full_is_not_the_reserved_slots_situation() -> None:
    # 17 of 20 with 3 reserved: ordinary roles still connect, so no "everyone is refused".
    for reserve in (0, 3):
        snap = snapshot(
            sessions(16, state="active"),
            max_connections=20 + reserve,
            superuser_reserved_connections=reserve,
        )
        (f,) = run(snap).findings
        assert (f.code, f.severity) == ("server_near_full", Severity.WARNING)
        assert f.playbook is not None
        assert "refused" not in " ".join(f.playbook.now).replace("Nobody is refused", "")


def test_monitoring_role_without_reserved_access_is_pointed_out() -> None:
    snap = snapshot(sessions(16, state="active"), max_connections=20, can_use_reserved=False)
    (f,) = run(snap).findings
    assert any("pgconn_mon cannot use the reserved slots" in e for e in f.evidence)


def test_ranking_by_severity_then_fullness() -> None:
    snap = snapshot(
        sessions(18, role="near", state="active")
        + sessions(10, role="full_small", state="active")
        + sessions(40, role="full_big", state="active"),
        role_limits={"near": 20, "full_small": 10, "full_big": 39},
    )
    report = run(snap)
    assert [(f.role, f.severity) for f in report.findings] == [
        ("full_big", Severity.CRITICAL),  # over its limit: 40/39
        ("full_small", Severity.CRITICAL),
        ("near", Severity.WARNING),
    ]
    assert report.headline.startswith(
        "Role full_big is over its connection limit (39/39, 1 more beyond it)"
    )


def test_focus_role_keeps_only_that_role() -> None:
    snap = snapshot(
        sessions(10, role="a", state="active") + sessions(10, role="b", state="active"),
        role_limits={"a": 10, "b": 10},
    )
    report = run(snap, focus_role="b")
    assert [f.role for f in report.findings] == ["b"]
    assert any("Focused on role b" in n for n in report.notes)


def test_focus_role_with_room_says_so() -> None:
    snap = snapshot(sessions(3, role="a", state="active"), role_limits={"a": 20})
    report = run(snap, focus_role="a")
    assert report.findings == ()
    assert "Role a has room on prod: 3 of 20 used (15%), 17 free" in report.headline


def test_focus_role_narrows_server_evidence() -> None:
    snap = snapshot(
        sessions(10, role="a", state="active") + sessions(6, role="b", state="idle"),
        max_connections=20,
    )
    (f,) = run(snap, focus_role="a").findings
    assert f.code == "reserved_slots"
    assert any("Role a holds 10 of them" in e for e in f.evidence)
    assert not any("idle" in e for e in f.evidence if e.startswith("By state"))


def test_finding_code_enum_is_what_findings_carry() -> None:
    report = run(snapshot(sessions(19, state="active"), max_connections=20))
    assert {f.code for f in report.findings} <= {c.value for c in FindingCode}


def test_recently_idle_sessions_are_named_as_the_cause() -> None:
    snap = snapshot(
        sessions(6, age_s=5) + sessions(2, state="idle in transaction", age_s=5),
        role_limits={"app_user": 8},
    )
    report = run(snap)
    assert [f.code for f in report.findings] == ["role_limit"]
    assert "6 of 8 sessions idle, 2 idle in transaction" in report.headline
