"""Real psql output from the suite's servers, to paste into pgconn as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from bot import throwaway
from tests.bouncer import CONSOLE_USER

# The query a user runs: now() beside the rows, so ages can be measured.
ACTIVITY = "SELECT now(), * FROM pg_stat_activity WHERE backend_type = 'client backend'"
FORMATS = {"aligned": [], "expanded": ["-x"], "unaligned": ["-A"], "csv": ["--csv"]}


def psql_binary(cluster: throwaway.ThrowawayCluster) -> str:
    own = cluster.binaries.tool("psql")
    return own if os.path.exists(own) else shutil.which("psql") or "psql"


def psql(cluster: throwaway.ThrowawayCluster, *args: str, sql: str) -> str:
    """psql's stdout for `sql`, as the superuser, with no psqlrc."""
    argv = [
        psql_binary(cluster),
        "-X",
        "-h",
        "127.0.0.1",
        "-p",
        str(cluster.port),
        "-U",
        throwaway.SERVER_USER,
        "-d",
        "postgres",
        *args,
        "-c",
        sql,
    ]
    env = {**os.environ, "PGPASSWORD": cluster.superuser_password}
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout


def activity(cluster: throwaway.ThrowawayCluster, form: str) -> str:
    if form == "json":
        return psql(
            cluster,
            "-At",
            sql="SELECT json_agg(a) FROM (SELECT now(), * FROM pg_stat_activity "
            "WHERE backend_type = 'client backend') a",
        )
    return psql(cluster, *FORMATS[form], sql=ACTIVITY)


def console(b: Any, command: str, *args: str) -> str:
    """psql's stdout for one command on PgBouncer's admin console, as a user would paste it."""
    argv = [
        shutil.which("psql") or "psql",
        "-X",
        "-h",
        "127.0.0.1",
        "-p",
        str(b.port),
        "-U",
        CONSOLE_USER,
        "-d",
        "pgbouncer",
        *args,
        "-c",
        command,
    ]
    env = {**os.environ, "PGPASSWORD": b.console_password}
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
