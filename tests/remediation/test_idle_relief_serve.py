"""The whole relief flow through `pgconn serve` on a real server: a role at its CONNECTION LIMIT
whose sessions have been idle longer than the cluster's small `triage.idle_seconds`, the report
that proposes ending them, the approval, and the sessions gone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from bot.render.approval_blocks import APPROVE_ACTION
from bot.throwaway import ThrowawayCluster
from bot.triage.model import ActionKind
from tests import pg, serve
from tests.slack.conftest import buttons
from tests.slack.fake import FakeSlack
from tests.test_replicas import _approval_id, _click, _until

REQUESTER, APPROVER, INCIDENTS = "UALICE", "UDBA", "CINC"
IDLE_SECONDS = 2


def _pids(cluster: ThrowawayCluster, role: str) -> list[int]:
    with pg.admin(cluster) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE usename = %s ORDER BY pid", [role]
        ).fetchall()
    return [r[0] for r in rows]


def test_idle_sessions_past_the_configured_age_are_ended_after_approval(
    server15: ThrowawayCluster, tmp_path: Path
) -> None:
    cluster = server15
    role = pg.unique("app")
    password = pg.create_role(cluster, role, limit=3)
    monitor = pg.unique("pgconn_mon")
    mon_pw = pg.create_role(cluster, monitor, extra="IN ROLE pg_monitor")
    config = tmp_path / "pgconn.yaml"
    config.write_text(
        "clusters:\n"
        "  main:\n"
        f'    dsn: "{cluster.dsn(user=monitor, password=mon_pw)}"\n'
        f'    admin_dsn: "{cluster.dsn()}"\n'
        f"    channels: [{INCIDENTS}]\n"
        f"    approvers: [{APPROVER}]\n"
        f"    triage: {{idle_seconds: {IDLE_SECONDS}}}\n"
        f'state_path: "{tmp_path / "state.sqlite3"}"\n'
    )
    fake = FakeSlack().start()
    served = None
    try:
        with pg.holding(cluster) as holder:
            holder.open(3, role, password, app="leaky")
            assert "too many connections" in holder.refused(role, password)
            held = _pids(cluster, role)
            time.sleep(IDLE_SECONDS + 1)  # older than triage.idle_seconds, far below 600 s
            served = serve.start(config, fake)
            served.sender().command("main", channel=INCIDENTS, user=REQUESTER)
            report = _until(
                lambda: [
                    c
                    for c in fake.find("chat.postMessage", channel=INCIDENTS)
                    if "thread_ts" in c.body and buttons(c)
                ],
                "the report",
            )
            shown = " ".join(c.shown() for c in fake.find("chat.postMessage", channel=INCIDENTS))
            assert f"idle for more than {IDLE_SECONDS} s" in shown
            button = next(
                b
                for c in report
                for b in buttons(c)
                if json.loads(b["value"])["kind"] == ActionKind.TERMINATE.value
            )
            params = json.loads(button["value"])["params"]
            assert (params["role"], params["state"], params["min_age_s"]) == (
                role,
                "idle",
                IDLE_SECONDS,
            )
            message = next(c for c in report if button in buttons(c))
            _click(served, fake, REQUESTER, button["action_id"], button["value"], message)
            request = _until(
                lambda: [
                    c for c in fake.find("chat.postMessage", channel=INCIDENTS) if _approval_id(c)
                ],
                "the approval request",
            )[0]
            for pid in held:
                assert f"pid {pid}" in request.shown()
            approval_id = _approval_id(request)
            assert approval_id
            _click(served, fake, APPROVER, APPROVE_ACTION, approval_id, request)
            result = _until(
                lambda: [
                    c
                    for c in fake.find("chat.postMessage", channel=INCIDENTS)
                    if "Fix ran on" in c.shown()
                ],
                "the result",
            )[0]
            assert "*Freed:*" in result.shown()
            assert f'role \\"{role}\\": 0 of 3 used (0%), 3 free' in result.shown()
            _until(lambda: not _pids(cluster, role), "the sessions to end")
            psycopg.connect(cluster.dsn(user=role, password=password)).close()
    finally:
        if served is not None:
            out = served.stop()
            assert mon_pw not in out and cluster.superuser_password not in out
        fake.stop()
