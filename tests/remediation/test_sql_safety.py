"""Every statement a fix shows (and runs) parses as PostgreSQL whatever the names in it.

As in tests/playbooks/test_sql_safety.py: each statement is built with plain names and with
hostile ones; after the names are swapped for markers the parse trees must be identical, so no
name broke out of its quotes. Then hostile role names go through a real request and approval.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.remediation import Outcome, proposal_of
from bot.remediation.admin import display
from bot.remediation.model import OWN_APPLICATIONS
from bot.triage.actions import raise_role_limit, set_role_idle_tx_timeout
from tests import pg
from tests.playbooks.test_sql_safety import HOSTILE, _count, _tree
from tests.remediation.conftest import APPROVER, REQUESTER, Rig, admin_role, config, terminate

ROLE, DB, APP, CLIENT = "<ROLE>", "<DB>", "<APP>", "<CLIENT>"
PLAIN = {"role": "app_user", "database": "appdb", "application": "checkout", "client": "10.0.3.4"}
MARKERS = {"role": ROLE, "database": DB, "application": APP, "client": CLIENT}
STARTED = datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=UTC)


def _session_values(names: dict[str, str], kind: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        **names,
        "states": ["idle in transaction", "idle in transaction (aborted)"],
        "min_age_s": 600.0,
        "own_applications": list(OWN_APPLICATIONS),
        "allow_superuser": False,
        "pids": [4242, 70000],
        "backend_starts": [STARTED, STARTED],
    }
    if kind == "admin_cancel":
        values["query_starts"] = [STARTED, None]
    return values


def _statements(names: dict[str, str]) -> dict[str, str]:
    """Every admin statement that is shown to people or runs with these names in it."""
    v = 180000
    out = {
        kind: display(kind, v, values=_session_values(names, kind))
        for kind in ("admin_terminate", "admin_cancel")
    }
    out["admin_sessions"] = display(
        "admin_sessions",
        v,
        values={**names, "states": ["idle"], "min_age_s": 0.0, "scan_limit": 10_000},
    )
    out["admin_role"] = display("admin_role", v, values={"role": names["role"]})
    out["admin_role_post_160000"] = display("admin_role", 160000, values={"role": names["role"]})
    out["admin_role_pre16"] = display("admin_role", 150000, values={"role": names["role"]})
    out["admin_database"] = display("admin_database", v, values={"database": names["database"]})
    out["admin_remaining"] = display(
        "admin_remaining", v, values={"pids": [1, 2], "backend_starts": [STARTED, STARTED]}
    )
    out["admin_alter_role_conn_limit"] = display(
        "admin_alter_role_conn_limit", v, identifiers={"role": names["role"]}, values={"limit": 25}
    )
    out["admin_alter_database_conn_limit"] = display(
        "admin_alter_database_conn_limit",
        v,
        identifiers={"database": names["database"]},
        values={"limit": -1},
    )
    out["admin_alter_role_idle_tx_timeout"] = display(
        "admin_alter_role_idle_tx_timeout",
        v,
        identifiers={"role": names["role"]},
        values={"timeout": "5min"},
    )
    return out


def _unique(base: str) -> str:
    """`base` with a random tag, within PostgreSQL's 63 bytes (the shared server keeps roles)."""
    tag = secrets.token_hex(2)
    while len((base + tag).encode()) > 63:
        base = base[:-1]
    return base + tag


def _markers(names: dict[str, str]) -> dict[str, str]:
    return {names[k]: MARKERS[k] for k in names}


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_stay_quoted(hostile: str) -> None:
    evil = {
        "role": hostile,
        "database": hostile[:-1] + "#",
        "application": f"app {hostile}",
        "client": f"{hostile} c",
    }
    plain_sql = _statements(PLAIN)
    evil_sql = _statements(evil)
    assert plain_sql.keys() == evil_sql.keys()
    for name, statement in evil_sql.items():
        plain_tree = _tree(plain_sql[name], _markers(PLAIN))
        evil_tree = _tree(statement, _markers(evil))
        assert evil_tree == plain_tree, statement
        for key, marker in MARKERS.items():
            assert _count(evil_tree, marker) == _count(plain_tree, marker), (name, key)


def test_every_admin_sql_file_is_covered() -> None:
    from bot.diagnostics.queries import SQL_DIR

    files = {p.stem for p in SQL_DIR.glob("admin_*.sql")} - {"admin_whoami"}
    assert files <= set(_statements(PLAIN))
    assert display("admin_role", 150000, values={"role": "r"}) != display(
        "admin_role", 160000, values={"role": "r"}
    )


# PostgreSQL's grammar refuses these as role names even quoted, so no such role can exist.
RESERVED_ROLE_NAMES = {"none", "public"}


@settings(max_examples=150, deadline=None)
@given(
    role=st.text(min_size=1, max_size=63).filter(
        lambda s: (
            "\x00" not in s
            and len(s.encode()) <= 63
            and s not in PLAIN.values()
            and s not in RESERVED_ROLE_NAMES
        )
    )
)
def test_any_role_name_stays_quoted(role: str) -> None:
    plain_sql = _statements(PLAIN)
    # A name equal to a word of the statements (an operator, 'idle') cannot be told apart.
    assume(not any(_count(_tree(s, {}), role) for s in plain_sql.values()))
    any_sql = _statements({**PLAIN, "role": role})
    for name, statement in any_sql.items():
        assert _tree(statement, {**_markers(PLAIN), role: ROLE}) == _tree(
            plain_sql[name], _markers(PLAIN)
        ), statement


@pytest.mark.parametrize(
    "hostile", ['a"b', "x; DROP ROLE admin; --", "o'brien", "角" * 21, "back\\slash"]
)
def test_hostile_role_names_on_a_real_server(
    cluster: Any, holder: pg.Holder, rig: Rig, hostile: str
) -> None:
    role = _unique(hostile)
    pw = pg.create_role(cluster, role, limit=2)
    pids = holder.open(2, role, pw)
    r = rig.remediation(config(cluster, admin_role(cluster, superuser=True), rig.tmp_path))

    req = r.request("prod", terminate(role), REQUESTER)
    assert sorted(t.pid for t in proposal_of(req).targets) == sorted(pids)
    _tree(req.statement, {})  # parses
    done = r.approve(req.id, APPROVER)
    assert done.result is not None
    assert sorted(done.result.gone) == sorted(pids)

    for action in (raise_role_limit(role, 2, 4), set_role_idle_tx_timeout(role, "30s")):
        req = r.request("prod", action, REQUESTER)
        _tree(req.statement, {})
        assert r.approve(req.id, APPROVER).outcome is Outcome.DONE
    with pg.admin(cluster) as conn:
        row = conn.execute(
            "SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = %s", [role]
        ).fetchone()
    assert row == (4, ["idle_in_transaction_session_timeout=30s"])
