"""Pool settings of each application stack, as data: the setting names as each project
documents them, and how the per-replica budget maps onto them.

`per` is the connection budget of one replica (the limit ÷ the estimated replicas); each
stack's `settings` turns it into that stack's own configuration. Where a stack's pool is per
process (Rails with Puma workers, Django, node-postgres, Prisma), the text says so: the budget
is then divided by the processes per replica, which pgconn cannot see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stack:
    id: str
    name: str
    docs: str
    settings: Callable[[int], str]
    names: str  # the settings that size the pool, for when the numbers are unknown
    per_process: bool = False


def _sqlalchemy(per: int) -> str:
    overflow = per // 3
    return (
        f"create_engine(url, pool_size={per - overflow}, max_overflow={overflow}, "
        "pool_timeout=10, pool_recycle=1800, pool_pre_ping=True) — pool_size + max_overflow "
        f"= {per}"
    )


def _django(per: int) -> str:
    return (
        f'Django 5.1+ with psycopg 3: DATABASES["default"]["OPTIONS"] = {{"pool": {{"min_size": '
        f'0, "max_size": {per}, "timeout": 10}}}} with CONN_MAX_AGE = 0 (a pool needs it); '
        "before 5.1, each worker thread holds one connection: workers × threads per replica "
        f"≤ {per}, CONN_MAX_AGE = 60 (not None) and CONN_HEALTH_CHECKS = True"
    )


def _rails(per: int) -> str:
    return (
        'config/database.yml pool: <%= ENV.fetch("RAILS_MAX_THREADS") %>, '
        "checkout_timeout: 5, idle_timeout: 300; Puma's WEB_CONCURRENCY × RAILS_MAX_THREADS "
        f"per replica ≤ {per} (e.g. {_split(per)})"
    )


def _split(per: int) -> str:
    workers = 2 if per >= 4 else 1
    return f"{workers} worker(s) × {per // workers} threads = {workers * (per // workers)}"


def _hikari(per: int) -> str:
    return (
        f"maximumPoolSize={per}, minimumIdle={max(1, per // 4)}, idleTimeout=600000, "
        "maxLifetime=1800000 (a few seconds below any server or proxy connection limit), "
        "leakDetectionThreshold=60000"
    )


def _node_postgres(per: int) -> str:
    return f"new Pool({{ max: {per}, idleTimeoutMillis: 10000, connectionTimeoutMillis: 5000 }})"


def _prisma(per: int) -> str:
    return (
        f"?connection_limit={per}&pool_timeout=10 in the datasource URL (Prisma ORM 6; with a "
        f"driver adapter in 7, the driver's pool: node-postgres max: {per})"
    )


def _go(per: int) -> str:
    return (
        f"db.SetMaxOpenConns({per}); db.SetMaxIdleConns({max(1, per // 2)}); "
        "db.SetConnMaxIdleTime(5 * time.Minute); db.SetConnMaxLifetime(30 * time.Minute)"
    )


def _pgxpool(per: int) -> str:
    return (
        f"pool_max_conns={per} pool_min_conns=0 pool_max_conn_idle_time=5m "
        "pool_max_conn_lifetime=30m in the connection string (or pgxpool.Config MaxConns, "
        "MinConns, MaxConnIdleTime, MaxConnLifetime)"
    )


def _npgsql(per: int) -> str:
    return f"Maximum Pool Size={per};Minimum Pool Size=0;Connection Idle Lifetime=300;Timeout=15"


def _sequelize(per: int) -> str:
    return f"pool: {{ max: {per}, min: 0, idle: 10000, acquire: 30000 }}"


def _knex(per: int) -> str:
    return f"pool: {{ min: 0, max: {per} }}, acquireConnectionTimeout: 10000"


def _typeorm(per: int) -> str:
    return f"poolSize: {per}, extra: {{ idleTimeoutMillis: 10000 }} (node-postgres' pool)"


def _ecto(per: int) -> str:
    return (
        f"config :my_app, MyApp.Repo, pool_size: {per}, queue_target: 50, queue_interval: 1000 "
        "(per BEAM node)"
    )


STACKS: dict[str, Stack] = {
    s.id: s
    for s in (
        Stack(
            "sqlalchemy",
            "SQLAlchemy",
            "https://docs.sqlalchemy.org/en/20/core/pooling.html",
            _sqlalchemy,
            "pool_size + max_overflow, pool_timeout, pool_recycle, pool_pre_ping",
            per_process=True,
        ),
        Stack(
            "django",
            "Django",
            "https://docs.djangoproject.com/en/5.1/ref/databases/",
            _django,
            "OPTIONS pool max_size (5.1+), CONN_MAX_AGE, CONN_HEALTH_CHECKS",
            per_process=True,
        ),
        Stack(
            "rails",
            "Rails (Active Record)",
            "https://guides.rubyonrails.org/configuring.html#database-pooling",
            _rails,
            "pool (RAILS_MAX_THREADS) × Puma workers, checkout_timeout, idle_timeout",
        ),
        Stack(
            "hikaricp",
            "HikariCP",
            "https://github.com/brettwooldridge/HikariCP",
            _hikari,
            "maximumPoolSize, minimumIdle, idleTimeout, maxLifetime, leakDetectionThreshold",
        ),
        Stack(
            "node-postgres",
            "node-postgres",
            "https://node-postgres.com/apis/pool",
            _node_postgres,
            "max, idleTimeoutMillis",
            per_process=True,
        ),
        Stack(
            "prisma",
            "Prisma",
            "https://www.prisma.io/docs/orm/prisma-client/setup-and-configuration/"
            "databases-connections/connection-pool",
            _prisma,
            "connection_limit and pool_timeout in the URL",
            per_process=True,
        ),
        Stack(
            "go",
            "Go database/sql",
            "https://pkg.go.dev/database/sql#DB.SetMaxOpenConns",
            _go,
            "SetMaxOpenConns, SetMaxIdleConns, SetConnMaxIdleTime, SetConnMaxLifetime",
        ),
        Stack(
            "pgxpool",
            "pgx (pgxpool)",
            "https://pkg.go.dev/github.com/jackc/pgx/v5/pgxpool",
            _pgxpool,
            "pool_max_conns, pool_min_conns, pool_max_conn_idle_time, pool_max_conn_lifetime",
        ),
        Stack(
            "npgsql",
            "Npgsql",
            "https://www.npgsql.org/doc/connection-string-parameters.html",
            _npgsql,
            "Maximum Pool Size, Minimum Pool Size, Connection Idle Lifetime",
        ),
        Stack(
            "sequelize",
            "Sequelize",
            "https://sequelize.org/docs/v6/other-topics/connection-pool/",
            _sequelize,
            "pool max, min, idle, acquire",
            per_process=True,
        ),
        Stack(
            "knex",
            "Knex",
            "https://knexjs.org/guide/#pool",
            _knex,
            "pool min and max, acquireConnectionTimeout",
            per_process=True,
        ),
        Stack(
            "typeorm",
            "TypeORM",
            "https://typeorm.io/docs/data-source/data-source-options/",
            _typeorm,
            "poolSize (node-postgres max), extra.idleTimeoutMillis",
            per_process=True,
        ),
        Stack(
            "ecto",
            "Ecto",
            "https://hexdocs.pm/ecto_sql/Ecto.Adapters.Postgres.html",
            _ecto,
            "pool_size, queue_target, queue_interval",
        ),
    )
}

# Signal sources and pool-library details that name a stack.
BY_SOURCE = {
    "sqlalchemy": "sqlalchemy",
    "django": "django",
    "rails": "rails",
    "ruby-pg": "rails",
    "hikaricp": "hikaricp",
    "pgjdbc": "hikaricp",
    "node-postgres": "node-postgres",
    "pg-pool": "node-postgres",
    "prisma": "prisma",
    "pgx": "pgxpool",
    "lib/pq": "go",
    "npgsql": "npgsql",
    "sequelize": "sequelize",
    "knex": "knex",
    "typeorm": "typeorm",
    "dbconnection": "ecto",
    "postgrex": "ecto",
}
# application_name values (lower case, a substring) that name a stack.
BY_APPLICATION = {
    "postgresql jdbc driver": "hikaricp",
    "hikari": "hikaricp",
    "sqlalchemy": "sqlalchemy",
    "django": "django",
    "rails": "rails",
    "puma": "rails",
    "sidekiq": "rails",
    "prisma": "prisma",
    "npgsql": "npgsql",
    "typeorm": "typeorm",
    "sequelize": "sequelize",
    "knex": "knex",
    "ecto": "ecto",
    "postgrex": "ecto",
    "pgx": "pgxpool",
}
