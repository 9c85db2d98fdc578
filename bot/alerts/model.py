"""What pgconn keeps of an alert: its rule, whether it fires, and the labels it names."""

from __future__ import annotations

import re
from dataclasses import dataclass

FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """`labels` are the label pairs the text names; `values` are label values shown without
    their names (Alertmanager's default Slack title lists only the values)."""

    name: str
    status: str
    source: str
    labels: tuple[tuple[str, str], ...] = ()
    values: tuple[str, ...] = ()
    summary: str | None = None

    @property
    def firing(self) -> bool:
        return self.status == FIRING

    @property
    def key(self) -> str:
        """The rule's identity across its firing, repeated and resolved notifications."""
        return re.sub(r"[^a-z0-9]+", "", self.name.lower()) or "alert"

    def label(self, name: str) -> str | None:
        """The label's value; a template's `*Instance:*` counts as `instance` when the exact
        name is absent."""
        exact = next((v for k, v in self.labels if k == name), None)
        if exact is not None:
            return exact
        return next((v for k, v in self.labels if k.lower() == name.lower()), None)

    def where(self) -> str:
        """The labels that say which server, for people: `instance=db1:9187, datname=orders`."""
        shown = [f"{k}={v}" for k, v in self.labels if k in PLACE_LABELS]
        return ", ".join(shown) or " ".join(self.values)


# Labels that name a server or a database, in the order people look for them.
PLACE_LABELS = ("instance", "server", "host", "hostname", "cluster", "service", "datname", "db")
