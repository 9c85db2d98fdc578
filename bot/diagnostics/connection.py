"""Diagnostics connections: read-only by construction, short timeouts, named `pgconn`.

Read-only and lock_timeout are set in the startup packet (`options`), so they cost no round trip.
statement_timeout and idle_in_transaction_session_timeout are not: a startup option would hide
the server's own values, which the diagnosis reports. The snapshot batch sets statement_timeout
locally after reading them, and the connection is in autocommit, so it never idles in a
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from bot.conninfo import dsn_misread, pgconn_conninfo
from bot.errors import CannotConnectError, ConfigError
from bot.redact import redact_for_dsn

APPLICATION_NAME = "pgconn"

READ_ONLY_OPTIONS = {
    "default_transaction_read_only": "on",
    "lock_timeout": "1s",
}


def readonly_conninfo(dsn: str, *, connect_timeout: int = 5) -> str:
    """The DSN with pgconn's read-only session settings and application_name forced. A DSN
    that libpq would misread (`dsn_misread`) is refused before anything is sent anywhere."""
    misread = dsn_misread(dsn)
    if misread:
        raise ConfigError([f"dsn: {misread}"])
    try:
        return pgconn_conninfo(
            dsn,
            application_name=APPLICATION_NAME,
            connect_timeout=connect_timeout,
            settings=READ_ONLY_OPTIONS,
        )
    except psycopg.ProgrammingError as exc:
        raise ConfigError(["dsn: not a valid libpq connection string or URI"]) from exc


def connect_readonly(
    dsn: str, *, secrets: Iterable[str] = (), connect_timeout: int = 5
) -> psycopg.Connection[tuple[object, ...]]:
    """Open a diagnostics connection (autocommit: a diagnosis is one implicit transaction).

    A refusal becomes CannotConnectError carrying the server's text, passwords masked; the
    caller classifies it (it is often the very incident being diagnosed).
    """
    conninfo = readonly_conninfo(dsn, connect_timeout=connect_timeout)
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as exc:
        message = redact_for_dsn(str(exc).strip(), dsn, secrets)
        # Not chained: psycopg's exception keeps the connection parameters, password included.
        raise CannotConnectError(message, getattr(exc, "sqlstate", None)) from None
