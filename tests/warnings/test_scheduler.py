"""The APScheduler job really fires, and shuts down gracefully."""

from __future__ import annotations

import threading
import time

from bot.notify import Notice
from bot.store import open_store
from bot.warnings import WarningsScheduler, Watcher
from bot.warnings.scheduler import JOB_ID
from tests import pg
from tests.warnings.helpers import RecordingNotifier, config


def test_job_fires_on_its_interval_and_stops_cleanly(cluster, holder, tmp_path):
    role = pg.unique("sched")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password)
    fired = threading.Event()
    notifier = RecordingNotifier(on_post=lambda sent: fired.set())
    rounds: list[float] = []
    store = open_store(tmp_path / "state.sqlite3")
    watcher = Watcher(config({"main": cluster.dsn()}), store, notifier, holder="sched-test")
    inner = watcher.run_round

    def counted():
        rounds.append(time.monotonic())
        return inner()

    watcher.run_round = counted  # type: ignore[method-assign]
    scheduler = WarningsScheduler(watcher, interval_s=1)
    scheduler.start()
    try:
        assert scheduler._scheduler.get_job(JOB_ID).max_instances == 1
        assert fired.wait(30), "no warning posted by the scheduled job"
        deadline = time.monotonic() + 30
        while len(rounds) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(rounds) >= 3  # it keeps firing
        assert len(notifier.top(role)) == 1  # ... and does not post again
    finally:
        scheduler.stop()
    assert not scheduler.running
    count = len(rounds)
    time.sleep(1.5)
    assert len(rounds) == count  # nothing fires after stop
    # The lease was handed back: another replica may take over at once.
    assert store.acquire_lease("warnings", "someone-else", now=time.time(), ttl_s=10)
    store.close()


def test_a_failing_round_does_not_stop_the_job(cluster, tmp_path):
    calls: list[int] = []
    store = open_store(tmp_path / "state.sqlite3")

    class Broken(RecordingNotifier):
        def post(self, channel: str, notice: Notice, *, thread_ts: str | None = None):
            raise RuntimeError("boom")

    watcher = Watcher(config({"main": cluster.dsn()}), store, Broken(), holder="broken")
    store.close()  # every round now fails on the store

    def counted():
        calls.append(1)
        return Watcher.run_round_safely(watcher)

    watcher.run_round_safely = counted  # type: ignore[method-assign]
    scheduler = WarningsScheduler(watcher, interval_s=1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(calls) >= 2
        assert scheduler.running
    finally:
        scheduler.stop()
