"""Which configured cluster an alert is about (`clusters.<name>.alert_labels`), and the alerts
of an Alertmanager webhook notification."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from bot.alerts.model import FIRING, RESOLVED, Alert
from bot.alerts.recognise import recognise

Matchers = Sequence[tuple[str, str]]


def matches(alert: Alert, matchers: Matchers) -> bool:
    """Every matcher (label name, glob pattern; case-insensitive) holds. A label the alert
    shows only as a bare value (Alertmanager's default title) matches when one of those values
    does."""
    if not matchers:
        return False
    for name, pattern in matchers:
        wanted = pattern.lower()
        value = alert.label(name)
        candidates = [value] if value is not None else list(alert.values)
        if not any(fnmatchcase(c.lower(), wanted) for c in candidates):
            return False
    return True


def clusters_for(alert: Alert, matchers: Mapping[str, Matchers]) -> list[str]:
    """The clusters whose matchers all hold, sorted."""
    return sorted(name for name, m in matchers.items() if matches(alert, m))


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook notification."""


def from_webhook(payload: object) -> list[Alert]:
    """The connection alerts of an Alertmanager `webhook_config` notification (version "4":
    status, alerts[].status/labels/annotations/startsAt/fingerprint). Alerts about anything
    else are left out."""
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise PayloadError("expected Alertmanager's webhook JSON with an `alerts` list")
    found = []
    for raw in payload["alerts"]:
        if not isinstance(raw, dict):
            raise PayloadError("every entry of `alerts` must be an object")
        labels = _strings(raw.get("labels"))
        notes = _strings(raw.get("annotations"))
        status = RESOLVED if raw.get("status", payload.get("status")) == RESOLVED else FIRING
        name = labels.get("alertname", "")
        # The same recognition as for a posted alert, over what the notifier would have shown.
        text = "\n".join(
            [
                f"[{status.upper()}] {name}",
                *(f"{k}: {v}" for k, v in notes.items()),
                *(f"{k}={v}" for k, v in labels.items()),
            ]
        )
        alert = recognise(text)
        if alert is None:
            continue
        found.append(
            Alert(
                name=name or alert.name,
                status=status,
                source="alertmanager",
                labels=tuple(sorted(labels.items())),
                summary=notes.get("summary") or alert.summary,
            )
        )
    return found


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float)}
