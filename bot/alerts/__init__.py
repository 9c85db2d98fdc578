"""Connection alerts from the monitors a team already runs (Prometheus Alertmanager, Grafana,
Datadog), recognised in the text they post and mapped to a configured cluster by their labels.

Pure: no I/O. The Slack adapter reads alert sources' messages with `recognise`; the
Alertmanager receiver builds `Alert`s from the webhook's JSON with `from_webhook`.
"""

from __future__ import annotations

from bot.alerts.model import Alert
from bot.alerts.recognise import recognise
from bot.alerts.routing import clusters_for, from_webhook

__all__ = ["Alert", "clusters_for", "from_webhook", "recognise"]
