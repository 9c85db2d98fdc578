"""Poolers other than PgBouncer: their own refusals and wait timeouts, as their clients and
logs show them, with the pooler named. Each text is the one the pooler's source sends
(cited per group); the client layouts come from `shapes`."""

from __future__ import annotations

from typing import Any

import pytest

from bot.playbooks import load_playbooks
from bot.signals import SignalKind, scan
from bot.triage import triage

from . import shapes

K = SignalKind
LIMIT, WAIT = K.POOLER_CLIENT_LIMIT, K.POOLER_WAIT_TIMEOUT


def expect(kind: SignalKind, pooler: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "pooler": pooler, "detail": detail, **extra}


CASES = [
    # supabase/supavisor lib/supavisor/errors/max_connections_error.ex and
    # checkout_timeout_error.ex: FATAL XX000 "(CODE) message" to the client (error.ex).
    (
        "supavisor transaction/proxy mode, libpq",
        shapes.libpq14("(EMAXCONN) max client connections reached, limit: 200"),
        expect(LIMIT, "supavisor", "supavisor EMAXCONN limit=200", sqlstate="XX000"),
    ),
    (
        "supavisor session mode pool_size, psycopg2",
        shapes.psycopg2(
            "(EMAXCONNSESSION) max clients reached in session mode - max clients are limited "
            "to pool_size: 15"
        ),
        expect(
            LIMIT,
            "supavisor",
            "supavisor EMAXCONNSESSION session mode pool_size=15",
            source="supavisor",
        ),
    ),
    (
        "supavisor log, transaction mode",
        "12:00:00.123 region=eu-central-1 project=abc user=app mode=transaction [error] "
        "ClientHandler: (EMAXCONN) max client connections reached in transaction mode, limit: 400",
        expect(LIMIT, "supavisor", "supavisor EMAXCONN transaction mode limit=400"),
    ),
    (
        "supavisor log, proxy mode",
        "[error] ClientHandler: (EMAXCONN) max proxy connections reached, limit: 1000",
        expect(LIMIT, "supavisor", "supavisor EMAXCONN proxy mode limit=1000"),
    ),
    (
        "supavisor checkout timeout, node",
        shapes.node_printed(
            "(ECHECKOUTTIMEOUT) unable to check out connection from the pool after 30000ms in "
            "Transaction mode",
            "XX000",
        ),
        expect(WAIT, "supavisor", "supavisor ECHECKOUTTIMEOUT Transaction mode after 30000ms"),
    ),
    # Supavisor before error codes: lib/supavisor/client_handler/error.ex.
    (
        "supavisor 1.x session mode, asyncpg",
        "asyncpg.exceptions.InternalServerError: MaxClientsInSessionMode: max clients reached - "
        "in Session mode max clients are limited to pool_size",
        expect(LIMIT, "supavisor", "supavisor MaxClientsInSessionMode session mode pool_size"),
    ),
    (
        "supavisor 1.x client limit, libpq",
        shapes.libpq14("Max client connections reached"),
        expect(LIMIT, "supavisor", "supavisor max clients", source="libpq"),
    ),
    (
        "supavisor 1.x checkout timeout",
        shapes.pgjdbc("Unable to check out connection from the pool due to timeout"),
        expect(WAIT, "supavisor", "supavisor checkout timeout"),
    ),
    # pgpool/pgpool2 src/protocol/child.c: its own limit (reserved_connections > 0) sends
    # PostgreSQL's wording with a capital S, FATAL 53300.
    (
        "pgpool own limit, libpq",
        shapes.libpq14("Sorry, too many clients already"),
        expect(
            LIMIT, "pgpool", "pgpool num_init_children - reserved_connections", sqlstate="53300"
        ),
    ),
    (
        "pgpool own limit, its log",
        "2024-05-01 12:00:00.123: main pid 4711: ERROR:  Sorry, too many clients already",
        expect(LIMIT, "pgpool", "pgpool num_init_children - reserved_connections"),
    ),
    # pgdogdev/pgdog pgdog/src/backend/pool/error.rs CheckoutTimeout, sent as ERROR 58000 by
    # ErrorResponse::from_err (pgdog/src/net/messages/error_response.rs).
    (
        "pgdog checkout timeout, pgx",
        shapes.pgx("checkout timeout", "58000"),
        expect(WAIT, "pgdog", "pgdog checkout_timeout", sqlstate="58000"),
    ),
    (
        "pgdog checkout timeout, psql",
        "ERROR:  checkout timeout",
        expect(WAIT, "pgdog", "pgdog checkout_timeout"),
    ),
    # postgresml/pgcat src/client.rs: "could not get connection from the pool - {err}" with
    # FATAL 58000 (src/messages.rs error_response_terminal); errors print their Debug name.
    (
        "pgcat, libpq",
        shapes.libpq14("could not get connection from the pool - AllServersDown"),
        expect(WAIT, "pgcat", "pgcat AllServersDown", sqlstate="58000"),
    ),
    # yandex/odyssey sources/frontend.c, KIWI_TOO_MANY_CONNECTIONS (53300), each message
    # prefixed "odyssey: <client id>: " (sources/include/frontend.h).
    (
        "odyssey pool_size reached after pool_timeout",
        shapes.libpq14(
            "odyssey: c2f4a1b9e0d3a: too many active clients for user (pool_size for user "
            "shop.app reached 20)"
        ),
        expect(WAIT, "odyssey", "odyssey pool_size=20 route=shop.app", sqlstate="53300"),
    ),
    (
        "odyssey global client_max",
        shapes.psycopg2(
            "odyssey: c0a1b2c3d4e5f: too many tcp connections (global client_max 2000)"
        ),
        expect(LIMIT, "odyssey", "odyssey global client_max=2000"),
    ),
    (
        "odyssey global client_max while routing",
        shapes.pgjdbc(
            "odyssey: c0a1b2c3d4e5f: too many client tcp connections (global client_max)"
        ),
        expect(LIMIT, "odyssey", "odyssey global client_max"),
    ),
    (
        "odyssey route client_max",
        shapes.node_printed(
            "odyssey: c0a1b2c3d4e5f: too many client tcp connections (client_max for user "
            "shop.app 100)"
        ),
        expect(LIMIT, "odyssey", "odyssey client_max=100 route=shop.app"),
    ),
    # AWS RDS user guide, "Troubleshooting for RDS Proxy", the RDS for PostgreSQL errors table.
    (
        "rds proxy borrow timeout, libpq",
        shapes.libpq14("Timed-out waiting to acquire database connection."),
        expect(WAIT, "rds_proxy", "rds_proxy ConnectionBorrowTimeout"),
    ),
    (
        "rds proxy client limit, psycopg2",
        shapes.psycopg2("The maximum number of client connections to the proxy exceeded 1000."),
        expect(LIMIT, "rds_proxy", "rds_proxy max client connections=1000"),
    ),
    # neondatabase/neon proxy/src/auth/mod.rs TooManyConnections and proxy/src/compute/mod.rs
    # (a connect permit not acquired).
    (
        "neon endpoint limit",
        shapes.node_printed(
            "Too many connections to this endpoint. Please try again later.", "XX000"
        ),
        expect(LIMIT, "neon", "neon endpoint connection limit"),
    ),
    (
        "neon connect permits",
        shapes.libpq14(
            "Failed to acquire permit to connect to the database. Too many database connection "
            "attempts are currently ongoing."
        ),
        expect(WAIT, "neon", "neon connect permits"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CASES])
def test_other_pooler(text: str, expected: dict[str, Any]) -> None:
    (s,) = scan(text)
    assert {k: getattr(s, k) for k in expected} == expected


def test_pgbouncer_signals_name_pgbouncer() -> None:
    (s,) = scan(shapes.pgbouncer_log("no more connections allowed (max_client_conn)"))
    assert (s.kind, s.pooler) == (LIMIT, "pgbouncer")


def test_server_refusals_name_no_pooler() -> None:
    (s,) = scan(shapes.libpq14("sorry, too many clients already"))
    assert (s.kind, s.pooler) == (K.MAX_CONNECTIONS, None)


def test_pgpool_capital_sorry_without_a_report_cannot_be_told_apart() -> None:
    # Alone on a line, a capitalised "Sorry" may be Pgpool-II's own limit or a person
    # retyping the server's refusal: reported as the server's, saying so.
    (s,) = scan("Sorry, too many clients already")
    assert (s.kind, s.pooler) == (K.MAX_CONNECTIONS, None)
    assert s.detail is not None and "cannot tell" in s.detail


def test_rds_proxy_for_mysql_is_not_a_postgres_signal() -> None:
    assert scan("Error 9501: Timed-out waiting to acquire database connection") == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(CASES[1][1], "Supavisor refused the client", id="supavisor"),
        pytest.param(CASES[8][1], "num_init_children × max_pool", id="pgpool"),
        pytest.param(CASES[13][1], "Odyssey waited pool_timeout", id="odyssey"),
        pytest.param(CASES[17][1], "ConnectionBorrowTimeout expired", id="rds proxy"),
        pytest.param(CASES[10][1], "checkout timed out", id="pgdog"),
    ],
)
def test_playbook_speaks_of_the_pooler_that_refused(text: str, words: str) -> None:
    report = triage(scan(text), None, cluster=None, playbooks=load_playbooks())
    (finding,) = report.findings
    assert finding.playbook is not None
    assert words in finding.playbook.now[0]
    assert "PgBouncer" not in finding.playbook.title
    assert not any("PgBouncer queued" in s or "PgBouncer's own" in s for s in finding.playbook.now)


def test_pgbouncer_playbook_is_unchanged_for_pgbouncer() -> None:
    report = triage(
        scan(shapes.libpq14("no more connections allowed (max_client_conn)")),
        None,
        cluster=None,
        playbooks=load_playbooks(),
    )
    (finding,) = report.findings
    assert finding.playbook is not None
    assert finding.playbook.title == "PgBouncer is refusing clients (max_client_conn)"
    assert finding.playbook.now[0].startswith("PgBouncer's own client limit was hit")
