"""Rounds against real servers: real sessions opened and closed step by step, one round called
at a time with a hand-driven clock."""

from __future__ import annotations

import pytest
from psycopg import sql

from bot.store import open_store
from bot.warnings import EntityKind, Level
from bot.warnings.record import Status, from_state
from bot.warnings.rules import Action
from tests import pg
from tests.warnings.helpers import CHANNEL, RecordingNotifier, close_sessions


def test_role_climbing_to_its_limit_warns_once_updates_then_recovers(cluster, holder, world):
    role = pg.unique("app_user")
    password = pg.create_role(cluster, role, limit=10)
    w = world({"main": cluster.dsn()})
    holder.open(5, role, password, app="checkout")
    w.round()  # 5/10
    assert w.sent.top(role) == []

    for _ in range(5):  # 6/10 ... 10/10, a session a minute, all left idle
        holder.open(1, role, password, app="checkout")
        w.round()

    [warning] = w.sent.top(role)
    assert warning.channel == CHANNEL
    assert f"Warning: main role {role} at 8/10 (80%)" in warning.text
    # 5, 6, 7, 8 a minute apart: one a minute, two to go.
    assert f"at this rate, {role} is full in ~2 min" in warning.shown()
    assert "× `checkout` from 127.0.0.1, idle" in warning.shown()
    assert f"`/pgconn main {role}`" in warning.shown()

    updates = w.sent.updates(warning.ts)
    assert [u.text.split(";")[0] for u in updates] == [
        f"Warning: main role {role} at 9/10 (90%)",
        f"Critical: main role {role} at 10/10 (100%)",
    ]
    assert f"{role} is full now" in updates[-1].shown()
    assert "probable connection leak" in updates[-1].shown()
    [critical] = w.sent.replies(warning.ts)
    assert critical.text.startswith(":red_circle: Now critical")

    for _ in range(6):  # back down to 4/10, a session a minute
        close_sessions(holder, 1)
        w.round()

    assert len(w.sent.top(role)) == 1  # never posted again
    replies = w.sent.replies(warning.ts)
    assert len(replies) == 2
    assert replies[1].text.startswith(f":white_check_mark: Recovered: role *{role}* is back")
    assert "peak 10/10" in replies[1].text
    assert "now at 6/10" in replies[1].text
    assert w.sent.updates(warning.ts)[-1].text.startswith(":white_check_mark: *Recovered*")

    stored = from_state(w.store.get_alert("main", "role", role))  # type: ignore[arg-type]
    assert stored is not None
    assert stored.status is Status.RECOVERED
    assert stored.message_ts == warning.ts


def test_database_limit_warns_and_recovers(cluster, holder, world):
    db = pg.unique("shop")
    pg.create_database(cluster, db, limit=5)
    user = pg.unique("web")
    password = pg.create_role(cluster, user)  # no limit of its own
    w = world({"main": cluster.dsn()})
    for _ in range(5):  # 1/5 ... 5/5
        holder.open(1, user, password, dbname=db, app="web", idle_in_transaction=True)
        report = w.round()
    [warning] = w.sent.top(db)
    assert f"Warning: main database {db} at 4/5 (80%)" in warning.text
    assert "idle in transaction" in warning.shown()
    assert "`/pgconn main`" in warning.shown()
    [result] = report.results
    levels = {(e.usage.kind, e.usage.name): e.level for e in result.evaluations}
    assert levels[(EntityKind.DATABASE, db)] is Level.CRITICAL
    assert (EntityKind.ROLE, user) not in levels  # no limit, nothing to warn about

    close_sessions(holder)
    w.round()
    assert len(w.sent.top(db)) == 1
    assert [r.text.split(":")[1] for r in w.sent.replies(warning.ts)] == [
        "red_circle",
        "white_check_mark",
    ]


@pytest.mark.parametrize("major", pg.MAJORS)
def test_server_limit_warns_and_recovers(major, world):
    # 10 slots, 3 for superusers: 7 for everyone else, one of them the probe's own
    # connection, which is never counted as used: 6 usable.
    server = pg.start(major, {"max_connections": "10"})
    try:
        user = pg.unique("api")
        password = pg.create_role(server, user)
        w = world({"small": server.dsn()})
        with pg.holding(server) as held:
            for _ in range(6):  # 1/6 ... 6/6
                held.open(1, user, password, app="api")
                w.round()
            [warning] = w.sent.top("the server")
            assert warning.text.startswith("Warning: small server at 5/6 (83%)")
            assert "of the slots ordinary roles may use" in warning.shown()
            assert "the server is full now" in w.sent.updates(warning.ts)[-1].shown()
            # Full for ordinary roles; the kept probe connection still sees it.
            held.refused(user, password)
            close_sessions(held)
        w.round()
        replies = w.sent.replies(warning.ts)
        assert replies[-1].text.startswith(":white_check_mark: Recovered: the server")
        assert len(w.sent.top("the server")) == 1
    finally:
        server.destroy()


def test_flapping_around_the_line_does_not_repost(cluster, holder, world):
    role = pg.unique("flap")
    password = pg.create_role(cluster, role, limit=10)
    w = world({"main": cluster.dsn()})
    holder.open(8, role, password)
    w.round()  # 8/10: warning
    for n in [7, 8, 7, 9, 7, 8, 7]:  # around the line, never below 7 (0.8 - 0.1)
        if len(holder.conns) > n:
            close_sessions(holder, len(holder.conns) - n)
        else:
            holder.open(n - len(holder.conns), role, password)
        w.round()
    [warning] = w.sent.top(role)
    assert w.sent.replies(warning.ts) == []  # no recovery, no repost

    # A deeper dip recovers; crossing again soon after reopens the same message.
    close_sessions(holder, 3)
    w.round()
    holder.open(4, role, password)
    report = w.round()
    assert len(w.sent.top(role)) == 1
    replies = [r.text for r in w.sent.replies(warning.ts)]
    assert replies[0].startswith(":white_check_mark: Recovered")
    assert replies[1].startswith(":large_orange_circle: Over the line again")
    assert any(t.entity == role and t.action is Action.REOPEN for t in report.taken)


def test_restart_neither_reposts_nor_forgets(cluster, holder, world, tmp_path):
    role = pg.unique("restart")
    password = pg.create_role(cluster, role, limit=10)
    path = tmp_path / "shared.sqlite3"
    first = world({"main": cluster.dsn()}, store_path=path, holder="replica-1")
    for _ in range(9):
        holder.open(1, role, password)
        first.round()
    [warning] = first.sent.top(role)
    first.watcher.close()  # graceful: the lease is handed back
    first.store.close()

    # A new process: new watcher, new store object on the same file, same Slack.
    second = world(
        {"main": cluster.dsn()},
        store_path=path,
        sent=first.sent,
        clock=first.clock,
        holder="replica-2",
    )
    report = second.round()
    assert report.held
    assert len(second.sent.top(role)) == 1  # not posted again
    # The samples came back from the store: the trend is still known after the restart.
    [result] = report.results
    [evaluation] = [e for e in result.evaluations if e.usage.name == role]
    assert evaluation.trend.per_minute is not None

    close_sessions(holder)
    second.round()
    [recovered] = [r for r in second.sent.replies(warning.ts) if "Recovered" in r.text]
    assert recovered.thread_ts == warning.ts
    assert len(second.sent.top(role)) == 1


def test_only_the_lease_holder_probes(cluster, holder, world, tmp_path):
    role = pg.unique("lease")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password)
    path = tmp_path / "shared.sqlite3"
    a = world({"main": cluster.dsn()}, store_path=path, holder="replica-a")
    b = world({"main": cluster.dsn()}, store_path=path, clock=a.clock, holder="replica-b")
    assert a.round().held
    assert not b.round(0).held
    assert len(a.sent.top(role)) == 1
    assert b.sent.sent == []

    # replica-a stops renewing: once its lease runs out, replica-b takes over, without
    # posting the incident again.
    a.clock.advance(a.watcher.lease_ttl_s + 1)
    assert b.round(0).held
    assert b.sent.top(role) == []
    assert not a.round(0).held


def test_a_failed_post_is_posted_on_the_next_round(cluster, holder, world):
    role = pg.unique("retry")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password)
    failures = []

    class Flaky(RecordingNotifier):
        def post(self, channel, notice, *, thread_ts=None):
            if not failures:
                failures.append(notice)
                raise ConnectionError("slack is down")
            return super().post(channel, notice, thread_ts=thread_ts)

    w = world({"main": cluster.dsn()}, sent=Flaky())
    w.round()
    assert failures
    assert w.sent.top(role) == []
    stored = from_state(w.store.get_alert("main", "role", role))  # type: ignore[arg-type]
    assert stored is not None
    assert stored.message_ts is None
    w.round()
    [warning] = w.sent.top(role)
    w.round()
    assert len(w.sent.top(role)) == 1
    stored = from_state(w.store.get_alert("main", "role", role))  # type: ignore[arg-type]
    assert stored is not None
    assert stored.message_ts == warning.ts


def test_thresholds_per_cluster_and_per_role(cluster, holder, world):
    quiet, loud = pg.unique("quiet"), pg.unique("loud")
    pq = pg.create_role(cluster, quiet, limit=10)
    pl = pg.create_role(cluster, loud, limit=10)
    holder.open(6, quiet, pq)
    holder.open(6, loud, pl)
    w = world(
        {"main": cluster.dsn()},
        per_cluster={"main": {"threshold": 0.7, "roles": {loud: {"threshold": 0.5}}}},
    )
    w.round()
    assert w.sent.top(quiet) == []  # 60 % < 70 %
    assert len(w.sent.top(loud)) == 1  # 60 % >= 50 %


def test_store_keeps_bounded_samples(cluster, holder, world):
    role = pg.unique("ring")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password)
    w = world({"main": cluster.dsn()}, samples=4)
    for _ in range(10):
        w.round()
    stored = from_state(w.store.get_alert("main", "role", role))  # type: ignore[arg-type]
    assert stored is not None
    assert len(stored.samples) == 4
    assert [s.at for s in stored.samples] == sorted(s.at for s in stored.samples)


def test_postgres_store_backend_works_too(server15, world, tmp_path):
    db = pg.unique("state")
    with pg.admin(server15) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    role = pg.unique("pgstore")
    password = pg.create_role(server15, role, limit=2)
    store = open_store(tmp_path / "unused", server15.dsn(dbname=db))
    w = world({"main": server15.dsn()}, store=store)
    with pg.holding(server15) as held:
        held.open(2, role, password)
        w.round()
        w.round()
        close_sessions(held)
    w.round()
    [warning] = w.sent.top(role)
    assert [r.text.split()[0] for r in w.sent.replies(warning.ts)] == [":white_check_mark:"]
    stored = from_state(store.get_alert("main", "role", role))  # type: ignore[arg-type]
    assert stored is not None
    assert stored.message_ts == warning.ts


def test_limit_removed_while_over_closes_the_incident(cluster, holder, world):
    role = pg.unique("unlimited")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password)
    w = world({"main": cluster.dsn()})
    w.round()
    [warning] = w.sent.top(role)
    with pg.admin(cluster) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(sql.Identifier(role)))
    w.round()
    [reply] = w.sent.replies(warning.ts)
    assert "no longer has a connection limit" in reply.text
    w.round()
    assert len(w.sent.top(role)) == 1
    assert len(w.sent.replies(warning.ts)) == 1


def test_the_holder_keeps_the_lease_between_rounds_and_a_standby_takes_it_within_two_intervals(
    cluster, world, tmp_path
):
    path = tmp_path / "shared.sqlite3"
    a = world({"main": cluster.dsn()}, store_path=path, holder="replica-a")
    b = world({"main": cluster.dsn()}, store_path=path, clock=a.clock, holder="replica-b")
    interval = a.watcher.warn.interval_seconds
    assert a.watcher.lease_ttl_s < interval  # renewals, not a long lease, keep it held
    assert not b.watcher.renew_lease()  # a standby's heartbeat never takes the lease
    assert a.round().held

    # A long round: the heartbeat keeps the lease past its ttl.
    for _ in range(6):
        a.clock.advance(a.watcher.heartbeat_s)
        assert a.watcher.renew_lease()
    assert not b.round(0).held

    # replica-a dies right after a renewal: replica-b's next round after the ttl takes over,
    # at most ttl + one interval later.
    a.clock.advance(a.watcher.lease_ttl_s + 0.01)
    assert b.round(0).held
    assert a.watcher.lease_ttl_s + interval < 2 * interval
    assert not a.watcher.renew_lease()
