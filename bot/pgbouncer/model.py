"""What PgBouncer's admin console showed, typed and frozen. No raw rows past the console module.

Columns differ between PgBouncer versions; a value a version does not show is None (or the
documented default), never a guess. Durations are seconds (float).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# PgBouncer's own console: a pool, a database and clients that are not an application's.
ADMIN_DATABASE = "pgbouncer"

# Pool modes in which a server connection changes hands between clients.
SHARED_MODES = frozenset({"transaction", "statement"})


@dataclass(frozen=True, slots=True)
class Pool:
    """One (database, user) pair of SHOW POOLS. `pool_mode` is None before PgBouncer showed it."""

    database: str
    user: str
    cl_active: int
    cl_waiting: int
    sv_active: int
    sv_idle: int
    sv_used: int
    sv_tested: int
    sv_login: int
    maxwait_s: float
    pool_mode: str | None

    @property
    def servers(self) -> int:
        """Server connections the pool holds, in any state (logins in progress included)."""
        return self.sv_active + self.sv_idle + self.sv_used + self.sv_tested + self.sv_login

    @property
    def admin(self) -> bool:
        return self.database == ADMIN_DATABASE


@dataclass(frozen=True, slots=True)
class PoolerConnection:
    """A row of SHOW CLIENTS or SHOW SERVERS. For a server, `remote_pid` is the PostgreSQL
    backend's pid and `user` the role PgBouncer logged in as."""

    kind: str  # "client" or "server"
    user: str
    database: str
    state: str
    addr: str | None
    port: int | None
    application_name: str
    wait_s: float
    remote_pid: int | None
    linked: bool
    prepared_statements: int | None = None


@dataclass(frozen=True, slots=True)
class PoolerDatabase:
    """A [databases] entry of SHOW DATABASES. `max_connections` is max_db_connections (0: none);
    `server_database` the PostgreSQL database it points to; `force_user` the role every pool
    of this entry logs in as, when the entry names one."""

    name: str
    host: str | None
    port: int | None
    server_database: str
    force_user: str | None
    pool_size: int | None
    reserve_pool: int | None
    pool_mode: str | None
    max_connections: int
    current_connections: int
    paused: bool
    disabled: bool


@dataclass(frozen=True, slots=True)
class PoolerUser:
    """A row of SHOW USERS. Before PgBouncer 1.23 only `name` and `pool_mode` are shown: the
    other values are None, and per-user max_user_connections from [users] is not visible."""

    name: str
    pool_mode: str | None
    pool_size: int | None = None
    reserve_pool_size: int | None = None
    max_user_connections: int | None = None
    current_connections: int | None = None


@dataclass(frozen=True, slots=True)
class PoolerConfig:
    """The settings of SHOW CONFIG that bound connections or change what a session may do.
    0 means unlimited / off, as in pgbouncer.ini. `max_prepared_statements` is None before 1.21
    (no protocol-level prepared statement support in transaction mode)."""

    max_client_conn: int
    default_pool_size: int
    min_pool_size: int
    reserve_pool_size: int
    reserve_pool_timeout_s: float
    pool_mode: str
    max_db_connections: int
    max_user_connections: int
    query_wait_timeout_s: float
    server_login_retry_s: float
    client_idle_timeout_s: float
    server_idle_timeout_s: float
    idle_transaction_timeout_s: float
    server_reset_query: str
    server_reset_query_always: bool
    max_prepared_statements: int | None = None
    track_extra_parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolerLists:
    """Counters of SHOW LISTS. `used_clients` is what max_client_conn is checked against."""

    used_clients: int
    login_clients: int
    used_servers: int
    pools: int


@dataclass(frozen=True, slots=True)
class PoolerSnapshot:
    """One reading of PgBouncer's console. `taken_at` is pgconn's clock (the console has none).

    Console connections (pgconn's included) are left out of `clients`; PgBouncer counts them in
    `lists.used_clients`, which `client_connections` corrects for pgconn's own.
    """

    version: str
    taken_at: datetime
    config: PoolerConfig
    pools: tuple[Pool, ...]
    clients: tuple[PoolerConnection, ...]
    servers: tuple[PoolerConnection, ...]
    databases: tuple[PoolerDatabase, ...]
    users: tuple[PoolerUser, ...]
    lists: PoolerLists

    @property
    def app_pools(self) -> tuple[Pool, ...]:
        """Pools of applications (the console's own pool left out)."""
        return tuple(p for p in self.pools if not p.admin)

    @property
    def client_connections(self) -> int:
        """Client connections PgBouncer counts against max_client_conn, pgconn's excluded."""
        return max(self.lists.used_clients - 1, 0)

    def database(self, name: str) -> PoolerDatabase | None:
        return next((d for d in self.databases if d.name == name), None)

    def user(self, name: str) -> PoolerUser | None:
        return next((u for u in self.users if u.name == name), None)

    def pool_size(self, pool: Pool) -> int:
        """The pool's size: the user's override (1.23+), else its database's, else the default."""
        u = self.user(pool.user)
        if u is not None and u.pool_size is not None and u.pool_size >= 0:
            return u.pool_size
        d = self.database(pool.database)
        if d is not None and d.pool_size is not None and d.pool_size >= 0:
            return d.pool_size
        return self.config.default_pool_size

    def reserve_pool(self, pool: Pool) -> int:
        u = self.user(pool.user)
        if u is not None and u.reserve_pool_size is not None and u.reserve_pool_size >= 0:
            return u.reserve_pool_size
        d = self.database(pool.database)
        if d is not None and d.reserve_pool is not None and d.reserve_pool >= 0:
            return d.reserve_pool
        return self.config.reserve_pool_size

    def pool_mode(self, pool: Pool) -> str:
        """The mode the pool runs in: shown by SHOW POOLS, else user, database, default."""
        if pool.pool_mode:
            return pool.pool_mode
        u = self.user(pool.user)
        d = self.database(pool.database)
        return (u.pool_mode if u else None) or (d.pool_mode if d else None) or self.config.pool_mode

    def server_role(self, pool: Pool) -> str:
        """The PostgreSQL role the pool's server connections log in as."""
        d = self.database(pool.database)
        return d.force_user if d is not None and d.force_user else pool.user

    def server_database(self, pool: Pool) -> str:
        """The PostgreSQL database the pool's server connections use."""
        d = self.database(pool.database)
        return d.server_database if d is not None and d.server_database else pool.database

    def user_limit(self, user: str) -> int:
        """max_user_connections for `user` (0: none): per user when shown (1.23+), else global."""
        u = self.user(user)
        if u is not None and u.max_user_connections is not None:
            return u.max_user_connections
        return self.config.max_user_connections

    def user_servers(self, user: str) -> int:
        """Server connections `user`'s pools hold now, across databases."""
        u = self.user(user)
        if u is not None and u.current_connections is not None:
            return u.current_connections
        return sum(p.servers for p in self.app_pools if p.user == user)
