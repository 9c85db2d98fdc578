from __future__ import annotations

import pytest

from bot.config import load, parse
from bot.errors import ConfigError, UnknownClusterError

GOOD = """
clusters:
  prod:
    dsn: "host=db user=pgconn_monitor password=${PROD_PW} dbname=postgres"
    admin_dsn: "postgresql://pgconn_admin:${ADMIN_PW:-fallback}@db/postgres"
    channels: [C0123, "#incidents"]
    alert_channel: C0999
approvers: [U1, U2]
warnings: {interval_seconds: 30, threshold: 0.75}
state_path: /var/lib/pgconn/state.sqlite3
"""


def test_good_file_with_env_interpolation(tmp_path):
    path = tmp_path / "pgconn.yaml"
    path.write_text(GOOD)
    config = load(path, env={"PROD_PW": "s3cret-pw"})
    prod = config.cluster("prod")
    assert "password=s3cret-pw" in prod.dsn
    assert prod.admin_dsn == "postgresql://pgconn_admin:fallback@db/postgres"
    assert prod.channels == ("C0123", "#incidents")
    assert config.approvers == ("U1", "U2")
    assert (config.warnings.interval_seconds, config.warnings.threshold) == (30, 0.75)
    assert config.warnings.critical == 0.95
    assert str(config.state_path) == "/var/lib/pgconn/state.sqlite3"
    assert set(config.secrets()) >= {"s3cret-pw", "fallback"}
    assert config.clusters_for_channel("#incidents") == ["prod"]
    assert config.channel_may_use("prod", ["C0123"])
    assert not config.channel_may_use("prod", ["C0777"])


def test_every_problem_is_reported_at_once_with_its_path():
    doc = {
        "clusters": {
            "prod": {"dsn": "host=db password=${MISSING}", "chanels": ["C1"]},
            "bad name!": {"admin_dsn": "not a dsn = = ="},
        },
        "warnings": {"threshold": 1.5, "interval_seconds": "often"},
        "approvers": "U1",
        "typo_key": 1,
    }
    with pytest.raises(ConfigError) as info:
        parse(doc, env={})
    problems = "\n".join(info.value.problems)
    for expected in [
        "clusters.prod.dsn: environment variable MISSING is not set",
        "clusters.prod.chanels: unknown key",
        "clusters.bad name!: cluster names are",
        "clusters.bad name!.dsn: required",
        "clusters.bad name!.admin_dsn: is not a valid libpq connection string",
        "warnings.threshold: must be between",
        "warnings.interval_seconds: must be a number",
        "typo_key: unknown key",
    ]:
        assert expected in problems, (expected, problems)


def test_no_password_in_config_errors():
    doc = {"clusters": {"prod": {"dsn": "host=db password='hunter2 x' = bogus"}}}
    with pytest.raises(ConfigError) as info:
        parse(doc, env={})
    assert "hunter2" not in str(info.value)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters:\n  prod: [unclosed\n")
    with pytest.raises(ConfigError, match="line 3"):
        load(bad)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="UTF-8"):
        load(binary)


def test_empty_file_says_a_cluster_is_required(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="clusters: at least one cluster"):
        load(empty)


def test_unknown_cluster_lists_the_known_ones():
    config = parse({"clusters": {"a": {"dsn": "host=x"}, "b": {"dsn": "host=y"}}}, env={})
    with pytest.raises(UnknownClusterError, match="configured clusters: a, b"):
        config.cluster("c")


def test_triage_thresholds_global_and_per_cluster():
    from bot.service import cluster_thresholds

    config = parse(
        {
            "clusters": {
                "a": {"dsn": "host=a", "triage": {"idle_seconds": 30, "leak_share": 0.9}},
                "b": {"dsn": "host=b"},
            },
            "triage": {"idle_seconds": 120, "idle_in_transaction_seconds": 20},
        },
        env={},
    )
    a, b = config.clusters["a"].triage, config.clusters["b"].triage
    assert (a.idle_seconds, a.idle_in_transaction_seconds, a.leak_share) == (30, 20, 0.9)
    assert (b.idle_seconds, b.idle_in_transaction_seconds, b.leak_min_sessions) == (120, 20, 5)
    t = cluster_thresholds(config.clusters["a"])
    assert (t.idle_min_age_s, t.idle_tx_min_age_s, t.leak_share) == (30, 20, 0.9)
    defaults = parse({"clusters": {"c": {"dsn": "host=c"}}}, env={}).clusters["c"].triage
    assert (defaults.idle_seconds, defaults.idle_in_transaction_seconds) == (600, 60)
    assert (defaults.leak_min_sessions, defaults.leak_share) == (5, 0.6)


def test_triage_thresholds_are_validated_with_their_paths():
    with pytest.raises(ConfigError) as info:
        parse(
            {
                "clusters": {"a": {"dsn": "host=a", "triage": {"idle_secs": 3, "leak_share": 2}}},
                "triage": {"idle_seconds": 0, "leak_min_sessions": 1.5},
            },
            env={},
        )
    problems = "\n".join(info.value.problems)
    for expected in (
        "clusters.a.triage.idle_secs: unknown key",
        "clusters.a.triage.leak_share: must be between 0.01 and 1",
        "triage.idle_seconds: must be between 1 and 604800",
        "triage.leak_min_sessions: must be a whole number",
    ):
        assert expected in problems, (expected, problems)
