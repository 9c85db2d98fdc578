"""Recognise a connection alert in the text a monitor posted to Slack.

The shapes read here are those the tools produce:

- Alertmanager's Slack notifier: the title `[FIRING:1] PostgreSQLHighConnections (db1:9187 …)`
  (the default template lists the group and common label values without their names) and a
  text built from the rule's annotations, often with a label list (`• *instance:* `db1``).
- The rules' own annotations: postgres_exporter's mixin (`db1:9187 is over 80% of max Postgres
  connections.`), awesome-prometheus-alerts (`Postgresql too many connections (instance db1)`,
  `LABELS = map[datname:orders instance:db1]`).
- Grafana's default message: the same title, then `Labels:` with ` - instance = db1` lines.
- Datadog monitors: `[Triggered on {host:db1,db:orders}] Postgres connection saturation`,
  `Recovered`, and its metrics (`postgresql.percent_usage_connections`).
"""

from __future__ import annotations

import re

from bot.alerts.model import FIRING, RESOLVED, Alert

# Rules whose name alone says "connections are running out".
KNOWN_RULES = {
    "postgresqlhighconnections": "PostgreSQLHighConnections",
    "postgresqlmaxconnectionsreached": "PostgreSQLMaxConnectionsReached",
    "postgresqltoomanyconnections": "PostgresqlTooManyConnections",
    "postgrestoomanyconnections": "PostgresTooManyConnections",
}
_KNOWN = re.compile(
    r"\b(PostgreSQL\s*High\s*Connections|PostgreSQL\s*Max\s*Connections\s*Reached"
    r"|Postgres(?:ql)?\s*Too\s*Many\s*Connections)\b",
    re.IGNORECASE,
)
# A rule or monitor about Postgres connections filling up, by name or summary.
_POSTGRES = re.compile(r"postgres|\bpg|psql|database|\bdb\b", re.IGNORECASE)
_CONNECTIONS = re.compile(r"connection", re.IGNORECASE)
_FULL = re.compile(
    r"too\s*many|high|max|saturat|exhaust|limit|reached|usage|percent|\d+\s*%|full", re.IGNORECASE
)
_NOT_ABOUT_FULL = re.compile(r"not\s*enough\s*connections|NotEnoughConnections", re.IGNORECASE)
# Metrics that only connection-usage rules look at.
_METRICS = re.compile(
    r"\b(?:pg_stat_activity_count|pg_settings_max_connections"
    r"|postgresql\.percent_usage_connections|postgresql\.max_connections)\b"
)

_AM_TITLE = re.compile(
    r"^\s*\[(?P<status>FIRING|RESOLVED)(?::\d+)?(?:,\s*RESOLVED:\d+)?\]\s*(?P<rest>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_DD_TITLE = re.compile(
    r"^\s*\[?(?P<status>Triggered|Re-Triggered|Warn|Re-Warn|Recovered|Warn\s*Recovered|No\s*Data)"
    r"(?:\s+on\s+\{(?P<tags>[^}]*)\})?\]?:?\s+(?P<rest>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_LABEL = r"[A-Za-z_][A-Za-z0-9_]*"
# `• *instance:* `db1``, `*instance:* db1`, `- instance = db1`, `instance: db1` on a line.
_LINE_LABEL = re.compile(
    rf"^[ \t]*(?:[-•*][ \t]*)?\*?(?P<k>{_LABEL})\*?[ \t]*(?::\*?|=)[ \t]*`?(?P<v>[^`\s]+)`?[ \t]*$",
    re.MULTILINE,
)
_GO_MAP = re.compile(r"\bmap\[(?P<body>[^\]]*)\]")  # `{{ $labels }}`: map[datname:x instance:y]
_BRACES = re.compile(r"\{(?P<body>[^{}]*)\}")  # {instance="db1", job="pg"} or {host:db1,db:x}
_PAIR = re.compile(rf"(?P<k>{_LABEL})\s*(?:=\s*\"(?P<q>[^\"]*)\"|[:=]\s*(?P<v>[^\s,]+))")
# postgres_exporter's mixin: "db1:9187 is over 80% of max Postgres connections." / "has maxed out"
_MIXIN_SUMMARY = re.compile(
    r"^\s*(?:\*Alert:\*\s*)?(\S+) (?:is over \d+% of max|has maxed out) Postgres", re.MULTILINE
)
_SLACK_LINK = re.compile(r"<(?:[^|>]*\|)?(?P<label>[^>]*)>")
# `alertname` on a line of its own (Grafana's names may have spaces), else inside a label set.
_ALERTNAME_LINE = re.compile(
    r"^[ \t]*(?:[-•*][ \t]*)?\*?alertname\*?[ \t]*(?::\*?|=)[ \t]*`?(?P<v>[^`\n]+?)`?[ \t]*$",
    re.MULTILINE,
)
_ALERTNAME = re.compile(rf"\balertname\s*[:=]\s*\"?(?P<v>{_LABEL})")
_SUMMARY = re.compile(r"^\s*(?:[-•*]\s*)?\*?summary\*?\s*(?::\*?|=)\s*(?P<v>.+)$", re.I | re.M)
_ALERT_LINE = re.compile(r"^\s*\*Alert:\*\s*(?P<v>.+?)(?:\s+-\s+`\w+`)?\s*$", re.MULTILINE)

# Label names too generic to tell servers apart by (a line `*Severity:* critical` is not one).
_NOT_LABELS = {"alert", "description", "details", "summary", "value", "source", "silence"}


def recognise(text: str) -> Alert | None:
    """The connection alert in `text`, or None when it is not one."""
    text = _SLACK_LINK.sub(lambda m: m.group("label"), text)
    status, name, source, values, tags = _title(text)
    found = _ALERTNAME_LINE.search(text) or _ALERTNAME.search(text)
    if found:
        name = found.group("v")
    known = _KNOWN.search(text)
    if name is None and known:
        name = known.group(1)
    if name is None:
        return None
    name = KNOWN_RULES.get(re.sub(r"\W", "", name.lower()), name)
    summary = _summary(text)
    about = f"{name}\n{summary or ''}"
    if _NOT_ABOUT_FULL.search(about):
        return None
    if not (
        name.lower().replace(" ", "") in KNOWN_RULES
        or (_POSTGRES.search(about) and _CONNECTIONS.search(about) and _FULL.search(about))
        or _METRICS.search(text)
    ):
        return None
    labels = _labels(text, tags)
    values = tuple(v for v in values if v.lower() != name.lower())
    return Alert(name, status, source, labels, values, summary)


def _title(text: str) -> tuple[str, str | None, str, tuple[str, ...], str]:
    """(status, rule name, source, unnamed label values, Datadog tags) from the title line."""
    am = _AM_TITLE.search(text)
    if am:
        status = RESOLVED if am.group("status").upper() == "RESOLVED" else FIRING
        rest = am.group("rest").strip()
        head, _, tail = rest.partition("(")
        words = head.split()
        values = tuple(tail.rstrip(") ").split()) + tuple(words[1:])
        source = "grafana" if re.search(r"^\s*Labels:\s*$", text, re.M) else "alertmanager"
        return status, words[0] if words else None, source, values, ""
    dd = _DD_TITLE.search(text)
    if dd:
        word = dd.group("status").lower()
        status = RESOLVED if "recovered" in word else FIRING
        return status, dd.group("rest").strip(), "datadog", (), dd.group("tags") or ""
    if re.search(r"\bresolved\b", text[:200], re.IGNORECASE):
        return RESOLVED, None, "text", (), ""
    return FIRING, None, "text", (), ""


def _labels(text: str, tags: str) -> tuple[tuple[str, str], ...]:
    pairs: dict[str, str] = {}

    def add(k: str, v: str) -> None:
        v = v.strip().strip("`\"'")
        if v and k.lower() not in _NOT_LABELS:
            pairs.setdefault(k, v)

    for m in _PAIR.finditer(tags):
        add(m.group("k"), m.group("q") or m.group("v") or "")
    for m in _LINE_LABEL.finditer(text):
        add(m.group("k"), m.group("v"))
    for m in _GO_MAP.finditer(text):
        for item in m.group("body").split():
            k, sep, v = item.partition(":")
            if sep and re.fullmatch(_LABEL, k):
                add(k, v)
    for m in _BRACES.finditer(text):
        for p in _PAIR.finditer(m.group("body")):
            add(p.group("k"), p.group("q") or p.group("v") or "")
    # The rules' summaries name the instance in words.
    said = re.search(r"\(instance\s+([^\s)]+)\)", text) or _MIXIN_SUMMARY.search(text)
    if said:
        add("instance", said.group(1))
    return tuple(pairs.items())


def _summary(text: str) -> str | None:
    m = _SUMMARY.search(text) or _ALERT_LINE.search(text)
    if m:
        return m.group("v").strip()[:300]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[1][:300] if len(lines) > 1 else None
