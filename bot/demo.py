"""`pgconn demo`: a real incident on a throwaway server, triaged end to end, then cleaned up.

A role `app_user` with CONNECTION LIMIT 8 is filled by an application "checkout" that leaks idle
sessions (two of them stuck idle in transaction); the next login is refused by the server, and
that real FATAL text is what `explain` reads. Diagnostics run as a `pg_monitor` role, as they
should in production.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.errors import PgconnError
from bot.playbooks import load_playbooks
from bot.service import analyse
from bot.triage.model import Report

ROLE, LIMIT, IDLE_IN_TX = "app_user", 8, 2


def _role(conn: psycopg.Connection[Any], name: str, password: str, extra: str) -> None:
    conn.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + extra).format(
            sql.Identifier(name), sql.Literal(password)
        )
    )


def run_demo(
    major: int | None = None,
    log: Callable[[str], None] = print,
    playbooks_dir: Path | None = None,
) -> Report:
    playbooks = load_playbooks(playbooks_dir)  # a bad directory fails before a server starts
    binaries = throwaway.find(major)
    log(f"starting a throwaway PostgreSQL {binaries.major} ({binaries.origin} binaries) ...")
    app_pw, monitor_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    held: list[psycopg.Connection[Any]] = []
    with throwaway.running(binaries.major) as server:
        log(f"  data directory {server.root} (removed at the end)")
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            _role(admin, ROLE, app_pw, f"CONNECTION LIMIT {LIMIT}")
            _role(admin, "pgconn_monitor", monitor_pw, "IN ROLE pg_monitor")
        try:
            log(f"the application 'checkout' opens {LIMIT} sessions as {ROLE} and leaks them ...")
            for i in range(LIMIT):
                conn = psycopg.connect(
                    server.dsn(user=ROLE, password=app_pw, application_name="checkout")
                )
                conn.execute("SELECT 1")
                if i >= IDLE_IN_TX:
                    conn.commit()  # idle; the first IDLE_IN_TX stay idle in transaction
                held.append(conn)
            log("one more login as app_user ...")
            try:
                psycopg.connect(server.dsn(user=ROLE, password=app_pw)).close()
            except psycopg.OperationalError as exc:
                fatal = str(exc)
            else:
                raise PgconnError("the server accepted a login over the role's limit")
            log(f"  refused: {fatal}")
            found = signals.scan(fatal)
            cluster = ClusterConfig(
                name="demo", dsn=server.dsn(user="pgconn_monitor", password=monitor_pw)
            )
            log("explain -> diagnose -> triage ...\n")
            return analyse(found, cluster, playbooks, secrets=[app_pw, monitor_pw])
        finally:
            for conn in held:
                conn.close()
