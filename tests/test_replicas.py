"""Two `pgconn serve` processes sharing one PostgreSQL state store, against the fake Slack Web
API and a real server with a real incident: one set of warnings, an approval requested on one
replica and approved on the other, a retried event answered once, and the warnings handed over
within two intervals when the replica running them dies."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.render.approval_blocks import APPROVE_ACTION
from bot.throwaway import ThrowawayCluster
from bot.triage.model import ActionKind
from tests import pg, serve
from tests.slack.conftest import buttons
from tests.slack.fake import Call, FakeSlack

INTERVAL = 5  # the shortest warnings interval the configuration accepts
REQUESTER, APPROVER = "UALICE", "UDBA"
ALERTS, INCIDENTS = "CALERT", "CINC"


@pytest.fixture
def fleet(server15: ThrowawayCluster, tmp_path: Path) -> Iterator[dict[str, Any]]:
    cluster = server15
    state_db = pg.unique("pgconn_state")
    with pg.admin(cluster) as conn:
        conn.execute(f'CREATE DATABASE "{state_db}"')
    role = pg.unique("app")
    password = pg.create_role(cluster, role, limit=2)
    config = tmp_path / "pgconn.yaml"
    config.write_text(
        "clusters:\n"
        "  main:\n"
        f'    dsn: "{cluster.dsn()}"\n'
        f'    admin_dsn: "{cluster.dsn()}"\n'
        f"    channels: [{INCIDENTS}]\n"
        f"    alert_channel: {ALERTS}\n"
        f"    approvers: [{APPROVER}]\n"
        f"warnings:\n  interval_seconds: {INTERVAL}\n"
        f'state_dsn: "{cluster.dsn(dbname=state_db)}"\n'
    )
    fake = FakeSlack().start()
    replicas: list[serve.Served] = []

    def start() -> serve.Served:
        replicas.append(serve.start(config, fake))
        return replicas[-1]

    with pg.holding(cluster) as holder:
        holder.open(2, role, password, app="leaky")
        try:
            yield {
                "start": start,
                "fake": fake,
                "cluster": cluster,
                "role": role,
                "state_dsn": cluster.dsn(dbname=state_db),
                "holder": holder,
            }
        finally:
            outputs = [r.stop() for r in replicas]
            fake.stop()
    for out in outputs:
        assert cluster.superuser_password not in out


def _until(probe: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _warnings_for(fake: FakeSlack, role: str) -> list[Call]:
    return [
        c
        for c in fake.find("chat.postMessage", channel=ALERTS)
        if role in c.shown() and not c.body.get("thread_ts")
    ]


def _lease_holder(state_dsn: str) -> str | None:
    with psycopg.connect(state_dsn) as conn:
        row = conn.execute(
            "SELECT holder FROM leases WHERE name = 'warnings' "
            "AND expires_at > extract(epoch FROM now())"
        ).fetchone()
    return str(row[0]) if row else None


def _click(
    replica: serve.Served, fake: FakeSlack, user: str, action_id: str, value: str, message: Call
) -> None:
    thread_ts = message.body.get("thread_ts") or message.answer["ts"]
    sender = replica.sender()
    reply = sender.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0001",
            "trigger_id": f"t.{time.monotonic_ns()}",
            "response_url": fake.response_url(f"{user}-{action_id}"),
            "channel": {"id": INCIDENTS},
            "container": {
                "type": "message",
                "message_ts": message.answer["ts"],
                "channel_id": INCIDENTS,
                "thread_ts": thread_ts,
            },
            "message": {"ts": message.answer["ts"], "thread_ts": thread_ts},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": "1.9",
                }
            ],
        }
    )
    sender.close()
    assert reply.status_code == 200


def _approval_id(call: Call) -> str | None:
    for block in call.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element["action_id"] == APPROVE_ACTION:
                return str(element["value"])
    return None


def test_two_replicas_share_warnings_approvals_and_events_and_fail_over(fleet):
    fake, role, cluster = fleet["fake"], fleet["role"], fleet["cluster"]
    a, b = fleet["start"](), fleet["start"]()

    # One set of warnings, however many replicas run.
    [warning] = _until(lambda: _warnings_for(fake, role), "the warning", 60)
    time.sleep(2 * INTERVAL + 1)  # two more rounds on both replicas
    assert _warnings_for(fake, role) == [warning]

    # An approval requested on replica a and approved on replica b runs once.
    a.sender().command("main", channel=INCIDENTS, user=REQUESTER)
    report = _until(
        lambda: [
            c
            for c in fake.find("chat.postMessage", channel=INCIDENTS)
            if "thread_ts" in c.body and buttons(c)
        ],
        "the report",
    )[0]
    button = next(
        x
        for x in buttons(report)
        if json.loads(x["value"])["kind"] == ActionKind.SET_ROLE_CONN_LIMIT.value
    )
    new_limit = json.loads(button["value"])["params"]["limit"]
    _click(a, fake, REQUESTER, button["action_id"], button["value"], report)
    request = _until(
        lambda: [c for c in fake.find("chat.postMessage", channel=INCIDENTS) if _approval_id(c)],
        "the approval request",
    )[0]
    approval_id = _approval_id(request)
    assert approval_id
    _click(b, fake, APPROVER, APPROVE_ACTION, approval_id, request)
    _click(a, fake, APPROVER, APPROVE_ACTION, approval_id, request)  # a double click elsewhere
    _until(
        lambda: [
            c for c in fake.find("chat.postMessage", channel=INCIDENTS) if "Fix ran on" in c.shown()
        ],
        "the result",
    )
    time.sleep(1)
    assert (
        len(
            [
                c
                for c in fake.find("chat.postMessage", channel=INCIDENTS)
                if "Fix ran on" in c.shown()
            ]
        )
        == 1
    )
    with pg.admin(cluster) as conn:
        assert conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [role]
        ).fetchone() == (new_limit,)
    with psycopg.connect(fleet["state_dsn"]) as conn:
        events = [
            r[0]
            for r in conn.execute(
                "SELECT event FROM audit WHERE approval_id = %s ORDER BY seq", [approval_id]
            ).fetchall()
        ]
    assert events.count("executed") == 1, events
    assert "approved" in events

    # Slack retries an event; the retry reaches the other replica: one reply.
    fatal = f'FATAL:  too many connections for role "{role}"'
    ts = f"{int(time.time())}.000777"
    event_id = f"EvRetry{time.monotonic_ns()}"
    event = {
        "type": "message",
        "channel": INCIDENTS,
        "user": REQUESTER,
        "text": fatal,
        "ts": ts,
        "channel_type": "channel",
    }
    a.sender().event(event, event_id=event_id)
    b.sender().event(event, event_id=event_id, retry=1)
    _until(
        lambda: [
            c
            for c in fake.find("chat.postMessage", channel=INCIDENTS)
            if c.body.get("thread_ts") == ts
        ],
        "the paste's reply",
    )
    time.sleep(2)
    texts = [
        c.body["text"]
        for c in fake.find("chat.postMessage", channel=INCIDENTS)
        if c.body.get("thread_ts") == ts
    ]
    assert len(texts) == len(set(texts)), texts  # answered twice would repeat every message

    # The replica running the warnings dies; the other takes over within two intervals.
    holder = _until(lambda: _lease_holder(fleet["state_dsn"]), "a lease holder")
    leader, standby = (a, b) if holder.endswith(f"-{a.proc.pid}") else (b, a)
    assert holder.endswith(f"-{leader.proc.pid}"), holder
    leader.proc.send_signal(signal.SIGKILL)
    died = time.monotonic()
    _until(
        lambda: (h := _lease_holder(fleet["state_dsn"])) and h.endswith(f"-{standby.proc.pid}"),
        "the standby to take the lease",
        4 * INTERVAL,
    )
    took = time.monotonic() - died
    assert took <= 2 * INTERVAL + 1, f"failover took {took:.1f} s"

    # ... and it is the one that warns now.
    role2 = pg.unique("app2")
    pw2 = pg.create_role(cluster, role2, limit=1)
    fleet["holder"].open(1, role2, pw2, app="second")
    _until(lambda: _warnings_for(fake, role2), "the standby's warning", 3 * INTERVAL)
