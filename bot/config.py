"""The configuration file: one YAML document with `${ENV}` interpolation.

Every problem is collected with its path (`clusters.prod.dsn: required`) and reported at once, so
a broken deploy is fixed in one round. Unknown keys are errors too: a typo must not silently
disable a setting. See README.md, "Configuration", for every key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError, UnknownClusterError
from bot.names import CLUSTER_NAME
from bot.redact import dsn_password

_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_CLUSTER_NAME = CLUSTER_NAME


@dataclass(frozen=True)
class LevelOverride:
    """Usage shares for one entity (or a whole cluster); None inherits the enclosing level."""

    threshold: float | None = None
    critical: float | None = None


@dataclass(frozen=True)
class ClusterWarnings:
    """`clusters.<name>.warnings`: whether the scheduler probes the cluster, and its levels.

    `threshold`/`critical` apply to the server and to every role and database of the cluster;
    `roles.<role>` and `databases.<db>` override them for one entity. Pairs, not a dict, keep
    the config hashable.
    """

    enabled: bool = True
    levels: LevelOverride = field(default_factory=LevelOverride)
    roles: tuple[tuple[str, LevelOverride], ...] = ()
    databases: tuple[tuple[str, LevelOverride], ...] = ()

    def role(self, name: str) -> LevelOverride | None:
        return next((o for n, o in self.roles if n == name), None)

    def database(self, name: str) -> LevelOverride | None:
        return next((o for n, o in self.databases if n == name), None)


@dataclass(frozen=True)
class TriageSettings:
    """`triage` (global) and `clusters.<name>.triage` (overrides): what triage calls idle,
    stuck in a transaction, or a probable leak.

    - `idle_seconds`: a session idle longer than this holds its slot for nothing.
    - `idle_in_transaction_seconds`: idle in transaction longer than this is stuck.
    - `leak_min_sessions`: this many long-idle sessions of one role make a finding even when
      nothing is full, and are the least a leak is called on.
    - `leak_share`: the share of them from one application and client that makes it a leak.
    """

    idle_seconds: int = 600
    idle_in_transaction_seconds: int = 60
    leak_min_sessions: int = 5
    leak_share: float = 0.6


_TRIAGE_KEYS = {"idle_seconds", "idle_in_transaction_seconds", "leak_min_sessions", "leak_share"}

DEFAULT_MAX_SESSIONS_PER_ACTION = 50
DEFAULT_APPROVAL_TTL_MINUTES = 15


@dataclass(frozen=True)
class ClusterConfig:
    """One cluster. The remediation keys (docs/remediation.md):

    - `admin_dsn`: the role fixes run as; without it nothing can be approved or run.
    - `approvers` / `approver_usergroup`: Slack user IDs / a user group ID allowed to approve;
      when either is set it replaces the global `approvers` / `approver_usergroup` here.
    - `two_person_rule`: the requester may never approve their own request (default on).
    - `allow_superuser_targets`: superusers' sessions may be terminated or cancelled (off).
    - `max_sessions_per_action`: the most sessions one approved action may signal.
    - `approval_ttl_minutes`: how long a request waits for an approver before it expires.

    And `pgbouncer_dsn`, optional (docs/pgbouncer.md): PgBouncer's admin console in front of
    this cluster (database `pgbouncer`, a `stats_users` entry is enough). When set, every
    diagnosis reads the pooler too.
    """

    name: str
    dsn: str
    admin_dsn: str | None = None
    pgbouncer_dsn: str | None = None
    channels: tuple[str, ...] = ()
    alert_channel: str | None = None
    warnings: ClusterWarnings = field(default_factory=ClusterWarnings)
    approvers: tuple[str, ...] = ()
    approver_usergroup: str | None = None
    two_person_rule: bool = True
    allow_superuser_targets: bool = False
    max_sessions_per_action: int = DEFAULT_MAX_SESSIONS_PER_ACTION
    approval_ttl_minutes: int = DEFAULT_APPROVAL_TTL_MINUTES
    # The global `triage` settings with this cluster's `triage` overrides applied.
    triage: TriageSettings = field(default_factory=TriageSettings)
    # `alert_labels`: (label, glob) pairs that all hold for an alert about this cluster.
    alert_labels: tuple[tuple[str, str], ...] = ()
    # The server machine's memory in bytes (`memory: 16GB`): caps a raised max_connections.
    memory: int | None = None


@dataclass(frozen=True)
class WarningsConfig:
    """The `warnings` section: the scheduler that warns before a limit is reached.

    - `interval_seconds`: time between probe rounds (5-86400).
    - `threshold`, `critical`: usage shares (current / limit) that warn and that are critical.
    - `clear_margin`: hysteresis; a level clears only below its share minus this margin, so a
      load hovering at the line does not post again and again.
    - `concurrency`: probes running at once (threads); `probe_timeout_seconds`: the connect
      timeout and the probe's statement_timeout, and after twice that the probe is abandoned.
    - `unreachable_after`: failed rounds in a row before a cluster is reported unreachable.
    - `samples`: recent samples kept per entity for the trend and time to limit.
    - `reopen_seconds`: a recovered entity that crosses again within this reopens the same
      message (updated, with a reply in its thread) instead of posting a new one.
    - `refresh_seconds`: an open warning's message is updated at least this often (its time
      over), and otherwise only when what it says changes.
    - `alert_channel`: where warnings go for clusters without `clusters.<name>.alert_channel`.
    - `holder`: this replica's name for the scheduler's lease (default: hostname-pid).
    """

    interval_seconds: int = 60
    threshold: float = 0.8
    critical: float = 0.95
    clear_margin: float = 0.1
    concurrency: int = 16
    probe_timeout_seconds: int = 5
    unreachable_after: int = 2
    samples: int = 10
    reopen_seconds: int = 900
    refresh_seconds: int = 300
    alert_channel: str | None = None
    holder: str | None = None


DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackConfig:
    """Tokens default to the standard env vars; the file may set them (usually as ${ENV})."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_SLACK_API_URL
    max_file_bytes: int = 200 * 1024 * 1024
    # Bot or app IDs (B…, A…) whose messages are read as alerts (`slack.alert_sources`).
    alert_sources: tuple[str, ...] = ()

    def secrets(self) -> list[str]:
        return [s for s in (self.bot_token, self.signing_secret, self.app_token) if s]


@dataclass(frozen=True)
class Config:
    clusters: Mapping[str, ClusterConfig]
    # Who may approve fixes on clusters that name no approvers of their own.
    approvers: tuple[str, ...] = ()
    approver_usergroup: str | None = None
    warnings: WarningsConfig = field(default_factory=WarningsConfig)
    state_path: Path = Path("pgconn-state.sqlite3")
    state_dsn: str | None = None
    slack: SlackConfig = field(default_factory=SlackConfig)
    source: str = "config"
    triage: TriageSettings = field(default_factory=TriageSettings)
    # `alertmanager.token`: the bearer token Alertmanager's webhook sends; no token, no receiver.
    alertmanager_token: str | None = None

    def clusters_for_channel(self, channel: str) -> list[str]:
        """Clusters bound to a Slack channel (by ID or #name) through `clusters.<n>.channels`."""
        return sorted(n for n, c in self.clusters.items() if channel in c.channels)

    def channel_may_use(self, cluster: str, channel_ids: Sequence[str]) -> bool:
        """A cluster with `channels` may only be used there; one without, anywhere."""
        bound = self.clusters[cluster].channels
        return not bound or any(c in bound for c in channel_ids)

    def cluster(self, name: str) -> ClusterConfig:
        try:
            return self.clusters[name]
        except KeyError:
            raise UnknownClusterError(name, sorted(self.clusters)) from None

    def secrets(self) -> list[str]:
        """Every password in a configured DSN, for masking free text that might echo one."""
        dsns = [
            dsn for c in self.clusters.values() for dsn in (c.dsn, c.admin_dsn, c.pgbouncer_dsn)
        ]
        passwords = (dsn_password(dsn) for dsn in (*dsns, self.state_dsn))
        token = [self.alertmanager_token] if self.alertmanager_token else []
        return [p for p in passwords if p] + self.slack.secrets() + token


class _Collector:
    """Accumulates problems with their paths while the document is walked."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mapping(self, value: object, path: str, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping, got {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.add(f"{path}.{key}" if path else str(key), f"unknown key (expected: {hint})")
        return value

    def string(self, value: object, path: str, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            self.add(path, "must be a non-empty string")
            return None
        return str(value)

    def strings(self, value: object, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.add(path, "must be a list of strings")
            return ()
        out = [self.string(item, f"{path}[{i}]", required=True) for i, item in enumerate(value)]
        return tuple(s for s in out if s is not None)

    def boolean(self, value: object, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(path, "must be true or false")
            return default
        return value

    def number(
        self,
        value: object,
        path: str,
        default: float,
        *,
        lo: float,
        hi: float,
        integer: bool = False,
    ) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "must be a number")
            return default
        if integer and not isinstance(value, int):
            self.add(path, "must be a whole number")
            return default
        if not lo <= value <= hi:
            self.add(path, f"must be between {lo:g} and {hi:g}, got {value:g}")
            return default
        return float(value)


def interpolate(text: str, env: Mapping[str, str], problems: _Collector, path: str) -> str:
    """Replace `${NAME}` and `${NAME:-default}`; an unset variable without default is an error."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.add(path, f"environment variable {name} is not set")
        return ""

    return _ENV_REF.sub(sub, text)


def _interpolate_tree(
    node: object, env: Mapping[str, str], problems: _Collector, path: str
) -> object:
    if isinstance(node, str):
        return interpolate(node, env, problems, path or "(root)")
    if isinstance(node, list):
        return [_interpolate_tree(v, env, problems, f"{path}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, dict):
        return {
            k: _interpolate_tree(v, env, problems, f"{path}.{k}" if path else str(k))
            for k, v in node.items()
        }
    return node


def _validate_dsn(dsn: str, path: str, problems: _Collector) -> None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(dsn)
    except Exception:  # psycopg's message may quote the DSN, password included
        problems.add(path, "is not a valid libpq connection string or postgresql:// URI")
        return
    from bot.conninfo import dsn_misread

    misread = dsn_misread(dsn)
    if misread:
        problems.add(path, misread)


def _validate_console_dsn(dsn: str, path: str, problems: _Collector) -> None:
    """PgBouncer's console answers on database `pgbouncer` only (the default when unset)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        dbname = conninfo_to_dict(dsn).get("dbname")
    except Exception:  # psycopg's message may quote the DSN, password included
        problems.add(path, "is not a valid libpq connection string or postgresql:// URI")
        return
    from bot.conninfo import dsn_misread

    misread = dsn_misread(dsn)
    if misread:
        problems.add(path, misread)
        return
    if dbname not in (None, "pgbouncer"):
        problems.add(path, "must name PgBouncer's admin console: dbname=pgbouncer")


def parse(document: object, env: Mapping[str, str] | None = None, source: str = "config") -> Config:
    problems = _Collector()
    data = _interpolate_tree(document, os.environ if env is None else env, problems, "")
    top = problems.mapping(
        data,
        "",
        {
            "clusters",
            "approvers",
            "warnings",
            "state_path",
            "state_dsn",
            "slack",
            "approver_usergroup",
            "triage",
            "alertmanager",
        },
    )
    triage = _triage(top.get("triage"), "triage", TriageSettings(), problems)

    clusters: dict[str, ClusterConfig] = {}
    raw_clusters = problems.mapping(top.get("clusters"), "clusters", set(top.get("clusters") or {}))
    if not raw_clusters:
        problems.add("clusters", "at least one cluster is required")
    for name, raw in raw_clusters.items():
        path = f"clusters.{name}"
        if not _CLUSTER_NAME.match(str(name)):
            problems.add(path, "cluster names are letters, digits, '_', '.', '-' (max 63)")
        body = problems.mapping(
            raw,
            path,
            {
                "dsn",
                "admin_dsn",
                "channels",
                "alert_channel",
                "warnings",
                "pgbouncer_dsn",
                "triage",
                "alert_labels",
                "memory",
                *_REMEDIATION_KEYS,
            },
        )
        dsn = problems.string(body.get("dsn"), f"{path}.dsn", required=True)
        admin = problems.string(body.get("admin_dsn"), f"{path}.admin_dsn")
        for key, value in (("dsn", dsn), ("admin_dsn", admin)):
            if value:
                _validate_dsn(value, f"{path}.{key}", problems)
        pooler = problems.string(body.get("pgbouncer_dsn"), f"{path}.pgbouncer_dsn")
        if pooler:
            _validate_console_dsn(pooler, f"{path}.pgbouncer_dsn", problems)
        clusters[str(name)] = ClusterConfig(
            name=str(name),
            dsn=dsn or "",
            admin_dsn=admin,
            pgbouncer_dsn=pooler,
            channels=problems.strings(body.get("channels"), f"{path}.channels"),
            alert_channel=problems.string(body.get("alert_channel"), f"{path}.alert_channel"),
            warnings=_cluster_warnings(body.get("warnings"), f"{path}.warnings", problems),
            triage=_triage(body.get("triage"), f"{path}.triage", triage, problems),
            alert_labels=_alert_labels(body.get("alert_labels"), f"{path}.alert_labels", problems),
            memory=_memory(body.get("memory"), f"{path}.memory", problems),
            **_remediation(body, path, problems),
        )

    warn = _warnings(top.get("warnings"), problems)
    for name, cluster in clusters.items():
        _check_levels(warn, cluster.warnings, f"clusters.{name}.warnings", problems)

    approvers = problems.strings(top.get("approvers"), "approvers")
    approver_usergroup = problems.string(top.get("approver_usergroup"), "approver_usergroup")
    slack = _slack(top.get("slack"), problems, os.environ if env is None else env)
    state_path = problems.string(top.get("state_path"), "state_path")
    state_dsn = problems.string(top.get("state_dsn"), "state_dsn")
    if state_dsn:
        _validate_dsn(state_dsn, "state_dsn", problems)
    am = problems.mapping(top.get("alertmanager"), "alertmanager", {"token"})
    am_token = problems.string(am.get("token"), "alertmanager.token")
    if am_token is not None and len(am_token) < 16:
        problems.add("alertmanager.token", "must be at least 16 characters (a shared secret)")
    if problems.problems:
        raise ConfigError(problems.problems, source)
    return Config(
        clusters=clusters,
        approvers=approvers,
        approver_usergroup=approver_usergroup,
        slack=slack,
        warnings=warn,
        state_path=Path(state_path) if state_path else Config.state_path,
        state_dsn=state_dsn,
        source=source,
        triage=triage,
        alertmanager_token=am_token,
    )


_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _alert_labels(raw: object, path: str, problems: _Collector) -> tuple[tuple[str, str], ...]:
    """`clusters.<name>.alert_labels`: label name -> glob pattern (`instance: "db-prod-*"`)."""
    body = problems.mapping(raw, path, set(raw) if isinstance(raw, dict) else set())
    pairs = []
    for key, value in body.items():
        if not _LABEL_NAME.match(str(key)):
            problems.add(f"{path}.{key}", "label names are letters, digits and '_'")
            continue
        pattern = problems.string(value, f"{path}.{key}", required=True)
        if pattern is not None:
            pairs.append((str(key), pattern))
    return tuple(pairs)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(kB|MB|GB|TB)\s*$")
_SIZE_UNITS = {"kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _memory(raw: object, path: str, problems: _Collector) -> int | None:
    """A machine's memory as PostgreSQL writes sizes (`16GB`, `512MB`), in bytes."""
    if raw is None:
        return None
    m = _SIZE.match(raw) if isinstance(raw, str) else None
    if m is None or float(m[1]) <= 0:
        problems.add(path, "must be a size with its unit, like 16GB or 512MB")
        return None
    return int(float(m[1]) * _SIZE_UNITS[m[2]])


def _triage(raw: object, path: str, base: TriageSettings, problems: _Collector) -> TriageSettings:
    """`triage` or `clusters.<name>.triage`: each key given replaces `base`'s."""
    body = problems.mapping(raw, path, _TRIAGE_KEYS)

    def whole(key: str, default: int, lo: int, hi: int) -> int:
        return int(
            problems.number(body.get(key), f"{path}.{key}", default, lo=lo, hi=hi, integer=True)
        )

    return TriageSettings(
        # 0 counts every idle session, as a drill or a test may want.
        idle_seconds=whole("idle_seconds", base.idle_seconds, 0, 7 * 86400),
        idle_in_transaction_seconds=whole(
            "idle_in_transaction_seconds", base.idle_in_transaction_seconds, 0, 7 * 86400
        ),
        leak_min_sessions=whole("leak_min_sessions", base.leak_min_sessions, 1, 100_000),
        leak_share=problems.number(
            body.get("leak_share"), f"{path}.leak_share", base.leak_share, lo=0.01, hi=1.0
        ),
    )


_WARNING_KEYS = {
    "interval_seconds",
    "threshold",
    "critical",
    "clear_margin",
    "concurrency",
    "probe_timeout_seconds",
    "unreachable_after",
    "samples",
    "reopen_seconds",
    "refresh_seconds",
    "alert_channel",
    "holder",
}


def _warnings(raw: object, problems: _Collector) -> WarningsConfig:
    body = problems.mapping(raw, "warnings", _WARNING_KEYS)
    d = WarningsConfig()

    def whole(key: str, default: int, lo: int, hi: int) -> int:
        return int(
            problems.number(body.get(key), f"warnings.{key}", default, lo=lo, hi=hi, integer=True)
        )

    def share(key: str, default: float, lo: float = 0.01, hi: float = 1.0) -> float:
        return problems.number(body.get(key), f"warnings.{key}", default, lo=lo, hi=hi)

    warn = WarningsConfig(
        interval_seconds=whole("interval_seconds", d.interval_seconds, 5, 86400),
        threshold=share("threshold", d.threshold),
        critical=share("critical", d.critical),
        clear_margin=share("clear_margin", d.clear_margin, lo=0.0, hi=0.5),
        concurrency=whole("concurrency", d.concurrency, 1, 256),
        probe_timeout_seconds=whole("probe_timeout_seconds", d.probe_timeout_seconds, 1, 300),
        unreachable_after=whole("unreachable_after", d.unreachable_after, 1, 100),
        samples=whole("samples", d.samples, 3, 120),
        reopen_seconds=whole("reopen_seconds", d.reopen_seconds, 0, 86400),
        refresh_seconds=whole("refresh_seconds", d.refresh_seconds, 0, 86400),
        alert_channel=problems.string(body.get("alert_channel"), "warnings.alert_channel"),
        holder=problems.string(body.get("holder"), "warnings.holder"),
    )
    if warn.critical < warn.threshold:
        problems.add("warnings.critical", "must be at least warnings.threshold")
    return warn


def _level_override(raw: object, path: str, problems: _Collector) -> LevelOverride:
    body = problems.mapping(raw, path, {"threshold", "critical"})

    def share(key: str) -> float | None:
        if body.get(key) is None:
            return None
        return problems.number(body.get(key), f"{path}.{key}", 0.0, lo=0.01, hi=1.0)

    return LevelOverride(threshold=share("threshold"), critical=share("critical"))


def _cluster_warnings(raw: object, path: str, problems: _Collector) -> ClusterWarnings:
    body = problems.mapping(raw, path, {"enabled", "threshold", "critical", "roles", "databases"})
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.add(f"{path}.enabled", "must be true or false")
        enabled = True

    def entities(key: str) -> tuple[tuple[str, LevelOverride], ...]:
        table = problems.mapping(body.get(key), f"{path}.{key}", set(body.get(key) or {}))
        return tuple(
            (str(name), _level_override(value, f"{path}.{key}.{name}", problems))
            for name, value in table.items()
        )

    levels = _level_override(
        {k: body[k] for k in ("threshold", "critical") if k in body}, path, problems
    )
    return ClusterWarnings(
        enabled=enabled, levels=levels, roles=entities("roles"), databases=entities("databases")
    )


def _check_levels(
    warn: WarningsConfig, cluster: ClusterWarnings, path: str, problems: _Collector
) -> None:
    """Each entity's effective pair (override, else the cluster's, else the global one) must
    keep critical at or above threshold."""
    base = (cluster.levels.threshold or warn.threshold, cluster.levels.critical or warn.critical)
    pairs = [(path, cluster.levels, (warn.threshold, warn.critical))]
    pairs += [(f"{path}.roles.{n}", o, base) for n, o in cluster.roles]
    pairs += [(f"{path}.databases.{n}", o, base) for n, o in cluster.databases]
    for where, override, (threshold, critical) in pairs:
        t = override.threshold or threshold
        c = override.critical or critical
        if c < t:
            problems.add(where, f"critical ({c:g}) must be at least threshold ({t:g}); set both")


_REMEDIATION_KEYS = (
    "approvers",
    "approver_usergroup",
    "two_person_rule",
    "allow_superuser_targets",
    "max_sessions_per_action",
    "approval_ttl_minutes",
)


def _remediation(body: Mapping[str, Any], path: str, problems: _Collector) -> dict[str, Any]:
    """A cluster's approval and safety keys, validated (see ClusterConfig)."""
    return {
        "approvers": problems.strings(body.get("approvers"), f"{path}.approvers"),
        "approver_usergroup": problems.string(
            body.get("approver_usergroup"), f"{path}.approver_usergroup"
        ),
        "two_person_rule": problems.boolean(
            body.get("two_person_rule"), f"{path}.two_person_rule", True
        ),
        "allow_superuser_targets": problems.boolean(
            body.get("allow_superuser_targets"), f"{path}.allow_superuser_targets", False
        ),
        "max_sessions_per_action": int(
            problems.number(
                body.get("max_sessions_per_action"),
                f"{path}.max_sessions_per_action",
                DEFAULT_MAX_SESSIONS_PER_ACTION,
                lo=1,
                hi=10_000,
                integer=True,
            )
        ),
        "approval_ttl_minutes": int(
            problems.number(
                body.get("approval_ttl_minutes"),
                f"{path}.approval_ttl_minutes",
                DEFAULT_APPROVAL_TTL_MINUTES,
                lo=1,
                hi=24 * 60,
                integer=True,
            )
        ),
    }


def _slack(raw: object, problems: _Collector, env: Mapping[str, str]) -> SlackConfig:
    body = problems.mapping(
        raw,
        "slack",
        {"bot_token", "signing_secret", "app_token", "api_url", "max_file_bytes", "alert_sources"},
    )
    sources = problems.strings(body.get("alert_sources"), "slack.alert_sources")
    for i, source in enumerate(sources):
        if not re.match(r"^[AB][A-Z0-9]{2,}$", source):
            problems.add(f"slack.alert_sources[{i}]", "must be a bot ID (B…) or an app ID (A…)")
    api_url = (
        problems.string(body.get("api_url"), "slack.api_url")
        or env.get("SLACK_API_URL")
        or DEFAULT_SLACK_API_URL
    )
    if not re.match(r"^https?://", api_url):
        problems.add("slack.api_url", "must be an http(s) URL")
    if not api_url.endswith("/"):
        api_url += "/"
    return SlackConfig(
        bot_token=problems.string(body.get("bot_token"), "slack.bot_token")
        or env.get("SLACK_BOT_TOKEN"),
        signing_secret=problems.string(body.get("signing_secret"), "slack.signing_secret")
        or env.get("SLACK_SIGNING_SECRET"),
        app_token=problems.string(body.get("app_token"), "slack.app_token")
        or env.get("SLACK_APP_TOKEN"),
        api_url=api_url,
        max_file_bytes=int(
            problems.number(
                body.get("max_file_bytes"),
                "slack.max_file_bytes",
                SlackConfig.max_file_bytes,
                lo=1024,
                hi=2**34,
                integer=True,
            )
        ),
        alert_sources=sources,
    )


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the file; every problem comes back in one ConfigError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], source) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(["the file is not UTF-8 text"], source) from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{where}{reason}"], source) from exc
    return parse(document, env, source)
