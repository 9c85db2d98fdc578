"""`POST /alertmanager` on the side port of the real `pgconn serve` process: Alertmanager's
webhook JSON, the shared bearer token, and the triage posted to the cluster's alert channel,
one thread per alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests import serve
from tests.slack.conftest import Incident
from tests.slack.fake import Call, FakeSlack

TOKEN = "am-shared-Token-5531-abcdef"


def _config(tmp_path: Path, incident: Incident) -> Path:
    path = tmp_path / "pgconn.yaml"
    doc = {
        "clusters": {
            "prod": {
                "dsn": incident.monitor_dsn,
                "alert_labels": {"instance": "db-prod-*"},
                "alert_channel": "CALERTS",
                "warnings": {"enabled": False},  # only the receiver posts here
            },
            "staging": {"dsn": incident.monitor_dsn, "alert_labels": {"instance": "db-stg-*"}},
        },
        "alertmanager": {"token": "${AM_TOKEN}"},
        "state_path": str(tmp_path / "state.sqlite3"),
    }
    path.write_text(json.dumps(doc))  # JSON is YAML
    return path


def notification(status: str, name: str = "PostgreSQLMaxConnectionsReached") -> dict[str, Any]:
    """Alertmanager's webhook_config body (version 4), one alert from postgres_exporter's mixin."""
    alert = {
        "status": status,
        "labels": {"alertname": name, "instance": "db-prod-1:9187", "severity": "warning"},
        "annotations": {
            "summary": "db-prod-1:9187 has maxed out Postgres connections.",
            "description": "db-prod-1:9187 is exceeding the currently configured maximum "
            "Postgres connection limit (current value: 100s).",
        },
        "startsAt": "2026-12-03T18:40:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-03T18:55:00.000Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=pg_stat_activity_count",
        "fingerprint": "6c4b0c1ad4b9d3a1",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + name + '"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "pgconn",
        "groupLabels": {"alertname": name},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


def test_the_receiver_checks_its_token_and_triages_in_one_thread(
    tmp_path: Path, fake: FakeSlack, incident: Incident
) -> None:
    served = serve.start(_config(tmp_path, incident), fake, env={"AM_TOKEN": TOKEN})
    url = f"http://127.0.0.1:{served.health_port}/alertmanager"
    good = {"Authorization": f"Bearer {TOKEN}"}

    def post(body: object, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(url, content=json.dumps(body), headers=headers, timeout=30)

    def in_thread(ts: str) -> list[Call]:
        return [c for c in fake.find("chat.postMessage") if c.body.get("thread_ts") == ts]

    try:
        assert post(notification("firing"), {}).status_code == 401
        assert post(notification("firing"), {"Authorization": "Bearer wrong"}).status_code == 401
        assert post(notification("firing"), {"Authorization": TOKEN}).status_code == 401
        bad = httpx.post(url, content=b"{not json", headers=good, timeout=30)
        assert bad.status_code == 400
        assert fake.find("chat.postMessage") == []

        answer = post(notification("firing"), good)
        assert answer.status_code == 200 and answer.text.startswith("1 connection alert")
        [root] = fake.wait_for(lambda: fake.find("chat.postMessage", channel="CALERTS"))
        assert "PostgreSQLMaxConnectionsReached" in root.shown()
        assert "instance=db-prod-1:9187" in root.shown()
        ts = root.answer["ts"]
        thread = fake.wait_for(lambda: (t := in_thread(ts)) and len(t) >= 2 and t)
        assert thread[0].body["text"].startswith("prod:")
        assert incident.role in thread[0].shown()  # the live finding on the real server

        assert post(notification("firing"), good).status_code == 200  # a repeat: nothing new
        assert post(notification("resolved"), good).status_code == 200
        fake.wait_for(lambda: any("resolved at" in c.shown() for c in in_thread(ts)))
        assert post(notification("firing"), good).status_code == 200  # flapping
        fake.wait_for(lambda: any("fired again" in c.shown() for c in in_thread(ts)))

        roots = [c for c in fake.find("chat.postMessage") if "thread_ts" not in c.body]
        cards = [c for c in fake.find("chat.postMessage") if c.body["text"].startswith("prod:")]
        assert (len(roots), len(cards)) == (1, 1)

        crash = notification("firing", name="KubePodCrashLooping")
        crash["alerts"][0]["annotations"] = {"summary": "Pod api-7f9 is crash looping."}
        other = post(crash, good)
        assert other.status_code == 200 and other.text.startswith("0 connection alert")
    finally:
        out = served.stop()
    assert TOKEN not in out
