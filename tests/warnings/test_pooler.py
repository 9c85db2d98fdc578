"""Warnings for PgBouncer: its clients against max_client_conn, on a real PgBouncer in front of
a real server."""

from __future__ import annotations

from typing import Any

import psycopg

from bot.config import parse
from bot.store import open_store
from bot.warnings.model import EntityKind
from bot.warnings.watcher import Watcher
from tests import bouncer, pg
from tests.warnings.helpers import CHANNEL, Clock, RecordingNotifier


def test_pgbouncer_near_max_client_conn_warns_then_recovers(cluster, tmp_path):
    bouncer.require()
    app = pg.unique("app")
    pw = pg.create_role(cluster, app)
    doc = {
        "clusters": {
            "main": {"dsn": cluster.dsn(), "alert_channel": CHANNEL, "pgbouncer_dsn": ""},
        },
        "warnings": {"probe_timeout_seconds": 3},
    }
    held: list[psycopg.Connection[Any]] = []
    with bouncer.running(cluster, [app], {"max_client_conn": "6"}) as b:
        doc["clusters"]["main"]["pgbouncer_dsn"] = b.console_dsn()
        sent, clock = RecordingNotifier(), Clock()
        store = open_store(tmp_path / "state.sqlite3")
        watcher = Watcher(parse(doc, env={}), store, sent, clock=clock, holder="t")
        try:
            held += [psycopg.connect(b.dsn(app, pw), autocommit=True) for _ in range(5)]
            report = watcher.run_round()
            [result] = report.results
            pooler = [e for e in result.evaluations if e.usage.kind is EntityKind.POOLER]
            assert [(e.usage.current, e.usage.limit) for e in pooler] == [(5, 6)]
            [warning] = sent.top("PgBouncer")
            assert "5/6" in warning.text

            for conn in held:
                conn.close()
            clock.advance(60)
            watcher.run_round()
            assert sent.replies(warning.ts)  # recovered, in the warning's thread
            assert sent.top("PgBouncer") == [warning]
        finally:
            for conn in held:
                conn.close()
            watcher.close()
            store.close()
