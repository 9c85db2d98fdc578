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
