"""Warnings at scale: 500 configured clusters probed per round, the bot's CPU and memory.

Five throwaway servers stand in for the fleet; each is configured as 100 clusters, one per
monitoring role (`pgconn_mon_<i>`, pg_monitor), so the bot keeps 500 distinct connections open,
as it would against 500 real clusters. Every server has ten roles with connection limits and 60
held sessions; a share of the clusters (`--alerting`) has thresholds that keep one role over the
line, so their alerts stay open and are written to the store every round.

The sessions are held by a child process: the figures are the bot's own. CPU is the process's
(every thread) per round; it is reported as a share of one core at a 30 s interval. Memory is
VmRSS with the 500 clusters configured and connected, after the rounds, with the Slack adapter
imported as `pgconn serve` would.

    python bench/bench_warnings.py [--servers 5] [--per-server 100] [--rounds 10] [--major 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bot import throwaway
from bot.config import Config, parse
from bot.notify import Notice
from bot.store import open_store
from bot.warnings import Watcher

ROLES = 10  # limited roles per server
HELD = 60  # sessions held per server
HOT = "app_hot"  # the role kept at 9/10 on every server
INTERVAL_S = 30
PASSWORD = secrets.token_urlsafe(12)  # every role's, this run only

HOLDER_SCRIPT = textwrap.dedent("""
    import sys, time, psycopg
    conns = [psycopg.connect(line.strip(), autocommit=True) for line in sys.stdin if line.strip()]
    print("ready", len(conns), flush=True)
    time.sleep(86400)
""")


class CountingNotifier:
    """Slack stand-in: counts what would be sent."""

    def __init__(self) -> None:
        self.posts = 0
        self.updates = 0

    def post(self, channel: str, notice: Notice, *, thread_ts: str | None = None) -> str | None:
        self.posts += 1
        return f"{self.posts}.0"

    def update(self, channel: str, ts: str, notice: Notice) -> None:
        self.updates += 1


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def prepare(server: throwaway.ThrowawayCluster, monitors: int) -> list[str]:
    """Roles, limits and monitoring roles; the DSNs of the sessions to hold."""
    create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {} {}")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        for i in range(monitors):
            conn.execute(
                create.format(
                    sql.Identifier(f"pgconn_mon_{i}"),
                    sql.Literal(PASSWORD),
                    sql.Literal(-1),
                    sql.SQL("IN ROLE pg_monitor"),
                )
            )
        conn.execute(
            create.format(sql.Identifier(HOT), sql.Literal(PASSWORD), sql.Literal(10), sql.SQL(""))
        )
        for r in range(ROLES - 1):
            conn.execute(
                create.format(
                    sql.Identifier(f"app_{r}"), sql.Literal(PASSWORD), sql.Literal(20), sql.SQL("")
                )
            )
    held = [server.dsn(user=HOT, password=PASSWORD, application_name="checkout")] * 9
    for n in range(HELD - 9):
        held.append(
            server.dsn(
                user=f"app_{n % (ROLES - 1)}", password=PASSWORD, application_name=f"svc-{n % 4}"
            )
        )
    return held


def enable_ssl(server: throwaway.ThrowawayCluster) -> None:
    """A self-signed certificate in the data directory, owned like it, and ssl=on (a reload
    is enough)."""
    cert, key = server.data_dir / "bench.crt", server.data_dir / "bench.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    owner = server.data_dir.stat()
    for path in (cert, key):
        os.chown(path, owner.st_uid, owner.st_gid)
        path.chmod(0o600)
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET ssl_cert_file = {}").format(sql.Literal(str(cert))))
        conn.execute(sql.SQL("ALTER SYSTEM SET ssl_key_file = {}").format(sql.Literal(str(key))))
        conn.execute("ALTER SYSTEM SET ssl = on")
        conn.execute("SELECT pg_reload_conf()")


def fleet_config(
    servers: list[throwaway.ThrowawayCluster],
    per_server: int,
    alerting: float,
    state: Path,
    sslmode: str = "prefer",
) -> Config:
    clusters: dict[str, Any] = {}
    hot_every = round(1 / alerting) if alerting > 0 else 0
    n = 0
    for s, server in enumerate(servers):
        for i in range(per_server):
            doc: dict[str, Any] = {
                "dsn": server.dsn(user=f"pgconn_mon_{i}", password=PASSWORD, sslmode=sslmode),
                "alert_channel": "CALERTS",
            }
            if not hot_every or n % hot_every:
                # Quiet cluster: its hot role's threshold is out of reach.
                doc["warnings"] = {"roles": {HOT: {"threshold": 1.0, "critical": 1.0}}}
            clusters[f"s{s}-c{i:03d}"] = doc
            n += 1
    return parse(
        {
            "clusters": clusters,
            "state_path": str(state),
            "warnings": {"interval_seconds": INTERVAL_S, "concurrency": 16},
        },
        env={},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--per-server", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--alerting",
        type=float,
        default=0.1,
        help="share of clusters with an open alert (default 0.1)",
    )
    parser.add_argument("--major", type=int, default=None)
    parser.add_argument(
        "--ssl",
        action="store_true",
        help="TLS on the probe connections (sslmode=require), as in production",
    )
    args = parser.parse_args()

    import bot.slack.app  # noqa: F401 - measured as `pgconn serve` carries it

    baseline_rss = rss_mb()
    # The bot's own 100 connections per server must not push the server itself over the line.
    settings = {"max_connections": str(2 * (args.per_server + HELD) + 40)}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        print(f"starting {args.servers} PostgreSQL servers ...", flush=True)
        servers = [
            stack.enter_context(throwaway.running(args.major, settings))
            for _ in range(args.servers)
        ]
        held = [dsn for server in servers for dsn in prepare(server, args.per_server)]
        if args.ssl:
            for server in servers:
                enable_ssl(server)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        stack.callback(holder.kill)
        assert holder.stdin is not None
        assert holder.stdout is not None
        holder.stdin.write("\n".join(held) + "\n")
        holder.stdin.close()
        print(f"held sessions: {holder.stdout.readline().split()[1]}", flush=True)

        config = fleet_config(
            servers,
            args.per_server,
            args.alerting,
            Path(tmp) / "s.sqlite3",
            "require" if args.ssl else "prefer",
        )
        store = open_store(config.state_path)
        stack.callback(store.close)
        notifier = CountingNotifier()
        watcher = Watcher(config, store, notifier, holder="bench")
        stack.callback(watcher.close)

        c0, w0 = cpu_s(), time.perf_counter()
        first = watcher.run_round()
        connect_cpu, connect_wall = cpu_s() - c0, time.perf_counter() - w0
        assert all(r.reachable for r in first.results), [
            r.outcome for r in first.results if not r.reachable
        ][:3]

        cpus, walls = [], []
        for _ in range(args.rounds):
            c0, w0 = cpu_s(), time.perf_counter()
            report = watcher.run_round()
            cpus.append(cpu_s() - c0)
            walls.append(time.perf_counter() - w0)
        entities = sum(len(r.evaluations) for r in report.results)
        open_alerts = sum(1 for a in store.alerts() if a.level in ("warning", "critical"))
        rss, peak = rss_mb(), rss_mb("VmHWM")

    n = args.servers * args.per_server
    mean_cpu = statistics.mean(cpus)
    print(
        f"clusters configured:       {n} ({args.servers} servers x {args.per_server} "
        f"monitoring roles), {entities} entities per round, {open_alerts} open alerts"
    )
    print(f"first round (connecting):  {connect_wall:.2f} s wall, {connect_cpu:.2f} s CPU")
    print(
        f"round, kept connections:   wall median {statistics.median(walls):.2f} s, "
        f"max {max(walls):.2f} s over {len(walls)} rounds"
    )
    print(
        f"CPU per round:             mean {mean_cpu * 1000:.0f} ms, "
        f"max {max(cpus) * 1000:.0f} ms ({mean_cpu / n * 1e6:.0f} us per cluster)"
    )
    print(
        f"share of one core @ {INTERVAL_S} s:   {mean_cpu / INTERVAL_S:.1%} mean, "
        f"{max(cpus) / INTERVAL_S:.1%} worst (target <= 10%)"
    )
    print(
        f"resident memory:           {rss:.0f} MB VmRSS, {peak:.0f} MB peak "
        f"(interpreter and imports alone: {baseline_rss:.0f} MB; target <= 120 MB)"
    )
    print(f"messages:                  {notifier.posts} posts, {notifier.updates} updates")


if __name__ == "__main__":
    main()
