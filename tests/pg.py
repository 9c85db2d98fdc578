"""Real PostgreSQL incidents for the tests: roles, databases and sessions that hold slots."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bot import throwaway
from bot.errors import ThrowawayClusterError

MAJORS = (15, 18)
_names = itertools.count()

# Logs in every format pgconn reads, so tests can scan what the server really wrote.
LOGGING = {
    "logging_collector": "on",
    "log_destination": "'stderr,csvlog,jsonlog'",
    "log_directory": "'log'",
    "log_filename": "'postgresql'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_min_messages": "warning",
}


def start(major: int, settings: dict[str, str] | None = None) -> throwaway.ThrowawayCluster:
    """A new server of `major`; skipped locally when that major is not installed, an error in CI
    (where `.ci/run` installs both)."""
    try:
        return throwaway.create(major, {**LOGGING, **(settings or {})})
    except ThrowawayClusterError as exc:
        if os.environ.get("CI") or "not installed" not in str(exc):
            raise
        pytest.skip(str(exc))


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_names)}_{secrets.token_hex(2)}"


def admin(cluster: throwaway.ThrowawayCluster) -> psycopg.Connection[Any]:
    return psycopg.connect(cluster.dsn(), autocommit=True)


def create_role(
    cluster: throwaway.ThrowawayCluster,
    name: str,
    *,
    limit: int = -1,
    password: str = "pw-secret-1234",
    extra: str = "",
) -> str:
    with admin(cluster) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {} " + extra).format(
                sql.Identifier(name), sql.Literal(password), sql.Literal(limit)
            )
        )
    return password


def create_database(cluster: throwaway.ThrowawayCluster, name: str, *, limit: int = -1) -> None:
    with admin(cluster) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} CONNECTION LIMIT {}").format(
                sql.Identifier(name), sql.Literal(limit)
            )
        )
        conn.execute(sql.SQL("GRANT ALL ON DATABASE {} TO PUBLIC").format(sql.Identifier(name)))


class Holder:
    """Opens sessions that hold slots, like a leaking application would; closes them at exit."""

    def __init__(self, cluster: throwaway.ThrowawayCluster) -> None:
        self.cluster = cluster
        self.conns: list[psycopg.Connection[Any]] = []

    def open(
        self,
        n: int,
        user: str,
        password: str | None,
        *,
        dbname: str = "postgres",
        app: str = "checkout",
        idle_in_transaction: bool = False,
    ) -> list[int]:
        pids = []
        for _ in range(n):
            conn = psycopg.connect(
                self.cluster.dsn(user=user, password=password, dbname=dbname, application_name=app),
                autocommit=True,
            )
            if idle_in_transaction:
                conn.autocommit = False
                conn.execute("SELECT 1")  # opens the transaction and leaves it open
            self.conns.append(conn)
            pids.append(conn.info.backend_pid)
        return pids

    def refused(self, user: str, password: str | None, *, dbname: str = "postgres") -> str:
        """The exact error text of a connection the server refuses (fails if it is accepted)."""
        try:
            conn = psycopg.connect(self.cluster.dsn(user=user, password=password, dbname=dbname))
        except psycopg.OperationalError as exc:
            return str(exc)
        conn.close()
        pytest.fail(f"the server accepted a connection for {user!r}; expected a refusal")

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.conns.clear()


@contextmanager
def holding(cluster: throwaway.ThrowawayCluster) -> Iterator[Holder]:
    holder = Holder(cluster)
    try:
        yield holder
    finally:
        holder.close()


def server_pids(cluster: throwaway.ThrowawayCluster) -> list[int]:
    """The postmaster and every process it started (backends, background workers)."""
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == postmaster:
            pids.append(int(entry))
    return pids


@contextmanager
def frozen(*clusters: throwaway.ThrowawayCluster) -> Iterator[None]:
    """Stop (SIGSTOP) the servers' processes: they accept TCP but answer nothing. Always
    resumed on the way out, whatever happened."""
    import signal

    stopped: list[int] = []
    try:
        for cluster in clusters:
            for pid in server_pids(cluster):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
