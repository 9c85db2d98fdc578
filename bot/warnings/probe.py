"""The light probe of one cluster: one query (`bot/sql/probe.sql`), one round trip, on a
connection kept open between probes and opened again when it fails.

The connection is diagnostics' read-only one (`readonly_conninfo`: read-only, lock_timeout,
application_name pgconn, autocommit), with `connect_timeout` and a `statement_timeout` set in the
startup packet: the probe does not report the server's own statement_timeout, so setting it
costs no round trip. A server that stops answering altogether (a hung host, a black-holed
network) is not bounded by either; `abort()` shuts the socket down from the watchdog's thread so
the probing thread gets an error instead of waiting forever.

In a bot (`pgconn serve`), the prober is given the cluster's kept diagnostics connection
(`keeper`) and runs on it, so pgconn holds one connection per cluster and replica, not two (the
connection budget in docs/guarantees.md). That connection's client-side deadline bounds the
probe; the server's statement_timeout there is the server's own.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bot.config import ClusterConfig
from bot.diagnostics import queries
from bot.diagnostics.connection import readonly_conninfo
from bot.diagnostics.keeper import Keeper
from bot.errors import ConfigError, DeadlineError, DiagnosticsError, PoolerError
from bot.headroom import Headroom, Scope
from bot.pgbouncer import read_pooler
from bot.pgbouncer.usage import PoolerLevels, pooler_levels
from bot.redact import redact_for_dsn
from bot.warnings.model import (
    EntityKind,
    Holder,
    Probe,
    ProbeFailure,
    ProbeOutcome,
    ServerLimits,
    Usage,
)

log = logging.getLogger(__name__)

QUERY = "probe"
MIN_VERSION = 120000


@functools.cache
def _statement(server_version: int) -> bytes:
    # One bytes object for every connection: each keeps its prepared statements keyed by it.
    return queries.query(QUERY, server_version).encode()


def probe_conninfo(dsn: str, timeout_s: int) -> str:
    """The DSN as the probe connects: read-only settings, connect_timeout and statement_timeout
    both at `timeout_s`."""
    info = readonly_conninfo(dsn, connect_timeout=timeout_s)
    options = str(conninfo_to_dict(info).get("options") or "")
    return make_conninfo(info, options=f"{options} -c statement_timeout={timeout_s * 1000}")


def pooler_usage(levels: PoolerLevels) -> Usage:
    """max_client_conn as a limited entity; the pools with clients queued are its holders."""
    return Usage(
        kind=EntityKind.POOLER,
        name="max_client_conn",
        current=levels.client_connections,
        limit=levels.max_client_conn,
        idle=0,
        idle_in_transaction=0,
        holders=tuple(
            Holder(
                application=f"{p.database}/{p.user}",
                client=f"PgBouncer (longest wait {p.maxwait_s:.0f} s)",
                state="waiting",
                count=p.clients_waiting,
            )
            for p in levels.waiting_pools[:5]
        ),
    )


def parse_rows(cluster: str, taken_at: float, rows: Sequence[tuple[Any, ...]]) -> Probe:
    """probe.sql's rows, typed: one server row, then one per limited role and database."""
    usages: list[Usage] = []
    limits = ServerLimits(max_connections=0, superuser_reserved=0, reserved=None)
    for row in rows:
        kind, name, limit, current, idle, idle_tx, top, max_conn, su_reserved, reserved = row[:10]
        own = int(row[10]) if len(row) > 10 and row[10] is not None else 0
        holders = tuple(
            Holder(
                application=str(app),
                client=str(client),
                state=None if state is None else str(state),
                count=int(n),
            )
            for app, client, state, n in top
        )
        entity = EntityKind(kind)
        if entity is EntityKind.SERVER:
            room = Headroom.of(
                Scope.SERVER,
                "",
                int(max_conn),
                int(current),
                own,
                reserved=int(max_conn) - int(limit),
            )
        else:
            scope = Scope.ROLE if entity is EntityKind.ROLE else Scope.DATABASE
            room = Headroom.of(scope, str(name), int(limit), int(current), own)
        usages.append(
            Usage(
                kind=entity,
                name=str(name),
                current=room.used,
                limit=room.usable if room.usable is not None else int(limit),
                idle=int(idle),
                idle_in_transaction=int(idle_tx),
                holders=holders,
                headroom=room,
            )
        )
        if entity is EntityKind.SERVER:
            limits = ServerLimits(
                max_connections=int(max_conn),
                superuser_reserved=int(su_reserved),
                reserved=None if reserved is None else int(reserved),
            )
    return Probe(cluster=cluster, taken_at=taken_at, limits=limits, usages=tuple(usages))


class Prober:
    """One cluster's probe and its kept connection. `probe()` runs on a worker thread and never
    raises for a cluster's own failures; `abort()` and `close()` may be called from another."""

    def __init__(
        self,
        cluster: ClusterConfig,
        *,
        timeout_s: int,
        secrets: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        keeper: Keeper | None = None,
    ) -> None:
        self.cluster = cluster
        self.timeout_s = timeout_s
        self.keeper = keeper
        self._secrets = list(secrets)
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._started: float | None = None  # monotonic, while a probe runs
        self._aborted = False

    @property
    def name(self) -> str:
        return self.cluster.name

    def now(self) -> float:
        return self._clock()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the kept connection (None while there is none)."""
        with self._lock:
            conn = self._conn
        if conn is None and self.keeper is not None:
            return self.keeper.backend_pid()
        return conn.info.backend_pid if conn is not None and not conn.closed else None

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._started is not None

    def overdue(self, now: float, limit_s: float) -> bool:
        """Whether the running probe has been at it longer than `limit_s` (monotonic clock)."""
        with self._lock:
            return self._started is not None and now - self._started > limit_s

    def probe(self) -> ProbeOutcome:
        with self._lock:
            if self._started is not None:
                return self._failure("the previous probe is still running (no answer)")
            self._started = time.monotonic()
            self._aborted = False
        try:
            return self._probe()
        finally:
            with self._lock:
                self._started = None

    def _probe(self) -> ProbeOutcome:
        if self.keeper is not None:
            return self._probe_kept(self.keeper)
        conn = self._conn
        if conn is not None and not conn.closed:
            try:
                return self._query(conn)
            except psycopg.Error as exc:
                if not (conn.broken or conn.closed) or self._aborted:
                    return self._query_failed(conn, exc)
                # The kept connection died between probes (restart, idle_session_timeout,
                # failover): one fresh attempt.
                self._drop()
                log.info(
                    "%s: kept probe connection lost (%s); reconnecting",
                    self.name,
                    self._redact(str(exc).strip()),
                )
        try:
            conn = self._connect()
        except psycopg.Error as exc:
            return self._failure(self._redact(str(exc).strip()) or type(exc).__name__)
        except ConfigError:
            return self._failure("the DSN is not a valid libpq connection string or URI")
        try:
            return self._query(conn)
        except psycopg.Error as exc:
            return self._query_failed(conn, exc)

    def _probe_kept(self, keeper: Keeper) -> ProbeOutcome:
        """On the kept diagnostics connection: no connection of the probe's own."""
        try:
            probe = keeper.use(self._rows).value
        except DeadlineError as exc:
            return self._failure(f"{exc}; the probe was abandoned")
        except DiagnosticsError as exc:  # refused: the message is already masked
            return self._failure(self._redact(str(exc).strip()) or type(exc).__name__)
        except psycopg.Error as exc:
            return self._failure(self._explain(exc))
        pooler = self._pooler()
        return replace(probe, usages=(*probe.usages, pooler)) if pooler else probe

    def _rows(self, conn: psycopg.Connection[Any]) -> Probe:
        if conn.info.server_version < MIN_VERSION:
            raise psycopg.NotSupportedError(
                f"PostgreSQL {conn.info.server_version // 10000} is not supported (12 or newer is)"
            )
        with conn.cursor() as cur:
            cur.execute(_statement(conn.info.server_version))
            rows = cur.fetchall()
        return parse_rows(self.name, self._clock(), rows)

    def _query_failed(self, conn: psycopg.Connection[Any], exc: psycopg.Error) -> ProbeFailure:
        if conn.broken or conn.closed:
            self._drop()
        if self._aborted:
            return self._failure(self._abort_reason())
        return self._failure(self._explain(exc))

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn = psycopg.connect(probe_conninfo(self.cluster.dsn, self.timeout_s), autocommit=True)
        with self._lock:
            self._conn = conn
        if conn.info.server_version < MIN_VERSION:
            self._drop()
            raise psycopg.NotSupportedError(
                f"PostgreSQL {conn.info.server_version // 10000} is not supported (12 or newer is)"
            )
        return conn

    def _query(self, conn: psycopg.Connection[tuple[Any, ...]]) -> Probe:
        probe = self._rows(conn)
        pooler = self._pooler()
        return replace(probe, usages=(*probe.usages, pooler)) if pooler else probe

    def _pooler(self) -> Usage | None:
        """PgBouncer's clients against max_client_conn, when the cluster has a pgbouncer_dsn.
        A console that cannot be read costs the warning for the pooler, not the cluster's."""
        dsn = self.cluster.pgbouncer_dsn
        if not dsn:
            return None
        try:
            levels = pooler_levels(read_pooler(dsn, secrets=self._secrets))
        except (PoolerError, ConfigError) as exc:
            log.warning("%s: PgBouncer's console could not be read: %s", self.name, exc)
            return None
        return pooler_usage(levels)

    def _explain(self, exc: psycopg.Error) -> str:
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return (
                f"the probe took longer than {self.timeout_s} s (statement_timeout); the "
                "server may be overloaded"
            )
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return (
                f"the monitoring role may not run the probe: {self._redact(str(exc))}. "
                "Grant it pg_monitor."
            )
        return f"the probe failed: {type(exc).__name__}: {self._redact(str(exc).strip())}"

    def _abort_reason(self) -> str:
        return f"no answer within {2 * self.timeout_s} s; the probe was abandoned"

    def _failure(self, reason: str) -> ProbeFailure:
        # libpq's messages span lines (a hint on the second); one line reads better in a list.
        return ProbeFailure(cluster=self.name, at=self._clock(), reason=" ".join(reason.split()))

    def _redact(self, text: str) -> str:
        return redact_for_dsn(text, self.cluster.dsn, self._secrets)

    def abort(self) -> None:
        """Unblock a probe stuck on a server that does not answer: shut the socket down (a
        duplicate of its descriptor, so the connection object stays consistent)."""
        with self._lock:
            conn = self._conn
            if self._started is None or conn is None:
                return  # on a kept connection, the keeper's own deadline steps in
            self._aborted = True
        try:
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, psycopg.Error):
            pass  # already closed: the probe is failing on its own

    def _drop(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def close(self) -> None:
        self._drop()
