"""Limit and timeout changes run through admin_dsn; the live catalog shows them."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bot.remediation import (
    InvalidActionError,
    NotConfiguredError,
    NothingToDoError,
    Outcome,
    proposal_of,
)
from bot.triage.actions import raise_database_limit, raise_role_limit, set_role_idle_tx_timeout
from tests import pg
from tests.remediation.conftest import APPROVER, REQUESTER, Leak, Rig, admin_role, config


def _catalog(cluster: Any, query: str, *args: object) -> Any:
    with pg.admin(cluster) as conn:
        row = conn.execute(query, list(args)).fetchone()
    return row[0] if row else None


def test_raise_a_role_limit_and_the_role_connects_again(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(
        config(leak.cluster, admin_role(leak.cluster, superuser=True), rig.tmp_path)
    )
    req = r.request("prod", raise_role_limit(leak.role, 3, 5), REQUESTER)
    proposal = proposal_of(req)
    assert req.statement == f'ALTER ROLE "{leak.role}" CONNECTION LIMIT 5'
    assert "CONNECTION LIMIT 3 → 5 (3 connections now)" in proposal.blast_radius
    assert "Lets 2 more connections in" in proposal.blast_radius
    done = r.approve(req.id, APPROVER)
    assert done.outcome is Outcome.DONE
    assert done.result is not None
    assert done.result.changed
    assert done.result.statement == req.statement
    assert (
        _catalog(leak.cluster, "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", leak.role)
        == 5
    )
    assert leak.can_connect()
    assert f'role "{leak.role}": 3 of 5 used (60%), 2 free' in done.result.headroom
    assert done.result.outcome_label == "Changed"  # a raised limit frees nothing


def test_a_limit_changed_meanwhile_is_left_alone(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(
        config(leak.cluster, admin_role(leak.cluster, superuser=True), rig.tmp_path)
    )
    req = r.request("prod", raise_role_limit(leak.role, 3, 5), REQUESTER)
    with pg.admin(leak.cluster) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 10").format(sql.Identifier(leak.role)))
    done = r.approve(req.id, APPROVER)
    assert done.result is not None
    assert not done.result.changed
    [skipped] = done.result.skipped
    assert "changed since the request (3 → 10)" in skipped.reason
    assert (
        _catalog(leak.cluster, "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", leak.role)
        == 10
    )


def test_database_limit(cluster: Any, rig: Rig) -> None:
    db = pg.unique("appdb")
    pg.create_database(cluster, db, limit=4)
    r = rig.remediation(config(cluster, admin_role(cluster, superuser=True), rig.tmp_path))
    req = r.request("prod", raise_database_limit(db, 4, 8), REQUESTER)
    assert req.statement == f'ALTER DATABASE "{db}" CONNECTION LIMIT 8'
    done = r.approve(req.id, APPROVER)
    assert done.outcome is Outcome.DONE
    assert _catalog(cluster, "SELECT datconnlimit FROM pg_database WHERE datname = %s", db) == 8


def test_idle_in_transaction_timeout_for_a_role(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(
        config(leak.cluster, admin_role(leak.cluster, superuser=True), rig.tmp_path)
    )
    req = r.request("prod", set_role_idle_tx_timeout(leak.role, "5min"), REQUESTER)
    assert req.statement == (
        f"ALTER ROLE \"{leak.role}\" SET idle_in_transaction_session_timeout = '5min'"
    )
    assert "now not set for the role" in proposal_of(req).blast_radius
    done = r.approve(req.id, APPROVER)
    assert done.outcome is Outcome.DONE
    settings = _catalog(
        leak.cluster,
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        "WHERE r.rolname = %s AND s.setdatabase = 0",
        leak.role,
    )
    assert settings == ["idle_in_transaction_session_timeout=5min"]
    with pytest.raises(NothingToDoError, match="already has"):
        r.request("prod", set_role_idle_tx_timeout(leak.role, "5min"), REQUESTER)


def test_lowering_a_limit_says_who_stays(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(
        config(leak.cluster, admin_role(leak.cluster, superuser=True), rig.tmp_path)
    )
    proposal = r.propose("prod", raise_role_limit(leak.role, 3, 1))
    assert "2 sessions over the new limit stay connected" in proposal.blast_radius


def test_missing_objects_and_no_ops_are_refused(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(
        config(leak.cluster, admin_role(leak.cluster, superuser=True), rig.tmp_path)
    )
    with pytest.raises(InvalidActionError, match="does not exist"):
        r.propose("prod", raise_role_limit("no_such_role", 1, 2))
    with pytest.raises(InvalidActionError, match="does not exist"):
        r.propose("prod", raise_database_limit("no_such_db", 1, 2))
    with pytest.raises(NothingToDoError, match="already has CONNECTION LIMIT 3"):
        r.propose("prod", raise_role_limit(leak.role, 2, 3))


def test_changes_the_admin_role_may_not_make_are_refused_up_front(leak: Leak, rig: Rig) -> None:
    """pg_signal_backend alone allows no ALTER: the request is refused with the statement for
    a person to run, instead of an approval that could only fail."""
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    for action in (raise_role_limit(leak.role, 3, 5), set_role_idle_tx_timeout(leak.role, "1min")):
        with pytest.raises(NotConfiguredError, match="may not change role") as info:
            r.request("prod", action, REQUESTER)
        assert f'ALTER ROLE "{leak.role}"' in str(info.value)
    db = pg.unique("appdb")
    pg.create_database(leak.cluster, db, limit=4)
    with pytest.raises(NotConfiguredError, match="owner or a superuser"):
        r.request("prod", raise_database_limit(db, 4, 8), REQUESTER)
    assert r.store.audit(limit=1)[0].event == "refused"
    assert (
        _catalog(leak.cluster, "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", leak.role)
        == 3
    )


def test_createrole_with_admin_option_may_change_an_app_role(leak: Leak, rig: Rig) -> None:
    """The admin role of deploy/sql/remediation-role.sql: CREATEROLE, and on 16+ ADMIN OPTION
    on the application role without its privileges."""
    admin_dsn = admin_role(leak.cluster)
    admin = str(conninfo_to_dict(admin_dsn)["user"])
    with pg.admin(leak.cluster) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(admin)))
        if leak.cluster.major >= 16:
            conn.execute(
                sql.SQL("GRANT {} TO {} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE").format(
                    sql.Identifier(leak.role), sql.Identifier(admin)
                )
            )
    r = rig.remediation(config(leak.cluster, admin_dsn, rig.tmp_path))
    req = r.request("prod", raise_role_limit(leak.role, 3, 6), REQUESTER)
    assert r.approve(req.id, APPROVER).outcome is Outcome.DONE
    assert (
        _catalog(leak.cluster, "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", leak.role)
        == 6
    )
    if leak.cluster.major >= 16:  # ADMIN OPTION is per role there: another one is refused
        other = pg.unique("other")
        pg.create_role(leak.cluster, other, limit=1)
        with pytest.raises(NotConfiguredError, match="may not change role"):
            r.request("prod", raise_role_limit(other, 1, 2), REQUESTER)
