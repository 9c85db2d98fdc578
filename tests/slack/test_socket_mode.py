"""`pgconn serve` in Socket Mode (SLACK_APP_TOKEN set), as a process, against Slack's Socket Mode
on loopback: the HTTP mode's scenarios over the socket (a slash command, a pasted error, a fix
approved by a second person), acks by envelope id, a dropped connection the bot re-opens, and
/readyz following the connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.render.approval_blocks import APPROVE_ACTION
from tests import pg, serve
from tests.slack.conftest import DOWN_DSN, Incident, buttons
from tests.slack.fake import Call, FakeSlack
from tests.slack.socket_fake import APP_TOKEN, SocketSlack

ADMIN_PASSWORD = "Admin-Pw-Socket-5531"
REQUESTER, APPROVER = "UALICE", "UDBA"


@pytest.fixture
def socket(fake: FakeSlack) -> Iterator[SocketSlack]:
    slack = SocketSlack(fake).start()
    yield slack
    slack.stop()


def _start(config: dict[str, Any], tmp_path: Path, fake: FakeSlack) -> serve.Served:
    config = {"state_path": str(tmp_path / "state.sqlite3"), **config}
    path = tmp_path / "pgconn.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    # No signing secret: Socket Mode needs none.
    return serve.start(path, fake, env={"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""})


@pytest.fixture
def down_bot(tmp_path: Path, fake: FakeSlack, socket: SocketSlack) -> Iterator[serve.Served]:
    served = _start({"clusters": {"down": {"dsn": DOWN_DSN, "channels": ["CINC"]}}}, tmp_path, fake)
    try:
        socket.wait_connected()
        yield served
    finally:
        served.stop()


def _posts(fake: FakeSlack, channel: str = "CINC") -> list[Call]:
    return fake.find("chat.postMessage", channel=channel)


def _wait_ready(served: serve.Served, status: int, timeout: float = 60) -> str:
    """Poll /readyz until it answers `status`; its body."""
    deadline = time.monotonic() + timeout
    while True:
        answer = served.get("/readyz")
        if answer.status_code == status:
            return answer.text
        assert time.monotonic() < deadline, f"/readyz stayed {answer.status_code}: {answer.text}"
        time.sleep(0.2)


def test_a_slash_command_over_the_socket(
    down_bot: serve.Served, fake: FakeSlack, socket: SocketSlack
) -> None:
    assert fake.find("apps.connections.open")[0].headers["authorization"] == f"Bearer {APP_TOKEN}"
    ack = socket.command("down")
    assert set(ack) <= {"envelope_id", "payload"}
    posts = fake.wait_for(lambda: _posts(fake))
    assert "*down*" in posts[0].shown()
    assert "Down-Cluster-Pw-8812" not in json.dumps([c.raw for c in fake.calls])


def test_a_dropped_socket_is_reopened_and_readiness_follows_it(
    down_bot: serve.Served, fake: FakeSlack, socket: SocketSlack
) -> None:
    assert _wait_ready(down_bot, 200) == "slack: ok\nstore: ok\nworkers: ok\n"

    socket.drop()  # Slack lets the next connection in: the bot is back on its own
    socket.wait_connected(opened=2)
    socket.command("down")
    fake.wait_for(lambda: _posts(fake))

    socket.refusing = True  # now Slack refuses new connections for a while
    socket.drop()
    assert "slack: FAILING" in _wait_ready(down_bot, 503)
    assert not socket.connected
    socket.refusing = False
    socket.wait_connected(opened=3)
    _wait_ready(down_bot, 200)
    socket.command("down")
    fake.wait_for(lambda: len(_posts(fake)) >= 2)


@pytest.fixture
def prod_bot(
    tmp_path: Path, fake: FakeSlack, socket: SocketSlack, incident: Incident
) -> Iterator[serve.Served]:
    admin = pg.unique("pgconn_admin")
    pg.create_role(incident.cluster, admin, password=ADMIN_PASSWORD, extra="SUPERUSER")
    cluster = {
        "dsn": incident.monitor_dsn,
        "admin_dsn": incident.cluster.dsn(user=admin, password=ADMIN_PASSWORD),
        "channels": ["CINC"],
        "approvers": [APPROVER],
    }
    served = _start({"clusters": {"prod": cluster}}, tmp_path, fake)
    try:
        socket.wait_connected()
        yield served
    finally:
        served.stop()


def test_a_pasted_error_is_answered_once_in_its_thread(
    prod_bot: serve.Served, fake: FakeSlack, socket: SocketSlack, incident: Incident
) -> None:
    event = {
        "type": "message",
        "channel": "CINC",
        "user": "UALICE",
        "text": f"prod is down:\n```{incident.fatal}```",
        "ts": "1700000000.000200",
        "channel_type": "channel",
    }
    ack = socket.event(event, event_id="Ev0SOCKET")
    assert set(ack) == {"envelope_id"}
    # Slack re-sends an envelope it thinks was lost: acknowledged, not answered again.
    assert socket.event(event, event_id="Ev0SOCKET", retry_attempt=1)
    thread = fake.wait_for(
        lambda: (
            (t := [c for c in _posts(fake) if c.body.get("thread_ts") == event["ts"]])
            and len(t) >= 2
            and t
        )
    )
    assert "*prod*" in thread[0].shown()
    assert incident.role in thread[0].shown()
    # The retry was told apart before its ack (the retry number came in the envelope).
    assert "event Ev0SOCKET delivered again (retry 1): already answered" in prod_bot.stop()
    summaries = [c for c in _posts(fake) if c.body.get("text", "").startswith("prod:")]
    assert len(summaries) == 1


def _click(socket: SocketSlack, user: str, action_id: str, value: str, message: Call) -> None:
    thread_ts = message.body.get("thread_ts") or message.answer["ts"]
    ack = socket.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0001",
            "trigger_id": "t.9",
            "response_url": socket.fake.response_url(user),
            "channel": {"id": "CINC"},
            "container": {
                "type": "message",
                "message_ts": message.answer["ts"],
                "channel_id": "CINC",
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
    assert set(ack) == {"envelope_id"}  # acknowledged at once; the work happens after


def _approve_value(call: Call) -> str | None:
    for block in call.blocks:
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                if element["action_id"] == APPROVE_ACTION:
                    return str(element["value"])
    return None


def test_a_fix_approved_over_the_socket_runs_once(
    prod_bot: serve.Served, fake: FakeSlack, socket: SocketSlack, incident: Incident
) -> None:
    socket.command("prod")
    [report, *_] = fake.wait_for(
        lambda: [c for c in _posts(fake) if "thread_ts" in c.body and buttons(c)]
    )
    button = next(
        b for b in buttons(report) if json.loads(b["value"])["params"].get("limit") is not None
    )
    new_limit = json.loads(button["value"])["params"]["limit"]
    _click(socket, REQUESTER, button["action_id"], button["value"], report)
    request = fake.wait_for(lambda: [c for c in _posts(fake) if _approve_value(c)])[-1]
    approval = _approve_value(request)
    assert approval is not None

    _click(socket, APPROVER, APPROVE_ACTION, approval, request)
    thread = report.body["thread_ts"]
    [result] = fake.wait_for(
        lambda: [
            c
            for c in _posts(fake)
            if c.body.get("thread_ts") == thread and "Fix ran on" in c.shown()
        ]
    )
    assert f"2 of {new_limit} used" in result.shown()
    assert "*Changed:*" in result.shown()  # a raised limit frees nothing
    with pg.admin(incident.cluster) as conn:
        assert conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [incident.role]
        ).fetchone() == (new_limit,)
    assert ADMIN_PASSWORD not in json.dumps([c.raw for c in fake.calls])
