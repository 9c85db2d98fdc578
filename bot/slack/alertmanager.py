"""`POST /alertmanager` on the side port: Alertmanager's webhook receiver, for teams whose alerts
do not reach Slack. Each connection alert is mapped to a cluster by its labels and triaged in
the cluster's alert channel, one thread per alert, as alerts posted in Slack are.

Alertmanager sends the shared token as `Authorization: Bearer …` (`http_config.authorization`);
without `alertmanager.token` in the config the route is not served at all.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping

from bot import alerts
from bot.alerts import Alert
from bot.alerts.routing import PayloadError
from bot.observability.health import HealthServer, PostHandler
from bot.render.blocks import escape, notice
from bot.slack import alerts as slack_alerts
from bot.slack.context import Context

log = logging.getLogger("pgconn.alertmanager")

PATH = "/alertmanager"


def register(health: HealthServer, ctx: Context) -> None:
    """Serve the receiver on the side port when a token is configured."""
    if ctx.config.alertmanager_token:
        health.route_post(PATH, receiver(ctx))


def receiver(ctx: Context) -> PostHandler:
    expected = (ctx.config.alertmanager_token or "").encode()

    def handle(headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if (
            not expected
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(token.strip().encode(), expected)
        ):
            return 401, b"missing or wrong bearer token\n"
        try:
            found = alerts.from_webhook(json.loads(body))
        except (ValueError, PayloadError) as exc:
            reason = str(exc) if isinstance(exc, PayloadError) else "the body is not JSON"
            return 400, f"{reason}\n".encode()
        taken = unmapped = 0
        for alert in found:
            cluster = slack_alerts.cluster_of(ctx, alert, None)
            config = ctx.config.cluster(cluster) if cluster else None
            channel = (
                config.alert_channel if config else None
            ) or ctx.config.warnings.alert_channel
            if cluster is None or channel is None:
                unmapped += 1
                log.warning(
                    "Alertmanager alert %s (%s): %s",
                    alert.name,
                    alert.where(),
                    "no cluster's alert_labels match it"
                    if cluster is None
                    else f"cluster {cluster} has no alert_channel",
                )
                continue
            taken += 1
            ctx.submit("Alertmanager notification", _triage, ctx, alert, cluster, channel)
        return 200, f"{taken} connection alert(s) taken, {unmapped} not mapped\n".encode()

    return handle


def _triage(ctx: Context, alert: Alert, cluster: str, channel: str) -> None:
    slack_alerts.handle(ctx, alert, cluster, channel, None, _header(ctx, alert, channel))


def _header(ctx: Context, alert: Alert, channel: str) -> Callable[[], str]:
    """The thread's first message: which alert, where, and its summary."""

    def post() -> str:
        where = alert.where()
        text = f":rotating_light: *{escape(alert.name)}* is firing" + (
            f" ({escape(where)})" if where else ""
        )
        if alert.summary:
            text += f"\n{escape(alert.summary)}"
        text += "\n_From Alertmanager. The live triage follows in this thread._"
        return ctx.poster.post(channel, notice(text))

    return post
