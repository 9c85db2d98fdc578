"""The kept diagnostics connection: reuse, health check, reconnect, backoff, bounded wait."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bot.config import ClusterConfig
from bot.diagnostics import connect_readonly
from bot.diagnostics.keeper import Backoff, Keeper, Keepers, alive
from bot.errors import CannotConnectError
from tests import pg


def _pid(conn: psycopg.Connection[Any]) -> int:
    return conn.info.backend_pid


def _keeper(cluster, **kwargs) -> Keeper:
    return Keeper("t", lambda: connect_readonly(cluster.dsn()), **kwargs)


def _terminate(cluster, pid: int) -> None:
    with pg.admin(cluster) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 5
    with pg.admin(cluster) as conn:
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, "the backend did not go away"
            time.sleep(0.02)


def test_the_connection_is_kept_between_uses(cluster):
    keeper = _keeper(cluster)
    try:
        first = keeper.use(_pid)
        second = keeper.use(_pid)
        assert not first.kept
        assert second.kept
        assert first.value == second.value
        assert second.opened_at == first.opened_at
    finally:
        keeper.close()


def test_a_connection_the_server_ended_is_seen_without_a_round_trip(cluster):
    keeper = _keeper(cluster)
    try:
        pid = keeper.use(_pid).value
        _terminate(cluster, pid)
        again = keeper.use(_pid)
        # The check noticed before the work ran: a new connection, not a failed use.
        assert not again.kept
        assert again.value != pid
    finally:
        keeper.close()


def test_alive_leaves_a_healthy_connection_usable(cluster):
    with connect_readonly(cluster.dsn()) as conn:
        assert alive(conn)
        assert alive(conn)
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_loss_the_check_cannot_see_is_retried_once_on_a_new_connection(cluster):
    keeper = _keeper(cluster)
    calls = []

    def work(conn):
        calls.append(_pid(conn))
        if len(calls) == 2:  # dies between the check and the query
            _terminate(cluster, _pid(conn))
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0]

    try:
        keeper.use(work)
        used = keeper.use(work)
        assert len(calls) == 3
        assert calls[0] == calls[1] != calls[2]
        assert used.value == calls[2]
        assert not used.kept
    finally:
        keeper.close()


def test_a_failure_of_the_work_itself_is_not_retried(cluster):
    keeper = _keeper(cluster)
    calls = []

    def work(conn):
        calls.append(1)
        conn.execute("SELECT 1/0")

    try:
        keeper.use(_pid)
        with pytest.raises(psycopg.errors.DivisionByZero):
            keeper.use(work)
        assert len(calls) == 1
        assert keeper.use(_pid).kept  # the connection survived the error
    finally:
        keeper.close()


def test_a_busy_keeper_answers_on_a_one_off_connection_after_a_bounded_wait(cluster):
    keeper = _keeper(cluster, wait_s=0.2)
    inside, release = threading.Event(), threading.Event()

    def hold(conn):
        inside.set()
        release.wait(10)
        return _pid(conn)

    try:
        with ThreadPoolExecutor(1) as pool:
            holding = pool.submit(keeper.use, hold)
            assert inside.wait(5)
            started = time.monotonic()
            other = keeper.use(_pid)
            waited = time.monotonic() - started
            release.set()
            held = holding.result(5)
        assert 0.2 <= waited < 2
        assert not other.kept
        assert other.value != held.value
    finally:
        keeper.close()


def test_concurrent_uses_share_one_connection(cluster):
    keeper = _keeper(cluster)
    try:
        with ThreadPoolExecutor(8) as pool:
            pids = list(pool.map(lambda _: keeper.use(_pid).value, range(40)))
        assert len(set(pids)) == 1
    finally:
        keeper.close()


def test_close_ends_the_kept_connection_and_later_uses_still_answer(cluster):
    keeper = _keeper(cluster)
    pid = keeper.use(_pid).value
    keeper.close()
    with pg.admin(cluster) as conn:
        deadline = time.monotonic() + 5
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    after = keeper.use(_pid)
    assert not after.kept
    assert not keeper.state().connected


def test_upkeep_pings_before_the_servers_idle_session_timeout(cluster):
    role = pg.unique("keeper")
    password = pg.create_role(cluster, role, extra="IN ROLE pg_monitor")
    with pg.admin(cluster) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} SET idle_session_timeout = '1s'").format(sql.Identifier(role))
        )

    def connect():
        return connect_readonly(cluster.dsn(user=role, password=password))

    kept, neglected = Keeper("kept", connect), Keeper("neglected", connect)
    try:
        pid = kept.use(_pid).value
        lost = neglected.use(_pid).value
        kept.expect_idle_limit(1.0)
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            kept.maintain()
            time.sleep(0.1)
        assert kept.use(_pid).value == pid
        # Without upkeep the server ended the other one.
        again = neglected.use(_pid)
        assert not again.kept
        assert again.value != lost
    finally:
        kept.close()
        neglected.close()


def test_upkeep_reopens_a_lost_connection(cluster):
    keeper = _keeper(cluster)
    try:
        pid = keeper.use(_pid).value
        _terminate(cluster, pid)
        keeper.maintain()
        assert keeper.state().connected
        used = keeper.use(_pid)
        assert used.kept
        assert used.value != pid
    finally:
        keeper.close()


def test_started_keepers_open_their_clusters_in_the_background(cluster):
    keepers = Keepers()
    config = ClusterConfig("k", cluster.dsn())
    keepers.start([config], interval_s=0.05)
    try:
        keeper = keepers.postgres(config)
        deadline = time.monotonic() + 10
        while not keeper.state().connected:
            assert time.monotonic() < deadline, keeper.state()
            time.sleep(0.02)
        assert keeper.use(_pid).kept
    finally:
        keepers.close()


def test_keepers_keep_one_connection_per_cluster_and_close_them(cluster):
    keepers = Keepers()
    config = ClusterConfig("k", cluster.dsn())
    keepers.warm([config])
    keepers.start(interval_s=0.05)
    try:
        keeper = keepers.postgres(config)
        assert keepers.postgres(config) is keeper
        assert keeper.use(_pid).kept  # warm() opened it
    finally:
        keepers.close()
    assert not keeper.state().connected


# --- backoff, with a clock the test moves ---------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    b = Backoff(base_s=1.0, factor=2.0, cap_s=8.0)
    assert [b.delay(n, lambda: 0.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [b.delay(n, lambda: 1.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert 0.5 <= b.delay(1) <= 1.0


def test_a_refusing_server_is_retried_on_the_backoff_schedule():
    clock = _Clock()
    attempts = []

    def refuse():
        attempts.append(clock.now)
        raise CannotConnectError("FATAL:  sorry, too many clients already", "53300")

    keeper = Keeper(
        "t",
        refuse,
        backoff=Backoff(base_s=10, factor=2, cap_s=40),
        wait_s=1.0,
        clock=clock,
        sleep=clock.sleep,
        rnd=lambda: 1.0,
    )
    with pytest.raises(CannotConnectError, match="too many clients"):
        keeper.use(_pid)
    # Within the backoff (10 s, more than wait_s): the last refusal at once, no new attempt.
    with pytest.raises(CannotConnectError, match="too many clients"):
        keeper.use(_pid)
    assert len(attempts) == 1
    assert keeper.state().retry_in_s == pytest.approx(10)
    clock.now += 10
    with pytest.raises(CannotConnectError):
        keeper.use(_pid)
    assert len(attempts) == 2
    assert keeper.state().retry_in_s == pytest.approx(20)  # doubled
    assert keeper.state().failures == 2
    for _ in range(3):
        clock.now += 100
        with pytest.raises(CannotConnectError):
            keeper.use(_pid)
    assert keeper.state().retry_in_s == pytest.approx(40)  # capped
    assert not keeper.warm()  # warming respects the schedule too
    assert len(attempts) == 5
    assert clock.slept == []


def test_a_retry_due_within_the_wait_is_waited_for(cluster):
    clock = _Clock()
    results: list[Exception | None] = [CannotConnectError("refused"), None]

    def connect():
        outcome = results.pop(0)
        if outcome is not None:
            raise outcome
        return connect_readonly(cluster.dsn())

    keeper = Keeper(
        "t",
        connect,
        backoff=Backoff(base_s=0.5),
        wait_s=2.0,
        clock=clock,
        sleep=clock.sleep,
        rnd=lambda: 1.0,
    )
    try:
        with pytest.raises(CannotConnectError):
            keeper.use(_pid)
        used = keeper.use(_pid)
        assert clock.slept == [pytest.approx(0.5)]
        assert not used.kept
        assert keeper.state().failures == 0
    finally:
        keeper.close()
