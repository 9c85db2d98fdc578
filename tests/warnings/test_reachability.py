"""Clusters that cannot be reached, refuse the probe, or hang: reported once (and their
recovery once), never a crash, and never holding up the other clusters."""

from __future__ import annotations

import os
import signal

from bot import throwaway
from bot.warnings.rules import Action
from tests import pg
from tests.warnings.helpers import RecordingNotifier, Sent, SilentListener

DOWN_PASSWORD = "Down-Cluster-Pw-8812"


def test_unreachable_cluster_is_reported_once_and_its_recovery_once(world):
    server = pg.start(15)
    try:
        w = world({"own": server.dsn()}, unreachable_after=2)
        w.round()
        server.stop()
        for _ in range(5):  # the kept connection breaks, then every attempt is refused
            report = w.round()
            assert report.held
        [down] = w.sent.top("own")
        assert "*own* cannot be probed" in down.text
        assert "Connection refused" in down.text or "connection refused" in down.text.lower()
        assert w.sent.replies(down.ts) == []

        server.start()
        w.round()
        w.round()
        assert len(w.sent.top("own")) == 1
        [back] = w.sent.replies(down.ts)
        assert "*own* answers the probe again" in back.text
        assert w.sent.updates(down.ts)[-1].text.startswith(":white_check_mark: *Reachable again*")
    finally:
        server.destroy()


def test_reasons_are_given_and_passwords_masked(cluster, world):
    port = throwaway.free_port()  # nothing listens there
    role = pg.unique("monitor")
    pg.create_role(cluster, role, password="Right-Pw-3141")
    w = world(
        {
            "closed": f"host=127.0.0.1 port={port} user=pgconn password={DOWN_PASSWORD}",
            "refused": cluster.dsn(user=role, password="Wrong-Pw-2718"),
            "uri": f"postgresql://pgconn:{DOWN_PASSWORD}@127.0.0.1:{port}/postgres",
        }
    )
    w.round()
    w.round()
    posts = {name: w.sent.top(f"*{name}*") for name in ("closed", "refused", "uri")}
    assert all(len(p) == 1 for p in posts.values()), posts
    assert "refused" in posts["closed"][0].text.lower()
    assert "password authentication failed" in posts["refused"][0].text
    for sent in w.sent.sent:
        assert DOWN_PASSWORD not in sent.shown()
        assert "Wrong-Pw-2718" not in sent.shown()
        assert cluster.superuser_password not in sent.shown()


def test_a_hung_handshake_does_not_hold_up_the_others(cluster, holder, world):
    role = pg.unique("busy")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password)
    listener = SilentListener()
    waiting_when_posted: list[int] = []

    def look(sent: Sent) -> None:
        if role in sent.text:
            waiting_when_posted.append(listener.waiting_clients())

    try:
        w = world(
            {
                "hung": f"host=127.0.0.1 port={listener.port} user=x password=y",
                "main": cluster.dsn(),
            },
            sent=RecordingNotifier(on_post=look),
            probe_timeout_seconds=2,
            concurrency=4,
        )
        report = w.round()
        # main's warning went out while the hung probe was still waiting for an answer.
        assert waiting_when_posted == [1]
        assert [r.cluster for r in report.results] == ["hung", "main"]
        assert not report.results[0].reachable
        assert report.results[1].reachable
        [hung] = w.sent.top("*hung*")
        assert "timeout" in hung.text.lower()
        order = [s.text for s in w.sent.sent if s.thread_ts is None]
        assert role in order[0]
        assert "*hung*" in order[1]
    finally:
        listener.close()


def test_a_server_that_stops_answering_mid_probe_is_abandoned(cluster, holder, world):
    role = pg.unique("steady")
    password = pg.create_role(cluster, role, limit=2)
    w = world(
        {"main": cluster.dsn(), "stuck": cluster.dsn(application_name="other")},
        probe_timeout_seconds=1,
    )
    w.round()
    stuck = w.watcher._probers["stuck"]
    pid = stuck.backend_pid
    assert pid is not None
    holder.open(2, role, password)
    os.kill(pid, signal.SIGSTOP)  # the backend stops answering; statement_timeout cannot fire
    try:
        report = w.round()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert len(w.sent.top(role)) == 1
    [failure] = [r for r in report.results if r.cluster == "stuck"]
    assert "no answer within 2 s" in failure.outcome.reason  # type: ignore[union-attr]
    [down] = w.sent.top("*stuck*")

    report = w.round()  # a fresh connection: reachable again
    assert all(r.reachable for r in report.results)
    assert any(t.cluster == "stuck" and t.action is Action.RECOVER for t in report.taken)
    assert w.sent.replies(down.ts)[-1].text.startswith(":white_check_mark: *stuck* answers")
    assert stuck.backend_pid not in (None, pid)
