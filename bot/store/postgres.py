"""PostgreSQL backend: shared by several bot replicas (approvals, alert state, the lease)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from bot.errors import StoreError
from bot.redact import redact_text
from bot.store.backend import Cursorish, Store, pyformat, split_script, statement

_AUDIT_GUARD = """
CREATE OR REPLACE FUNCTION pgconn_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$fn$
"""
_AUDIT_TRIGGER = (
    "DO $do$ BEGIN "
    "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_append_only') THEN "
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION pgconn_audit_append_only(); "
    "END IF; END $do$"
)


class _Cursor(Cursorish):
    def __init__(self, cur: psycopg.Cursor[dict[str, Any]]) -> None:
        self._cur = cur
        self.rowcount = cur.rowcount

    def rows(self) -> list[Mapping[str, Any]]:
        return list(self._cur.fetchall())


class PostgresStore(Store):
    integrity_errors = (psycopg.errors.UniqueViolation,)

    def __init__(self, dsn: str, *, max_size: int = 4) -> None:
        try:
            # A direct connection first: it fails fast and clearly where a pool would retry.
            with psycopg.connect(dsn, application_name="pgconn-store") as conn, conn.transaction():
                # Replicas starting together must not race on CREATE TABLE IF NOT EXISTS.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('pgconn-store-schema'))")
                for ddl in split_script(statement("schema")):
                    conn.execute(ddl.encode())
                conn.execute(_AUDIT_GUARD.encode())
                conn.execute(_AUDIT_TRIGGER.encode())
        except psycopg.Error as exc:
            # Not chained: psycopg's exception keeps the connection parameters.
            raise StoreError(
                f"cannot open the PostgreSQL state store: {redact_text(str(exc))}"
            ) from None
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            open=True,
            kwargs={"application_name": "pgconn-store"},
        )

    @contextmanager
    def _run(self, name: str, params: Mapping[str, Any]) -> Iterator[Cursorish]:
        with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=dict_row) as cur,
        ):
            cur.execute(pyformat(statement(name)).encode(), dict(params))
            yield _Cursor(cur)

    def healthy(self) -> bool:
        try:
            with self._pool.connection(timeout=2) as conn:
                # A standby or a read-only default would fail every write: not ready.
                row = conn.execute(
                    "SELECT NOT pg_is_in_recovery() "
                    "AND current_setting('default_transaction_read_only') = 'off'"
                ).fetchone()
                if not row or not row[0]:
                    return False
        except Exception:  # any failure means not ready
            return False
        return True

    def close(self) -> None:
        self._pool.close()
