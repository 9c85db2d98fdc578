"""The Slack endpoint under load: ack latency, and slash command to threaded report.

(a) ack: rounds of 20 concurrent signed `/pgconn prod` sent to the bot's real HTTP endpoint; the
    time until each HTTP response (the ack). Target p99 <= 50 ms.
(b) report: `/pgconn prod` one at a time; the time from sending it until the fake Slack Web API
    has received the last message of the threaded report. Target p95 <= 500 ms.

Both against a throwaway PostgreSQL with 500 live sessions (a role at its CONNECTION LIMIT of
500), the fake Slack of the test suite on loopback standing in for slack.com.

    python bench/bench_slack.py [--sessions 500] [--rounds 10] [--reports 40] [--major 15]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import sql

from bot import throwaway
from bot.config import parse
from bot.playbooks import load_playbooks
from bot.render.blocks import thread_messages
from bot.service import analyse
from bot.slack.app import build_app
from bot.slack.context import Tuning
from bot.slack.http import EVENTS_PATH, BoltHTTPServer
from tests.slack.fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender

ROLE, MONITOR = "app_user", "pgconn_mon"
ROLE_PW, MONITOR_PW = "app-pw", "mon-pw"  # noqa: S105 - a throwaway server


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
        return psycopg.connect(
            server.dsn(user=ROLE, password=ROLE_PW, application_name=f"web-{i % 7}"),
            autocommit=True,
        )

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(n)))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _line(name: str, values: list[float], target: str) -> str:
    return (
        f"{name:<34} n={len(values):<4} p50={_pct(values, 50):7.1f} ms  "
        f"p95={_pct(values, 95):7.1f} ms  p99={_pct(values, 99):7.1f} ms  "
        f"max={max(values):7.1f} ms   ({target})"
    )


def _ack_round(url: str, n: int) -> list[float]:
    senders = [SlackSender(url) for _ in range(n)]
    barrier = threading.Barrier(n)

    def one(sender: SlackSender) -> float:
        barrier.wait()
        started = time.perf_counter()
        response = sender.command("prod", channel="CACK")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text
        return elapsed

    with ThreadPoolExecutor(n) as pool:
        times = list(pool.map(one, senders))
    for sender in senders:
        sender.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 20 concurrent acks")
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--major", type=int, default=None)
    args = parser.parse_args()

    settings = {"max_connections": str(args.sessions + 100)}
    with throwaway.running(args.major, settings) as server:
        held = _incident(server, args.sessions)
        fake = FakeSlack().start()
        config = parse(
            {
                "clusters": {"prod": {"dsn": server.dsn(user=MONITOR, password=MONITOR_PW)}},
                "slack": {
                    "bot_token": BOT_TOKEN,
                    "signing_secret": SIGNING_SECRET,
                    "api_url": fake.api_url,
                },
            },
            env={},
        )
        playbooks = load_playbooks()
        app, ctx = build_app(config, playbooks, Tuning())
        bot = BoltHTTPServer(app, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{bot.port}{EVENTS_PATH}"
        try:
            print(
                f"PostgreSQL {server.major}, {len(held)} live sessions of {ROLE} "
                f"(CONNECTION LIMIT {args.sessions}), max_connections {settings['max_connections']}"
            )
            sender = SlackSender(url)

            # How many messages one report is: the summary and its thread parts.
            report = analyse([], config.cluster("prod"), playbooks, secrets=config.secrets())
            size = 1 + len(thread_messages(report, config.secrets()))
            sender.command("prod", channel="CWARM")  # warm up: first connection, imports
            fake.wait_for(lambda: len(fake.find("chat.postMessage", channel="CWARM")) >= size)

            acks: list[float] = []
            for _ in range(args.rounds):
                acks.extend(_ack_round(url, 20))
            want = (args.rounds * 20) * size
            fake.wait_for(
                lambda: len(fake.find("chat.postMessage", channel="CACK")) >= want, timeout=300
            )

            reports: list[float] = []
            for i in range(args.reports):
                channel = f"CREP{i}"
                started = time.perf_counter()
                assert sender.command("prod", channel=channel).status_code == 200
                fake.wait_for(
                    lambda c=channel: len(fake.find("chat.postMessage", channel=c)) >= size
                )
                reports.append((time.perf_counter() - started) * 1000)
            sender.close()

            print(f"one report = {size} message(s): the summary and {size - 1} thread part(s)")
            print(_line("(a) ack, 20 concurrent commands", acks, "target p99 <= 50 ms"))
            print(_line("(b) /pgconn to threaded report", reports, "target p95 <= 500 ms"))
            print(
                f"    mean ack {statistics.mean(acks):.1f} ms; "
                f"mean report {statistics.mean(reports):.1f} ms"
            )
        finally:
            bot.stop()
            ctx.close()
            fake.stop()
            for conn in held:
                conn.close()


if __name__ == "__main__":
    main()
