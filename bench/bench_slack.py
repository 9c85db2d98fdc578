"""The Slack endpoint under load: ack latency, and slash command to threaded report.

(a) ack: rounds of 20 concurrent signed `/pgconn prod`, sent at once to the bot's HTTP
    endpoint; the time from connecting until the HTTP response (the ack) is read.
    Target p99 <= 50 ms. Each acked command then really diagnoses and posts.
(b) report: `/pgconn prod`, one at a time; the time from sending it until the fake Slack Web API
    has received the last message of the threaded report. Target p95 <= 500 ms.

The bot runs as `pgconn serve` in its own process, as in production; this process holds the
fake Slack of the test suite (on loopback, in place of slack.com) and sends the requests from
plain sockets, so its own work barely weighs on the figures. The cluster is a throwaway
PostgreSQL with 500 live sessions of a role at its CONNECTION LIMIT of 500.

    python bench/bench_slack.py [--sessions 500] [--rounds 10] [--reports 40] [--major 15]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg import sql

from bot import throwaway

# The fake Slack lives with the tests; make them importable when run as `python bench/...`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import serve
from tests.slack.fake import SIGNING_SECRET, FakeSlack, signature

ROLE, MONITOR = "app_user", "pgconn_mon"
ROLE_PW, MONITOR_PW = "app-pw", "mon-pw"  # a throwaway server


def _incident(server: throwaway.ThrowawayCluster, n: int) -> list[psycopg.Connection[Any]]:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {}").format(
                sql.Identifier(ROLE), sql.Literal(ROLE_PW), sql.Literal(n)
            )
        )
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                sql.Identifier(MONITOR), sql.Literal(MONITOR_PW)
            )
        )

    def one(i: int) -> psycopg.Connection[Any]:
        dsn = server.dsn(user=ROLE, password=ROLE_PW, application_name=f"web-{i % 7}")
        return psycopg.connect(dsn, autocommit=True)

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(n)))


# `fresh`: every command gets a whole report, not a link to the one posted minutes before.
COMMAND = "prod fresh"


def _command(port: int, channel: str, text: str = COMMAND) -> bytes:
    """A slash command exactly as Slack sends it: form body, signed, as raw HTTP."""
    body = urlencode(
        {
            "team_id": "T0001",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": "UALICE",
            "command": "/pgconn",
            "text": text,
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": f"t.{secrets.token_hex(8)}",  # new for every command, as Slack's
        }
    )
    ts = str(int(time.time()))
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {ts}\r\n"
        f"X-Slack-Signature: {signature(SIGNING_SECRET, ts, body)}\r\nConnection: close\r\n\r\n"
    )
    return (head + body).encode()


def _send(port: int, request: bytes) -> tuple[int, float]:
    """Status and milliseconds from connect to the whole response."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    elapsed = (time.perf_counter() - started) * 1000
    return int(b"".join(chunks).split(b" ", 2)[1]), elapsed


def _ack_rounds(port: int, rounds: int, n: int, text: str = COMMAND) -> list[float]:
    """Run in a process of its own: nothing else there competes for its GIL while it times."""
    times: list[float] = []
    with ThreadPoolExecutor(n) as pool:
        for _ in range(rounds):
            requests = [_command(port, "CACK", text) for _ in range(n)]
            barrier = threading.Barrier(n)

            def one(request: bytes, barrier: threading.Barrier = barrier) -> float:
                barrier.wait()
                status, elapsed = _send(port, request)
                assert status == 200, status
                return elapsed

            times.extend(pool.map(one, requests))
    return times


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _line(name: str, values: list[float], target: str) -> str:
    return (
        f"{name:<34} n={len(values):<4} p50={_pct(values, 50):6.1f} ms  "
        f"p95={_pct(values, 95):6.1f} ms  p99={_pct(values, 99):6.1f} ms  "
        f"max={max(values):6.1f} ms   ({target})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 20 concurrent acks")
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--major", type=int, default=None)
    args = parser.parse_args()

    settings = {"max_connections": str(args.sessions + 100)}
    with throwaway.running(args.major, settings) as server, tempfile.TemporaryDirectory() as tmp:
        held = _incident(server, args.sessions)
        path = Path(tmp) / "pgconn.yaml"
        dsn = server.dsn(user=MONITOR, password=MONITOR_PW)
        path.write_text(f"clusters:\n  prod:\n    dsn: '{dsn}'\n")
        fake = FakeSlack().start()
        bot = serve.start(path, fake, quiet=True)
        port = bot.port
        try:
            print(
                f"PostgreSQL {server.major}, {len(held)} live sessions of {ROLE} "
                f"(CONNECTION LIMIT {args.sessions}), max_connections "
                f"{settings['max_connections']}; {os.cpu_count()} CPUs"
            )

            def posted(channel: str) -> int:
                return len(fake.find("chat.postMessage", channel=channel))

            # Warm up (first connection, imports) and learn how many messages one report is:
            # the card and its thread parts, once nothing more arrives for two seconds.
            _send(port, _command(port, "CWARM"))
            fake.wait_for(lambda: posted("CWARM") >= 1)
            size = 0
            while posted("CWARM") != size:
                size = posted("CWARM")
                time.sleep(2)

            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=spawn) as client:
                acks = client.submit(_ack_rounds, port, args.rounds, 20).result()
            fake.wait_for(lambda: posted("CACK") >= len(acks) * size, timeout=600)

            reports: list[float] = []
            for i in range(args.reports):
                channel = f"CREP{i}"
                request = _command(port, channel)
                started = time.perf_counter()
                assert _send(port, request)[0] == 200
                fake.wait_for(lambda c=channel: posted(c) >= size)
                reports.append((time.perf_counter() - started) * 1000)

            print(f"one report = {size} message(s): the summary and {size - 1} thread part(s)")
            print(_line("(a) ack, 20 concurrent commands", acks, "target p99 <= 50 ms"))
            print(_line("(b) /pgconn to threaded report", reports, "target p95 <= 500 ms"))
            print(
                f"    mean ack {statistics.mean(acks):.1f} ms; "
                f"mean report {statistics.mean(reports):.1f} ms"
            )
        finally:
            bot.stop()
            fake.stop()
            for conn in held:
                conn.close()


if __name__ == "__main__":
    main()
