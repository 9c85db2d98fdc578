"""The admin connection fixes run on, and the admin SQL files.

Only `admin_dsn` is ever used here, never the read-only diagnostics DSN. The connection is named
`pgconn-admin` (so no fix ever selects it), has short timeouts set in the startup packet, and is
in autocommit: each check-and-signal is one statement on its own.

Admin SQL files (`bot/sql/admin_*.sql`) name their values `{name}`. `compose` fills them with
placeholders to run (values travel as parameters) or with quoted literals to show people the
exact statement; identifiers are always `psycopg.sql.Identifier`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql

from bot.conninfo import pgconn_conninfo
from bot.diagnostics import queries
from bot.redact import redact_for_dsn, redact_text
from bot.remediation.errors import AdminConnectionError

log = logging.getLogger(__name__)

APPLICATION_NAME = "pgconn-admin"
CONNECT_TIMEOUT_S = 5
# A fix is a handful of short statements; none may wait long on a lock or a busy server.
SESSION_OPTIONS = {
    "statement_timeout": "10s",
    "lock_timeout": "2s",
    "idle_in_transaction_session_timeout": "15s",
}

_COMMENT = re.compile(r"^\s*--.*$\n?", re.M)


def admin_conninfo(dsn: str) -> str:
    """`dsn` with pgconn's admin name, timeouts and a connect timeout of at most 5 s."""
    try:
        return pgconn_conninfo(
            dsn,
            application_name=APPLICATION_NAME,
            connect_timeout=CONNECT_TIMEOUT_S,
            settings=SESSION_OPTIONS,
        )
    except psycopg.ProgrammingError:
        raise AdminConnectionError(
            "admin_dsn is not a valid libpq connection string or URI; fix it in the config"
        ) from None


def connect_admin(
    dsn: str, cluster: str, *, secrets: Iterable[str] = ()
) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(admin_conninfo(dsn), autocommit=True)
    except psycopg.OperationalError as exc:
        reason = redact_for_dsn(str(exc).strip(), dsn, secrets)
        # Not chained: psycopg's exception keeps the connection parameters, password included.
        raise AdminConnectionError(
            f"pgconn could not open its admin connection to {cluster}: {reason}. Check the "
            "cluster's admin_dsn and that its role can still connect (give it reserved "
            "connections: superuser, or pg_use_reserved_connections on PostgreSQL 16+)."
        ) from None


def statement_text(name: str, server_version_num: int) -> str:
    """The admin SQL file `name` without its comments."""
    return _COMMENT.sub("", queries.query(name, server_version_num)).strip()


def compose(
    name: str,
    server_version_num: int,
    *,
    values: Mapping[str, Any] | None = None,
    identifiers: Mapping[str, str] | None = None,
    shown: bool = False,
) -> sql.Composed:
    """The statement with `identifiers` quoted and `values` as placeholders (to run) or, with
    `shown`, as literals (to display)."""
    parts: dict[str, sql.Composable] = {
        k: sql.Identifier(v) for k, v in (identifiers or {}).items()
    }
    for key, value in (values or {}).items():
        parts[key] = sql.Literal(value) if shown else sql.Placeholder(key)
    return sql.SQL(statement_text(name, server_version_num)).format(**parts)


def display(
    name: str,
    server_version_num: int,
    *,
    values: Mapping[str, Any] | None = None,
    identifiers: Mapping[str, str] | None = None,
) -> str:
    """The exact statement as people see it (values quoted by psycopg)."""
    return compose(
        name, server_version_num, values=values, identifiers=identifiers, shown=True
    ).as_string(None)


def fail(
    cluster: str, what: str, exc: psycopg.Error, secrets: Iterable[str]
) -> AdminConnectionError:
    """A driver error on the admin connection, as a message fit to show (secrets masked)."""
    reason = redact_text(f"{type(exc).__name__}: {str(exc).strip()}", secrets)
    log.warning("%s on %s failed: %s", what, cluster, reason)
    return AdminConnectionError(f"{what} on {cluster} failed: {reason}")
