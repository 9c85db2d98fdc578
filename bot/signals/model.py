"""What `explain` finds in pasted text."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SignalKind(StrEnum):
    """Stable identifiers: they appear in JSON output and select playbooks."""

    ROLE_LIMIT = "role_limit"
    DATABASE_LIMIT = "database_limit"
    MAX_CONNECTIONS = "max_connections"
    RESERVED_SLOTS = "reserved_slots"
    WALSENDER_LIMIT = "walsender_limit"
    POOLER_CLIENT_LIMIT = "pooler_client_limit"
    POOLER_WAIT_TIMEOUT = "pooler_wait_timeout"
    APP_POOL_TIMEOUT = "app_pool_timeout"
    SERVER_NOT_READY = "server_not_ready"


@dataclass(frozen=True, slots=True)
class Signal:
    """One distinct (kind, entity) found in a text, with how often it occurred.

    `role` / `database` are the exact names the server quoted (unescaped); for PgBouncer's
    `max_db_client_connections` / `max_user_client_connections` they are the database / user
    of the PgBouncer log line, when the text is one. `source` names the format or producer the
    first occurrence was recognised in: a server log format (`stderr`, `csvlog`, `jsonlog`,
    `syslog`, `heroku`, `cloud_logging`, `cloudnativepg`, `pgbouncer`), the outermost client
    wrapper (`libpq`, `psycopg2`, `psycopg`, `django`, `sqlalchemy`, `asyncpg`, `pgjdbc`,
    `node-postgres`, `pgx`, `lib/pq`, `ruby-pg`, `rails`, `prisma`), the library of a pool
    timeout or pooler message (`hikaricp`, `psycopg_pool`, `pg-pool`, `supavisor`), else
    `json` or `text`.
    `pooler` names the pooler that refused or timed out (`pgbouncer`, `supavisor`, `pgpool`,
    `pgdog`, `pgcat`, `odyssey`, `rds_proxy`, `neon`), or that relayed a server's refusal
    when the text shows it (Pgpool-II's `error message from main backend:`); None otherwise.
    `first_line` is the 1-based line number of the first occurrence and `excerpt` that line,
    shortened. `detail` carries what the kind needs beyond the entity: the PgBouncer setting hit
    (`max_client_conn`), the pool library and its numbers (`hikaricp total=10 active=10 idle=0
    waiting=42`), the 57P03 state (`starting up`), the reserved-slot flavour (`superuser`,
    `pg_use_reserved_connections`), the current `max_wal_senders` (`10`). A HikariCP timeout
    whose SQLSTATE says 53300 / 57P03 while the refusal itself is quoted nowhere near also
    yields that refusal with `detail` `inferred from SQLSTATE 53300`.
    """

    kind: SignalKind
    role: str | None = None
    database: str | None = None
    sqlstate: str | None = None
    count: int = 1
    source: str = "text"
    first_line: int = 1
    excerpt: str = ""
    detail: str | None = None
    pooler: str | None = None
