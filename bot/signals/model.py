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

    `role` / `database` are the exact names the server quoted (unescaped). `source` names the
    format or producer the first occurrence was recognised in (`stderr`, `csvlog`, `jsonlog`,
    `libpq`, `pgjdbc`, `pgbouncer`, `sqlalchemy`, ...). `first_line` is the 1-based line number of
    the first occurrence and `excerpt` that line, shortened. `detail` carries what the kind needs
    beyond the entity: the PgBouncer setting hit (`max_client_conn`), the pool library and its
    numbers (`HikariCP total=10 active=10 waiting=42`), the 57P03 state (`starting up`).
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
