"""Connection alerts in the shapes the monitors post them: Alertmanager's Slack notifier (its
default title, and the common `*Alert:* … *Details:*` text), the rules' own annotations
(postgres_exporter's mixin, awesome-prometheus-alerts), Grafana's default message, Datadog's
monitor notifications; and the alert-to-cluster mapping."""

from __future__ import annotations

import pytest

from bot.alerts import Alert, clusters_for, from_webhook, recognise
from bot.alerts.routing import PayloadError

# Alertmanager's default Slack title (`__subject`): group label values, then the other common
# label values in parentheses, names left out.
AM_DEFAULT_TITLE = "[FIRING:1] PostgreSQLMaxConnectionsReached (db-prod-1.internal:9187 email)"
AM_DEFAULT_RESOLVED = "[RESOLVED] PostgreSQLMaxConnectionsReached (db-prod-1.internal:9187 email)"

# The mixin's summary with a widely used text template (annotations, then the sorted labels).
AM_MIXIN_TEXT = """[FIRING:1] PostgreSQLHighConnections
*Alert:* db-prod-1.internal:9187 is over 80% of max Postgres connections. - `warning`
*Description:* db-prod-1.internal:9187 is exceeding 80% of the currently configured maximum \
Postgres connection limit (current value: 81s). Please check utilization graphs and confirm if \
this is normal service growth, abuse or an otherwise temporary condition or if new resources \
need to be provisioned (or the limits increased, which is mostly likely).
*Details:*
  • *alertname:* `PostgreSQLHighConnections`
  • *instance:* `db-prod-1.internal:9187`
  • *job:* `postgres`
  • *severity:* `warning`
"""

# awesome-prometheus-alerts: `{{ $labels }}` renders as Go's map.
AWESOME_TEXT = """[FIRING:1] PostgresqlTooManyConnections (orders db-prod-1:9187 postgres warning)
*Alert:* Postgresql too many connections (instance db-prod-1:9187) - `warning`
*Description:* PostgreSQL instance has too many connections (> 80%).
  VALUE = 86
  LABELS = map[datname:orders instance:db-prod-1:9187 job:postgres server:pg-prod]
"""

# Grafana's default Slack message (`default.title` / `default.message`).
GRAFANA_TEXT = """[FIRING:1] Postgres connections high (db-prod-1 orders)
**Firing**

Value: B=91
Labels:
 - alertname = Postgres connections high
 - datname = orders
 - host = db-prod-1
Annotations:
 - summary = Connections above 90% of max_connections on db-prod-1
Source: https://grafana.example/alerting/grafana/abc/view
Silence: https://grafana.example/alerting/silence/new
"""

DATADOG_TRIGGERED = """[Triggered on {host:db-prod-1,db:orders}] Postgres connection saturation
Connections are at 96% of max_connections on db-prod-1.
postgresql.percent_usage_connections over host:db-prod-1,db:orders was > 0.9 on average \
during the last 5m.
"""
DATADOG_RECOVERED = """[Recovered on {host:db-prod-1,db:orders}] Postgres connection saturation
postgresql.percent_usage_connections over host:db-prod-1,db:orders recovered.
"""


def test_the_default_alertmanager_title_names_the_rule_and_its_values() -> None:
    alert = recognise(AM_DEFAULT_TITLE)
    assert alert is not None
    assert (alert.name, alert.status, alert.source) == (
        "PostgreSQLMaxConnectionsReached",
        "firing",
        "alertmanager",
    )
    assert "db-prod-1.internal:9187" in alert.values
    resolved = recognise(AM_DEFAULT_RESOLVED)
    assert resolved is not None and resolved.status == "resolved"
    assert resolved.key == alert.key


def test_the_mixin_text_gives_its_labels_and_summary() -> None:
    alert = recognise(AM_MIXIN_TEXT)
    assert alert is not None
    assert alert.name == "PostgreSQLHighConnections"
    assert alert.label("instance") == "db-prod-1.internal:9187"
    assert alert.summary is not None and "over 80% of max Postgres connections" in alert.summary


def test_awesome_prometheus_alerts_labels_from_the_go_map() -> None:
    alert = recognise(AWESOME_TEXT)
    assert alert is not None
    assert alert.name == "PostgresqlTooManyConnections"
    assert alert.label("instance") == "db-prod-1:9187"
    assert alert.label("datname") == "orders"
    assert alert.label("server") == "pg-prod"


def test_grafana_default_message() -> None:
    alert = recognise(GRAFANA_TEXT)
    assert alert is not None
    assert alert.source == "grafana"
    assert alert.name == "Postgres connections high"
    assert alert.label("host") == "db-prod-1"
    assert alert.label("datname") == "orders"


def test_datadog_monitor_triggered_and_recovered_are_one_alert() -> None:
    fired, recovered = recognise(DATADOG_TRIGGERED), recognise(DATADOG_RECOVERED)
    assert fired is not None and recovered is not None
    assert (fired.status, recovered.status) == ("firing", "resolved")
    assert fired.source == "datadog"
    assert fired.label("host") == "db-prod-1"
    assert fired.label("db") == "orders"
    assert fired.key == recovered.key


@pytest.mark.parametrize(
    "text",
    [
        "[FIRING:1] KubePodCrashLooping (api-7f9 default)",
        "[FIRING:1] PostgresqlNotEnoughConnections (db-prod-1:9187)\n*Alert:* Postgresql not "
        "enough connections (instance db-prod-1:9187)",
        "[FIRING:1] PostgreSQLDown (db-prod-1:9187)",
        "[Triggered on {host:web-1}] CPU high",
        "deploy finished: checkout v42",
        "",
    ],
)
def test_other_alerts_are_none_of_its_business(text: str) -> None:
    assert recognise(text) is None


def test_mapping_labels_to_clusters_with_globs() -> None:
    alert = recognise(AWESOME_TEXT)
    assert alert is not None
    matchers = {
        "prod": (("instance", "db-prod-*"),),
        "prod_orders": (("instance", "DB-PROD-*"), ("datname", "orders")),
        "staging": (("instance", "db-staging-*"),),
        "needs_missing_label": (("instance", "db-prod-*"), ("region", "eu")),
    }
    assert clusters_for(alert, matchers) == ["prod", "prod_orders"]
    # Names unknown (the default title): a matcher holds when one of the bare values does.
    bare = recognise(AM_DEFAULT_TITLE)
    assert bare is not None
    assert clusters_for(bare, {"prod": (("instance", "db-prod-1.*"),), "x": (("job", "pg"),)}) == [
        "prod"
    ]
    assert clusters_for(bare, {"none": ()}) == []


def webhook(status: str, *alerts: dict[str, object]) -> dict[str, object]:
    """Alertmanager's webhook_config body (version 4)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="PostgreSQLHighConnections"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "pgconn",
        "groupLabels": {"alertname": "PostgreSQLHighConnections"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def am_alert(name: str, status: str = "firing", **labels: str) -> dict[str, object]:
    summary = (
        f"{labels.get('instance')} is over 80% of max Postgres connections."
        if name.startswith("PostgreSQL")
        else "Pod is crash looping."
    )
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": summary},
        "startsAt": "2026-12-03T18:40:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "a1b2c3d4e5f60718",
    }


def test_webhook_alerts_keep_their_labels_and_leave_others_out() -> None:
    body = webhook(
        "firing",
        am_alert("PostgreSQLHighConnections", instance="db-prod-1:9187", job="postgres"),
        am_alert("KubePodCrashLooping", pod="api"),
        am_alert("PostgreSQLMaxConnectionsReached", "resolved", instance="db-prod-2:9187"),
    )
    found = from_webhook(body)
    assert [(a.name, a.status) for a in found] == [
        ("PostgreSQLHighConnections", "firing"),
        ("PostgreSQLMaxConnectionsReached", "resolved"),
    ]
    assert found[0].label("instance") == "db-prod-1:9187"
    assert isinstance(found[0], Alert)


@pytest.mark.parametrize("body", [None, [], {"alerts": "x"}, {"alerts": [1]}])
def test_a_body_that_is_not_a_webhook_is_refused(body: object) -> None:
    with pytest.raises(PayloadError):
        from_webhook(body)
