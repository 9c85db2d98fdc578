"""Diagnose at 500 live sessions: round trips, wall time, and server time against a bare
`SELECT count(*) FROM pg_stat_activity`.

Server time is what PostgreSQL itself logs with log_min_duration_statement = 0: one `duration:`
line per simple-query message, so the whole diagnosis batch is timed as the server saw it.

    python bench/bench_diagnose.py [--sessions 500] [--rounds 30] [--major 15]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from bot import throwaway
from bot.diagnostics import connect_readonly, snapshot

DURATION = re.compile(
    r"duration: (?P<ms>[\d.]+) ms\s+statement: (?P<sql>.*?)(?=^\d{4}-|\Z)", re.S | re.M
)


def _open_sessions(server: throwaway.ThrowawayCluster, n: int) -> list[psycopg.Connection[Any]]:
    def one(i: int) -> psycopg.Connection[Any]:
        conn = psycopg.connect(server.dsn(application_name=f"app-{i % 7}"), autocommit=True)
        if i % 5 == 0:
            conn.autocommit = False
            conn.execute("SELECT 1")  # idle in transaction
        return conn

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(n)))


def _server_times(log_text: str) -> tuple[list[float], list[float]]:
    batch, bare = [], []
    for match in DURATION.finditer(log_text):
        sql = match["sql"].strip()
        if "pg_settings" in sql and "pg_stat_activity" in sql:
            batch.append(float(match["ms"]))
        elif sql == "SELECT count(*) FROM pg_stat_activity":
            bare.append(float(match["ms"]))
    return batch, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--major", type=int, default=None)
    args = parser.parse_args()

    settings = {
        "max_connections": str(args.sessions + 50),
        "log_min_duration_statement": "-1",
        "log_min_messages": "log",
    }
    with throwaway.running(args.major, settings) as server:
        print(f"PostgreSQL {server.major}: opening {args.sessions} sessions ...")
        held = _open_sessions(server, args.sessions)
        try:
            with psycopg.connect(server.dsn(), autocommit=True) as admin:
                admin.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
                admin.execute("SELECT pg_reload_conf()")
            time.sleep(0.5)
            log_start = server.log_file.stat().st_size

            walls, bare_walls = [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                with connect_readonly(server.dsn()) as conn:
                    snap = snapshot.take_snapshot(conn, "bench")
                walls.append((time.perf_counter() - started) * 1000)
                with psycopg.connect(server.dsn(), autocommit=True) as conn:
                    started = time.perf_counter()
                    conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()
                    bare_walls.append((time.perf_counter() - started) * 1000)
            assert snap.client_backends >= args.sessions
            time.sleep(0.5)
            with server.log_file.open() as fh:
                fh.seek(log_start)
                batch_ms, bare_ms = _server_times(fh.read())
        finally:
            for conn in held:
                conn.close()

    statements = len(snapshot.BATCH)
    med_batch, med_bare = statistics.median(batch_ms), statistics.median(bare_ms)
    print(f"sessions seen:            {snap.client_backends}")
    print(
        f"connections/diagnosis:    1; round trips after login: 1 "
        f"(one simple-query message carrying {statements} statements)"
    )
    print(
        f"diagnose wall time:       median {statistics.median(walls):.1f} ms, "
        f"p95 {sorted(walls)[int(len(walls) * 0.95) - 1]:.1f} ms (connect included)"
    )
    print(
        f"bare count(*) wall time:  median {statistics.median(bare_walls):.1f} ms "
        "(on an open connection)"
    )
    print(f"server time, diagnosis:   median {med_batch:.2f} ms over {len(batch_ms)} runs")
    print(f"server time, count(*):    median {med_bare:.2f} ms over {len(bare_ms)} runs")
    print(f"ratio:                    {med_batch / med_bare:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
