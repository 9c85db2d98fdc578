"""Pool settings for the application's own stack, with numbers from the limit and replicas."""

from __future__ import annotations

import pytest

from bot import signals, throwaway
from bot.advice.stacks import BY_APPLICATION, BY_SOURCE, STACKS
from bot.config import ClusterConfig
from bot.playbooks import load_playbooks
from bot.service import analyse
from bot.triage.model import Report
from tests import pg
from tests.factories import said

# Each stack's settings for a budget of 6 connections per replica.
EXPECTED = {
    "sqlalchemy": "create_engine(url, pool_size=4, max_overflow=2, pool_timeout=10, "
    "pool_recycle=1800, pool_pre_ping=True) — pool_size + max_overflow = 6",
    "django": '"pool": {"min_size": 0, "max_size": 6, "timeout": 10}}',
    "rails": "WEB_CONCURRENCY × RAILS_MAX_THREADS per replica ≤ 6 (e.g. 2 worker(s) × 3 threads",
    "hikaricp": "maximumPoolSize=6, minimumIdle=1, idleTimeout=600000, maxLifetime=1800000",
    "node-postgres": "new Pool({ max: 6, idleTimeoutMillis: 10000",
    "prisma": "?connection_limit=6&pool_timeout=10",
    "go": "db.SetMaxOpenConns(6); db.SetMaxIdleConns(3)",
    "pgxpool": "pool_max_conns=6 pool_min_conns=0 pool_max_conn_idle_time=5m",
    "npgsql": "Maximum Pool Size=6;Minimum Pool Size=0;Connection Idle Lifetime=300",
    "sequelize": "pool: { max: 6, min: 0, idle: 10000, acquire: 30000 }",
    "knex": "pool: { min: 0, max: 6 }, acquireConnectionTimeout: 10000",
    "typeorm": "poolSize: 6",
    "ecto": "pool_size: 6, queue_target: 50, queue_interval: 1000",
}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_each_stack_gets_its_own_settings_with_the_budget(stack: str) -> None:
    assert EXPECTED[stack] in STACKS[stack].settings(6)


def test_every_stack_is_reachable_from_a_source_or_an_application_name() -> None:
    assert set(STACKS) == set(BY_SOURCE.values()) | set(BY_APPLICATION.values())


SQLALCHEMY_TIMEOUT = (
    "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection "
    "timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)"
)


def _pool_lines(report: Report, role: str) -> list[str]:
    return [
        line
        for f in report.findings
        if f.role == role
        for line in said(f)
        if line.startswith("Pool settings for")
    ]


def test_a_pasted_pool_timeout_gets_its_stack_sized_to_the_role_limit(
    cluster: throwaway.ThrowawayCluster, holder: pg.Holder
) -> None:
    role = pg.unique("pool_app")
    pw = pg.create_role(cluster, role, limit=4)
    holder.open(4, role, pw, app="checkout")
    text = f"{SQLALCHEMY_TIMEOUT}\n{holder.refused(role, pw)}"

    report = analyse(signals.scan(text), ClusterConfig("c", cluster.dsn()), load_playbooks())

    (line,) = _pool_lines(report, role)
    assert "SQLAlchemy" in line and f"role {role}'s CONNECTION LIMIT 4 ÷ 1 replica(s)" in line
    assert "pool_size=3, max_overflow=1" in line
    assert "Its pool is 15 now. 15 × 1 = 15 > 4" in line


def test_the_stack_is_recognised_from_application_name(
    cluster: throwaway.ThrowawayCluster, holder: pg.Holder
) -> None:
    role = pg.unique("jdbc_app")
    pw = pg.create_role(cluster, role, limit=3)
    holder.open(3, role, pw, app="PostgreSQL JDBC Driver")
    fatal = holder.refused(role, pw)

    report = analyse(signals.scan(fatal), ClusterConfig("c", cluster.dsn()), load_playbooks())

    (line,) = _pool_lines(report, role)
    assert 'HikariCP (recognised from application_name "PostgreSQL JDBC Driver"' in line
    assert "maximumPoolSize=3, minimumIdle=1" in line


def test_without_numbers_the_settings_are_named() -> None:
    report = analyse(signals.scan(SQLALCHEMY_TIMEOUT), None, load_playbooks())
    lines = [e for f in report.findings for e in said(f) if e.startswith("Pool settings")]
    assert lines and "size pool_size + max_overflow, pool_timeout" in lines[0]
    assert "Its pool is 15 now" in lines[0]
