"""A real PgBouncer (the Debian package's `/usr/sbin/pgbouncer`) in front of a throwaway server.

Applications authenticate with SCRAM against secrets copied from the server's `pg_authid`, the
setup PgBouncer's documentation recommends: PgBouncer then logs in to PostgreSQL with the keys
the client proved, and holds no plain password. The console user (`stats_users`, read-only, the
way pgconn is meant to be set up) is PgBouncer's own and has a plain password in the auth file.

PgBouncer refuses to run as root: as root it runs as the `postgres` OS user, like the servers.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bot import throwaway

BINARY = Path("/usr/sbin/pgbouncer")
CONSOLE_USER = "pgconn_console"


def require() -> None:
    """Skip when PgBouncer is not installed, locally only: CI installs it (`.ci/run`)."""
    if BINARY.exists() or os.environ.get("CI"):
        return
    pytest.skip(f"{BINARY} is missing: install the Debian package pgbouncer to run pooler tests")


@dataclass
class Bouncer:
    root: Path
    port: int
    server: throwaway.ThrowawayCluster
    console_password: str
    process: subprocess.Popen[bytes]

    @property
    def log_file(self) -> Path:
        return self.root / "pgbouncer.log"

    def dsn(self, user: str, password: str | None, dbname: str = "postgres", **params: str) -> str:
        """A client DSN through PgBouncer."""
        return _dsn(self.port, user, password, dbname, **params)

    def console_dsn(self) -> str:
        return _dsn(self.port, CONSOLE_USER, self.console_password, "pgbouncer")

    def console(self, command: str) -> list[dict[str, Any]]:
        """One admin-console command, rows as dicts (test-side convenience only)."""
        with psycopg.connect(self.console_dsn(), autocommit=True, prepare_threshold=None) as c:
            cur = c.execute(command.encode())
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # Immediate shutdown before 1.23; from 1.23 it waits for clients, so kill if slow.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def _dsn(port: int, user: str, password: str | None, dbname: str, **params: str) -> str:
    parts = {
        "host": "127.0.0.1",
        "port": str(port),
        "user": user,
        "dbname": dbname,
        "connect_timeout": "5",
        **params,
    }
    if password is not None:
        parts["password"] = password
    return psycopg.conninfo.make_conninfo(**parts)


def _quoted(value: str) -> str:
    """PgBouncer's auth file quotes with double quotes, doubled inside."""
    return '"' + value.replace('"', '""') + '"'


def _scram_secrets(server: throwaway.ThrowawayCluster, users: Sequence[str]) -> dict[str, str]:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        rows = conn.execute(
            sql.SQL("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY({})").format(
                sql.Literal(list(users))
            )
        ).fetchall()
    found = {str(name): str(secret) for name, secret in rows}
    missing = set(users) - set(found)
    assert not missing, f"roles without a password on the server: {missing}"
    return found


def _account() -> pwd.struct_passwd | None:
    return pwd.getpwnam(throwaway.SERVER_USER) if os.geteuid() == 0 else None


def start(
    server: throwaway.ThrowawayCluster,
    users: Sequence[str],
    settings: Mapping[str, str] | None = None,
    databases: Mapping[str, str] | None = None,
) -> Bouncer:
    """PgBouncer for `users` (roles that exist on `server`, with passwords). `settings` override
    the [pgbouncer] section; `databases` add entries before the `*` fallback."""
    require()
    root = Path(tempfile.mkdtemp(prefix="pgconn-bouncer-"))
    port = throwaway.free_port()
    console_password = secrets.token_urlsafe(12)
    userlist = [f"{_quoted(CONSOLE_USER)} {_quoted(console_password)}"]
    userlist += [f"{_quoted(u)} {_quoted(s)}" for u, s in _scram_secrets(server, users).items()]
    (root / "userlist.txt").write_text("\n".join(userlist) + "\n")
    base = {
        "listen_addr": "127.0.0.1",
        "listen_port": str(port),
        "unix_socket_dir": "",
        "auth_type": "scram-sha-256",
        "auth_file": str(root / "userlist.txt"),
        "stats_users": CONSOLE_USER,
        "pool_mode": "transaction",
        "default_pool_size": "2",
        "max_client_conn": "50",
        "logfile": str(root / "pgbouncer.log"),
        "pidfile": str(root / "pgbouncer.pid"),
        "server_login_retry": "1",
        "log_connections": "1",
        "log_disconnections": "1",
    }
    entries = {**(databases or {}), "*": f"host=127.0.0.1 port={server.port}"}
    ini = ["[databases]", *(f"{k} = {v}" for k, v in entries.items()), "", "[pgbouncer]"]
    ini += [f"{k} = {v}" for k, v in {**base, **(settings or {})}.items()]
    (root / "pgbouncer.ini").write_text("\n".join(ini) + "\n")
    account = _account()
    if account is not None:
        for path in (root, *root.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    stderr = (root / "stderr.log").open("wb")
    process = subprocess.Popen(
        [str(BINARY), str(root / "pgbouncer.ini")],
        stdout=stderr,
        stderr=subprocess.STDOUT,
        user=account.pw_uid if account else None,
        group=account.pw_gid if account else None,
        cwd=root,
    )
    stderr.close()
    bouncer = Bouncer(root, port, server, console_password, process)
    try:
        _wait_ready(bouncer)
    except BaseException:
        bouncer.stop()
        raise
    return bouncer


def _wait_ready(bouncer: Bouncer, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if bouncer.process.poll() is not None:
            out = (bouncer.root / "stderr.log").read_text(errors="replace")
            pytest.fail(f"pgbouncer exited with {bouncer.process.returncode}: {out[-1500:]}")
        try:
            bouncer.console("SHOW VERSION")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def running(
    server: throwaway.ThrowawayCluster,
    users: Sequence[str],
    settings: Mapping[str, str] | None = None,
    databases: Mapping[str, str] | None = None,
) -> Iterator[Bouncer]:
    bouncer = start(server, users, settings, databases)
    try:
        yield bouncer
    finally:
        bouncer.stop()
