"""Alert threads in the state store: one claim wins per alert, later notifications read it."""

from __future__ import annotations

from pathlib import Path

from bot.slack.alert_threads import AlertThread, AlertThreads
from bot.store import open_store


def test_one_claim_per_alert_and_a_takeover_only_of_what_was_read(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state.sqlite3", None)
    try:
        threads = AlertThreads(lambda: store)
        key = "alert:prod:postgresqlhighconnections"
        first = AlertThread("prod", "PostgreSQLHighConnections", fired_at=100.0)
        assert threads.claim(key, first, None)
        assert not threads.claim(key, AlertThread("prod", "x", fired_at=101.0), None)
        held = threads.update(key, first, channel="C1", thread_ts="1.1", resolved_at=150.0)
        assert threads.get(key) == held
        # Two notifications after the alert's thread is over: only one starts the next.
        later = AlertThread("prod", "PostgreSQLHighConnections", fired_at=2000.0)
        assert threads.claim(key, later, held)
        assert not threads.claim(key, AlertThread("prod", "y", fired_at=2001.0), held)
        got = threads.get(key)
        assert got is not None and got.fired_at == 2000.0 and got.thread_ts is None
        # An update on behalf of the older thread is dropped.
        threads.update(key, held, refired=5)
        got = threads.get(key)
        assert got is not None and got.refired == 0
    finally:
        store.close()
