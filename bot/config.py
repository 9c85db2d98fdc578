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

_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    dsn: str
    admin_dsn: str | None = None
    channels: tuple[str, ...] = ()
    alert_channel: str | None = None


@dataclass(frozen=True)
class WarningsConfig:
    interval_seconds: int = 60
    threshold: float = 0.8
    critical: float = 0.95


DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackConfig:
    """Tokens default to the standard env vars; the file may set them (usually as ${ENV})."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_SLACK_API_URL
    max_file_bytes: int = 200 * 1024 * 1024

    def secrets(self) -> list[str]:
        return [s for s in (self.bot_token, self.signing_secret, self.app_token) if s]


@dataclass(frozen=True)
class Config:
    clusters: Mapping[str, ClusterConfig]
    approvers: tuple[str, ...] = ()
    warnings: WarningsConfig = field(default_factory=WarningsConfig)
    state_path: Path = Path("pgconn-state.sqlite3")
    state_dsn: str | None = None
    slack: SlackConfig = field(default_factory=SlackConfig)
    source: str = "config"

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
        from psycopg.conninfo import conninfo_to_dict

        found: list[str] = []
        dsns = [dsn for c in self.clusters.values() for dsn in (c.dsn, c.admin_dsn)]
        for dsn in (*dsns, self.state_dsn):
            if not dsn:
                continue
            try:
                password = conninfo_to_dict(dsn).get("password")
            except Exception:  # noqa: BLE001 - validated at load; never fail a redaction
                continue
            if password:
                found.append(str(password))
        return found + self.slack.secrets()


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

    def number(self, value: object, path: str, default: float, *, lo: float, hi: float,
               integer: bool = False) -> float:
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


def _interpolate_tree(node: object, env: Mapping[str, str], problems: _Collector,
                      path: str) -> object:
    if isinstance(node, str):
        return interpolate(node, env, problems, path or "(root)")
    if isinstance(node, list):
        return [_interpolate_tree(v, env, problems, f"{path}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env, problems, f"{path}.{k}" if path else str(k))
                for k, v in node.items()}
    return node


def _validate_dsn(dsn: str, path: str, problems: _Collector) -> None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - psycopg's message may quote the DSN, password included
        problems.add(path, "is not a valid libpq connection string or postgresql:// URI")


def parse(document: object, env: Mapping[str, str] | None = None,
          source: str = "config") -> Config:
    problems = _Collector()
    data = _interpolate_tree(document, os.environ if env is None else env, problems, "")
    top = problems.mapping(data, "",
                           {"clusters", "approvers", "warnings", "state_path", "state_dsn",
                            "slack"})

    clusters: dict[str, ClusterConfig] = {}
    raw_clusters = problems.mapping(top.get("clusters"), "clusters", set(top.get("clusters") or {}))
    if not raw_clusters:
        problems.add("clusters", "at least one cluster is required")
    for name, raw in raw_clusters.items():
        path = f"clusters.{name}"
        if not _CLUSTER_NAME.match(str(name)):
            problems.add(path, "cluster names are letters, digits, '_', '.', '-' (max 63)")
        body = problems.mapping(raw, path, {"dsn", "admin_dsn", "channels", "alert_channel"})
        dsn = problems.string(body.get("dsn"), f"{path}.dsn", required=True)
        admin = problems.string(body.get("admin_dsn"), f"{path}.admin_dsn")
        for key, value in (("dsn", dsn), ("admin_dsn", admin)):
            if value:
                _validate_dsn(value, f"{path}.{key}", problems)
        clusters[str(name)] = ClusterConfig(
            name=str(name),
            dsn=dsn or "",
            admin_dsn=admin,
            channels=problems.strings(body.get("channels"), f"{path}.channels"),
            alert_channel=problems.string(body.get("alert_channel"), f"{path}.alert_channel"),
        )

    raw_warn = problems.mapping(top.get("warnings"), "warnings",
                                {"interval_seconds", "threshold", "critical"})
    defaults = WarningsConfig()
    warn = WarningsConfig(
        interval_seconds=int(problems.number(raw_warn.get("interval_seconds"),
                                             "warnings.interval_seconds",
                                             defaults.interval_seconds, lo=5, hi=86400,
                                             integer=True)),
        threshold=problems.number(raw_warn.get("threshold"), "warnings.threshold",
                                  defaults.threshold, lo=0.01, hi=1.0),
        critical=problems.number(raw_warn.get("critical"), "warnings.critical",
                                 defaults.critical, lo=0.01, hi=1.0),
    )
    if warn.critical < warn.threshold:
        problems.add("warnings.critical", "must be at least warnings.threshold")

    approvers = problems.strings(top.get("approvers"), "approvers")
    slack = _slack(top.get("slack"), problems, os.environ if env is None else env)
    state_path = problems.string(top.get("state_path"), "state_path")
    state_dsn = problems.string(top.get("state_dsn"), "state_dsn")
    if state_dsn:
        _validate_dsn(state_dsn, "state_dsn", problems)
    if problems.problems:
        raise ConfigError(problems.problems, source)
    return Config(
        clusters=clusters,
        approvers=approvers,
        slack=slack,
        warnings=warn,
        state_path=Path(state_path) if state_path else Config.state_path,
        state_dsn=state_dsn,
        source=source,
    )


def _slack(raw: object, problems: _Collector, env: Mapping[str, str]) -> SlackConfig:
    body = problems.mapping(raw, "slack", {"bot_token", "signing_secret", "app_token",
                                           "api_url", "max_file_bytes"})
    api_url = (problems.string(body.get("api_url"), "slack.api_url")
               or env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL)
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
        max_file_bytes=int(problems.number(body.get("max_file_bytes"), "slack.max_file_bytes",
                                           SlackConfig.max_file_bytes, lo=1024, hi=2**34,
                                           integer=True)),
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
