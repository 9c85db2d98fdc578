"""Diagnostics connections kept open between uses, so pgconn holds its slot before an incident.

When a server is at max_connections, a new connection is refused exactly when a diagnosis is
needed. A long-running bot therefore keeps one connection per cluster (and one to PgBouncer's
console) open. Each use:

- checks the connection without a round trip: not closed or broken, no transaction open, and
  nothing on the socket saying the server ended it (libpq reads only what has already arrived);
- runs the work; if the connection turns out dead (the check cannot see a silent network
  failure), opens a new one and runs the work once more;
- waits at most `wait_s` for another thread using the same connection, then runs on a one-off
  connection instead of queueing behind it.

A connection that cannot be opened is retried with exponential backoff and jitter, capped: a
use during the backoff fails at once with the last refusal (unless the next attempt is due
within `wait_s`), so a refusing server is not hammered and a user is not kept waiting.
`Keepers.start()` runs a background thread that reopens lost connections on that schedule and
pings idle ones before the server's idle_session_timeout would end them.

A Keeper works on any psycopg connection; `Keepers` makes one per cluster for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.pq import ConnStatus, TransactionStatus

from bot.config import ClusterConfig
from bot.diagnostics import queries
from bot.diagnostics.connection import connect_readonly
from bot.diagnostics.deadline import GRACE_S, QUERY_S, bounded
from bot.errors import DeadlineError, DiagnosticsError
from bot.redact import redact_text

log = logging.getLogger("pgconn.keeper")

T = TypeVar("T")

# The connection budget (docs/guarantees.md): per cluster and replica, the kept diagnostics
# connection (diagnoses, `/pgconn list` and the warnings probe all use it) and, at most rarely,
# one one-off connection while a diagnosis outlasts the wait for the kept one.
PER_REPLICA = 2


def replicas() -> int:
    """How many `pgconn serve` processes share the clusters (PGCONN_REPLICAS; the Helm chart
    sets it from replicaCount)."""
    try:
        return max(1, int(os.environ.get("PGCONN_REPLICAS", "1")))
    except ValueError:
        return 1


def budget(replica_count: int) -> int:
    """Connections the monitoring role needs per cluster with this many replicas."""
    return PER_REPLICA * replica_count


def budget_problem(role: str, conn_limit: int, replica_count: int) -> str | None:
    """Why `role`'s CONNECTION LIMIT cannot hold pgconn's budget, or None."""
    need = budget(replica_count)
    if conn_limit < 0 or conn_limit >= need:
        return None
    return (
        f'the monitoring role "{role}" has CONNECTION LIMIT {conn_limit}, but pgconn may hold '
        f"{need} connections ({PER_REPLICA} per replica × {replica_count} "
        f"replica{'s' if replica_count != 1 else ''}: the kept diagnostics connection and one "
        "one-off while a diagnosis outlasts the wait for it); diagnoses will be refused when "
        f'they matter most. Run ALTER ROLE "{role}" CONNECTION LIMIT {need} '
        '(docs/guarantees.md, "Connection budget")'
    )


def check_budget(name: str, conn: Connection, replica_count: int) -> str | None:
    """Read the monitoring role's limit on a fresh connection (one round trip) and warn."""
    sql = queries.query("own_role_limit", conn.info.server_version)
    try:
        with bounded(conn, what=name):
            row = conn.execute(sql.encode()).fetchone()
    except (psycopg.Error, DiagnosticsError):
        return None  # the diagnosis that follows says what is wrong with the connection
    if row is None:
        return None
    problem = budget_problem(str(row[0]), int(row[1]), replica_count)
    if problem:
        log.warning("%s: %s", name, problem)
    return problem


Connection = psycopg.Connection[Any]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before the n-th retry: base × factor^(n-1), capped, with equal jitter (half fixed,
    half random), so many pgconn processes do not retry in step."""

    base_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 30.0

    def delay(self, failures: int, rnd: Callable[[], float] = random.random) -> float:
        step = min(self.cap_s, self.base_s * self.factor ** max(failures - 1, 0))
        return step / 2 + rnd() * step / 2


@dataclass(frozen=True, slots=True)
class Use(Generic[T]):
    """What a use returned and on which connection: `kept` when it ran on a connection that was
    already open before the call (so pgconn did not need a new slot), `opened_at` when the
    connection used was opened."""

    value: T
    kept: bool
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class KeeperState:
    """For reports and logs: is a connection held, since when, and the last refusal."""

    connected: bool
    opened_at: datetime | None
    failures: int
    last_error: str | None
    retry_in_s: float


def alive(conn: Connection) -> bool:
    """Whether `conn` looks usable, without a round trip. Two non-blocking reads: the first
    takes in a FATAL the server may have sent (terminated, shut down), the second the end of
    the stream that follows it."""
    if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
        return False
    try:
        for _ in range(2):
            conn.pgconn.consume_input()
    except psycopg.OperationalError:
        return False
    return conn.pgconn.status == ConnStatus.OK


class Keeper:
    """One kept connection. Thread-safe; `use` is the only way to reach the connection."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], Connection],
        *,
        ping: bytes = b"SELECT 1",
        backoff: Backoff | None = None,
        wait_s: float = 5.0,
        keepalive_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rnd: Callable[[], float] = random.random,
        deadline_s: float = QUERY_S,
        server: str | None = None,
        frozen_hold_s: float = 15.0,
    ) -> None:
        self.name = name
        self.server = server or name
        self.deadline_s = deadline_s
        self._frozen_hold_s = frozen_hold_s
        self._connect = connect
        self._ping = ping
        self._backoff = backoff or Backoff()
        self.wait_s = wait_s
        self._keepalive_s = keepalive_s
        self._idle_limit_s: float | None = None
        self._clock = clock
        self._sleep = sleep
        self._rnd = rnd
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._opened_at: datetime | None = None
        self._last_used = 0.0
        self._busy_since = 0.0
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error: DiagnosticsError | None = None
        self._closed = False
        self.server_version: int | None = None

    # --- public -----------------------------------------------------------------------------

    def use(self, work: Callable[[Connection], T]) -> Use[T]:
        """Run `work` on the kept connection (opened if needed). Raises what `work` raises, or
        the connect error (CannotConnectError, PoolerError) when no connection can be had."""
        if not self._lock.acquire(timeout=self.wait_s) and not self._outwait_stalled_use():
            log.info(
                "%s: kept connection busy for %.0f s; using a one-off one", self.name, self.wait_s
            )
            return self._one_off(work)
        self._busy_since = self._clock()
        try:
            if self._closed:
                return self._one_off(work)
            conn, kept = self._ready()
            try:
                value = self._bounded(conn, work)
            except DeadlineError:
                raise
            except Exception:
                if not kept or not (conn.closed or conn.broken):
                    raise
                # Died after the check (a silent network failure): once more, on a new one.
                log.info("%s: kept connection lost; reconnecting once", self.name)
                self._drop()
                conn, kept = self._open(), False
                value = self._bounded(conn, work)
            self._last_used = self._clock()
            return Use(value, kept, self._opened_at or datetime.now(UTC))
        finally:
            self._busy_since = 0.0
            self._lock.release()

    def warm(self) -> bool:
        """Open the connection now if it is not open and no retry is pending; True when held."""
        with self._lock:
            if self._closed:
                return False
            if self._conn is not None and alive(self._conn):
                return True
            self._drop()
            if self._clock() < self._next_attempt:
                return False
            try:
                self._open()
            except DiagnosticsError:
                return False
            return True

    def maintain(self) -> None:
        """Background upkeep: reopen a lost connection when its retry is due, ping an idle one
        before the server's idle timeout. Skipped while a use holds the connection."""
        if not self._lock.acquire(blocking=False):
            return
        self._busy_since = self._clock()  # a use arriving meanwhile waits for this, not anew
        try:
            if self._closed:
                return
            conn = self._conn
            if conn is None or not alive(conn):
                self._drop()
                if self._clock() >= self._next_attempt:
                    try:
                        self._open()
                    except DiagnosticsError as exc:
                        log.warning("%s: cannot connect: %s", self.name, exc)
                return
            if self._clock() - self._last_used >= self._keepalive():
                try:
                    self._bounded(conn, lambda c: c.execute(self._ping))
                    self._last_used = self._clock()
                except (psycopg.Error, DiagnosticsError):
                    self._drop()
        finally:
            self._busy_since = 0.0
            self._lock.release()

    def expect_idle_limit(self, seconds: float | None) -> None:
        """The server ends sessions idle this long (its idle_session_timeout for pgconn's
        role); the keepalive ping comes well before. None or 0: no limit."""
        self._idle_limit_s = seconds or None

    def backend_pid(self) -> int | None:
        """The server process of the kept connection, if one is open (no round trip)."""
        conn = self._conn
        try:
            return conn.info.backend_pid if conn is not None and not conn.closed else None
        except psycopg.Error:
            return None

    def state(self) -> KeeperState:
        with self._lock:
            return KeeperState(
                connected=self._conn is not None and not self._conn.closed,
                opened_at=self._opened_at,
                failures=self._failures,
                last_error=str(self._last_error) if self._last_error else None,
                retry_in_s=max(self._next_attempt - self._clock(), 0.0),
            )

    def close(self) -> None:
        """Close the connection; later uses run on one-off connections."""
        with self._lock:
            self._closed = True
            self._drop()

    # --- internals (lock held) --------------------------------------------------------------

    def _keepalive(self) -> float:
        if self._idle_limit_s:
            return min(self._keepalive_s, self._idle_limit_s / 3)
        return self._keepalive_s

    def _ready(self) -> tuple[Connection, bool]:
        conn = self._conn
        if conn is not None and alive(conn):
            return conn, True
        self._drop()
        return self._open(), False

    def _open(self) -> Connection:
        wait = self._next_attempt - self._clock()
        if wait > 0:
            if wait > self.wait_s and self._last_error is not None:
                raise self._last_error.with_traceback(None)
            self._sleep(wait)
        try:
            conn = self._connect()
        except DiagnosticsError as exc:
            self._failures += 1
            delay = self._backoff.delay(self._failures, self._rnd)
            if "timeout expired" in str(exc):
                # Accepted but unanswered (a frozen server): as after a query that timed out.
                delay = max(delay, self._frozen_hold_s)
            self._next_attempt = self._clock() + delay
            self._last_error = exc
            raise
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error = None
        self._conn = conn
        self._opened_at = datetime.now(UTC)
        self._last_used = self._clock()
        self.server_version = conn.info.server_version
        return conn

    def _outwait_stalled_use(self) -> bool:
        """The use ahead has had no answer for half its deadline: a new connection to the same
        server would most likely wait as long, so wait for the watchdog to settle that use
        instead (the answer it leaves behind is then given at once). True with the lock."""
        busy_since = self._busy_since
        if not busy_since or self._clock() - busy_since < self.deadline_s / 2:
            return False
        left = busy_since + self.deadline_s + 2 * GRACE_S - self._clock()
        return self._lock.acquire(timeout=max(left, 0.1))

    def _bounded(self, conn: Connection, work: Callable[[Connection], T]) -> T:
        """`work` within the deadline. A server that did not answer is not asked again for a
        while: the next uses get the same answer at once instead of each waiting it out."""
        try:
            with bounded(conn, self.deadline_s, what=self.server):
                return work(conn)
        except DeadlineError as exc:
            log.warning("%s: %s; connection abandoned", self.name, exc)
            if conn is self._conn:
                self._drop()
            self._failures += 1
            self._next_attempt = self._clock() + self._frozen_hold_s
            self._last_error = exc
            raise

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._opened_at = None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _one_off(self, work: Callable[[Connection], T]) -> Use[T]:
        opened = datetime.now(UTC)
        with self._connect() as conn, bounded(conn, self.deadline_s, what=self.server):
            return Use(work(conn), False, opened)


class Keepers:
    """The kept connections of a long-running process, one per cluster. Thread-safe. Close it
    on shutdown.

    PgBouncer's console is not kept: it is exempt from max_client_conn, so a new console
    connection gets in when applications are refused, while a kept one would count against
    max_client_conn (PgBouncer counts console clients too) and take a slot from them."""

    def __init__(
        self,
        *,
        secrets: Sequence[str] = (),
        backoff: Backoff | None = None,
        wait_s: float = 5.0,
        keepalive_s: float = 60.0,
        replica_count: int | None = None,
    ) -> None:
        self._secrets = tuple(secrets)
        self._replicas = replica_count or replicas()
        # Per cluster, once connected: why the monitoring role's limit is too low, or None.
        self.budget_problems: dict[str, str | None] = {}
        self._backoff = backoff or Backoff()
        self._wait_s = wait_s
        self._keepalive_s = keepalive_s
        self._lock = threading.Lock()
        self._keepers: dict[tuple[str, str, str], Keeper] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def postgres(self, cluster: ClusterConfig) -> Keeper:
        secrets = self._secrets
        checked: list[bool] = []

        def connect() -> Connection:
            conn = connect_readonly(cluster.dsn, secrets=secrets)
            if not checked:  # once per cluster: the first connection pgconn opens to it
                checked.append(True)
                self.budget_problems[cluster.name] = check_budget(
                    cluster.name, conn, self._replicas
                )
            return conn

        return self._get(
            ("postgres", cluster.name, cluster.dsn),
            lambda: Keeper(
                f"{cluster.name} (PostgreSQL)",
                connect,
                backoff=self._backoff,
                wait_s=self._wait_s,
                keepalive_s=self._keepalive_s,
                server=cluster.name,
            ),
        )

    def warm(self, clusters: Iterable[ClusterConfig]) -> None:
        """Open every cluster's connection now (failures are retried by `start`'s thread)."""
        for cluster in clusters:
            keeper = self.postgres(cluster)
            if not keeper.warm():
                log.warning(
                    "%s: not connected yet: %s",
                    keeper.name,
                    redact_text(keeper.state().last_error or "", self._secrets),
                )

    def start(self, clusters: Iterable[ClusterConfig] = (), interval_s: float = 5.0) -> None:
        """Start the upkeep thread (daemon): it opens `clusters`' connections at once (start-up
        is not held up by a slow cluster), then reconnects with backoff and pings idle ones."""
        for cluster in clusters:
            self.postgres(cluster)
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, args=(interval_s,), name="pgconn-keeper", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        with self._lock:
            keepers = list(self._keepers.values())
            self._keepers.clear()
        for keeper in keepers:
            keeper.close()

    def _get(self, key: tuple[str, str, str], make: Callable[[], Keeper]) -> Keeper:
        with self._lock:
            keeper = self._keepers.get(key)
            if keeper is None:
                keeper = self._keepers[key] = make()
            return keeper

    def _run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            with self._lock:
                keepers = list(self._keepers.values())
            for keeper in keepers:
                try:
                    keeper.maintain()
                except Exception as exc:  # the upkeep thread must survive anything
                    log.exception(
                        "%s: upkeep failed: %s", keeper.name, redact_text(str(exc), self._secrets)
                    )
            self._stop.wait(interval_s)
